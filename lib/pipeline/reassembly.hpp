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

/// Bounds of one reassembler.
struct reassembly_limits {
    uint32_t datagrams = 1024;     ///< in reassembly at once
    uint32_t max_fragments = 4096; ///< mbufs held at once (memory bound: ~9 MB of 2 KiB mbufs)
    uint64_t timeout_tsc = 0;      ///< incomplete datagrams older than this are dropped
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

    /// Takes ownership of fragment @p m described by @p info (packet_kind::fragment).
    /// @return the reassembled datagram when @p m completed one: a chain that starts with the
    ///         headers of the first fragment, fixed to describe the whole datagram (IPv4 length,
    ///         flags and checksum; IPv6 payload length with the fragment header removed).
    reassembly_result add(rte_mbuf* m, const net::packet_info& info, uint64_t now_tsc,
                          frag_drop_fn drop, void* ctx) noexcept;

    /// Drops datagrams older than the timeout (frag_timeout). Cheap when nothing is pending.
    void expire(uint64_t now_tsc, frag_drop_fn drop, void* ctx) noexcept;

    /// Drops everything still pending (frag_incomplete); at shutdown.
    void drain(frag_drop_fn drop, void* ctx) noexcept;

    [[nodiscard]] uint32_t pending_datagrams() const noexcept { return used_; }
    [[nodiscard]] uint32_t held_fragments() const noexcept { return held_; }

    struct slot;

private:
    [[nodiscard]] std::size_t find(const net::packet_info& info, bool& found) const noexcept;
    void release(std::size_t i, net::drop_reason why, frag_drop_fn drop, void* ctx) noexcept;
    void remove(std::size_t i) noexcept;
    rte_mbuf* build(slot& s) noexcept;

    reassembly_limits lim_;
    std::size_t mask_ = 0;
    std::unique_ptr<slot[]> slots_;
    uint32_t used_ = 0;
    uint32_t held_ = 0;
    uint64_t next_expire_ = 0;
};

} // namespace logagg::pipeline
