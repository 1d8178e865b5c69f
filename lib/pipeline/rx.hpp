// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath (rx_poll); rx_ctx is built by the control plane before the lcores start.
//
// The RX stage: polls NIC queues, classifies frames, drops what is not for us (counted by
// reason), stores parse results in the mbuf and dispatches by flow hash to a worker, either
// through the worker's ring (pipeline mode) or by calling the worker inline (run to completion).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "net/classify.hpp"
#include "net/neighbour.hpp"
#include "pipeline/counters.hpp"
#include "pipeline/reassembly.hpp"
#include "pipeline/responder.hpp"
#include "pipeline/wakeup.hpp"
#include "pipeline/worker.hpp"

namespace logagg::pipeline {

/// One NIC queue polled by an RX lcore.
struct rx_queue {
    uint16_t port;
    uint16_t queue;
    const net::local_addrs* local = nullptr; ///< the port's own addresses (--ip), or none
    uint16_t responder = 0; ///< index into rx_ctx::responders (one per port of this lcore)
    /// net_af_packet: accept checksums a local sender left partial, and name frames the PMD cut
    /// (classify_options::accept_partial_checksum, snap_len).
    bool accept_partial_checksum = false;
    uint32_t snap_len = 0;
};

/// State of one RX lcore. The vectors are sized at start-up and never grow afterwards.
struct alignas(RTE_CACHE_LINE_SIZE) rx_ctx {
    std::vector<rx_queue> queues;
    /// Per port: answers ARP/ICMP/NDP for the port on the TX queue this lcore owns there (one
    /// rate window per lcore and port, whatever number of its queues the lcore polls).
    std::vector<responder> responders;
    /// IP fragment reassembly of this lcore (nullptr: fragments are dropped, --reassembly off).
    std::unique_ptr<reassembler> reasm;
    const net::listen_ports* ports = nullptr;
    net::classify_options opts{};
    int meta_off = -1;
    uint16_t burst = 32;
    /// Pipeline mode: ring of worker i (mbuf pointers; multi-producer when several RX lcores
    /// feed it). Empty in run-to-completion mode.
    std::vector<rte_ring*> worker_rings;
    /// --poll adaptive: worker i's lcore waker, told after each enqueue to its ring (else empty).
    std::vector<waker*> worker_wakers;
    /// Run-to-completion mode: the worker on this same lcore.
    worker_ctx* local_worker = nullptr;
    /// --on-sink-full block: wait for room in a worker ring instead of dropping, so backpressure
    /// reaches the NIC queue (which then counts imissed) rather than dropping accepted frames.
    bool block_when_full = false;
    /// When blocked on a full worker ring: sleep steps (pipeline/blocked.hpp; 0: spin).
    uint32_t block_sleep_us = 0;
    lcore_stats* stats = nullptr;
    /// Next hops port sinks resolve (shared by all RX lcores; nullptr: none). ARP replies and
    /// neighbour advertisements about them are consumed here (counted as packets.neighbour).
    net::neighbour_table* neighbours = nullptr;

    // Scratch, sized by prepare().
    std::vector<rte_mbuf*> rx_buf;
    std::vector<rte_mbuf*> by_worker; ///< worker i's accepted frames at [i * burst, ...)
    std::vector<uint16_t> n_by_worker;
    std::vector<rte_mbuf*> dropped;

    /// Sizes the scratch vectors; control plane, call once after filling the fields above.
    void prepare();
};

/// Worker index for a flow hash: multiply-shift range reduction (uniform, no division).
[[nodiscard]] inline uint32_t worker_for(uint32_t hash, uint32_t n_workers) noexcept {
    return static_cast<uint32_t>((static_cast<uint64_t>(hash) * n_workers) >> 32);
}

/// Classifies and dispatches a burst the caller already received from queue @p q of rx.queues
/// (exposed for tests and for callers with their own RX source). Bulk: takes ownership of every
/// frame.
void rx_dispatch(rx_ctx& rx, rte_mbuf** pkts, uint16_t n, std::size_t q = 0) noexcept;

/// Drops what is still in reassembly (frag_incomplete); when RX stops.
void rx_drain(rx_ctx& rx) noexcept;

/// Polls each queue of @p rx once (one burst each) and dispatches what arrived.
/// @return the number of frames received.
uint32_t rx_poll(rx_ctx& rx) noexcept;

} // namespace logagg::pipeline
