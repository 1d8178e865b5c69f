// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath writes (one writer per counter), control plane reads.
//
// Per-lcore counters. Each counter has exactly one writer (the lcore that owns the struct), so an
// increment is a relaxed load + relaxed store (a plain add on x86, no locked instruction); the
// control plane reads them with relaxed loads for the periodic line and exactly after the lcores
// have stopped for the summary.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include <rte_common.h>

#include "log/json.hpp"
#include "log/rfc5424.hpp"
#include "net/classify.hpp"

namespace logagg::pipeline {

/// A single-writer monotonically increasing counter.
class counter {
public:
    /// Adds @p n. Only the owning lcore may call this.
    void add(uint64_t n = 1) noexcept {
        v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    /// @return the current value; any thread.
    [[nodiscard]] uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<uint64_t> v_{0};
};

/// Why an accepted message did not reach a sink.
enum class msg_drop : uint8_t {
    sink_full,   ///< the worker found the sink's ring full (--on-sink-full drop)
    write_error, ///< the sink's write failed (disk full, I/O error); see the sink's log line
    oversize,    ///< longer than --max-msg with --on-oversize drop
    parse_error, ///< did not parse as its listener's format, with --on-parse-error drop
    count_
};
inline constexpr std::size_t msg_drop_count = static_cast<std::size_t>(msg_drop::count_);
inline constexpr std::array<const char*, msg_drop_count> msg_drop_names{
    "sink_full", "write_error", "oversize", "parse_error"};

/// Counters of one lcore, whatever its roles. Cache-line aligned so lcores never share a line.
struct alignas(RTE_CACHE_LINE_SIZE) lcore_stats {
    // RX role
    counter rx_packets;  ///< frames taken from NIC queues
    counter rx_bytes;    ///< their pkt_len sum
    counter to_workers;  ///< frames accepted by classify() and handed to a worker
    counter answered;    ///< ARP/ICMP/NDP requests answered (reply accepted by the NIC)
    counter reassembled; ///< datagrams rebuilt from fragments (each then classified like a frame)
    counter fragments_merged;       ///< fragment frames that became part of a rebuilt datagram
    std::array<counter, 4> replies; ///< answered, by kind (responder.hpp reply_kind_names)
    std::array<counter, net::drop_reason_count> pkt_drops; ///< frames dropped, by reason
    // worker role
    counter worker_packets;  ///< frames a worker framed
    counter messages_framed; ///< messages found (non-empty)
    counter empty_skipped;   ///< empty lines and empty datagrams skipped
    counter truncated;       ///< messages cut to --max-msg (still delivered)
    counter
        framing_errors;   ///< datagrams whose octet counting broke (rest of the payload discarded)
    counter bytes_copied; ///< payload bytes copied on the datapath (linearising, escaping, short
                          ///< fields of encoded output)
    std::array<counter, 5> parsed; ///< records by input format (log::input_format_names)
    std::array<counter, static_cast<std::size_t>(log::rfc5424_status::count_)> rfc5424_errors;
    std::array<counter, static_cast<std::size_t>(log::json_status::count_)> json_errors;
    std::array<counter, msg_drop_count> msg_drops; ///< messages dropped, by reason
    // sink role
    counter messages_written;
    counter bytes_written;

    void drop(net::drop_reason r, uint64_t n = 1) noexcept {
        pkt_drops[static_cast<std::size_t>(r)].add(n);
    }
    void drop(msg_drop r, uint64_t n = 1) noexcept {
        msg_drops[static_cast<std::size_t>(r)].add(n);
    }
};

} // namespace logagg::pipeline
