// SPDX-License-Identifier: BSD-3-Clause
// Side: construction and destruction are control plane (allocate once); every other member is
// datapath on the one lcore that owns the engine (no allocation, no locks, no syscalls, no clock:
// time comes in as `now`).
//
// The receive side of TCP for one worker lcore: passive open with SYN cookies, in-order delivery
// of payload straight from the mbufs, a bounded out-of-order queue with SACK, a receive window
// taken from the consumer's free space, and the close handshakes. logagg sends no data, so there
// is no send buffer, no congestion control and no retransmission but of our FIN.
// docs/tcp.md describes the design, the bounds and what is left out.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>

#include <rte_mbuf.h>

#include "net/classify.hpp"
#include "net/tcp.hpp"
#include "util/counter.hpp"
#include "util/result.hpp"
#include "util/siphash.hpp"

namespace logagg::tcp {

/// Bounds and timers of one engine. Durations are in the units their names say; the engine
/// converts them to TSC cycles once, at construction.
struct config {
    /// Connections held at once, TIME-WAIT included (--tcp-max-conns, per lcore). Allocated once.
    uint32_t max_conns = 4096;
    /// Out-of-order segments one connection may hold. Why 64: with SACK a sender repairs a hole
    /// within about one round trip; 64 full-sized segments (~92 KiB of payload) cover a LAN
    /// round trip at several Gbit/s, and each costs a whole mbuf (~2.2 KiB) of the pool.
    uint32_t ooo_per_conn = 64;
    /// Out-of-order segments the whole engine may hold (mbufs the pool must have beyond the
    /// RX rings): 4096 x 2,176 bytes is about 9 MB per lcore.
    uint32_t ooo_per_engine = 4096;
    /// Largest receive window advertised (bytes); the window scale is the smallest shift that can
    /// express it. Why 1 MiB: about one millisecond at 10 Gbit/s, so a LAN sender is never window
    /// limited, while the consumer's free space is what really bounds it.
    uint32_t max_window = 1u << 20;
    /// MSS announced in IPv4 SYN-ACKs: the port's MTU less 40 bytes of headers (IPv6 SYN-ACKs
    /// announce 20 bytes less, for the longer IP header).
    uint16_t mss = 1460;
    /// TSC cycles per second of the `now` values given to the engine. Required.
    uint64_t tsc_hz = 0;
    /// Longest an ACK for in-order data waits (every second full-sized segment is ACKed at once).
    /// Why 500 us: far below a sender's RTO (200 ms minimum on Linux) and any Nagle stall a
    /// client would notice, and a poll of every worker loop easily meets it.
    uint32_t ack_delay_us = 500;
    /// A connection with no segment for this long is closed (FIN); 0: never. Why 1 h: log
    /// senders sit idle for long stretches and most send no keepalives (rsyslog, syslog-ng), and
    /// closing them costs a reconnect; the bound is there for peers that vanished.
    uint32_t idle_timeout_s = 3600;
    /// First retransmission timeout of our FIN, doubled each time. Why 200 ms: Linux's minimum RTO.
    uint32_t fin_rto_ms = 200;
    /// FIN transmissions before the connection is reset (1-16). Why 6: 200 ms .. 6.4 s, 12.6 s
    /// in all.
    uint8_t fin_tries = 6;
    /// Longest wait in FIN-WAIT-2 (our FIN acknowledged, the peer's still to come) without any
    /// segment, before a reset. Why 60 s: Linux's tcp_fin_timeout.
    uint32_t fin_wait2_s = 60;
    /// TIME-WAIT length. Why 2 s and not 2 MSL: TIME-WAIT only exists when logagg closed first
    /// (idle timeout, shutdown); it is there to re-ACK a retransmitted FIN, which takes a few
    /// RTOs, and a new SYN for the same pair may take the slot over anyway (RFC 6191).
    uint32_t time_wait_ms = 2000;
    /// Challenge ACKs (RFC 5961 7) per second for the whole engine. Why 1000: RFC 5961's example
    /// and Linux's default.
    uint32_t challenge_acks_per_s = 1000;
    /// Where replies come from (ACKs, SYN-ACKs, RSTs): a pool the lcore may allocate from.
    rte_mempool* tx_pool = nullptr;
    /// Bit p set: port p computes IPv4 header and TCP checksums on TX (RTE_ETH_TX_OFFLOAD_*).
    uint64_t tx_checksum_offload_ports = 0;
    /// Bit p: port p's PMD cuts frames longer than a snap length (net_af_packet: a frame longer
    /// than its ring frame is cut, and a local sender's TSO/GSO hands it segments of up to 64 KB,
    /// which would arrive cut and be lost). Connections on these ports are offered at most
    /// frame_cut_window bytes (the SYN-ACK's window included), so no segment in flight can
    /// outgrow one frame, and their in-order bytes are ACKed at once (such a window never holds
    /// the two full segments that otherwise trigger an ACK). Ports 0-63.
    uint64_t frame_cut_ports = 0;
    /// The largest window on frame_cut_ports: the TCP payload one cut-length frame carries.
    uint32_t frame_cut_window = 0;
    /// TCP ports that accept connections (the --listen tcp: ports). Must outlive the engine.
    const net::listen_ports* listeners = nullptr;
    /// Non-zero: the secrets (SYN cookie key, connection index key, timestamp offset) derive from
    /// this value instead of getrandom(). For tests and the fuzz target only.
    uint64_t test_seed = 0;
};

/// Names a connection to the consumer and in close()/abort(). A stale id (its connection is
/// gone and the slot reused) is recognised by the generation and refused.
struct conn_id {
    uint32_t idx = UINT32_MAX;
    uint32_t gen = 0;
    friend constexpr bool operator==(conn_id, conn_id) noexcept = default;
};

/// One run of in-order stream bytes: @c len bytes at packet offset @c off of packet @c m (the
/// offset counts from the start of the frame; the bytes may span segments of the chain).
///
/// Ownership: each piece given to consumer::data moves exactly one reference to @c m (to every
/// segment of its chain) from the engine to the consumer, which releases it with
/// rte_pktmbuf_free() once it no longer needs the bytes (a worker may hand that reference on to
/// a sink unit, as it does with the RX stage's reference today). A packet is in at most one piece.
/// IMPORTANT: lifetime: the bytes are valid while the consumer holds the reference.
struct piece {
    rte_mbuf* m;
    uint32_t off;
    uint32_t len;
};

/// Why a connection's stream ended (consumer::end).
enum class end_reason : uint8_t {
    fin,       ///< the peer closed: every byte it sent was delivered
    reset_in,  ///< the peer reset the connection
    reset_out, ///< logagg reset it (abort(), our FIN unacknowledged, FIN-WAIT-2 timeout)
};

/// What the consumer learns of a new connection.
struct conn_info {
    net::tcp_path path;
    uint16_t rx_port = 0; ///< DPDK port the handshake came in on (replies go out there)
    uint32_t irs = 0;     ///< the peer's initial sequence number
    bool wscale = false;  ///< window scaling in use
    bool sack = false;    ///< SACK permitted
    bool timestamps = false;
};

/// The consumer of the byte streams (later: the framers in front of the sinks). Every callback
/// runs on the engine's lcore, inside input(), poll(), close(), abort() or the *_all() calls,
/// and must not call the engine back (no close()/abort() from a callback: note the id and call
/// after).
struct consumer {
    void* ctx = nullptr;
    /// A handshake completed. @return a value the engine keeps and passes back (the consumer's
    /// per-connection state).
    uint64_t (*open)(void* ctx, conn_id id, const conn_info& info) noexcept = nullptr;
    /// In-order bytes, @p n pieces in stream order; each carries a reference now owned by the
    /// consumer (see piece).
    void (*data)(void* ctx, conn_id id, uint64_t user, const piece* pieces,
                 uint32_t n) noexcept = nullptr;
    /// How many more bytes the consumer can take on this connection now. The advertised window
    /// is this, capped at config::max_window, never moving its right edge back (RFC 9293 3.8.6):
    /// bytes up to an edge offered earlier are still delivered when the room has fallen since.
    uint32_t (*room)(void* ctx, conn_id id, uint64_t user) noexcept = nullptr;
    /// No more data will come: @p why says how it ended. Called once per opened connection; the
    /// id is dead for the consumer afterwards (the engine may still hold the slot for the close
    /// handshake or TIME-WAIT, without further callbacks).
    void (*end)(void* ctx, conn_id id, uint64_t user, end_reason why) noexcept = nullptr;
    /// Optional (nullptr: everything is taken). Before in-order bytes are accepted: how many
    /// bytes of @p p, from its start, the consumer is sure to take without dropping any of
    /// what they produce (the sinks have room for it). The engine accepts and acknowledges only
    /// that prefix and hands it to data() next (nothing else runs in between); the rest is not
    /// acknowledged, so the sender sends it again (segments no_room, bytes no_room). The
    /// reference stays with the engine.
    uint32_t (*admit)(void* ctx, conn_id id, uint64_t user, const piece& p) noexcept = nullptr;
};

/// Takes segments to send: @p n mbufs, each with `port` set to the DPDK port it must leave by.
/// The callee owns them (sends them or frees what the NIC refuses, counting those).
using tx_fn = void (*)(void* ctx, rte_mbuf** pkts, uint16_t n) noexcept;

/// What happened to a segment handed to input(): each one is counted under exactly one outcome.
enum class seg_outcome : uint8_t {
    bad_header,     ///< truncated, or a data offset outside the segment
    bad_checksum,   ///< checksum wrong
    bad_options,    ///< malformed options
    bad_flags,      ///< SYN with FIN or without a valid combination (nothing answered)
    in_order,       ///< carried new in-order bytes (delivered)
    out_of_order,   ///< carried bytes beyond a hole (queued; ACKed at once with SACK)
    duplicate,      ///< carried only bytes already received (ACKed at once)
    beyond_window,  ///< its bytes start beyond the advertised window (dropped, ACKed)
    window_probe,   ///< a byte offered to a zero window (dropped, ACKed with the current window)
    ooo_full,       ///< out-of-order bytes with the per-connection or engine bound reached
    no_room,        ///< in-order bytes the consumer could not admit (none taken, not ACKed)
    ack_only,       ///< no bytes, acceptable: an ACK, a window update, the ACK of our FIN
    fin,            ///< the peer's FIN without bytes, accepted (in order or queued)
    keepalive,      ///< a keepalive probe (sequence one below the expected), ACKed
    syn,            ///< a SYN to a listening port: SYN-ACK with a cookie sent, no state kept
    handshake,      ///< the handshake's final ACK (valid cookie, no bytes): connection opened
    cookie_failed,  ///< an ACK to a listening port with no connection and a wrong or old cookie
    refused,        ///< a SYN or a valid final ACK while the table was full: RST sent
    rst_accepted,   ///< a RST at exactly the expected sequence: connection reset
    rst_challenged, ///< a RST inside the window but not exact: challenge ACK (RFC 5961 3.2)
    rst_ignored,    ///< a RST outside the window, or to no connection: dropped
    syn_challenged, ///< a SYN on a synchronized connection: challenge ACK (RFC 5961 4.2)
    bad_ack,        ///< acknowledges what we never sent, or older than our SYN: ACK, dropped
    no_ack,         ///< ACK bit off on a synchronized connection: dropped (RFC 9293 3.10.7.4)
    paws,           ///< timestamp older than the last one (RFC 7323 5.3): ACK, dropped
    no_connection,  ///< to a closed port (RST sent), or neither SYN nor ACK to a listening one
    count_
};
inline constexpr std::size_t seg_outcome_count = static_cast<std::size_t>(seg_outcome::count_);

/// The stable name of each outcome (stats output; util/enum_names.hpp); "" for none.
[[nodiscard]] constexpr std::string_view name(seg_outcome o) noexcept {
    switch (o) {
    case seg_outcome::bad_header:
        return "bad_header";
    case seg_outcome::bad_checksum:
        return "bad_checksum";
    case seg_outcome::bad_options:
        return "bad_options";
    case seg_outcome::bad_flags:
        return "bad_flags";
    case seg_outcome::in_order:
        return "in_order";
    case seg_outcome::out_of_order:
        return "out_of_order";
    case seg_outcome::duplicate:
        return "duplicate";
    case seg_outcome::beyond_window:
        return "beyond_window";
    case seg_outcome::window_probe:
        return "window_probe";
    case seg_outcome::ooo_full:
        return "ooo_full";
    case seg_outcome::no_room:
        return "no_room";
    case seg_outcome::ack_only:
        return "ack_only";
    case seg_outcome::fin:
        return "fin";
    case seg_outcome::keepalive:
        return "keepalive";
    case seg_outcome::syn:
        return "syn";
    case seg_outcome::handshake:
        return "handshake";
    case seg_outcome::cookie_failed:
        return "cookie_failed";
    case seg_outcome::refused:
        return "refused";
    case seg_outcome::rst_accepted:
        return "rst_accepted";
    case seg_outcome::rst_challenged:
        return "rst_challenged";
    case seg_outcome::rst_ignored:
        return "rst_ignored";
    case seg_outcome::syn_challenged:
        return "syn_challenged";
    case seg_outcome::bad_ack:
        return "bad_ack";
    case seg_outcome::no_ack:
        return "no_ack";
    case seg_outcome::paws:
        return "paws";
    case seg_outcome::no_connection:
        return "no_connection";
    case seg_outcome::count_:
        break;
    }
    return "";
}

/// Counters of one engine; single writer (the engine's lcore), any reader.
struct alignas(64) stats {
    util::counter segments; ///< handed to input(); = the sum of `outcome`
    std::array<util::counter, seg_outcome_count> outcome;
    util::counter checksum_partial; ///< accepted with a pseudo-header-only checksum (not a drop)
    // connections: accepted = open + closed + reset_in + reset_out at every moment
    util::counter accepted;  ///< handshakes completed (slot taken)
    util::counter refused;   ///< RSTs sent because the table was full
    util::counter reset_in;  ///< connections the peer reset
    util::counter reset_out; ///< connections logagg reset
    util::counter timed_out; ///< idle timeouts (logagg sent its FIN); also in closed or reset_out
    util::counter closed;    ///< connections released after both FINs
    util::counter open;      ///< gauge: connections in the table (TIME-WAIT included)
    // SYN cookies
    util::counter cookies_sent;
    util::counter cookies_validated; ///< by the segment's own SEG.SEQ - 1
    util::counter cookies_failed;    ///< wrong, forged or older than two periods
    /// validated with the client ISN the memo kept from the SYN (not in cookies_validated):
    /// the handshake's final ACK and the first data were lost or late
    util::counter cookies_by_memo;
    // window and ACKs
    util::counter zero_window_episodes;   ///< times a connection's window went to zero
    util::counter window_updates;         ///< ACKs sent by poll() because the window reopened
    util::counter challenge_acks;         ///< sent
    util::counter challenge_acks_limited; ///< suppressed by challenge_acks_per_s
    util::counter delayed_acks;           ///< ACKs sent when their delay ran out
    // bytes
    util::counter bytes_delivered;     ///< in-order payload given to the consumer
    util::counter bytes_duplicate;     ///< payload received again (trimmed or dropped)
    util::counter bytes_beyond_window; ///< payload beyond the right edge (trimmed or dropped)
    /// In-order payload not accepted: the consumer could not admit it (consumer::admit), or it
    /// was held out of order behind such bytes and let go. Not acknowledged: sent again.
    util::counter bytes_no_room;
    // mbufs
    util::counter ooo_held; ///< gauge: out-of-order segments (mbufs) held
    // transmitted (handed to tx_fn), by kind
    util::counter tx_syn_ack;
    util::counter tx_ack; ///< pure ACKs, FIN-ACKs included
    util::counter tx_rst;
    util::counter tx_fin;     ///< segments carrying our FIN (first and retransmissions)
    util::counter tx_no_mbuf; ///< replies not sent: the TX pool was empty
    util::counter fin_retransmits;
};

/// Calls @p f(group, name, value) for every counter of @p s, with stable names (stats output:
/// e.g. "segments" / "in_order", "conns" / "open").
template <typename F>
void for_each_counter(const stats& s, F&& f) {
    f("segments", "total", s.segments.get());
    for (std::size_t i = 0; i < seg_outcome_count; ++i) {
        f("segments", name(static_cast<seg_outcome>(i)), s.outcome[i].get());
    }
    f("segments", "checksum_partial", s.checksum_partial.get());
    f("conns", "accepted", s.accepted.get());
    f("conns", "refused", s.refused.get());
    f("conns", "reset_in", s.reset_in.get());
    f("conns", "reset_out", s.reset_out.get());
    f("conns", "timed_out", s.timed_out.get());
    f("conns", "closed", s.closed.get());
    f("conns", "open", s.open.get());
    f("cookies", "sent", s.cookies_sent.get());
    f("cookies", "validated", s.cookies_validated.get());
    f("cookies", "failed", s.cookies_failed.get());
    f("cookies", "by_memo", s.cookies_by_memo.get());
    f("window", "zero_window_episodes", s.zero_window_episodes.get());
    f("window", "window_updates", s.window_updates.get());
    f("acks", "challenge", s.challenge_acks.get());
    f("acks", "challenge_limited", s.challenge_acks_limited.get());
    f("acks", "delayed", s.delayed_acks.get());
    f("bytes", "delivered", s.bytes_delivered.get());
    f("bytes", "duplicate", s.bytes_duplicate.get());
    f("bytes", "beyond_window", s.bytes_beyond_window.get());
    f("bytes", "no_room", s.bytes_no_room.get());
    f("mbufs", "ooo_held", s.ooo_held.get());
    f("tx", "syn_ack", s.tx_syn_ack.get());
    f("tx", "ack", s.tx_ack.get());
    f("tx", "rst", s.tx_rst.get());
    f("tx", "fin", s.tx_fin.get());
    f("tx", "fin_retransmits", s.fin_retransmits.get());
    f("tx", "no_mbuf", s.tx_no_mbuf.get());
}

/// Most TX mbufs queued before they are handed to tx_fn (one tx_burst's worth).
inline constexpr uint16_t tx_batch = 32;

/// Connection states kept (RFC 9293 3.3.2). No LISTEN / SYN-SENT / SYN-RECEIVED (listening is
/// stateless with SYN cookies; no active open) and no CLOSE-WAIT (our FIN goes out with the ACK
/// of the peer's, as logagg has nothing left to send).
enum class conn_state : uint8_t {
    closed, ///< a free slot
    established,
    fin_wait_1, ///< our FIN sent, not acknowledged
    fin_wait_2, ///< our FIN acknowledged, the peer's still to come
    closing,    ///< both FINs sent, ours not acknowledged
    last_ack,   ///< the peer's FIN received and ACKed together with ours, ours not acknowledged
    time_wait,
};

class engine {
public:
    /// Control plane. Draws the secrets from getrandom() (config::test_seed aside), then
    /// allocates the connection table, its hash index and the out-of-order pool.
    /// @return the engine, or a failure: a config without tsc_hz, tx_pool or listeners, a
    ///         missing tx or consumer callback, getrandom() failing, or memory exhausted.
    [[nodiscard]] static util::result<std::unique_ptr<engine>>
    create(const config& cfg, const consumer& c, tx_fn tx, void* tx_ctx);
    /// Frees the mbufs still held (out-of-order queues, unsent replies) without callbacks; call
    /// abort_all() first for end() callbacks and RSTs.
    ~engine();
    engine(const engine&) = delete;
    engine& operator=(const engine&) = delete;

