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

#include "log/filter.hpp"
#include "log/gelf.hpp"
#include "log/json.hpp"
#include "log/rfc3164.hpp"
#include "log/rfc5424.hpp"
#include "net/classify.hpp"
#include "pipeline/lanes.hpp"
#include "pipeline/listener.hpp"
#include "util/enum_names.hpp"

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

/// Why a framed message was not handed to any sink.
enum class msg_drop : uint8_t {
    oversize,    ///< longer than --max-msg with --on-oversize drop
    parse_error, ///< did not parse as its listener's format, with --on-parse-error drop
    filtered,    ///< a --filter did not match
    unrouted,    ///< no --route matched and no sink takes unrouted records
    tcp_partial, ///< a TCP stream ended (FIN or reset) in the middle of a message
    tcp_no_span, ///< a message spanning TCP segments found no free span buffer (tcp_stream.hpp)
    count_
};
inline constexpr std::size_t msg_drop_count = static_cast<std::size_t>(msg_drop::count_);
/// The stable name of each msg_drop value (util/enum_names.hpp); "" for none.
[[nodiscard]] constexpr std::string_view name(msg_drop v) noexcept {
    switch (v) {
    case msg_drop::oversize:
        return "oversize";
    case msg_drop::parse_error:
        return "parse_error";
    case msg_drop::filtered:
        return "filtered";
    case msg_drop::unrouted:
        return "unrouted";
    case msg_drop::tcp_partial:
        return "tcp_partial";
    case msg_drop::tcp_no_span:
        return "tcp_no_span";
    case msg_drop::count_:
        break;
    }
    return "";
}
/// The names in enum order.
inline constexpr auto msg_drop_names = util::enum_names<msg_drop, msg_drop_count>();

using log::max_filters;
using log::max_routes;

/// Why a record routed to a sink was not delivered by it.
enum class sink_drop : uint8_t {
    sink_full,   ///< the worker found the sink's ring (or its byte arena) full (drop mode)
    buffer_full, ///< the sink's buffer= bound was reached (drop=newest or drop=oldest)
    write_error, ///< the file sink's write failed (disk full, I/O error)
    rejected,    ///< the backend refused the record for good (Kafka: too large, bad topic)
    shutdown,    ///< still undelivered when --drain-timeout ran out at exit
    count_
};
inline constexpr std::size_t sink_drop_count = static_cast<std::size_t>(sink_drop::count_);
/// The stable name of each sink_drop value (util/enum_names.hpp); "" for none.
[[nodiscard]] constexpr std::string_view name(sink_drop v) noexcept {
    switch (v) {
    case sink_drop::sink_full:
        return "sink_full";
    case sink_drop::buffer_full:
        return "buffer_full";
    case sink_drop::write_error:
        return "write_error";
    case sink_drop::rejected:
        return "rejected";
    case sink_drop::shutdown:
        return "shutdown";
    case sink_drop::count_:
        break;
    }
    return "";
}
/// The names in enum order.
inline constexpr auto sink_drop_names = util::enum_names<sink_drop, sink_drop_count>();

/// Why a worker copied payload bytes (bytes_copied, by reason).
enum class copy_reason : uint8_t {
    linearise,   ///< a message spanning packet segments, into one buffer (parsing, a key, Kafka)
    json_pad,    ///< a JSON message without the parser's padding behind it
    gelf,        ///< GELF chunks reassembled, payloads inflated
    key,         ///< a Kafka key taken out of the message
    encode,      ///< message text inside encoded output, or a one-piece (Kafka) record
    sink_append, ///< a short record (and its LF) appended to a file sink's byte ring
    tcp_span,    ///< a TCP message split across segments, into its connection's span buffer
    count_
};
inline constexpr std::size_t copy_reason_count = static_cast<std::size_t>(copy_reason::count_);
/// The stable name of each copy_reason value (util/enum_names.hpp); "" for none.
[[nodiscard]] constexpr std::string_view name(copy_reason v) noexcept {
    switch (v) {
    case copy_reason::linearise:
        return "linearise";
    case copy_reason::json_pad:
        return "json_pad";
    case copy_reason::gelf:
        return "gelf";
    case copy_reason::key:
        return "key";
    case copy_reason::encode:
        return "encode";
    case copy_reason::sink_append:
        return "sink_append";
    case copy_reason::tcp_span:
        return "tcp_span";
    case copy_reason::count_:
        break;
    }
    return "";
}
/// The names in enum order.
inline constexpr auto copy_reason_names = util::enum_names<copy_reason, copy_reason_count>();

/// Counters of one listener on one lcore (lcore_stats::listeners, indexed by listener slot).
/// Bumped once per frame a worker frames, never per message: 32 bytes, aligned so that they lie
/// in one cache line.
struct alignas(32) listener_counters {
    counter packets;  ///< frames a worker framed for this listener
    counter bytes;    ///< their UDP payload bytes
    counter messages; ///< messages framed from them (as messages_framed)
    counter dropped;  ///< ... not handed to any sink (as msg_drops, whatever the reason)
};
static_assert(sizeof(listener_counters) == 32);

