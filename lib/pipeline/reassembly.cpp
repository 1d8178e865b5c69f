// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath (add, expire, drain) on one RX lcore; the constructor is control plane.
#include "pipeline/reassembly.hpp"
#include "util/probing.hpp"

#include <algorithm>
#include <cstring>

#include <rte_ip.h>
#include <rte_random.h>

namespace logagg::pipeline {

struct frag_ref {
    rte_mbuf* m;
    uint16_t offset;
    uint16_t len;
    uint32_t data_off;
};

/// One datagram in reassembly: its key, its place in the age lists and its fragments sorted by
/// offset. Slots never move (the hash table holds their indices), so the lists link indices.
struct reassembler::slot {
    uint8_t version = 0;
    uint8_t proto = 0;
    uint32_t id = 0;
    uint8_t src[16] = {};
    uint8_t dst[16] = {};
    uint32_t hash = 0;
    uint32_t source = nil;    ///< sources_ index
    uint32_t older = nil;     ///< the next older datagram of all (creation time)
    uint32_t newer = nil;     ///< the next newer one
    uint32_t src_older = nil; ///< the next older datagram of the same source
    uint32_t src_newer = nil; ///< the next newer one of the same source
    uint64_t first_tsc = 0;
    uint32_t total = 0; ///< datagram length, known once the last fragment arrived (0 before)
    uint32_t bytes = 0; ///< fragment data held
    uint16_t n = 0;
    uint16_t prev_nh_off = 0; ///< of the offset-0 fragment (IPv6)
    frag_ref frags[max_fragments_per_datagram];
};

/// What one source address holds: counts for its bounds, and its datagrams, oldest first.
struct reassembler::source {
    uint8_t version = 0;
    uint8_t addr[16] = {};
    uint32_t hash = 0;
    uint32_t datagrams = 0;
    uint32_t fragments = 0;
    uint32_t oldest = nil;
    uint32_t newest = nil;
};

namespace {

[[nodiscard]] uint64_t finish(uint64_t h) noexcept {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

[[nodiscard]] uint64_t mix_addr(uint64_t h, const uint8_t* a) noexcept {
    for (unsigned i = 0; i < 16; i += 8) {
        uint64_t w;
        std::memcpy(&w, a + i, 8);
        h ^= w + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    }
    return h;
}

/// @p seed is random per reassembler: every input is the sender's choice, and a sender that
/// could predict buckets could make every lookup walk one long probe run.
[[nodiscard]] uint32_t key_hash(uint64_t seed, uint8_t version, uint32_t id, const uint8_t* src,
                                const uint8_t* dst) noexcept {
    return static_cast<uint32_t>(
        finish(mix_addr(mix_addr(seed ^ (uint64_t{version} << 32) ^ id, src), dst)));
}

[[nodiscard]] uint32_t source_hash(uint64_t seed, uint8_t version, const uint8_t* addr) noexcept {
    return static_cast<uint32_t>(finish(mix_addr(seed ^ (uint64_t{version} << 40), addr)));
}

/// Empties bucket @p i (backward-shift deletion, util/probing.hpp).
template <typename Bucket>
void erase_bucket(Bucket* table, std::size_t mask, std::size_t i) noexcept {
    util::erase_linear_probe(table, mask, i, [](const Bucket& b) { return b.hash; });
}

/// The bucket holding pool index @p idx of hash @p hash (it is there).
template <typename Bucket>
[[nodiscard]] std::size_t bucket_of(const Bucket* table, std::size_t mask, uint32_t idx,
                                    uint32_t hash) noexcept {
    std::size_t i = hash & mask;
    while (!(table[i].used && table[i].idx == idx)) {
        i = (i + 1) & mask;
    }
    return i;
}

/// Puts pool index @p idx of hash @p hash into the first free bucket of its probe run.
template <typename Bucket>
void insert_bucket(Bucket* table, std::size_t mask, uint32_t idx, uint32_t hash) noexcept {
    std::size_t i = hash & mask;
    while (table[i].used) {
        i = (i + 1) & mask;
    }
    table[i].used = true;
    table[i].idx = idx;
    table[i].hash = hash;
}

} // namespace

reassembler::reassembler(const reassembly_limits& l) : lim_(l), seed_(rte_rand()) {
    lim_.datagrams = std::max<uint32_t>(lim_.datagrams, 1);
    lim_.max_fragments = std::max<uint32_t>(lim_.max_fragments, max_fragments_per_datagram);
    if (lim_.per_source_datagrams == 0) {
        lim_.per_source_datagrams = std::max<uint32_t>(lim_.datagrams / 16, 1);
    }
    lim_.per_source_datagrams = std::min(lim_.per_source_datagrams, lim_.datagrams);
    if (lim_.per_source_fragments == 0) {
        lim_.per_source_fragments = lim_.max_fragments / 8;
    }
    // A source must be able to hold one whole datagram, so evicting its others always makes room.
    lim_.per_source_fragments = std::clamp<uint32_t>(
        lim_.per_source_fragments, max_fragments_per_datagram, lim_.max_fragments);
    std::size_t table = 2;
    while (table < std::size_t{lim_.datagrams} * 2) {
        table <<= 1;
    }
    mask_ = table - 1;
    table_ = std::make_unique<bucket[]>(table);
    source_table_ = std::make_unique<bucket[]>(table);
    slots_ = std::make_unique<slot[]>(lim_.datagrams);
    sources_ = std::make_unique<source[]>(lim_.datagrams);
    free_slots_ = std::make_unique<uint32_t[]>(lim_.datagrams);
    free_sources_ = std::make_unique<uint32_t[]>(lim_.datagrams);
    for (uint32_t i = 0; i < lim_.datagrams; ++i) {
        free_slots_[i] = lim_.datagrams - 1 - i;
        free_sources_[i] = lim_.datagrams - 1 - i;
    }
    n_free_slots_ = n_free_sources_ = lim_.datagrams;
}

reassembler::~reassembler() {
    for (uint32_t e = oldest_; e != nil; e = slots_[e].newer) {
        for (uint16_t k = 0; k < slots_[e].n; ++k) {
            rte_pktmbuf_free(slots_[e].frags[k].m);
        }
    }
}

uint32_t reassembler::find(const net::packet_info& info, uint32_t hash) const noexcept {
    const net::fragment_info& f = info.frag;
    for (std::size_t i = hash & mask_; table_[i].used; i = (i + 1) & mask_) {
        if (table_[i].hash != hash) {
            continue;
        }
        const slot& s = slots_[table_[i].idx];
        if (s.version == info.ip_version && s.id == f.id && s.proto == f.proto &&
            std::memcmp(s.src, f.src, 16) == 0 && std::memcmp(s.dst, f.dst, 16) == 0) {
            return table_[i].idx;
        }
    }
    return nil;
}

uint32_t reassembler::find_source(uint8_t version, const uint8_t* addr,
                                  uint32_t hash) const noexcept {
    for (std::size_t i = hash & mask_; source_table_[i].used; i = (i + 1) & mask_) {
        const source& s = sources_[source_table_[i].idx];
        if (source_table_[i].hash == hash && s.version == version &&
            std::memcmp(s.addr, addr, 16) == 0) {
            return source_table_[i].idx;
        }
    }
    return nil;
}

uint32_t reassembler::acquire_source(uint8_t version, const uint8_t* addr, uint32_t hash) noexcept {
    const uint32_t found = find_source(version, addr, hash);
    if (found != nil) {
        return found;
    }
    // A source exists only while it holds a datagram: never more sources than slots.
    const uint32_t si = free_sources_[--n_free_sources_];
    source& s = sources_[si];
    s.version = version;
    std::memcpy(s.addr, addr, 16);
    s.hash = hash;
    s.datagrams = s.fragments = 0;
    s.oldest = s.newest = nil;
    insert_bucket(source_table_.get(), mask_, si, hash);
    ++n_sources_;
    return si;
}

uint32_t reassembler::create(const net::packet_info& info, uint32_t hash, uint32_t si,
                             uint64_t now_tsc) noexcept {
    const net::fragment_info& f = info.frag;
    const uint32_t e = free_slots_[--n_free_slots_];
    slot& s = slots_[e];
    s.version = info.ip_version;
    s.proto = f.proto;
    s.id = f.id;
    std::memcpy(s.src, f.src, 16);
    std::memcpy(s.dst, f.dst, 16);
    s.hash = hash;
    s.first_tsc = now_tsc;
    s.total = 0;
    s.bytes = 0;
    s.n = 0;
    // Newest of all, and newest of its source.
    s.source = si;
    s.older = newest_;
    s.newer = nil;
    (newest_ != nil ? slots_[newest_].newer : oldest_) = e;
    newest_ = e;
    source& src = sources_[si];
    s.src_older = src.newest;
    s.src_newer = nil;
    (src.newest != nil ? slots_[src.newest].src_newer : src.oldest) = e;
    src.newest = e;
    ++src.datagrams;
    insert_bucket(table_.get(), mask_, e, hash);
    ++used_;
    return e;
}

void reassembler::remove(uint32_t e) noexcept {
    slot& s = slots_[e];
    (s.older != nil ? slots_[s.older].newer : oldest_) = s.newer;
    (s.newer != nil ? slots_[s.newer].older : newest_) = s.older;
    source& src = sources_[s.source];
    (s.src_older != nil ? slots_[s.src_older].src_newer : src.oldest) = s.src_newer;
    (s.src_newer != nil ? slots_[s.src_newer].src_older : src.newest) = s.src_older;
    held_ -= s.n;
    src.fragments -= s.n;
    if (--src.datagrams == 0) {
        erase_bucket(source_table_.get(), mask_,
                     bucket_of(source_table_.get(), mask_, s.source, src.hash));
        free_sources_[n_free_sources_++] = s.source;
        --n_sources_;
    }
    erase_bucket(table_.get(), mask_, bucket_of(table_.get(), mask_, e, s.hash));
    free_slots_[n_free_slots_++] = e;
    s.n = 0;
    --used_;
}

void reassembler::release(uint32_t e, net::drop_reason why, frag_drop_fn drop, void* ctx) noexcept {
    slot& s = slots_[e];
    for (uint16_t k = 0; k < s.n; ++k) {
        rte_pktmbuf_free(s.frags[k].m);
    }
    drop(ctx, why, s.n);
    remove(e);
}

bool reassembler::evict_oldest(uint32_t of_source, uint32_t keep, net::drop_reason why,
                               frag_drop_fn drop, void* ctx) noexcept {
    uint32_t e = of_source == nil ? oldest_ : sources_[of_source].oldest;
    if (e != nil && e == keep) {
        e = of_source == nil ? slots_[e].newer : slots_[e].src_newer;
    }
    if (e == nil) {
        return false;
    }
    release(e, why, drop, ctx);
    return true;
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
    const uint32_t hash = key_hash(seed_, info.ip_version, f.id, f.src, f.dst);
    uint32_t e = find(info, hash);
    if (e == nil) {
        // A new datagram. Its source keeps at most per_source_datagrams: past that its own
        // oldest goes, so a flood (or a spoofed copy of someone's address) only ever displaces
        // itself. Then the table: when full, the oldest datagram of all goes.
        const uint32_t sh = source_hash(seed_, info.ip_version, f.src);
        const uint32_t known = find_source(info.ip_version, f.src, sh);
        if (known != nil && sources_[known].datagrams >= lim_.per_source_datagrams) {
            (void)evict_oldest(known, nil, net::drop_reason::frag_source_limit, drop, ctx);
        }
        if (used_ >= lim_.datagrams) {
            (void)evict_oldest(nil, nil, net::drop_reason::frag_evicted, drop, ctx);
        }
        e = create(info, hash, acquire_source(info.ip_version, f.src, sh), now_tsc);
    }
    slot& s = slots_[e];
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
        release(e, net::drop_reason::frag_overlap, drop, ctx);
        return res;
    }
    if (s.n == max_fragments_per_datagram) {
        rte_pktmbuf_free(m);
        drop(ctx, net::drop_reason::frag_too_many, 1);
        release(e, net::drop_reason::frag_too_many, drop, ctx);
        return res;
    }
    // Room for one more fragment: within the source's share first (its own oldest other
    // datagrams go), then within the lcore's memory (the oldest of all). This datagram holds
    // fewer than 64 fragments and both bounds are at least 64, so another one is always there.
    while (sources_[s.source].fragments >= lim_.per_source_fragments &&
           evict_oldest(s.source, e, net::drop_reason::frag_source_limit, drop, ctx)) {
    }
    while (held_ >= lim_.max_fragments &&
           evict_oldest(nil, e, net::drop_reason::frag_evicted, drop, ctx)) {
    }
    std::memmove(&s.frags[at + 1], &s.frags[at], sizeof(frag_ref) * (s.n - at));
    s.frags[at] = frag_ref{m, f.offset, f.len, f.data_off};
    ++s.n;
    ++held_;
    ++sources_[s.source].fragments;
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
    if (d == nullptr) {
        for (uint16_t k = 0; k < n; ++k) { // chaining failed half-way: free what was linked and not
            if (k == 0 || s.frags[k].m->pkt_len != 0) {
                rte_pktmbuf_free(s.frags[k].m);
            }
        }
        drop(ctx, net::drop_reason::frag_invalid, n);
        remove(e);
        return res;
    }
    remove(e);
    res.datagram = d;
    res.merged = n;
    return res;
}

void reassembler::expire(uint64_t now_tsc, frag_drop_fn drop, void* ctx) noexcept {
    // Oldest first: stop at the first datagram that is not due.
    while (oldest_ != nil && now_tsc >= slots_[oldest_].first_tsc &&
           now_tsc - slots_[oldest_].first_tsc >= lim_.timeout_tsc) {
        release(oldest_, net::drop_reason::frag_timeout, drop, ctx);
    }
}

void reassembler::drain(frag_drop_fn drop, void* ctx) noexcept {
    while (oldest_ != nil) {
        release(oldest_, net::drop_reason::frag_incomplete, drop, ctx);
    }
}

} // namespace logagg::pipeline