    /// Takes ownership of TCP segment @p m at @p at (port: m->port) and processes it: replies
    /// are queued (flushed when tx_batch are waiting, or by flush()), in-order bytes go to the
    /// consumer, the mbuf is held (out of order) or freed. Counts the segment under one outcome.
    void input(rte_mbuf* m, const net::tcp_locator& at, uint64_t now) noexcept;
    /// input() for each of @p n segments, then flush().
    void input_burst(rte_mbuf* const* pkts, const net::tcp_locator* at, uint16_t n,
                     uint64_t now) noexcept;
    /// Timers: delayed ACKs, idle timeouts, FIN retransmissions, FIN-WAIT-2 and TIME-WAIT expiry,
    /// window updates for connections whose window was closed; then flush(). Call it every loop
    /// (at least every config::ack_delay_us). Bounded work per call (poll_budget events).
    void poll(uint64_t now) noexcept;
    /// Hands queued replies to tx_fn.
    void flush() noexcept;

    /// Closes gracefully: our FIN is queued (sent by the next flush() or poll()) (retransmitted,
    /// then RST after config::fin_tries); bytes the peer still sends are delivered until its FIN.
    /// @return false for a stale id or a connection already closing.
    bool close(conn_id id, uint64_t now) noexcept;
    /// Resets: RST queued, end(reset_out), slot freed. @return false for a stale id.
    bool abort(conn_id id, uint64_t now) noexcept;
    /// close() for every established connection (shutdown, once the sinks drained), then
    /// flush(). O(max_conns): for shutdown, not for the loop.
    void close_all(uint64_t now) noexcept;
    /// abort() for every connection (the drain deadline; TIME-WAIT slots are just freed), then
    /// flush(). O(max_conns).
    void abort_all(uint64_t now) noexcept;