/// Counters of one TCP listener on one lcore (lcore_stats::tcp_listeners, indexed by the slot of
/// the TCP listener_table). Slot 0 counts the segments to ports without a TCP listener (the
/// engine answers them with a RST); its other counters stay 0. Bumped per segment and per call
/// of the stream consumer, never per message: 64 bytes, one cache line.
struct alignas(64) tcp_listener_counters {
    counter segments; ///< segments a worker handed to its engine for this port (control too)
    counter bytes;    ///< in-order stream bytes the engine delivered to the framers
    counter messages; ///< messages framed from them (as messages_framed)
    counter dropped;  ///< ... not handed to any sink (as msg_drops, whatever the reason)
    counter accepted; ///< connections opened (handshake completed)
    counter ended;    ///< ... whose stream ended (FIN or reset, either side): open = the difference
};
static_assert(sizeof(tcp_listener_counters) == 64);

/// Counters of one lcore, whatever its roles. Cache-line aligned so lcores never share a line.
struct alignas(RTE_CACHE_LINE_SIZE) lcore_stats {
    // Loop (any role)
    counter busy_tsc; ///< TSC cycles of loop passes that did work (the busy fraction's numerator)
    counter sleeps;   ///< times the lcore slept (--poll adaptive)
    counter
        rx_interrupts; ///< sleeps an RX queue interrupt or a frame in a net_af_packet ring ended
    counter affinity_changes; ///< --lcore-affinity shared: moves to its own CPU and back
    /// Sleeps of an RX lcore woken by its net_af_packet sockets that did not listen to them
    /// (bounded sleeps while frames come close together).
    counter rx_bounded_sleeps;
    // RX role
    counter rx_packets;  ///< frames taken from NIC queues
    counter rx_bytes;    ///< their pkt_len sum
    counter to_workers;  ///< frames accepted by classify() and handed to a worker
    counter answered;    ///< ARP/ICMP/NDP requests answered (reply accepted by the NIC)
    counter reassembled; ///< datagrams rebuilt from fragments (each then classified like a frame)
    counter fragments_merged; ///< fragment frames that became part of a rebuilt datagram
    counter neighbour; ///< ARP replies / neighbour advertisements that taught a next hop's MAC
    /// Frames accepted although their UDP checksum field held only the pseudo-header sum (a local
    /// sender's CHECKSUM_PARTIAL, on net_af_packet ports). Not a drop, and not a term of the
    /// packet invariant: these frames go on like any accepted one.
    counter checksum_partial;
    std::array<counter, 4> replies; ///< answered, by kind (responder.hpp reply_kind_names)
    std::array<counter, net::drop_reason_count> pkt_drops; ///< frames dropped, by reason
    // worker role
    counter worker_packets;  ///< frames a worker framed
    counter messages_framed; ///< messages found (non-empty)
    counter empty_skipped;   ///< empty lines and empty datagrams skipped
    counter truncated;       ///< messages cut to --max-msg (still delivered)
    counter
        framing_errors;   ///< datagrams whose octet counting broke (rest of the payload discarded)
    counter bytes_copied; ///< payload bytes copied on the datapath: the sum of copied_by
    std::array<counter, copy_reason_count> copied_by; ///< ... by reason (add with copied())
    std::array<counter, 5> parsed; ///< records by input format (log::input_format_names)
    std::array<counter, static_cast<std::size_t>(log::rfc5424_status::count_)> rfc5424_errors;
    std::array<counter, static_cast<std::size_t>(log::rfc3164_status::count_)> rfc3164_errors;
    std::array<counter, static_cast<std::size_t>(log::json_status::count_)> json_errors;
    std::array<counter, msg_drop_count> msg_drops;   ///< messages dropped, by reason
    counter routed;                                  ///< messages handed to at least one sink
    std::array<counter, max_sinks> sink_in;          ///< records handed to each sink
    std::array<counter, max_sinks> sink_in_bytes;    ///< ... their output bytes (before framing)
    std::array<counter, max_sinks> sink_full;        ///< ... that its ring could not take
    std::array<counter, max_filters> filter_kept;    ///< records each --filter let through
    std::array<counter, max_filters> filter_dropped; ///< ... and dropped
    std::array<counter, max_routes> route_hits;      ///< records each --route matched
    /// Per listener, by listener_table slot (slot 0: ports without a listener, never framed).
    std::array<listener_counters, listener_slots> listeners;
    /// Per TCP listener, by the TCP listener_table's slot (slot 0: segments to other ports).
    std::array<tcp_listener_counters, listener_slots> tcp_listeners;
    // TCP (per worker; the engine's own counters are in tcp::stats)
    counter tcp_tx_failed; ///< replies (ACK, SYN-ACK, RST, FIN) the NIC refused: freed
    // GELF (per worker)
    std::array<counter, log::gelf::chunk_status_count> gelf_chunks; ///< chunks, by outcome
    counter gelf_expired_messages; ///< incomplete chunked messages dropped after the timeout
    counter gelf_expired_chunks;   ///< ... and the chunks they held
    counter gelf_bad_compression;  ///< zlib/gzip payloads that did not inflate
    std::array<counter, static_cast<std::size_t>(log::json_status::count_)> gelf_errors;

