// SPDX-License-Identifier: BSD-3-Clause
// Side: construction, parse_impair() and destruction are control plane; input() and poll() are
// datapath on the one lcore that owns the instance (no allocation, no locks, no syscalls).
//
// TEST ONLY (--test-tcp-impair): a deterministic network impairment in front of a worker's TCP
// engine, so that the end-to-end tests exercise a real kernel sender's loss recovery and the
// engine's out-of-order queue on a loss-free veth. Decided by a segment counter, never by a
// clock or a random number: the n-th segment of a worker meets the same fate in every run.
//   drop=N   every N-th segment is freed instead of reaching the engine (impair.dropped);
//   hold=N   every N-th segment (not dropped) is kept back and handed over after the next K
//            segments of the same worker (after=K, default 3), or at the first poll() that
//            finds no segment arrived since the one before (impair.held): it arrives reordered,
//            or late, and the sender's duplicate ACKs / SACK / RTO take over.
// Every segment given to input() is either delivered (once), held (delivered later, or freed by
// the destructor) or dropped and counted.
#pragma once

#include <cstdint>

#include <rte_mbuf.h>

#include "net/tcp.hpp"
#include "tcp/impair_config.hpp"
#include "util/counter.hpp"

namespace logagg::tcp {

/// Counters of one instance; single writer (the owning lcore), any reader.
struct impair_stats {
    util::counter seen;    ///< segments given to input()
    util::counter dropped; ///< freed instead of delivered
    util::counter held;    ///< kept back and delivered late (counted when kept)
};

class impair {
public:
    /// Most segments held back at once. Why 8: holding one in N with N >= 2 and K = 3 keeps at
    /// most two; beyond the bound a segment due for holding passes (counted nowhere else).
    static constexpr uint32_t max_held = 8;

    explicit impair(const impair_config& cfg) noexcept : cfg_(cfg) {
        if (cfg_.after == 0) {
            cfg_.after = 1; // a held segment passes at least one other
        }
    }
    /// Frees what is still held (the engine never saw it; the sender retransmits it anyway).
    ~impair() {
        for (uint32_t i = 0; i < n_held_; ++i) {
            rte_pktmbuf_free(held_[(head_ + i) % max_held].m);
        }
    }
    impair(const impair&) = delete;
    impair& operator=(const impair&) = delete;

    /// Takes segment @p m (ownership) and calls @p deliver(m, at) for each segment due now: none
    /// (dropped or held), @p m, then any held segment whose K segments have now passed.
    template <typename Deliver>
    void input(rte_mbuf* m, const net::tcp_locator& at, Deliver&& deliver) noexcept {
        st_.seen.add();
        ++n_;
        arrived_ = true;
        if (cfg_.drop != 0 && n_ % cfg_.drop == 0) {
            st_.dropped.add();
            rte_pktmbuf_free(m);
            return;
        }
        if (cfg_.hold != 0 && n_ % cfg_.hold == 0 && n_held_ < max_held) {
            held_[(head_ + n_held_) % max_held] = entry{m, at, cfg_.after};
            ++n_held_;
            st_.held.add();
            return;
        }
        deliver(m, at);
        // The oldest held segments first; each waits for its own K.
        for (uint32_t i = 0; i < n_held_; ++i) {
            --held_[(head_ + i) % max_held].wait;
        }
        while (n_held_ != 0 && held_[head_].wait == 0) {
            const entry e = held_[head_];
            head_ = (head_ + 1) % max_held;
            --n_held_;
            deliver(e.m, e.at);
        }
    }

    /// Once per worker loop: when no segment arrived since the previous call, hands over every
    /// held segment (nothing more is coming to push it along).
    template <typename Deliver>
    void poll(Deliver&& deliver) noexcept {
        if (!arrived_) {
            release_all(deliver);
        }
        arrived_ = false;
    }

    /// Hands over every held segment now (shutdown: before the engine closes its connections).
    template <typename Deliver>
    void release_all(Deliver&& deliver) noexcept {
        while (n_held_ != 0) {
            const entry e = held_[head_];
            head_ = (head_ + 1) % max_held;
            --n_held_;
            deliver(e.m, e.at);
        }
    }

    [[nodiscard]] const impair_stats& counters() const noexcept { return st_; }
    /// Segments held back now.
    [[nodiscard]] uint32_t holding() const noexcept { return n_held_; }
    [[nodiscard]] const impair_config& config() const noexcept { return cfg_; }

private:
    struct entry {
        rte_mbuf* m = nullptr;
        net::tcp_locator at;
        uint32_t wait = 0; ///< segments still to pass before it is handed over
    };
    impair_config cfg_;
    uint64_t n_ = 0;
    bool arrived_ = false;
    entry held_[max_held];
    uint32_t head_ = 0;
    uint32_t n_held_ = 0;
    impair_stats st_;
};

} // namespace logagg::tcp