    [[nodiscard]] const stats& counters() const noexcept { return st_; }
    /// Connections in the table (any state).
    [[nodiscard]] uint32_t connections() const noexcept { return used_; }
    /// Out-of-order mbufs held now (every other mbuf given to input() was freed or passed on).
    [[nodiscard]] uint32_t held_mbufs() const noexcept { return ooo_used_; }
    /// The earliest TSC at which poll() has timer work (a delayed ACK, an idle timeout, a FIN
    /// retransmission, FIN-WAIT-2 or TIME-WAIT expiry), or UINT64_MAX: a polling lcore may sleep
    /// until then. Window updates are not timers: see watching().
    [[nodiscard]] uint64_t next_due() const noexcept;
    /// Some connection's window is closed or small and poll() asks the consumer for room to
    /// reopen it (a window update): the lcore must keep polling, if slowly.
    [[nodiscard]] bool watching() const noexcept { return watch_.head != nil; }
    /// Some connection waits for the ACK of our FIN (FIN-WAIT-1, CLOSING, LAST-ACK): a shutdown
    /// that wants clean closes keeps polling (FIN retransmissions) until none does, or until its
    /// deadline. The peer's streams may all have ended already (LAST-ACK: its FIN came first).
    [[nodiscard]] bool fin_pending() const noexcept;
    /// Replies queued and not yet handed to tx_fn.
    [[nodiscard]] uint16_t tx_queued() const noexcept { return n_tx_; }
    /// State of @p id's connection (closed for a stale id).
    [[nodiscard]] conn_state state(conn_id id) const noexcept;
    /// Out-of-order segments @p id's connection holds.
    [[nodiscard]] uint32_t held_mbufs(conn_id id) const noexcept;
    /// The window shift announced in SYN-ACKs (to peers that offer window scaling).
    [[nodiscard]] uint8_t window_shift() const noexcept { return ws_; }
    /// Bytes of engine memory per connection slot (state and hash index), for docs and sizing.
    [[nodiscard]] static std::size_t bytes_per_connection() noexcept;
    /// Bytes of engine memory per out-of-order pool entry (config::ooo_per_engine of them), the
    /// held mbuf not included.
    [[nodiscard]] static std::size_t bytes_per_ooo_entry() noexcept;

