// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath (worker_frame_burst, worker_flush); worker_ctx is built by the control plane.
//
// The worker stage: frames the payload of each packet into messages, parses them when anything
// needs records (an encoding sink, filters, routes, a Kafka key), filters and routes them, and
// hands message descriptors to each chosen sink's ring: references into the packet, or, for
// short records on file sinks, the record appended to the lane's byte ring (counted).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "log/encode.hpp"
#include "log/filter.hpp"
#include "log/gelf.hpp"
#include "log/json.hpp"
#include "pipeline/counters.hpp"
#include "pipeline/lanes.hpp"
#include "pipeline/listener.hpp"
#include "pipeline/message.hpp"
#include "pipeline/wakeup.hpp"
#include "tcp/engine.hpp"
#include "tcp/impair.hpp"

namespace logagg::pipeline {

/// Descriptors staged per lane before one enqueue to the sink ring. Why 512: enough for a burst
/// of 32 datagrams of 16 lines each in one ring operation, small enough (8 KiB) to stay in L2.
inline constexpr uint32_t stage_capacity = 512;

/// Most key bytes kept (longer keys are cut; a key only picks a partition).
inline constexpr std::size_t max_key_len = 256;

/// A worker's path to one sink: an SPSC descriptor ring, the bytes the worker generates for that
/// sink, and descriptors staged for the next enqueue. Only the worker writes it after start-up.
struct alignas(RTE_CACHE_LINE_SIZE) sink_lane {
    rte_ring* ring = nullptr;   ///< SPSC, msg_desc elements, consumed by the sink
    waker* wake = nullptr;      ///< the sink lcore's, told after each enqueue (--poll adaptive)
    gen_arena* arena = nullptr; ///< generated and converted bytes for this sink
    uint8_t sink = 0;           ///< sink index (counters)
    log::output_format format = log::output_format::raw;
    /// Every message as one generated piece (Kafka takes one buffer per message): references
    /// into the packet are copied and counted instead.
    bool contiguous = false;
    key_field key = key_field::none; ///< emit a key piece before each message
    /// File and TCP sinks: messages of at most this many bytes are appended whole and framed
    /// (with their LF, or after their octet count) to the arena (msg_desc::own; counted in
    /// bytes_copied as sink_append) and keep no packet reference; longer ones are referenced.
    /// 0: never.
    uint32_t append_max = 0;
    /// The sink counts octets (RFC 6587): appended records carry their count, not a LF. Encoded
    /// records are then not appended (their length, and so the count's width, is known only
    /// after encoding).
    bool append_octet = false;
    bool unit_open = false; ///< staged descriptors of the current packet await their release
    uint32_t unit_last = 0; ///< when unit_open: the staged index that gets the unit's release
    uint32_t n_staged = 0;
    uint64_t stage_arena_start = 0; ///< arena head when the staged descriptors began
    /// The sink's gauge of the memory buffer= bounds (sink_stats::bounded) and buffer= itself:
    /// the free space TCP windows come from (tcp_stream.cpp). nullptr: no window limit from it.
    const std::atomic<uint64_t>* sink_pinned = nullptr;
    uint64_t sink_buffer = 0;
    std::array<msg_desc, stage_capacity> staged{};
};

/// State of one worker. Single-threaded: only its lcore touches it after start-up.
struct alignas(RTE_CACHE_LINE_SIZE) worker_ctx {
    int meta_off = -1;            ///< dynfield offset of pkt_meta
    bool block_when_full = false; ///< --on-sink-full block: wait for room instead of dropping
    /// When blocked on a full sink ring: sleep steps (pipeline/blocked.hpp; 0: spin).
    uint32_t block_sleep_us = 0;
    lcore_stats* stats = nullptr;              ///< counters of the lcore running this worker
    const listener_table* listeners = nullptr; ///< framing and format by destination port
    std::vector<sink_lane*> lanes;             ///< one per sink, by sink index

    // Parsing (docs/formats.md). Off (parse == false) when nothing needs records: raw output
    // everywhere, no filter, no route, no key, --on-parse-error forward.
    bool parse = false;
    bool drop_parse_errors = false;                    ///< --on-parse-error drop
    const std::vector<log::filter>* filters = nullptr; ///< --filter: all must match (or none)
    const std::vector<log::route>* routes = nullptr;   ///< --route, in order (or none)
    uint32_t default_sinks = 0; ///< sinks of records no route matched (sinks no route names)
    bool needs_source = false;  ///< a filter or route reads "source"
    /// An ndjson sink embeds JSON objects verbatim: validate them whole before (else only the
    /// fields read are checked).
    bool validate_json = false;
    log::json_captures captures; ///< json.KEY values of the current message (filters)
    /// Without parsing, messages still need a contiguous view (a lane with a key or one that
    /// takes each message as one piece).
    bool need_view = false;
    log::json_extractor* json = nullptr;      ///< JSON lines (owned by the control plane)
    log::json_extractor* gelf_json = nullptr; ///< GELF documents (GELF field names)
    log::gelf::reassembler* gelf_chunks = nullptr;
    log::gelf::inflater* gelf_inflate = nullptr;
    uint32_t max_msg = 65536;   ///< --max-msg (GELF messages are bounded by it too)
    bool drop_oversize = false; ///< --on-oversize drop
    char* scratch = nullptr;    ///< max_msg + json_padding bytes: linearised or padded messages
    uint32_t scratch_size = 0;
    uint64_t tsc_base = 0; ///< TSC and wall clock read together at start-up
    int64_t wall_base_ns = 0;
    double ns_per_tsc = 0;
    int64_t now_ns = 0; ///< receive time of the current burst
    /// now_ns in RFC 3339 (the ndjson "received" stamp), formatted once per burst that needs it.
    int64_t received_for = INT64_MIN; ///< the now_ns received_text holds
    char received_text[40] = {};
    uint8_t received_len = 0;

