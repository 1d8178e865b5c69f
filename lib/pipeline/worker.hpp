// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath (worker_frame_burst, worker_flush); worker_ctx is built by the control plane.
//
// The worker stage: frames the payload of each packet into messages and hands message descriptors
// to the sink's ring, without copying payload bytes.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "pipeline/counters.hpp"
#include "pipeline/listener.hpp"
#include "pipeline/message.hpp"

namespace logagg::pipeline {

/// Descriptors staged before one enqueue to the sink ring. Why 512: enough for a burst of 32
/// datagrams of 16 lines each in one ring operation, small enough (8 KiB) to stay in L1/L2.
inline constexpr uint32_t stage_capacity = 512;

/// State of one worker. Single-threaded: only its lcore touches it after start-up.
struct alignas(RTE_CACHE_LINE_SIZE) worker_ctx {
    rte_ring* sink_ring = nullptr; ///< SPSC, msg_desc elements, consumed by the sink
    int meta_off = -1;             ///< dynfield offset of pkt_meta
    bool block_when_full = false;  ///< --on-sink-full block: wait for room instead of dropping
    lcore_stats* stats = nullptr;  ///< counters of the lcore running this worker
    const listener_table* listeners = nullptr; ///< framing policy by destination port
    uint32_t n_staged = 0;
    std::array<msg_desc, stage_capacity> staged{};
};

/// Frames every packet of @p pkts and enqueues the messages to the sink (bulk: takes ownership of
/// all packets; each ends up referenced by the sink ring, or freed here and counted).
/// Each packet must carry pkt_meta from the RX stage.
void worker_frame_burst(worker_ctx& w, std::span<rte_mbuf* const> pkts) noexcept;

/// Enqueues what is staged. In drop mode, whole units that do not fit are dropped (messages
/// counted as msg_drop::sink_full, packet references released); in block mode, waits for room.
void worker_flush(worker_ctx& w) noexcept;

} // namespace logagg::pipeline