    /// Timer events (connections handled) per poll() call at most. Why 256: a poll after a
    /// stall, with thousands of timers due at once, must not hold the lcore for milliseconds;
    /// what is left is handled by the next call.
    static constexpr uint32_t poll_budget = 256;
    /// Connections with a closed window re-examined per poll() call.
    static constexpr uint32_t window_scan_budget = 64;
    /// SYN cookie period: a cookie is good during the period it was made in and the next one
    /// (64-128 s). Why 64 s: a handshake takes a round trip, and a captured cookie stays usable
    /// for two minutes at most (Linux: 60 s, two periods).
    static constexpr uint32_t cookie_period_s = 64;
    /// Entries of the ISN memo (recent SYNs' client ISNs, direct-mapped by the 4-tuple's hash).
    /// Why 1024: handshakes complete within a round trip, so a worker has far fewer than 1,024
    /// in flight unless flooded, and then overwritten entries cost nothing but the memo's help.
    /// 8 KiB per engine.
    static constexpr uint32_t isn_memo_size = 1024;

    struct conn;
    struct ooo_seg;
    struct bucket;

private:
    static constexpr uint32_t nil = UINT32_MAX;
    /// The secrets' seed: master cookie key (2), hash seed, timestamp offset, spare.
    using seed_words = std::array<uint64_t, 5>;

