// SPDX-License-Identifier: BSD-3-Clause
// Side: construction is control plane (allocates once); add(), expire(), drain() are datapath on
// one RX lcore (no allocation, no locks).
//
// IPv4 and IPv6 fragment reassembly into mbuf chains, one instance per RX lcore. DPDK's rte_ip_frag
// is not used: Debian's DPDK 22.11 is built with RTE_LIBRTE_IP_FRAG_MAX_FRAG 8 (about 11.8 KB at an
// MTU of 1500, while logs arrive in datagrams of up to 64 KiB) and without table statistics
// (docs/architecture.md, "Reassembly").
#pragma once

#include <cstdint>
#include <memory>

#include <rte_mbuf.h>

#include "net/classify.hpp"

namespace logagg::pipeline {

/// Bounds of one reassembler (docs/architecture.md, "Reassembly", says why these values).
struct reassembly_limits {
    uint32_t datagrams = 1024;     ///< in reassembly at once
    uint32_t max_fragments = 4096; ///< mbufs held at once (memory bound: ~9 MB of 2 KiB mbufs)
    /// Incomplete datagrams one source address may hold; 0: datagrams / 16 (64). Why 1/16: a
    /// flood from one address (or spoofing one) keeps 15/16 of the table for everyone else,
    /// while 64 datagrams in flight at once is far more than one sender has.
    uint32_t per_source_datagrams = 0;
    /// Fragments one source address may hold; 0: max_fragments / 8 (512: eleven 64 KiB
    /// datagrams of 45 fragments in flight). At least max_fragments_per_datagram.
    uint32_t per_source_fragments = 0;
    uint64_t timeout_tsc = 0; ///< incomplete datagrams older than this are dropped
};

/// Fragments per datagram kept. Why 64: a 65,535-byte datagram at MTU 1500 is 45 fragments.
inline constexpr unsigned max_fragments_per_datagram = 64;

/// Where a fragment ended up. On `dropped`, `reason` says why and the fragment (and, for whole-
/// datagram drops, the others) were released and counted through the drop callback.
struct reassembly_result {
    rte_mbuf* datagram = nullptr; ///< a complete datagram (chain), now owned by the caller
    uint32_t merged = 0;          ///< fragments that became part of `datagram`
};

/// Called for every fragment frame released without becoming part of a datagram.
using frag_drop_fn = void (*)(void* ctx, net::drop_reason why, uint32_t frames) noexcept;

class reassembler {
public:
    explicit reassembler(const reassembly_limits& l);
    ~reassembler();
    reassembler(const reassembler&) = delete;
    reassembler& operator=(const reassembler&) = delete;

    /// Takes ownership of fragment @p m described by @p info (packet_kind::fragment). Never
    /// refuses a fragment for lack of room: when the table, the fragment memory or the
    /// fragment's source is at its bound, the oldest incomplete datagram (of the table, or of
    /// that source) is dropped to make room (frag_evicted, frag_source_limit). O(1) but for the
    /// sorted insert among the datagram's fragments; allocates nothing.
    /// @return the reassembled datagram when @p m completed one: a chain that starts with the
    ///         headers of the first fragment, fixed to describe the whole datagram (IPv4 length,
    ///         flags and checksum; IPv6 payload length with the fragment header removed).
    reassembly_result add(rte_mbuf* m, const net::packet_info& info, uint64_t now_tsc,
                          frag_drop_fn drop, void* ctx) noexcept;

    /// Drops datagrams older than the timeout (frag_timeout). Walks from the oldest: O(1) when
    /// nothing is due.
    void expire(uint64_t now_tsc, frag_drop_fn drop, void* ctx) noexcept;

    /// Drops everything still pending (frag_incomplete); at shutdown.
    void drain(frag_drop_fn drop, void* ctx) noexcept;

    [[nodiscard]] uint32_t pending_datagrams() const noexcept { return used_; }
    [[nodiscard]] uint32_t held_fragments() const noexcept { return held_; }
    /// Source addresses with a datagram in reassembly now.
    [[nodiscard]] uint32_t sources() const noexcept { return n_sources_; }

    struct slot;
    struct source;

private:
    /// A pool index that names nothing (list ends, "not found").
    static constexpr uint32_t nil = UINT32_MAX;
    /// A hash table of pool indices: linear probing, backward-shift deletion. The pools' records
    /// never move, so lists can link them by index.
    struct bucket {
        bool used = false;
        uint32_t idx = 0;
        uint32_t hash = 0;
    };

    [[nodiscard]] uint32_t find(const net::packet_info& info, uint32_t hash) const noexcept;
    [[nodiscard]] uint32_t find_source(uint8_t version, const uint8_t* addr,
                                       uint32_t hash) const noexcept;
    [[nodiscard]] uint32_t create(const net::packet_info& info, uint32_t hash, uint32_t src,
                                  uint64_t now_tsc) noexcept;
    [[nodiscard]] uint32_t acquire_source(uint8_t version, const uint8_t* addr,
                                          uint32_t hash) noexcept;
    /// Evicts the oldest datagram of the table (@p of_source nil) or of one source, other than
    /// @p keep. @return false when there is none.
    bool evict_oldest(uint32_t of_source, uint32_t keep, net::drop_reason why, frag_drop_fn drop,
                      void* ctx) noexcept;
    void release(uint32_t e, net::drop_reason why, frag_drop_fn drop, void* ctx) noexcept;
    void remove(uint32_t e) noexcept;
    rte_mbuf* build(slot& s) noexcept;

    reassembly_limits lim_;
    uint64_t seed_ = 0;                      ///< of the hashes (random: senders choose every key)
    std::size_t mask_ = 0;                   ///< of both bucket tables
    std::unique_ptr<bucket[]> table_;        ///< datagram key -> slots_ index
    std::unique_ptr<slot[]> slots_;          ///< lim_.datagrams datagrams
    std::unique_ptr<uint32_t[]> free_slots_; ///< stack of unused slots_ indices
    uint32_t n_free_slots_ = 0;
    std::unique_ptr<bucket[]> source_table_; ///< (version, address) -> sources_ index
    std::unique_ptr<source[]> sources_;      ///< at most one per datagram
    std::unique_ptr<uint32_t[]> free_sources_;
    uint32_t n_free_sources_ = 0;
    uint32_t oldest_ = nil; ///< every datagram, by creation time
    uint32_t newest_ = nil;
    uint32_t used_ = 0;
    uint32_t held_ = 0;
    uint32_t n_sources_ = 0;
};

} // namespace logagg::pipeline