    /// Counts @p n payload bytes copied for @p why.
    void copied(copy_reason why, uint64_t n) noexcept {
        bytes_copied.add(n);
        copied_by[static_cast<std::size_t>(why)].add(n);
    }
    void drop(net::drop_reason r, uint64_t n = 1) noexcept {
        pkt_drops[static_cast<std::size_t>(r)].add(n);
    }
    void drop(msg_drop r, uint64_t n = 1) noexcept {
        msg_drops[static_cast<std::size_t>(r)].add(n);
    }
};

/// Records per batch, log2 buckets: [1], [2,3], [4,7], ..., [512,1023], [1024, inf).
inline constexpr std::size_t batch_buckets = 11;

/// Latency histogram buckets: log-linear over microseconds, four per octave (25% resolution),
/// from 0 us to about 35 minutes.
inline constexpr std::size_t latency_buckets = 128;

/// The bucket of @p us.
[[nodiscard]] constexpr std::size_t latency_bucket(uint64_t us) noexcept {
    if (us < 4) {
        return static_cast<std::size_t>(us);
    }
    unsigned e = 63u - static_cast<unsigned>(__builtin_clzll(us)); // floor(log2), >= 2
    const std::size_t i = 4 * (e - 1) + ((us >> (e - 2)) & 3u);
    return i < latency_buckets ? i : latency_buckets - 1;
}

/// The smallest value of bucket @p i.
[[nodiscard]] constexpr uint64_t latency_bucket_floor(std::size_t i) noexcept {
    if (i < 4) {
        return i;
    }
    const unsigned e = static_cast<unsigned>(i / 4 + 1);
    return (4u + i % 4) << (e - 2);
}

static_assert(latency_bucket(0) == 0 && latency_bucket(3) == 3 && latency_bucket(4) == 4);
static_assert(latency_bucket(7) == 7 && latency_bucket(8) == 8 && latency_bucket(1000) == 35);
static_assert(latency_bucket_floor(latency_bucket(1000)) <= 1000);
static_assert(latency_bucket_floor(latency_bucket(1000) + 1) > 1000);

/// Counters of one sink, written only by the thread that runs it.
struct alignas(RTE_CACHE_LINE_SIZE) sink_stats {
    counter delivered; ///< records the backend confirmed (written, acknowledged, sent)
    counter bytes;     ///< their bytes, framing included
    std::array<counter, sink_drop_count> drops;       ///< sink-side drops by reason (not sink_full)
    counter dropped_bytes;                            ///< bytes of the records dropped here
    counter batches;                                  ///< writes, sends or produce rounds
    std::array<counter, batch_buckets> batch_records; ///< batch size histogram
    counter reconnects; ///< connections (re-)established after the first
    counter connect_failures;
    /// Connections established (the first included) and established connections lost: counted
    /// when a connection comes up or breaks, never per record. Their difference is 1 while a
    /// connected sink (TCP) is up; the health check reads it (docs/metrics.md).
    counter connections;
    counter disconnects;
    counter retries;      ///< records sent again (TCP: after a reconnect; Kafka: retried)
    counter errors;       ///< transient backend errors (each is retried)
    counter bytes_copied; ///< payload bytes the sink copied (e.g. TX without chaining)
    /// RX-to-delivery time of released records (latency_bucket() of microseconds)
    std::array<counter, latency_buckets> latency_us;
    std::atomic<uint64_t> queued{0}; ///< gauge: records held now (set after each poll)
    std::atomic<uint64_t> pinned{0}; ///< gauge: memory they pin
    /// gauge: the part of pinned that buffer= bounds (a TCP sink's replay window is exempt); the
    /// workers' TCP windows come from buffer= less this.
    std::atomic<uint64_t> bounded{0};

    void gauges(uint64_t q, uint64_t p, uint64_t b) noexcept {
        queued.store(q, std::memory_order_relaxed);
        pinned.store(p, std::memory_order_relaxed);
        bounded.store(b, std::memory_order_relaxed);
    }

    void drop(sink_drop r, uint64_t n, uint64_t b) noexcept {
        drops[static_cast<std::size_t>(r)].add(n);
        dropped_bytes.add(b);
    }
    void batch(uint64_t records) noexcept {
        batches.add();
        std::size_t b = 0;
        while (b + 1 < batch_buckets && (uint64_t{2} << b) <= records) {
            ++b;
        }
        batch_records[b].add();
    }
};

} // namespace logagg::pipeline