    /// create() checked @p cfg and drew @p seed; allocates (may throw std::bad_alloc, which
    /// create() catches).
    engine(const config& cfg, const consumer& c, tx_fn tx, void* tx_ctx, const seed_words& seed);

    /// An index-linked FIFO of connections (state timers, delayed ACKs, window watch).
    struct fifo {
        uint32_t head = nil;
        uint32_t tail = nil;
    };
    /// A connection's links in one fifo; a connection has one per kind of list.
    struct link {
        uint32_t prev = nil;
        uint32_t next = nil;
    };
    enum list_id : uint8_t { l_none = 0xff, l_est = 0, l_fw2 = 1, l_tw = 2, l_fin0 = 3 };

    // lookup and slots
    [[nodiscard]] uint32_t hash_of(const net::tcp_path& p) const noexcept;
    [[nodiscard]] uint32_t find(const net::tcp_path& p, uint32_t hash) const noexcept;
    [[nodiscard]] uint32_t take_slot() noexcept;
    void release(uint32_t c) noexcept;

    // lists: one intrusive FIFO implementation, threaded through the conn member L
    template <link conn::*L>
    void link_push(fifo& f, uint32_t c) noexcept;
    template <link conn::*L>
    void link_remove(fifo& f, uint32_t c) noexcept;
    void list_push(uint8_t l, uint32_t c, uint64_t now) noexcept;
    void list_remove(uint32_t c) noexcept;
    void ack_push(uint32_t c, uint64_t now) noexcept;
    void ack_remove(uint32_t c) noexcept;
    void watch_push(uint32_t c) noexcept;
    void watch_remove(uint32_t c) noexcept;

