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

#include "log/encode.hpp"
#include "log/json.hpp"
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
    // Parsing and encoding (docs/formats.md). Off (parse == false) when nothing needs records:
    // raw output and --on-parse-error forward.
    bool parse = false;
    bool drop_parse_errors = false; ///< --on-parse-error drop
    log::output_format out_format = log::output_format::raw;
    log::json_extractor* json = nullptr; ///< this worker's (owned by the control plane)
    char* scratch = nullptr; ///< --max-msg + json_padding bytes: linearised or padded messages
    uint32_t scratch_size = 0;
    gen_arena* arena = nullptr;     ///< encoded output (out_format != raw), shared with the sink
    uint64_t stage_arena_start = 0; ///< arena head when the staged descriptors began
    uint64_t tsc_base = 0;          ///< TSC and wall clock read together at start-up
    int64_t wall_base_ns = 0;
    double ns_per_tsc = 0;
    int64_t now_ns = 0; ///< receive time of the current burst
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
