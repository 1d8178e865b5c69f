// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane and sinks (the request builders), datapath RX (neighbour_of).
#include "net/neighbour_packets.hpp"

#include <algorithm>
#include <cstring>

#include <rte_byteorder.h>
#include <rte_ip.h>

#include "net/mbuf_checksum.hpp"

namespace logagg::net {

rte_mbuf* arp_request(rte_mempool* pool, const uint8_t mac[6], const uint8_t sender[4],
                      const uint8_t target[4]) noexcept {
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (m == nullptr) {
        return nullptr;
    }
    auto* f = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, 60));
    if (f == nullptr) {
        rte_pktmbuf_free(m);
        return nullptr;
    }
    std::memset(f, 0, 60);
    std::memset(f, 0xff, 6);
    std::memcpy(f + 6, mac, 6);
    f[12] = 0x08;
    f[13] = 0x06;
    static constexpr uint8_t hdr[8] = {0, 1, 0x08, 0x00, 6, 4, 0, 1}; // Ethernet/IPv4, request
    std::memcpy(f + 14, hdr, 8);
    std::memcpy(f + 22, mac, 6);
    std::memcpy(f + 28, sender, 4);
    std::memcpy(f + 38, target, 4); // target hardware address stays zero
    return m;
}

rte_mbuf* neighbour_solicitation(rte_mempool* pool, const uint8_t mac[6], const uint8_t src[16],
                                 const uint8_t target[16]) noexcept {
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (m == nullptr) {
        return nullptr;
    }
    constexpr uint32_t icmp_len = 24 + 8; // header + target, then the source link-layer option
    auto* f = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, 14 + 40 + icmp_len));
    if (f == nullptr) {
        rte_pktmbuf_free(m);
        return nullptr;
    }
    std::memset(f, 0, 14 + 40 + icmp_len);
    // RFC 4291 2.7.1 solicited-node group ff02::1:ffXX:XXXX; RFC 2464 7: MAC 33:33 + low 32 bits.
    uint8_t group[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff};
    std::memcpy(group + 13, target + 13, 3);
    const uint8_t dmac[6] = {0x33, 0x33, group[12], group[13], group[14], group[15]};
    std::memcpy(f, dmac, 6);
    std::memcpy(f + 6, mac, 6);
    f[12] = 0x86;
    f[13] = 0xdd;
    uint8_t* ip = f + 14;
    ip[0] = 0x60;
    ip[5] = icmp_len;
    ip[6] = 58;  // ICMPv6
    ip[7] = 255; // RFC 4861 7.1.1: hop limit 255
    std::memcpy(ip + 8, src, 16);
    std::memcpy(ip + 24, group, 16);
    uint8_t* icmp = ip + 40;
    icmp[0] = 135; // neighbour solicitation
    std::memcpy(icmp + 8, target, 16);
    icmp[24] = 1; // source link-layer address option, 1 x 8 bytes
    icmp[25] = 1;
    std::memcpy(icmp + 26, mac, 6);
    // RFC 4443 2.3: the checksum covers a pseudo-header (addresses, length, next header 58).
    const uint32_t pseudo = rte_raw_cksum(ip + 8, 32) + rte_cpu_to_be_16(icmp_len) +
                            rte_cpu_to_be_16(static_cast<uint16_t>(58));
    const uint16_t c = inet_checksum(icmp, icmp_len, pseudo);
    std::memcpy(icmp + 2, &c, 2);
    return m;
}

bool neighbour_of(const rte_mbuf* m, const packet_info& info, uint8_t* addr,
                  uint8_t (&mac)[6]) noexcept {
    if (info.kind == packet_kind::arp_request || info.kind == packet_kind::arp_reply) {
        uint8_t buf[28];
        const auto* a = static_cast<const uint8_t*>(rte_pktmbuf_read(m, info.l4_off, 28, buf));
        if (a == nullptr) {
            return false;
        }
        std::memcpy(mac, a + 8, 6);   // sender hardware address
        std::memcpy(addr, a + 14, 4); // sender protocol address
        return true;
    }
    // Neighbour advertisement: the target, and its link-layer address from option type 2.
    uint8_t buf[96];
    const uint32_t len = std::min<uint32_t>(info.l4_len, sizeof buf);
    const auto* h = static_cast<const uint8_t*>(rte_pktmbuf_read(m, info.l4_off, len, buf));
    if (h == nullptr || len < 24) {
        return false;
    }
    std::memcpy(addr, h + 8, 16);
    for (uint32_t o = 24; o + 8 <= len && h[o + 1] != 0; o += 8u * h[o + 1]) {
        if (h[o] == 2 && h[o + 1] == 1) {
            std::memcpy(mac, h + o + 2, 6);
            return true;
        }
    }
    return false;
}

} // namespace logagg::net