    // segments
    void no_connection(rte_mbuf* m, const net::tcp_segment& s, uint32_t hash,
                       uint64_t now) noexcept;
    void on_conn(uint32_t c, rte_mbuf* m, const net::tcp_segment& s, uint64_t now,
                 bool opened) noexcept;
    void on_data(uint32_t c, rte_mbuf* m, const net::tcp_segment& s, uint64_t now,
                 bool opened) noexcept;
    void peer_fin(uint32_t c, uint64_t now) noexcept;
    /// consumer::admit for bytes [off, off + len) of @p m (all of them without the callback).
    [[nodiscard]] uint32_t admit(uint32_t c, rte_mbuf* m, uint32_t off, uint32_t len) noexcept;
    enum class ooo_result : uint8_t { queued, duplicate, full };
    ooo_result ooo_insert(uint32_t c, rte_mbuf* m, uint32_t seq, uint32_t off,
                          uint32_t len) noexcept;
    void ooo_free_all(uint32_t c) noexcept;
    /// The consumer took less than was offered: every run held is let go (SACKed but not
    /// acknowledged: RFC 2018 8 lets the receiver discard it; the sender keeps it until the
    /// cumulative ACK and sends it again), counted as duplicate bytes where rcv_nxt covers it
    /// and as no_room beyond; a queued FIN goes with it.
    void let_go_held(uint32_t c) noexcept;
    void count(seg_outcome o) noexcept { st_.outcome[static_cast<std::size_t>(o)].add(); }

