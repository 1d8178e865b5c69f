// SPDX-License-Identifier: BSD-3-Clause
// Test and benchmark helpers: Ethernet/VLAN/IPv4/IPv6/UDP frames with correct checksums built
// independently of lib/net, and rte_mbuf chains over heap buffers (no EAL, no mempool).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <rte_mbuf.h>

namespace logagg::testing {

using bytes = std::vector<uint8_t>;

inline void put16(bytes& b, std::size_t at, uint16_t v) {
    b[at] = static_cast<uint8_t>(v >> 8);
    b[at + 1] = static_cast<uint8_t>(v);
}

inline uint16_t cksum(const bytes& b, uint32_t sum = 0) { // RFC 1071
    for (std::size_t i = 0; i + 1 < b.size(); i += 2) {
        sum += static_cast<uint32_t>(b[i] << 8 | b[i + 1]);
    }
    if (b.size() % 2) {
        sum += static_cast<uint32_t>(b.back() << 8);
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return static_cast<uint16_t>(~sum);
}

struct spec {
    int ip = 4;                 // 4 or 6
    std::vector<uint16_t> tags; // TPIDs (0x88a8, 0x8100)
    unsigned ip_options = 0;    // IPv4 option bytes (multiple of 4)
    std::vector<uint8_t> ext;   // IPv6 extension headers, in order (0, 43, 60)
    uint16_t sport = 40000;
    uint16_t dport = 514;
    std::string payload = "<13>hello world";
    bool pad = true; // Ethernet minimum 60 bytes
    // The UDP checksum field holds only the folded pseudo-header sum, not complemented: what a
    // Linux sender leaves in a CHECKSUM_PARTIAL packet (~csum_tcpudp_magic(src, dst, len, 17, 0)).
    bool partial_checksum = false;
    // Varies the source address (its last two bytes), for tests with many senders.
    uint16_t src_id = 0;
};

struct built {
    bytes frame;
    uint32_t l2 = 0, l3 = 0, payload_off = 0;
    uint32_t ip_total = 0; // IPv4 total length or IPv6 40 + payload length
};

inline built build(const spec& s) {
    built out;
    bytes& f = out.frame;
    f = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};
    for (uint16_t tpid : s.tags) {
        f.push_back(static_cast<uint8_t>(tpid >> 8));
        f.push_back(static_cast<uint8_t>(tpid));
        f.push_back(0);
        f.push_back(42);
    }
    f.push_back(s.ip == 4 ? 0x08 : 0x86);
    f.push_back(s.ip == 4 ? 0x00 : 0xdd);
    out.l2 = static_cast<uint32_t>(f.size());
    bytes udp(8);
    const auto ulen = static_cast<uint16_t>(8 + s.payload.size());
    put16(udp, 0, s.sport);
    put16(udp, 2, s.dport);
    put16(udp, 4, ulen);
    udp.insert(udp.end(), s.payload.begin(), s.payload.end());
    const uint8_t src4[4] = {198, 18, static_cast<uint8_t>(1 + (s.src_id >> 8)),
                             static_cast<uint8_t>(2 + (s.src_id & 0xff))};
    const uint8_t dst4[4] = {198, 18, 0, 1};
    if (s.ip == 4) {
        const unsigned hl = 20 + s.ip_options;
        bytes ip(hl, 0);
        ip[0] = static_cast<uint8_t>(0x40 | hl / 4);
        put16(ip, 2, static_cast<uint16_t>(hl + udp.size()));
        ip[8] = 64;
        ip[9] = 17;
        std::memcpy(&ip[12], src4, 4);
        std::memcpy(&ip[16], dst4, 4);
        for (unsigned i = 20; i < hl; ++i) {
            ip[i] = 1; // NOP options
        }
        put16(ip, 10, cksum(ip));
        bytes pseudo(src4, src4 + 4);
        pseudo.insert(pseudo.end(), dst4, dst4 + 4);
        pseudo.push_back(0);
        pseudo.push_back(17);
        pseudo.push_back(static_cast<uint8_t>(ulen >> 8));
        pseudo.push_back(static_cast<uint8_t>(ulen));
        bytes all = pseudo;
        all.insert(all.end(), udp.begin(), udp.end());
        uint16_t c = cksum(all);
        put16(udp, 6,
              s.partial_checksum ? static_cast<uint16_t>(~cksum(pseudo))
              : c == 0           ? 0xffff
                                 : c);
        f.insert(f.end(), ip.begin(), ip.end());
        out.l3 = hl;
        out.ip_total = static_cast<uint32_t>(hl + udp.size());
    } else {
        bytes ext;
        for (std::size_t i = 0; i < s.ext.size(); ++i) {
            const uint8_t next = i + 1 < s.ext.size() ? s.ext[i + 1] : 17;
            bytes h(8, 0);
            h[0] = next;
            h[2] = 1; // PadN
            h[3] = 4;
            ext.insert(ext.end(), h.begin(), h.end());
        }
        bytes ip(40, 0);
        ip[0] = 0x60;
        put16(ip, 4, static_cast<uint16_t>(ext.size() + udp.size()));
        ip[6] = s.ext.empty() ? 17 : s.ext[0];
        ip[7] = 64;
        ip[8] = 0x20;
        ip[9] = 0x01;
        ip[10] = 0x0d;
        ip[11] = 0xb8;
        ip[22] = static_cast<uint8_t>(s.src_id >> 8);
        ip[23] = static_cast<uint8_t>(7 + (s.src_id & 0xff));
        ip[24] = 0x20;
        ip[25] = 0x01;
        ip[26] = 0x0d;
        ip[27] = 0xb8;
        ip[39] = 1;
        bytes all(ip.begin() + 8, ip.begin() + 40);
        all.push_back(0);
        all.push_back(0);
        all.push_back(static_cast<uint8_t>(ulen >> 8));
        all.push_back(static_cast<uint8_t>(ulen));
        all.push_back(0);
        all.push_back(0);
        all.push_back(0);
        all.push_back(17);
        const bytes pseudo = all;
        all.insert(all.end(), udp.begin(), udp.end());
        uint16_t c = cksum(all);
        put16(udp, 6,
              s.partial_checksum ? static_cast<uint16_t>(~cksum(pseudo))
              : c == 0           ? 0xffff
                                 : c);
        f.insert(f.end(), ip.begin(), ip.end());
        f.insert(f.end(), ext.begin(), ext.end());
        out.l3 = static_cast<uint32_t>(40 + ext.size());
        out.ip_total = static_cast<uint32_t>(40 + ext.size() + udp.size());
    }
    f.insert(f.end(), udp.begin(), udp.end());
    out.payload_off = out.l2 + out.l3 + 8;
    while (s.pad && f.size() < 60) {
        f.push_back(0);
    }
    return out;
}

// ---- in-memory mbuf chains ----

/// Owns an mbuf chain built over heap buffers, split at @p cuts (ascending offsets).
class chain {
public:
    chain(const bytes& data, std::vector<uint32_t> cuts = {}, uint64_t ol_flags = 0) {
        cuts.push_back(static_cast<uint32_t>(data.size()));
        uint32_t prev = 0;
        for (uint32_t c : cuts) {
            auto m = std::make_unique<rte_mbuf>();
            std::memset(m.get(), 0, sizeof(rte_mbuf));
            // Exactly-sized buffers: ASan catches any read past a segment.
            bufs_.push_back(std::make_unique<uint8_t[]>(std::max<uint32_t>(1, c - prev)));
            if (c > prev) {
                std::memcpy(bufs_.back().get(), data.data() + prev, c - prev);
            }
            m->buf_addr = bufs_.back().get();
            m->buf_len = static_cast<uint16_t>(std::max<uint32_t>(1, c - prev));
            m->data_off = 0;
            m->data_len = static_cast<uint16_t>(c - prev);
            m->nb_segs = 1;
            m->refcnt = 1;
            if (!segs_.empty()) {
                segs_.back()->next = m.get();
            }
            segs_.push_back(std::move(m));
            prev = c;
        }
        segs_.front()->pkt_len = static_cast<uint32_t>(data.size());
        segs_.front()->nb_segs = static_cast<uint16_t>(segs_.size());
        segs_.front()->ol_flags = ol_flags;
    }
    [[nodiscard]] const rte_mbuf* get() const { return segs_.front().get(); }

private:
    std::vector<std::unique_ptr<rte_mbuf>> segs_;
    std::vector<std::unique_ptr<uint8_t[]>> bufs_;
};

} // namespace logagg::testing