    // TCP (--listen tcp:, docs/tcp.md). nullptr without TCP listeners.
    tcp::engine* tcp = nullptr;                    ///< this worker's engine (owned elsewhere)
    const listener_table* tcp_listeners = nullptr; ///< framing and format by TCP port
    /// By port id: 1 when the port reads a kernel interface (a local sender's partial checksums
    /// are accepted, as for UDP: classify_options::accept_partial_checksum).
    const std::vector<uint8_t>* tcp_partial_ports = nullptr;
    bool tcp_verify_checksum = true; ///< verify TCP checksums in software (not --no-checksum)
    /// Testing only (--test-tcp-impair): drops and holds back segments before the engine.
    tcp::impair* tcp_impair = nullptr;
};

/// Where a TCP stream's messages inside one received segment are handed on (tcp_stream.cpp
/// frames the stream; the worker parses, filters, routes and hands them to the sinks exactly as
/// a datagram's). Valid only inside the frame callback of worker_stream_packet().
class stream_out {
public:
    stream_out(worker_ctx& w, void* ps, const listener& l) noexcept : w_(w), ps_(ps), l_(l) {}
    /// One message: bytes [off, off + len) of the packet (packet offsets; may span segments of
    /// the chain). @p lf: its LF follows it in the same segment.
    void message(uint32_t off, uint32_t len, bool lf, bool truncated) noexcept;
    /// One message that spanned segments, copied into the stream's own memory (@p v is valid
    /// during the call only; @p capacity bytes are readable from v.data(), for JSON padding).
    void copied(std::string_view v, std::size_t capacity, bool truncated) noexcept;
    /// The payload pieces of the segment's bytes (in stream order), one per mbuf segment.
    [[nodiscard]] std::span<const log::piece> pieces() const noexcept;
    [[nodiscard]] worker_ctx& worker() const noexcept { return w_; }

private:
    worker_ctx& w_;
    void* ps_; ///< the packet's state (worker.cpp)
    const listener& l_;
};

/// Frames in-order TCP stream bytes [off, off + len) of packet @p m: calls @p frame(@p ctx, out)
/// with a stream_out for the packet, then closes the packet's sink units. Takes over one
/// reference to @p m (moved into sink units, or freed). The sender ("source": filters, Kafka
/// keys) is read from the segment's headers, as for a datagram. Counts nothing itself: the
/// framer counts the messages.
void worker_stream_packet(worker_ctx& w, rte_mbuf* m, uint32_t off, uint32_t len, const listener& l,
                          void (*frame)(void* ctx, stream_out& out) noexcept, void* ctx) noexcept;

/// TCP: the engine's timers and window updates (tcp::engine::poll); call every loop pass.
void worker_tcp_poll(worker_ctx& w) noexcept;
/// Testing only (--test-tcp-impair): once per loop pass before the engine's poll, hands the
/// segments the impairment held back to the engine when none arrived since the last pass; with
/// @p all, every held segment (shutdown). Replies are queued (the engine's poll flushes them).
void worker_tcp_impair_poll(worker_ctx& w, uint64_t now, bool all = false) noexcept;

/// Frames every packet of @p pkts and enqueues the messages to the sinks (bulk: takes ownership
/// of all packets; each ends up referenced by sink rings, or freed here and counted).
/// Each packet must carry pkt_meta from the RX stage.
void worker_frame_burst(worker_ctx& w, std::span<rte_mbuf* const> pkts) noexcept;

/// Enqueues what every lane has staged. In drop mode, whole units that do not fit are dropped
/// (messages counted as the sink's sink_full, packet references released); in block mode, waits
/// for room.
void worker_flush(worker_ctx& w) noexcept;

/// Expires GELF chunks older than the timeout (counted); call when idle too.
void worker_housekeeping(worker_ctx& w) noexcept;

/// The worker stops: chunked GELF messages still incomplete are dropped and counted with the
/// expired ones (gelf.expired_messages / expired_chunks).
void worker_drain(worker_ctx& w) noexcept;

} // namespace logagg::pipeline