    // replies
    [[nodiscard]] uint32_t ts_clock(uint64_t now) const noexcept;
    [[nodiscard]] uint32_t advertise(uint32_t c) noexcept;
    void send_ack(uint32_t c, uint64_t now) noexcept;
    void challenge_ack(uint32_t c, uint64_t now) noexcept;
    void send_fin(uint32_t c, uint64_t now) noexcept;
    void send_rst_conn(uint32_t c) noexcept;
    void send_rst_for(const net::tcp_segment& s, uint16_t port) noexcept;
    void send_syn_ack(const net::tcp_segment& s, uint16_t port, uint32_t cookie,
                      uint64_t now) noexcept;
    bool emit(const net::tcp_path& p, const net::tcp_out& o, uint16_t port) noexcept;
    void end_stream(uint32_t c, end_reason why) noexcept;
    void reset_out(uint32_t c) noexcept;

    // cookies
    void refresh_keys(uint64_t now) noexcept;
    [[nodiscard]] uint32_t cookie_hash(const util::siphash_key& k, const net::tcp_path& p,
                                       uint32_t isn, uint32_t flags,
                                       uint64_t period) const noexcept;
    [[nodiscard]] uint32_t make_cookie(const net::tcp_path& p, uint32_t isn, uint32_t flags,
                                       uint64_t now) noexcept;
    /// @return the option flags of a valid cookie, or -1.
    [[nodiscard]] int check_cookie(const net::tcp_path& p, uint32_t isn, uint32_t cookie,
                                   uint64_t now) noexcept;
    /// Checks an ACK to a listening port as the handshake's completion: with the client ISN
    /// SEG.SEQ - 1 (the final ACK or the first data segment), else with the ISN the memo kept
    /// from this 4-tuple's SYN (the segments before this one were lost or are late).
    /// @return the option flags, or -1; @p isn receives the client ISN the cookie proved.
    [[nodiscard]] int check_handshake(const net::tcp_segment& s, uint32_t hash, uint64_t now,
                                      uint32_t& isn) noexcept;

