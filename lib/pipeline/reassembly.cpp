// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath (add, expire, drain) on one RX lcore; the constructor is control plane.
#include "pipeline/reassembly.hpp"
#include "util/probing.hpp"

#include <algorithm>
#include <cstring>

#include <rte_ip.h>

namespace logagg::pipeline {

struct frag_ref {
    rte_mbuf* m;
    uint16_t offset;
    uint16_t len;
    uint32_t data_off;
};

/// One datagram in reassembly: its key and its fragments sorted by offset.
struct reassembler::slot {
    bool used = false;
    uint8_t version = 0;
    uint8_t proto = 0;
    uint32_t id = 0;
    uint8_t src[16] = {};
    uint8_t dst[16] = {};
    uint64_t first_tsc = 0;
    uint32_t total = 0; ///< datagram length, known once the last fragment arrived (0 before)
    uint32_t bytes = 0; ///< fragment data held
    uint16_t n = 0;
    uint16_t prev_nh_off = 0; ///< of the offset-0 fragment (IPv6)
    frag_ref frags[max_fragments_per_datagram];
};

namespace {

[[nodiscard]] std::size_t key_hash(uint8_t version, uint32_t id, const uint8_t* src,
                                   const uint8_t* dst) noexcept {
    uint64_t h = (uint64_t{version} << 32) ^ id;
    for (unsigned i = 0; i < 16; i += 8) {
        uint64_t a;
        uint64_t b;
        std::memcpy(&a, src + i, 8);
        std::memcpy(&b, dst + i, 8);
        h ^= a + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
        h ^= b + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return static_cast<std::size_t>(h);
}

/// How often expire() scans. Why: 1/16 of the timeout bounds the lateness of a timeout to 6%.
constexpr uint64_t expire_divisor = 16;

} // namespace

reassembler::reassembler(const reassembly_limits& l) : lim_(l) {
    std::size_t table = 2;
    while (table < std::size_t{lim_.datagrams} * 2) {
        table <<= 1;
    }
    mask_ = table - 1;
    slots_ = std::make_unique<slot[]>(table);
}

reassembler::~reassembler() {
    for (std::size_t i = 0; i <= mask_; ++i) {
        for (uint16_t k = 0; slots_[i].used && k < slots_[i].n; ++k) {
            rte_pktmbuf_free(slots_[i].frags[k].m);
        }
    }
}

std::size_t reassembler::find(const net::packet_info& info, bool& found) const noexcept {
    const net::fragment_info& f = info.frag;
    std::size_t i = key_hash(info.ip_version, f.id, f.src, f.dst) & mask_;
    while (slots_[i].used) {
        const slot& s = slots_[i];
        if (s.version == info.ip_version && s.id == f.id && s.proto == f.proto &&
            std::memcmp(s.src, f.src, 16) == 0 && std::memcmp(s.dst, f.dst, 16) == 0) {
            found = true;
            return i;
        }
        i = (i + 1) & mask_;
    }
    found = false;
    return i;
}

void reassembler::remove(std::size_t i) noexcept {
    --used_;
    util::erase_linear_probe(slots_.get(), mask_, i,
                             [](const slot& x) { return key_hash(x.version, x.id, x.src, x.dst); });
}

void reassembler::release(std::size_t i, net::drop_reason why, frag_drop_fn drop,
                          void* ctx) noexcept {
    slot& s = slots_[i];
    for (uint16_t k = 0; k < s.n; ++k) {
        rte_pktmbuf_free(s.frags[k].m);
    }
    held_ -= s.n;
    drop(ctx, why, s.n);
    remove(i);
}

rte_mbuf* reassembler::build(slot& s) noexcept {
    // The first fragment keeps its headers; every other one is cut to its data and chained.
    rte_mbuf* head = s.frags[0].m;
    const uint32_t first_end = s.frags[0].data_off + s.frags[0].len;
    if (head->pkt_len > first_end &&
        rte_pktmbuf_trim(head, static_cast<uint16_t>(head->pkt_len - first_end)) != 0) {
        return nullptr;
    }
    rte_mbuf* tail = rte_pktmbuf_lastseg(head);
    for (uint16_t k = 1; k < s.n; ++k) {
        rte_mbuf* m = s.frags[k].m;
        if (rte_pktmbuf_adj(m, static_cast<uint16_t>(s.frags[k].data_off)) == nullptr ||
            (m->pkt_len > s.frags[k].len &&
             rte_pktmbuf_trim(m, static_cast<uint16_t>(m->pkt_len - s.frags[k].len)) != 0)) {
            return nullptr;
        }
        tail->next = m;
        head->nb_segs = static_cast<uint16_t>(head->nb_segs + m->nb_segs);
        head->pkt_len += m->pkt_len;
        m->pkt_len = 0;
        tail = rte_pktmbuf_lastseg(m);
    }
    auto* f = rte_pktmbuf_mtod(head, uint8_t*);
    const uint32_t l3 = head->l2_len;
    if (s.version == 4) {
        uint8_t* ip = f + l3;
        const uint32_t hlen = (ip[0] & 0x0fu) * 4u;
        const uint32_t tl = hlen + s.total;
        ip[2] = static_cast<uint8_t>(tl >> 8);
        ip[3] = static_cast<uint8_t>(tl);
        ip[6] &= 0x40; // keep DF, clear MF and the offset
        ip[7] = 0;
        ip[10] = ip[11] = 0;
        const uint16_t c = static_cast<uint16_t>(~rte_raw_cksum(ip, hlen));
        std::memcpy(ip + 10, &c, 2);
    } else {
        // Remove the 8-byte fragment header: the byte that named it takes its next header, and the
        // headers before it move 8 bytes forward.
        const uint32_t frag_hdr = s.frags[0].data_off - 8;
        f[s.prev_nh_off] = s.proto;
        std::memmove(f + 8, f, frag_hdr);
        rte_pktmbuf_adj(head, 8);
        f = rte_pktmbuf_mtod(head, uint8_t*);
        uint8_t* ip6 = f + l3;
        const uint32_t unfrag = frag_hdr - l3 - 40;
        const uint32_t plen = unfrag + s.total;
        ip6[4] = static_cast<uint8_t>(plen >> 8);
        ip6[5] = static_cast<uint8_t>(plen);
    }
    head->ol_flags &=
        ~(RTE_MBUF_F_RX_IP_CKSUM_MASK | RTE_MBUF_F_RX_L4_CKSUM_MASK); // recheck everything
    return head;
}

reassembly_result reassembler::add(rte_mbuf* m, const net::packet_info& info, uint64_t now_tsc,
                                   frag_drop_fn drop, void* ctx) noexcept {
    reassembly_result res;
    const net::fragment_info& f = info.frag;
    bool found = false;
    const std::size_t i = find(info, found);
    if (!found) {
        if (used_ >= lim_.datagrams) {
            rte_pktmbuf_free(m);
            drop(ctx, net::drop_reason::frag_table_full, 1);
            return res;
        }
        slot& s = slots_[i];
        s.used = true;
        s.version = info.ip_version;
        s.proto = f.proto;
        s.id = f.id;
        std::memcpy(s.src, f.src, 16);
        std::memcpy(s.dst, f.dst, 16);
        s.first_tsc = now_tsc;
        s.total = 0;
        s.bytes = 0;
        s.n = 0;
        ++used_;
    }
    slot& s = slots_[i];
    if (held_ >= lim_.max_fragments) {
        rte_pktmbuf_free(m);
        drop(ctx, net::drop_reason::frag_memory_full, 1);
        if (s.n == 0) {
            remove(i);
        }
        return res;
    }
    // Sorted insert; any overlap discards the whole datagram (RFC 5722), an exact repeat only
    // itself.
    const uint32_t lo = f.offset;
    const uint32_t hi = lo + f.len;
    uint16_t at = 0;
    while (at < s.n && s.frags[at].offset < lo) {
        ++at;
    }
    if (at < s.n && s.frags[at].offset == lo && s.frags[at].len == f.len) {
        rte_pktmbuf_free(m);
        drop(ctx, net::drop_reason::frag_duplicate, 1);
        return res;
    }
    const bool overlaps_prev =
        at > 0 && uint32_t{s.frags[at - 1].offset} + s.frags[at - 1].len > lo;
    const bool overlaps_next = at < s.n && s.frags[at].offset < hi;
    const bool beyond_end =
        (s.total != 0 && (hi > s.total || (!f.more && hi != s.total))) ||
        (!f.more && s.n != 0 && uint32_t{s.frags[s.n - 1].offset} + s.frags[s.n - 1].len > hi);
    if (overlaps_prev || overlaps_next || beyond_end) {
        rte_pktmbuf_free(m);
        drop(ctx, net::drop_reason::frag_overlap, 1);
        release(i, net::drop_reason::frag_overlap, drop, ctx);
        return res;
    }
    if (s.n == max_fragments_per_datagram) {
        rte_pktmbuf_free(m);
        drop(ctx, net::drop_reason::frag_too_many, 1);
        release(i, net::drop_reason::frag_too_many, drop, ctx);
        return res;
    }
    std::memmove(&s.frags[at + 1], &s.frags[at], sizeof(frag_ref) * (s.n - at));
    s.frags[at] = frag_ref{m, f.offset, f.len, f.data_off};
    ++s.n;
    ++held_;
    s.bytes += f.len;
    if (!f.more) {
        s.total = hi;
    }
    if (lo == 0) {
        s.prev_nh_off = f.prev_nh_off;
        m->l2_len = info.l2_len & 0x7f;
    }
    if (s.total == 0 || s.bytes != s.total || s.frags[0].offset != 0) {
        return res;
    }
    // Sorted, no overlaps, bytes add up and the first starts at 0: no gaps. Complete.
    const uint16_t n = s.n;
    s.frags[0].m->l2_len = info.l2_len & 0x7f; // same L2 for every fragment of a flow
    rte_mbuf* d = build(s);
    held_ -= n;
    if (d == nullptr) {
        for (uint16_t k = 0; k < n; ++k) { // chaining failed half-way: free what was linked and not
            if (k == 0 || s.frags[k].m->pkt_len != 0) {
                rte_pktmbuf_free(s.frags[k].m);
            }
        }
        drop(ctx, net::drop_reason::frag_invalid, n);
        remove(i);
        return res;
    }
    remove(i);
    res.datagram = d;
    res.merged = n;
    return res;
}

void reassembler::expire(uint64_t now_tsc, frag_drop_fn drop, void* ctx) noexcept {
    if (used_ == 0 || now_tsc < next_expire_) {
        return;
    }
    next_expire_ = now_tsc + lim_.timeout_tsc / expire_divisor;
    std::size_t i = 0;
    while (i <= mask_) {
        if (slots_[i].used && now_tsc - slots_[i].first_tsc >= lim_.timeout_tsc) {
            release(i, net::drop_reason::frag_timeout, drop, ctx); // may shift a later slot into i
        } else {
            ++i;
        }
    }
}

void reassembler::drain(frag_drop_fn drop, void* ctx) noexcept {
    std::size_t i = 0;
    while (used_ != 0 && i <= mask_) {
        if (slots_[i].used) {
            release(i, net::drop_reason::frag_incomplete, drop, ctx);
        } else {
            ++i;
        }
    }
}

} // namespace logagg::pipeline
