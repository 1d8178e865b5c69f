// SPDX-License-Identifier: BSD-3-Clause
// Side: construction is control plane (allocates once); every other member is datapath on the
// worker lcore that owns the engine (no allocation, no locks, no syscalls).
//
// The consumer of one worker's TCP engine: per connection, the stream framing (RFC 6587 octet
// counting, LF, or NUL for GELF; `auto` decides from the first byte), messages handed to the
// worker straight from the mbufs, a message that spans segments copied into bounded memory
// (counted: bytes_copied tcp_span), and the receive window taken from the sinks' free space.
// Also the engine's TX function: replies on the worker's own TX queue of each port.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "pipeline/counters.hpp"
#include "pipeline/listener.hpp"
#include "pipeline/worker.hpp"
#include "tcp/engine.hpp"

namespace logagg::pipeline {

/// Sizes of a worker's stream state.
struct tcp_stream_config {
    uint32_t max_conns = 4096; ///< the engine's (conn_id::idx < max_conns)
    /// Messages that span segments are copied into one of this many buffers of max_msg bytes,
    /// taken while a message is incomplete at the end of a segment and given back when it ends.
    /// Why min(max_conns, 256): a connection holds one only between segments that split a
    /// message, so far fewer than the connections are in use at once; 256 x 64 KiB is 16 MiB a
    /// worker. When none is free the message is dropped (messages.dropped.tcp_no_span).
    uint32_t span_buffers = 256;
    uint32_t max_msg = 65536;       ///< --max-msg
    bool drop_oversize = false;     ///< --on-oversize drop
    uint16_t mss = 1460;            ///< the engine's: a window never offers less when it has room
    uint32_t max_window = 1u << 20; ///< the engine's: room beyond it is not worth computing
};

/// The streams of one worker's connections. Owned by the control plane, used by one lcore.
class tcp_streams {
public:
    tcp_streams(worker_ctx& w, const listener_table& listeners, const tcp_stream_config& cfg);
    ~tcp_streams();
    tcp_streams(const tcp_streams&) = delete;
    tcp_streams& operator=(const tcp_streams&) = delete;

    /// The engine's consumer (callbacks into this object).
    [[nodiscard]] tcp::consumer consumer() noexcept;
    /// Connections opened and not ended (their streams may still deliver).
    [[nodiscard]] uint32_t open() const noexcept { return open_; }
    /// Span buffers in use now.
    [[nodiscard]] uint32_t spans_in_use() const noexcept { return cfg_.span_buffers - n_free_; }
    /// Bytes of memory per connection slot (stream state), for docs and sizing.
    [[nodiscard]] static std::size_t bytes_per_connection() noexcept;

    struct conn;

private:
    static uint64_t on_open(void* ctx, tcp::conn_id id, const tcp::conn_info& info) noexcept;
    static void on_data(void* ctx, tcp::conn_id id, uint64_t user, const tcp::piece* pieces,
                        uint32_t n) noexcept;
    static uint32_t on_admit(void* ctx, tcp::conn_id id, uint64_t user,
                             const tcp::piece& p) noexcept;
    static uint32_t on_room(void* ctx, tcp::conn_id id, uint64_t user) noexcept;
    static void on_end(void* ctx, tcp::conn_id id, uint64_t user, tcp::end_reason why) noexcept;
    static void frame(void* ctx, stream_out& out) noexcept;

    void frame_lines(conn& c, stream_out& out, char delim) noexcept;
    void frame_octets(conn& c, stream_out& out) noexcept;
    /// Copies packet bytes [from, to) of the current segment behind what @p c holds (bounded by
    /// max_msg: what does not fit marks the message truncated).
    void hold(conn& c, std::span<const log::piece> pc, uint32_t from, uint32_t to) noexcept;
    /// The held message is complete: handed on (or dropped, counted) and the buffer given back.
    void emit_held(conn& c, stream_out& out, bool octet) noexcept;
    /// A message inside the segment, [from, to) with trailing junk stripped.
    void emit_here(conn& c, stream_out& out, std::span<const log::piece> pc, uint32_t from,
                   uint32_t to, bool lf_delim) noexcept;
    void release_span(conn& c) noexcept;
    /// The worker's message totals before framing (per-listener counting, as for datagrams).
    struct listener_mark {
        uint64_t framed;
        uint64_t routed;
    };
    [[nodiscard]] listener_mark mark() const noexcept;
    /// Adds the messages framed and dropped since @p before to @p c's listener.
    void count(const conn& c, listener_mark before) noexcept;
    /// What the sinks can take now, shared among the open connections.
    [[nodiscard]] uint32_t room() const noexcept;
    /// How many bytes of @p p, from its start, are sure to find room in every lane for what
    /// they produce (consumer::admit); reserves that room until the piece is framed.
    [[nodiscard]] uint32_t admit(conn& c, const tcp::piece& p) noexcept;
    /// The prefix of @p p whose records fit: LF or NUL framing (@p delim), delimiters counted.
    [[nodiscard]] uint32_t admit_lines(const conn& c, const tcp::piece& p, char delim) noexcept;
    /// The prefix of @p p whose records fit: octet counting, frames walked from c's state.
    [[nodiscard]] uint32_t admit_octets(const conn& c, const tcp::piece& p) noexcept;
    /// Room in every lane for @p recs more records of @p bytes message bytes in all, beyond
    /// what is staged and reserved (budget_ as taken by take_budget()).
    [[nodiscard]] bool fits(uint64_t recs, uint64_t bytes) const noexcept;
    /// Reads every lane's free ring descriptors and arena bytes into budget_.
    void take_budget() noexcept;
    void reserve(uint64_t recs, uint64_t bytes) noexcept;

    worker_ctx& w_;
    const listener_table& listeners_;
    tcp_stream_config cfg_;
    std::unique_ptr<conn[]> conns_;
    std::unique_ptr<char[]> span_mem_; ///< span_buffers x (max_msg + JSON padding)
    std::size_t span_stride_ = 0;
    std::unique_ptr<uint32_t[]> free_; ///< free span buffer indices
    uint32_t n_free_ = 0;
    uint32_t open_ = 0;
    // the segment being framed (frame() callback)
    conn* cur_ = nullptr;
    /// Per lane: descriptors and arena bytes reserved for pieces admitted and not yet framed
    /// (the engine hands a batch of pieces over after admitting each), and the free ones.
    struct lane_budget {
        uint64_t descs = 0;
        uint64_t arena = 0;
        uint64_t free_descs = 0;
        uint64_t free_arena = 0;
    };
    std::array<lane_budget, max_sinks> budget_{};
};

/// The engine's TX side on one worker: each reply leaves on the worker's own TX queue of its
/// port; what the NIC refuses is freed and counted (lcore_stats::tcp_tx_failed).
struct tcp_tx {
    std::vector<uint16_t> queue_of_port; ///< by port id: this worker's TX queue there
    lcore_stats* stats = nullptr;
    /// tcp::tx_fn.
    static void send(void* ctx, rte_mbuf** pkts, uint16_t n) noexcept;
};

} // namespace logagg::pipeline