    config cfg_;
    consumer cons_;
    tx_fn tx_;
    void* tx_ctx_;
    uint8_t ws_ = 0;          ///< our window shift
    uint32_t syn_window_ = 0; ///< the window of our SYN-ACKs (unscaled, RFC 7323 2.2)
    // TSC durations
    uint64_t ack_delay_tsc_ = 0;
    uint64_t idle_tsc_ = 0;
    uint64_t fin_rto_tsc_ = 0;
    uint64_t fin_wait2_tsc_ = 0;
    uint64_t time_wait_tsc_ = 0;
    uint64_t tsc_per_ms_ = 1;
    uint64_t cookie_period_tsc_ = 1;
    // secrets
    util::siphash_key master_; ///< SYN cookie keys derive from it, one per period
    util::siphash_key key_[2]; ///< keys of periods key_period_[0] (current) and [1] (previous)
    uint64_t key_period_[2] = {UINT64_MAX, UINT64_MAX};
    util::siphash_key hash_key_; ///< the connection index's SipHash-1-3 key
    uint32_t ts_offset_ = 0;
    /// The ISN memo: for each of isn_memo_size slots, the 4-tuple hash and client ISN of the
    /// last SYN that hashed there (hash 0: empty). A hint only: a cookie still proves the ISN.
    struct isn_memo_entry {
        uint32_t hash = 0;
        uint32_t isn = 0;
    };
    std::array<isn_memo_entry, isn_memo_size> isn_memo_{};
    // challenge ACK rate limit
    uint64_t challenge_window_ = 0;
    uint32_t challenge_in_window_ = 0;
    // table
    std::size_t mask_ = 0;
    std::unique_ptr<bucket[]> table_;
    std::unique_ptr<conn[]> conns_;
    std::unique_ptr<uint32_t[]> free_;
    uint32_t n_free_ = 0;
    uint32_t used_ = 0;
    std::unique_ptr<fifo[]> lists_; ///< l_est, l_fw2, l_tw, then one per FIN transmission
    uint32_t n_lists_ = 0;
    fifo acks_;
    fifo watch_;
    // out-of-order pool
    std::unique_ptr<ooo_seg[]> ooo_;
    std::unique_ptr<uint32_t[]> ooo_free_;
    uint32_t ooo_n_free_ = 0;
    uint32_t ooo_used_ = 0;
    // TX
    std::array<rte_mbuf*, tx_batch> tx_buf_{};
    uint16_t n_tx_ = 0;
    stats st_;
};

} // namespace logagg::tcp
