// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath (answer, flush), on the RX lcore that received the request.
#include "pipeline/responder.hpp"
#include "net/checksum.hpp"
#include "net/mbuf_checksum.hpp"

#include <cstring>

#include <rte_ethdev.h>
#include <rte_ip.h>

namespace logagg::pipeline {
namespace {

void set_eth(uint8_t* frame, const uint8_t* dst, const uint8_t* src) noexcept {
    std::memmove(frame, dst, 6);
    std::memcpy(frame + 6, src, 6);
}

bool answer_arp(const net::local_addrs& local, uint8_t* f, const net::packet_info& info) noexcept {
    uint8_t* a = f + info.l4_off;
    uint8_t sha[6];
    uint8_t spa[4];
    uint8_t tpa[4];
    std::memcpy(sha, a + 8, 6);
    std::memcpy(spa, a + 14, 4);
    std::memcpy(tpa, a + 24, 4);
    a[7] = 2; // RFC 826: reply
    std::memcpy(a + 8, local.mac, 6);
    std::memcpy(a + 14, tpa, 4);
    std::memcpy(a + 18, sha, 6);
    std::memcpy(a + 24, spa, 4);
    set_eth(f, sha, local.mac);
    return true;
}

bool answer_icmp(const net::local_addrs& local, uint8_t* f, const net::packet_info& info) noexcept {
    uint8_t* ip = f + info.l2_len;
    uint8_t tmp[4];
    std::memcpy(tmp, ip + 12, 4);
    std::memmove(ip + 12, ip + 16, 4);
    std::memcpy(ip + 16, tmp, 4);
    ip[8] = 64; // TTL
    ip[10] = ip[11] = 0;
    const uint16_t hc = net::inet_checksum(ip, info.l3_len);
    std::memcpy(ip + 10, &hc, 2);
    uint8_t* icmp = f + info.l4_off;
    icmp[0] = 0; // RFC 792: echo reply
    icmp[2] = icmp[3] = 0;
    const uint16_t c = net::inet_checksum(icmp, info.l4_len);
    std::memcpy(icmp + 2, &c, 2);
    set_eth(f, f + 6, local.mac);
    return true;
}

bool answer_icmpv6_echo(const net::local_addrs& local, uint8_t* f,
                        const net::packet_info& info) noexcept {
    uint8_t* ip6 = f + info.l2_len;
    uint8_t tmp[16];
    std::memcpy(tmp, ip6 + 8, 16);
    std::memmove(ip6 + 8, ip6 + 24, 16);
    std::memcpy(ip6 + 24, tmp, 16);
    ip6[7] = 64;
    uint8_t* icmp = f + info.l4_off;
    icmp[0] = 129; // RFC 4443: echo reply
    icmp[2] = icmp[3] = 0;
    const uint16_t c = net::icmpv6_checksum(ip6, icmp, info.l4_len);
    std::memcpy(icmp + 2, &c, 2);
    set_eth(f, f + 6, local.mac);
    return true;
}

bool answer_nd(const net::local_addrs& local, rte_mbuf* m, const net::packet_info& info) noexcept {
    // RFC 4861 4.4 neighbour advertisement: 24 bytes + target link-layer address option (8).
    constexpr uint32_t na_len = 32;
    const uint32_t want = info.l4_off + na_len;
    if (m->pkt_len < want &&
        rte_pktmbuf_append(m, static_cast<uint16_t>(want - m->pkt_len)) == nullptr) {
        return false;
    }
    if (m->pkt_len > want) {
        (void)rte_pktmbuf_trim(m, static_cast<uint16_t>(m->pkt_len - want));
    }
    auto* f = rte_pktmbuf_mtod(m, uint8_t*);
    uint8_t* ip6 = f + info.l2_len;
    uint8_t* icmp = f + info.l4_off;
    static constexpr uint8_t unspecified[16] = {};
    static constexpr uint8_t all_nodes[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static constexpr uint8_t all_nodes_mac[6] = {0x33, 0x33, 0, 0, 0, 1};
    const bool dad = std::memcmp(ip6 + 8, unspecified, 16) == 0;
    // Destination: the solicitor, or all nodes when it has no address yet (DAD, RFC 4862 5.4.3:
    // we defend the address with an unsolicited advertisement).
    uint8_t eth_dst[6];
    std::memcpy(eth_dst, dad ? all_nodes_mac : f + 6, 6);
    std::memcpy(ip6 + 24, dad ? all_nodes : ip6 + 8, 16);
    std::memcpy(ip6 + 8, icmp + 8, 16); // source: the target address, ours
    ip6[4] = 0;
    ip6[5] = static_cast<uint8_t>(na_len);
    ip6[7] = 255; // hop limit, RFC 4861 7.1.2
    icmp[0] = 136;
    icmp[1] = 0;
    icmp[4] =
        static_cast<uint8_t>((dad ? 0x00 : 0x40) | 0x20); // S (solicited) unless DAD; O (override)
    icmp[5] = icmp[6] = icmp[7] = 0;
    icmp[24] = 2; // target link-layer address option, 1 unit of 8 bytes
    icmp[25] = 1;
    std::memcpy(icmp + 26, local.mac, 6);
    icmp[2] = icmp[3] = 0;
    const uint16_t c = net::icmpv6_checksum(ip6, icmp, na_len);
    std::memcpy(icmp + 2, &c, 2);
    set_eth(f, eth_dst, local.mac);
    return true;
}

} // namespace

answer_status answer(responder& r, rte_mbuf* m, const net::packet_info& info,
                     uint64_t now_tsc) noexcept {
    if (now_tsc - r.window_tsc >= r.tsc_hz) {
        r.window_tsc = now_tsc;
        r.in_window = 0;
    }
    if (r.in_window >= r.rate) {
        return answer_status::rate_limited;
    }
    if (m->nb_segs != 1 || r.n_out == r.out.size()) {
        return answer_status::failed; // requests are small; a chained one is not worth answering
    }
    auto* f = rte_pktmbuf_mtod(m, uint8_t*);
    bool ok = false;
    switch (info.kind) {
    case net::packet_kind::arp_request:
        ok = answer_arp(*r.local, f, info);
        break;
    case net::packet_kind::icmp_echo:
        ok = answer_icmp(*r.local, f, info);
        break;
    case net::packet_kind::icmpv6_echo:
        ok = answer_icmpv6_echo(*r.local, f, info);
        break;
    case net::packet_kind::nd_solicit:
        ok = answer_nd(*r.local, m, info);
        break;
    case net::packet_kind::log:
    case net::packet_kind::fragment:
    case net::packet_kind::arp_reply: // learned from by the RX stage, never answered
    case net::packet_kind::nd_advert:
    case net::packet_kind::tcp: // the worker's TCP engine answers
        break;
    }
    if (!ok) {
        return answer_status::failed;
    }
    ++r.in_window;
    m->ol_flags = 0;
    r.out_kind[r.n_out] = static_cast<uint8_t>(static_cast<unsigned>(info.kind) - 1);
    r.out[r.n_out++] = m;
    return answer_status::queued;
}

uint16_t flush(responder& r, std::array<uint32_t, reply_kinds>& by_kind) noexcept {
    if (r.n_out == 0) {
        return 0;
    }
    const uint16_t sent = rte_eth_tx_burst(r.port, r.txq, r.out.data(), r.n_out);
    for (uint16_t i = 0; i < sent; ++i) { // tx_burst takes a prefix
        ++by_kind[r.out_kind[i]];
    }
    const uint16_t left = static_cast<uint16_t>(r.n_out - sent);
    if (left != 0) {
        rte_pktmbuf_free_bulk(&r.out[sent], left);
    }
    r.n_out = 0;
    return left;
}

} // namespace logagg::pipeline
