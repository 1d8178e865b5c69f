// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath (input, poll, flush, close, abort) on the engine's lcore; create(), the
// constructor and the destructor are control plane.
#include "tcp/engine.hpp"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

#include <fmt/core.h>

#include "util/probing.hpp"

namespace logagg::tcp {

using net::seq_ge;
using net::seq_gt;
using net::seq_in;
using net::seq_le;
using net::seq_lt;
namespace tf = net::tcp_flag;

/// One connection. Slots never move (the hash index and the lists name them by index).
struct engine::conn {
    net::tcp_path path; ///< the key (addresses, ports, IP version) and the reply's L2
    uint32_t hash = 0;
    uint32_t gen = 0; ///< bumped when the slot is freed: stale conn_ids are refused
    conn_state st = conn_state::closed;
    uint8_t list = 0xff;  ///< which state list (list_id)
    uint8_t fin_sent = 0; ///< transmissions of our FIN so far
    uint8_t rcv_ws = 0;   ///< our window shift on this connection (0 without window scaling)
    bool ws_ok = false;
    bool sack_ok = false;
    bool ts_ok = false;
    bool ended = false;      ///< consumer::end called
    bool fin_queued = false; ///< the peer's FIN seen beyond a hole, at fin_seq
    bool in_acks = false;    ///< a delayed ACK is pending
    bool in_watch = false;   ///< the window is small: poll() looks for room to reopen it
    bool zero_window = false;
    uint8_t n_recent = 0; ///< entries of recent
    uint16_t rx_port = 0;
    uint16_t rcv_mss = 0; ///< largest segment seen (capped at our MSS): "full-sized"
    uint32_t iss = 0;     ///< our initial sequence number: the cookie
    uint32_t snd_una = 0; ///< iss + 1, or iss + 2 once our FIN is acknowledged
    uint32_t snd_nxt = 0; ///< iss + 1, or iss + 2 once our FIN is sent
    uint32_t irs = 0;
    uint32_t rcv_nxt = 0;
    uint32_t rcv_adv = 0;       ///< right edge of the window advertised (never moves back)
    uint32_t last_ack_sent = 0; ///< rcv_nxt of the last ACK sent (RFC 7323 Last.ACK.sent)
    uint32_t fin_seq = 0;
    uint32_t ts_recent = 0;
    /// A sequence number inside each of the most recently reported SACK blocks, newest first
    /// (RFC 2018 4: the first block is the newest, then the most recently reported others).
    uint32_t recent[net::max_sack_blocks] = {};
    uint32_t ooo_head = nil; ///< out-of-order segments, ascending, no overlaps
    uint32_t ooo_n = 0;
    uint64_t user = 0;
    uint64_t stamp = 0;     ///< when it entered its state list (or its last segment: LRU lists)
    uint64_t ack_stamp = 0; ///< when its delayed ACK became pending
    link state_link;        ///< state list (member of lists_[list])
    link ack_link;          ///< delayed ACK list (in_acks)
    link watch_link;        ///< window watch list (in_watch)
};

/// An out-of-order run of bytes: @c len bytes at packet offset @c off of @c m, the stream's
/// bytes [seq, seq + len). Holds one reference to @c m.
struct engine::ooo_seg {
    rte_mbuf* m = nullptr;
    uint32_t seq = 0;
    uint32_t off = 0;
    uint32_t len = 0;
    uint32_t next = nil;
};

struct engine::bucket {
    bool used = false;
    uint32_t idx = 0;
    uint32_t hash = 0;
};

namespace {

[[nodiscard]] uint64_t splitmix(uint64_t& s) noexcept {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

[[nodiscard]] bool same_key(const net::tcp_path& a, const net::tcp_path& b) noexcept {
    return a.local_port == b.local_port && a.remote_port == b.remote_port &&
           a.ip_version == b.ip_version && std::memcmp(a.remote_ip, b.remote_ip, 16) == 0 &&
           std::memcmp(a.local_ip, b.local_ip, 16) == 0;
}

/// Pieces handed to consumer::data per call: deliveries of more are split into several calls.
constexpr uint32_t piece_batch = 32;

/// Collects pieces for one connection and hands them to the consumer in batches.
struct delivery {
    const consumer& cons;
    conn_id id;
    uint64_t user;
    piece buf[piece_batch];
    uint32_t n = 0;

    void add(rte_mbuf* m, uint32_t off, uint32_t len) noexcept {
        buf[n++] = piece{m, off, len};
        if (n == piece_batch) {
            flush();
        }
    }
    void flush() noexcept {
        if (n != 0) {
            cons.data(cons.ctx, id, user, buf, n);
            n = 0;
        }
    }
};

} // namespace

// ---- construction ----

util::result<std::unique_ptr<engine>> engine::create(const config& cfg, const consumer& c, tx_fn tx,
                                                     void* tx_ctx) {
    if (cfg.tsc_hz == 0 || cfg.tx_pool == nullptr || cfg.listeners == nullptr || tx == nullptr ||
        c.open == nullptr || c.data == nullptr || c.room == nullptr || c.end == nullptr) {
        return util::failure("tcp engine: tsc_hz, tx_pool, listeners, tx and every consumer "
                             "callback are required");
    }
    seed_words seed{};
    if (cfg.test_seed != 0) {
        uint64_t s = cfg.test_seed;
        for (uint64_t& v : seed) {
            v = splitmix(s);
        }
    } else {
        auto* p = reinterpret_cast<uint8_t*>(seed.data());
        std::size_t got = 0;
        while (got < sizeof seed) {
            const ssize_t r = getrandom(p + got, sizeof seed - got, 0);
            if (r < 0) {
                if (errno == EINTR) {
                    continue;
                }
                return util::failure(
                    fmt::format("tcp engine: getrandom: {}", std::strerror(errno)));
            }
            got += static_cast<std::size_t>(r);
        }
    }
    // The tables below may throw std::bad_alloc: caught here, returned as the failure.
    try {
        return std::unique_ptr<engine>(new engine(cfg, c, tx, tx_ctx, seed));
    } catch (const std::bad_alloc&) {
        return util::failure(fmt::format(
            "tcp engine: cannot allocate the tables for {} connections", cfg.max_conns));
    }
}

engine::engine(const config& cfg, const consumer& c, tx_fn tx, void* tx_ctx, const seed_words& seed)
    : cfg_(cfg), cons_(c), tx_(tx), tx_ctx_(tx_ctx) {
    cfg_.max_conns = std::max<uint32_t>(cfg_.max_conns, 1);
    cfg_.ooo_per_engine = std::max<uint32_t>(cfg_.ooo_per_engine, 1);
    cfg_.ooo_per_conn = std::clamp<uint32_t>(cfg_.ooo_per_conn, 1, cfg_.ooo_per_engine);
    cfg_.fin_tries = std::clamp<uint8_t>(cfg_.fin_tries, 1, 16);
    cfg_.mss = std::max<uint16_t>(cfg_.mss, 64);
    // The window must hold at least two full segments, and 65,535 << 14 is the most TCP can say.
    cfg_.max_window = std::clamp<uint32_t>(cfg_.max_window, 2u * cfg_.mss, 65535u << 14);
    while ((65535u << ws_) < cfg_.max_window) {
        ++ws_;
    }
    syn_window_ = std::min<uint32_t>(cfg_.max_window, 65535);
    if (cfg_.frame_cut_ports != 0) {
        // Why at least 536: the default MSS (RFC 9293 3.7.1); a smaller window could not carry
        // one segment a sender is sure to send.
        cfg_.frame_cut_window = std::max<uint32_t>(cfg_.frame_cut_window, 536);
    }
    const uint64_t hz = cfg_.tsc_hz;
    ack_delay_tsc_ = hz * cfg_.ack_delay_us / 1'000'000;
    idle_tsc_ = hz * cfg_.idle_timeout_s;
    fin_rto_tsc_ = hz * cfg_.fin_rto_ms / 1000;
    fin_wait2_tsc_ = hz * cfg_.fin_wait2_s;
    time_wait_tsc_ = hz * cfg_.time_wait_ms / 1000;
    tsc_per_ms_ = std::max<uint64_t>(hz / 1000, 1);
    cookie_period_tsc_ = hz * cookie_period_s;

    master_ = util::siphash_key{seed[0], seed[1]};
    hash_key_ = util::siphash_key{seed[2], seed[4]};
    ts_offset_ = static_cast<uint32_t>(seed[3]);

    std::size_t size = 2;
    while (size < std::size_t{cfg_.max_conns} * 2) {
        size <<= 1;
    }
    mask_ = size - 1;
    table_ = std::make_unique<bucket[]>(size);
    conns_ = std::make_unique<conn[]>(cfg_.max_conns);
    free_ = std::make_unique<uint32_t[]>(cfg_.max_conns);
    for (uint32_t i = 0; i < cfg_.max_conns; ++i) {
        free_[i] = cfg_.max_conns - 1 - i;
    }
    n_free_ = cfg_.max_conns;
    n_lists_ = l_fin0 + cfg_.fin_tries;
    lists_ = std::make_unique<fifo[]>(n_lists_);
    ooo_ = std::make_unique<ooo_seg[]>(cfg_.ooo_per_engine);
    ooo_free_ = std::make_unique<uint32_t[]>(cfg_.ooo_per_engine);
    for (uint32_t i = 0; i < cfg_.ooo_per_engine; ++i) {
        ooo_free_[i] = cfg_.ooo_per_engine - 1 - i;
    }
    ooo_n_free_ = cfg_.ooo_per_engine;
}

engine::~engine() {
    for (uint32_t c = 0; c < cfg_.max_conns; ++c) {
        for (uint32_t e = conns_[c].ooo_head; e != nil; e = ooo_[e].next) {
            rte_pktmbuf_free(ooo_[e].m);
        }
    }
    if (n_tx_ != 0) {
        rte_pktmbuf_free_bulk(tx_buf_.data(), n_tx_);
    }
}

std::size_t engine::bytes_per_connection() noexcept {
    // The slot, two hash buckets (the index is kept at most half full) and a free-stack entry.
    return sizeof(conn) + 2 * sizeof(bucket) + sizeof(uint32_t);
}

std::size_t engine::bytes_per_ooo_entry() noexcept {
    // The run and its free-stack entry.
    return sizeof(ooo_seg) + sizeof(uint32_t);
}

conn_state engine::state(conn_id id) const noexcept {
    if (id.idx >= cfg_.max_conns || conns_[id.idx].gen != id.gen) {
        return conn_state::closed;
    }
    return conns_[id.idx].st;
}

uint32_t engine::held_mbufs(conn_id id) const noexcept {
    return state(id) == conn_state::closed ? 0 : conns_[id.idx].ooo_n;
}

// ---- hash index and slots ----

uint32_t engine::hash_of(const net::tcp_path& p) const noexcept {
    // Keyed, so a sender cannot choose 4-tuples that share a probe run (hash flooding), and over
    // only the bytes the address family uses: 12 for IPv4 (one block and the tail), 36 for IPv6.
    // The length is part of SipHash's last block, so the two families never collide by layout.
    uint8_t msg[36];
    if (p.ip_version == 4) {
        std::memcpy(msg, p.local_ip, 4);
        std::memcpy(msg + 4, p.remote_ip, 4);
        std::memcpy(msg + 8, &p.local_port, 2);
        std::memcpy(msg + 10, &p.remote_port, 2);
        return static_cast<uint32_t>(util::siphash13(hash_key_, msg, 12));
    }
    std::memcpy(msg, p.local_ip, 16);
    std::memcpy(msg + 16, p.remote_ip, 16);
    std::memcpy(msg + 32, &p.local_port, 2);
    std::memcpy(msg + 34, &p.remote_port, 2);
    return static_cast<uint32_t>(util::siphash13(hash_key_, msg, 36));
}

uint32_t engine::find(const net::tcp_path& p, uint32_t hash) const noexcept {
    for (std::size_t i = hash & mask_; table_[i].used; i = (i + 1) & mask_) {
        if (table_[i].hash == hash && same_key(conns_[table_[i].idx].path, p)) {
            return table_[i].idx;
        }
    }
    return nil;
}

uint32_t engine::take_slot() noexcept {
    if (n_free_ == 0) {
        // A full table gives up its oldest TIME-WAIT connection first: TIME-WAIT only re-ACKs a
        // lost last FIN, and a live connection is worth more.
        const uint32_t tw = lists_[l_tw].head;
        if (tw == nil) {
            return nil;
        }
        st_.closed.add();
        release(tw);
    }
    return free_[--n_free_];
}

void engine::release(uint32_t c) noexcept {
    conn& k = conns_[c];
    std::size_t i = k.hash & mask_;
    while (!(table_[i].used && table_[i].idx == c)) {
        i = (i + 1) & mask_;
    }
    util::erase_linear_probe(table_.get(), mask_, i, [](const bucket& b) { return b.hash; });
    list_remove(c);
    ack_remove(c);
    watch_remove(c);
    ooo_free_all(c);
    k.st = conn_state::closed;
    ++k.gen;
    free_[n_free_++] = c;
    --used_;
    st_.open.sub();
}

// ---- lists ----

template <engine::link engine::conn::*L>
void engine::link_push(fifo& f, uint32_t c) noexcept {
    link& l = conns_[c].*L;
    l.next = nil;
    l.prev = f.tail;
    (f.tail != nil ? (conns_[f.tail].*L).next : f.head) = c;
    f.tail = c;
}

template <engine::link engine::conn::*L>
void engine::link_remove(fifo& f, uint32_t c) noexcept {
    link& l = conns_[c].*L;
    (l.prev != nil ? (conns_[l.prev].*L).next : f.head) = l.next;
    (l.next != nil ? (conns_[l.next].*L).prev : f.tail) = l.prev;
    l.prev = l.next = nil;
}

void engine::list_push(uint8_t l, uint32_t c, uint64_t now) noexcept {
    conn& k = conns_[c];
    k.list = l;
    k.stamp = now;
    link_push<&conn::state_link>(lists_[l], c);
}

void engine::list_remove(uint32_t c) noexcept {
    conn& k = conns_[c];
    if (k.list == l_none) {
        return;
    }
    link_remove<&conn::state_link>(lists_[k.list], c);
    k.list = l_none;
}

void engine::ack_push(uint32_t c, uint64_t now) noexcept {
    conn& k = conns_[c];
    if (k.in_acks) {
        return; // the first pending byte sets the deadline
    }
    k.in_acks = true;
    k.ack_stamp = now;
    link_push<&conn::ack_link>(acks_, c);
}

void engine::ack_remove(uint32_t c) noexcept {
    conn& k = conns_[c];
    if (!k.in_acks) {
        return;
    }
    link_remove<&conn::ack_link>(acks_, c);
    k.in_acks = false;
}

void engine::watch_push(uint32_t c) noexcept {
    conn& k = conns_[c];
    if (k.in_watch) {
        return;
    }
    k.in_watch = true;
    link_push<&conn::watch_link>(watch_, c);
}

void engine::watch_remove(uint32_t c) noexcept {
    conn& k = conns_[c];
    if (!k.in_watch) {
        return;
    }
    link_remove<&conn::watch_link>(watch_, c);
    k.in_watch = false;
}

// ---- SYN cookies ----

void engine::refresh_keys(uint64_t now) noexcept {
    const uint64_t p = now / cookie_period_tsc_;
    if (p == key_period_[0]) {
        return;
    }
    auto derive = [this](uint64_t period) {
        const uint64_t in0[2] = {period, 0};
        const uint64_t in1[2] = {period, 1};
        return util::siphash_key{util::siphash24(master_, in0, sizeof in0),
                                 util::siphash24(master_, in1, sizeof in1)};
    };
    if (key_period_[0] != UINT64_MAX && p == key_period_[0] + 1) {
        key_[1] = key_[0];
        key_period_[1] = key_period_[0];
    } else if (p > 0) {
        key_[1] = derive(p - 1);
        key_period_[1] = p - 1;
    } else {
        key_period_[1] = UINT64_MAX;
    }
    key_[0] = derive(p);
    key_period_[0] = p;
}

uint32_t engine::cookie_hash(const util::siphash_key& k, const net::tcp_path& p, uint32_t isn,
                             uint32_t flags, uint64_t period) const noexcept {
    uint8_t msg[16 + 16 + 2 + 2 + 1 + 1 + 4 + 8];
    std::memcpy(msg, p.local_ip, 16);
    std::memcpy(msg + 16, p.remote_ip, 16);
    std::memcpy(msg + 32, &p.local_port, 2);
    std::memcpy(msg + 34, &p.remote_port, 2);
    msg[36] = p.ip_version;
    msg[37] = static_cast<uint8_t>(flags);
    std::memcpy(msg + 38, &isn, 4);
    std::memcpy(msg + 42, &period, 8);
    return static_cast<uint32_t>(util::siphash24(k, msg, sizeof msg)) & 0x1ffffffu;
}

// Cookie layout (our ISS): period mod 32 (5 bits) | options (2 bits: window scaling, SACK
// offered) | 25 bits of SipHash-2-4 over the connection's addresses and ports, the client's ISN,
// the options and the period, keyed by the period's key. Nothing else needs encoding: logagg
// sends no data, so the peer's MSS and window shift never matter; timestamps are in use when
// the final ACK carries them (a client that offered them always does, RFC 7323 3.2).
uint32_t engine::make_cookie(const net::tcp_path& p, uint32_t isn, uint32_t flags,
                             uint64_t now) noexcept {
    refresh_keys(now);
    const uint64_t t = key_period_[0];
    return static_cast<uint32_t>((t & 31u) << 27) | (flags & 3u) << 25 |
           cookie_hash(key_[0], p, isn, flags & 3u, t);
}

int engine::check_cookie(const net::tcp_path& p, uint32_t isn, uint32_t cookie,
                         uint64_t now) noexcept {
    refresh_keys(now);
    const uint32_t t5 = cookie >> 27;
    const uint32_t flags = (cookie >> 25) & 3u;
    for (int i = 0; i < 2; ++i) {
        if (key_period_[i] != UINT64_MAX && (key_period_[i] & 31u) == t5 &&
            cookie_hash(key_[i], p, isn, flags, key_period_[i]) == (cookie & 0x1ffffffu)) {
            return static_cast<int>(flags);
        }
    }
    return -1;
}

int engine::check_handshake(const net::tcp_segment& s, uint32_t hash, uint64_t now,
                            uint32_t& isn) noexcept {
    isn_memo_entry& e = isn_memo_[hash % isn_memo_size];
    const bool memo = e.hash == (hash | 1u);
    int opts = check_cookie(s.path, s.seq - 1, s.ack - 1, now);
    isn = s.seq - 1;
    if (opts < 0 && memo && e.isn != isn) {
        // The final ACK and the first data segment(s) were lost or are late, and this segment
        // comes from further on: without the ISN it could only be refused (RST), killing a
        // connection the client believes open. The memo's ISN, proved by the cookie, opens the
        // connection, and the segment waits in the out-of-order queue for the retransmission.
        opts = check_cookie(s.path, e.isn, s.ack - 1, now);
        if (opts >= 0) {
            isn = e.isn;
        }
    }
    if (opts >= 0 && memo) {
        e = isn_memo_entry{};
    }
    return opts;
}

// ---- replies ----

uint32_t engine::ts_clock(uint64_t now) const noexcept {
    // RFC 7323 5.4: a clock of 1 ms ticks, with a random offset so it reveals no uptime.
    return ts_offset_ + static_cast<uint32_t>(now / tsc_per_ms_);
}

bool engine::emit(const net::tcp_path& p, const net::tcp_out& o, uint16_t port) noexcept {
    rte_mbuf* m = rte_pktmbuf_alloc(cfg_.tx_pool);
    if (m == nullptr) {
        st_.tx_no_mbuf.add();
        return false;
    }
    const bool offload = port < 64 && (cfg_.tx_checksum_offload_ports >> port & 1u) != 0;
    if (!net::build_tcp(m, p, o,
                        offload ? net::tx_checksum::offload : net::tx_checksum::software)) {
        rte_pktmbuf_free(m);
        st_.tx_no_mbuf.add();
        return false;
    }
    m->port = port;
    if ((o.flags & tf::syn) != 0) {
        st_.tx_syn_ack.add();
    } else if ((o.flags & tf::rst) != 0) {
        st_.tx_rst.add();
    } else {
        st_.tx_ack.add();
    }
    if ((o.flags & tf::fin) != 0) {
        st_.tx_fin.add();
    }
    tx_buf_[n_tx_++] = m;
    if (n_tx_ == tx_batch) {
        flush();
    }
    return true;
}

void engine::flush() noexcept {
    if (n_tx_ != 0) {
        const uint16_t n = n_tx_;
        n_tx_ = 0;
        tx_(tx_ctx_, tx_buf_.data(), n);
    }
}

/// Moves the right edge of @p c's window forward when the consumer has room for it, with
/// receiver-side silly window avoidance (RFC 9293 3.8.6.2.2): only by at least
/// min(window cap / 2, a full segment). @return true when it moved.
/// The largest window of a connection that arrived on @p port (config::frame_cut_ports).
[[nodiscard]] static uint32_t window_cap(const config& cfg, uint16_t port) noexcept {
    return port < 64 && ((cfg.frame_cut_ports >> port) & 1u) != 0
               ? std::min(cfg.max_window, cfg.frame_cut_window)
               : cfg.max_window;
}

static bool open_window(engine::conn& k, const consumer& cons, conn_id id, uint32_t max_window,
                        bool receiving) noexcept {
    if (!receiving || k.ended) {
        return false;
    }
    const uint32_t cap = k.rcv_ws != 0 ? max_window : std::min<uint32_t>(max_window, 65535);
    const uint32_t room = std::min(cons.room(cons.ctx, id, k.user), cap);
    const uint32_t right = k.rcv_nxt + room;
    const uint32_t step = std::min<uint32_t>(cap / 2, k.rcv_mss);
    if (seq_gt(right, k.rcv_adv) && right - k.rcv_adv >= step) {
        k.rcv_adv = right;
        return true;
    }
    return false;
}

uint32_t engine::advertise(uint32_t c) noexcept {
    conn& k = conns_[c];
    if (seq_lt(k.rcv_adv, k.rcv_nxt)) { // a FIN at the right edge moved rcv_nxt past it
        k.rcv_adv = k.rcv_nxt;
    }
    const uint32_t wnd = k.rcv_adv - k.rcv_nxt;
    // Rounded up, so the edge the peer computes never falls behind one announced before
    // (RFC 7323 2.4; Linux does the same).
    uint32_t field = (wnd + (1u << k.rcv_ws) - 1) >> k.rcv_ws;
    field = std::min<uint32_t>(field, 65535);
    k.rcv_adv = k.rcv_nxt + (field << k.rcv_ws);
    const bool receiving = k.st == conn_state::established || k.st == conn_state::fin_wait_1 ||
                           k.st == conn_state::fin_wait_2;
    if (field == 0 && receiving) {
        if (!k.zero_window) {
            k.zero_window = true;
            st_.zero_window_episodes.add();
        }
    } else {
        k.zero_window = false;
    }
    // A window below two full segments may stall the sender (its silly window avoidance waits
    // for a segment's worth): poll() watches for room to reopen it.
    if (receiving && !k.ended &&
        (field << k.rcv_ws) < std::min(2u * k.rcv_mss, window_cap(cfg_, k.rx_port))) {
        watch_push(c);
    } else {
        watch_remove(c);
    }
    return field;
}

void engine::send_ack(uint32_t c, uint64_t now) noexcept {
    conn& k = conns_[c];
    ack_remove(c);
    const bool receiving = k.st == conn_state::established || k.st == conn_state::fin_wait_1 ||
                           k.st == conn_state::fin_wait_2;
    (void)open_window(k, cons_, conn_id{c, k.gen}, window_cap(cfg_, k.rx_port), receiving);
    net::tcp_out o;
    o.flags = tf::ack;
    o.ack = k.rcv_nxt;
    if (k.snd_una != k.snd_nxt) {
        // Our FIN is unacknowledged: every ACK carries it again.
        o.seq = k.snd_una;
        o.flags |= tf::fin;
    } else {
        o.seq = k.snd_nxt;
    }
    o.window = static_cast<uint16_t>(advertise(c));
    if (k.ts_ok) {
        o.timestamps = true;
        o.ts_val = ts_clock(now);
        o.ts_ecr = k.ts_recent;
    }
    if (k.sack_ok && k.ooo_head != nil) {
        // RFC 2018 4: the block of the newest segment first, then the most recently reported
        // others, then the rest in ascending order; never a block twice.
        auto block_of = [&](uint32_t s, net::sack_block& b) {
            for (uint32_t e = k.ooo_head; e != nil;) {
                b.left = ooo_[e].seq;
                b.right = ooo_[e].seq + ooo_[e].len;
                uint32_t f = ooo_[e].next;
                while (f != nil && ooo_[f].seq == b.right) {
                    b.right += ooo_[f].len;
                    f = ooo_[f].next;
                }
                if (seq_ge(s, b.left) && seq_lt(s, b.right)) {
                    return true;
                }
                e = f;
            }
            return false;
        };
        auto add = [&](const net::sack_block& b) {
            for (uint8_t i = 0; i < o.n_sack; ++i) {
                if (o.sack[i].left == b.left) {
                    return;
                }
            }
            o.sack[o.n_sack++] = b;
        };
        net::sack_block b;
        for (uint8_t i = 0; i < k.n_recent && o.n_sack < net::max_sack_blocks; ++i) {
            if (block_of(k.recent[i], b)) {
                add(b);
            }
        }
        for (uint32_t e = k.ooo_head; e != nil && o.n_sack < net::max_sack_blocks;) {
            b.left = ooo_[e].seq;
            b.right = ooo_[e].seq + ooo_[e].len;
            uint32_t f = ooo_[e].next;
            while (f != nil && ooo_[f].seq == b.right) {
                b.right += ooo_[f].len;
                f = ooo_[f].next;
            }
            add(b);
            e = f;
        }
    }
    if (emit(k.path, o, k.rx_port)) {
        k.last_ack_sent = k.rcv_nxt;
    }
}

void engine::challenge_ack(uint32_t c, uint64_t now) noexcept {
    // RFC 5961 7: one budget for the whole engine, per second.
    if (now - challenge_window_ >= cfg_.tsc_hz) {
        challenge_window_ = now;
        challenge_in_window_ = 0;
    }
    if (challenge_in_window_ >= cfg_.challenge_acks_per_s) {
        st_.challenge_acks_limited.add();
        return;
    }
    ++challenge_in_window_;
    st_.challenge_acks.add();
    send_ack(c, now);
}

void engine::send_fin(uint32_t c, uint64_t now) noexcept {
    conn& k = conns_[c];
    if (k.snd_nxt == k.snd_una) {
        k.snd_nxt = k.snd_una + 1; // the FIN takes one sequence number
    }
    if (k.fin_sent != 0) {
        st_.fin_retransmits.add();
    }
    ++k.fin_sent;
    list_remove(c);
    list_push(static_cast<uint8_t>(l_fin0 + k.fin_sent - 1), c, now);
    send_ack(c, now); // carries the FIN while it is unacknowledged
}

void engine::send_rst_conn(uint32_t c) noexcept {
    const conn& k = conns_[c];
    net::tcp_out o;
    o.flags = tf::rst | tf::ack;
    o.seq = k.snd_nxt;
    o.ack = k.rcv_nxt;
    (void)emit(k.path, o, k.rx_port);
}

void engine::send_rst_for(const net::tcp_segment& s, uint16_t port) noexcept {
    // RFC 9293 3.10.7.1: answer with the sequence the sender expects from us.
    net::tcp_out o;
    if ((s.flags & tf::ack) != 0) {
        o.seq = s.ack;
        o.flags = tf::rst;
    } else {
        o.seq = 0;
        o.ack = s.seq + s.payload_len + ((s.flags & tf::syn) != 0 ? 1u : 0u) +
                ((s.flags & tf::fin) != 0 ? 1u : 0u);
        o.flags = tf::rst | tf::ack;
    }
    (void)emit(s.path, o, port);
}

void engine::send_syn_ack(const net::tcp_segment& s, uint16_t port, uint32_t cookie,
                          uint64_t now) noexcept {
    net::tcp_out o;
    o.flags = tf::syn | tf::ack;
    o.seq = cookie;
    o.ack = s.seq + 1; // data on a SYN is not kept (no state): the client sends it again
    // never scaled in a SYN (RFC 7323 2.2)
    o.window = static_cast<uint16_t>(std::min(syn_window_, window_cap(cfg_, port)));
    // config::mss is for IPv4; an IPv6 header is 20 bytes longer (RFC 8200 3).
    o.mss = static_cast<uint16_t>(s.path.ip_version == 6 ? cfg_.mss - 20 : cfg_.mss);
    // Only what the client offered is answered (RFC 7323 1.3, RFC 2018 2).
    o.wscale = s.opts.has_wscale ? static_cast<int8_t>(ws_) : int8_t{-1};
    o.sack_permitted = s.opts.sack_permitted;
    if (s.opts.has_timestamps) {
        o.timestamps = true;
        o.ts_val = ts_clock(now);
        o.ts_ecr = s.opts.ts_val;
    }
    (void)emit(s.path, o, port);
}

void engine::end_stream(uint32_t c, end_reason why) noexcept {
    conn& k = conns_[c];
    watch_remove(c);
    if (!k.ended) {
        k.ended = true;
        cons_.end(cons_.ctx, conn_id{c, k.gen}, k.user, why);
    }
}

void engine::reset_out(uint32_t c) noexcept {
    send_rst_conn(c);
    st_.reset_out.add();
    end_stream(c, end_reason::reset_out);
    release(c);
}

// ---- out-of-order queue ----

void engine::ooo_free_all(uint32_t c) noexcept {
    conn& k = conns_[c];
    for (uint32_t e = k.ooo_head; e != nil;) {
        const uint32_t next = ooo_[e].next;
        rte_pktmbuf_free(ooo_[e].m);
        ooo_free_[ooo_n_free_++] = e;
        e = next;
    }
    ooo_used_ -= k.ooo_n;
    st_.ooo_held.sub(k.ooo_n);
    k.ooo_head = nil;
    k.ooo_n = 0;
    k.n_recent = 0;
}

void engine::let_go_held(uint32_t c) noexcept {
    conn& k = conns_[c];
    for (uint32_t f = k.ooo_head; f != nil; f = ooo_[f].next) {
        const ooo_seg& q = ooo_[f];
        const uint32_t covered = seq_le(q.seq + q.len, k.rcv_nxt) ? q.len
                                 : seq_lt(q.seq, k.rcv_nxt)       ? k.rcv_nxt - q.seq
                                                                  : 0;
        st_.bytes_duplicate.add(covered);
        st_.bytes_no_room.add(q.len - covered);
    }
    ooo_free_all(c);
    k.fin_queued = false;
}

engine::ooo_result engine::ooo_insert(uint32_t c, rte_mbuf* m, uint32_t seq, uint32_t off,
                                      uint32_t len) noexcept {
    conn& k = conns_[c];
    uint32_t end = seq + len;
    // Skip the runs that end at or before ours begins.
    uint32_t prev = nil;
    uint32_t cur = k.ooo_head;
    while (cur != nil && seq_le(ooo_[cur].seq + ooo_[cur].len, seq)) {
        prev = cur;
        cur = ooo_[cur].next;
    }
    if (cur != nil && seq_le(ooo_[cur].seq, seq)) {
        const uint32_t cur_end = ooo_[cur].seq + ooo_[cur].len;
        if (seq_ge(cur_end, end)) {
            st_.bytes_duplicate.add(len);
            return ooo_result::duplicate; // wholly inside what is held
        }
        // Our head overlaps the run before: what is held stays, ours is trimmed.
        const uint32_t d = cur_end - seq;
        st_.bytes_duplicate.add(d);
        off += d;
        len -= d;
        seq = cur_end;
        prev = cur;
        cur = ooo_[cur].next;
    }
    // Runs wholly inside ours are replaced by it (ours carries the same bytes); one that starts
    // inside ours and ends beyond trims our tail. Count first: nothing changes if ours cannot be
    // held.
    uint32_t covered = 0;
    uint32_t after = cur;
    while (after != nil && seq_le(ooo_[after].seq + ooo_[after].len, end)) {
        ++covered;
        after = ooo_[after].next;
    }
    if (covered == 0 && after != nil && seq_le(ooo_[after].seq, seq)) {
        // Our head was in the run before and the rest is in the next, which touches it: nothing
        // new (only possible after the head was trimmed: untrimmed, `after` starts beyond seq).
        st_.bytes_duplicate.add(len);
        return ooo_result::duplicate;
    }
    if (covered == 0 && (k.ooo_n >= cfg_.ooo_per_conn || ooo_n_free_ == 0)) {
        return ooo_result::full;
    }
    while (cur != after) {
        const uint32_t next = ooo_[cur].next;
        st_.bytes_duplicate.add(ooo_[cur].len);
        rte_pktmbuf_free(ooo_[cur].m);
        ooo_free_[ooo_n_free_++] = cur;
        --ooo_used_;
        st_.ooo_held.sub();
        --k.ooo_n;
        cur = next;
    }
    if (after != nil && seq_lt(ooo_[after].seq, end)) {
        const uint32_t d = end - ooo_[after].seq;
        st_.bytes_duplicate.add(d);
        len -= d;
        end = ooo_[after].seq;
    }
    const uint32_t e = ooo_free_[--ooo_n_free_];
    ooo_[e] = ooo_seg{m, seq, off, len, after};
    (prev != nil ? ooo_[prev].next : k.ooo_head) = e;
    ++k.ooo_n;
    ++ooo_used_;
    st_.ooo_held.add();
    // This segment's block is now the most recent one (RFC 2018 4).
    const uint8_t keep = std::min<uint8_t>(k.n_recent, net::max_sack_blocks - 1);
    std::memmove(&k.recent[1], &k.recent[0], keep * sizeof(uint32_t));
    k.recent[0] = seq;
    k.n_recent = static_cast<uint8_t>(keep + 1);
    return ooo_result::queued;
}

// ---- segments ----

void engine::input_burst(rte_mbuf* const* pkts, const net::tcp_locator* at, uint16_t n,
                         uint64_t now) noexcept {
    for (uint16_t i = 0; i < n; ++i) {
        input(pkts[i], at[i], now);
    }
    flush();
}

void engine::input(rte_mbuf* m, const net::tcp_locator& at, uint64_t now) noexcept {
    st_.segments.add();
    net::tcp_segment s;
    switch (net::parse_tcp(m, at, s)) {
    case net::tcp_verdict::ok:
        break;
    case net::tcp_verdict::truncated:
    case net::tcp_verdict::bad_offset:
        count(seg_outcome::bad_header);
        rte_pktmbuf_free(m);
        return;
    case net::tcp_verdict::bad_checksum:
        count(seg_outcome::bad_checksum);
        rte_pktmbuf_free(m);
        return;
    case net::tcp_verdict::bad_options:
        count(seg_outcome::bad_options);
        rte_pktmbuf_free(m);
        return;
    }
    if (s.checksum_partial) {
        st_.checksum_partial.add();
    }
    const uint32_t h = hash_of(s.path);
    const uint32_t c = find(s.path, h);
    if (c == nil) {
        no_connection(m, s, h, now);
    } else {
        on_conn(c, m, s, now, false);
    }
}

void engine::no_connection(rte_mbuf* m, const net::tcp_segment& s, uint32_t h,
                           uint64_t now) noexcept {
    const uint8_t f = s.flags;
    const uint16_t port = m->port;
    if ((f & tf::rst) != 0) {
        count(seg_outcome::rst_ignored); // never answer a RST (RFC 9293 3.10.7.1)
        rte_pktmbuf_free(m);
        return;
    }
    if (!cfg_.listeners->contains(s.path.local_port)) {
        send_rst_for(s, port);
        count(seg_outcome::no_connection);
        rte_pktmbuf_free(m);
        return;
    }
    if ((f & tf::syn) != 0) {
        if ((f & tf::ack) != 0) { // RFC 9293 3.10.7.2: an ACK to LISTEN gets a RST
            send_rst_for(s, port);
            count(seg_outcome::no_connection);
        } else if ((f & tf::fin) != 0) {
            count(seg_outcome::bad_flags); // SYN+FIN: a scan, not a client (Linux drops it too)
        } else if (n_free_ == 0 && lists_[l_tw].head == nil) {
            send_rst_for(s, port); // refused now: cleaner for the client than after the handshake
            st_.refused.add();
            count(seg_outcome::refused);
        } else {
            const uint32_t opts = (s.opts.has_wscale ? 1u : 0u) | (s.opts.sack_permitted ? 2u : 0u);
            isn_memo_[h % isn_memo_size] = isn_memo_entry{h | 1u, s.seq};
            send_syn_ack(s, port, make_cookie(s.path, s.seq, opts, now), now);
            st_.cookies_sent.add();
            count(seg_outcome::syn);
        }
        rte_pktmbuf_free(m);
        return;
    }
    if ((f & tf::ack) == 0) {
        count(seg_outcome::no_connection); // RFC 9293 3.10.7.2 (fourth): dropped
        rte_pktmbuf_free(m);
        return;
    }
    // An ACK to a listening port: the handshake's last segment if it carries our cookie.
    uint32_t isn = 0;
    const int opts = check_handshake(s, h, now, isn);
    if (opts < 0) {
        st_.cookies_failed.add();
        send_rst_for(s, port);
        count(seg_outcome::cookie_failed);
        rte_pktmbuf_free(m);
        return;
    }
    (isn == s.seq - 1 ? st_.cookies_validated : st_.cookies_by_memo).add();
    const uint32_t c = take_slot();
    if (c == nil) {
        st_.refused.add();
        send_rst_for(s, port);
        count(seg_outcome::refused);
        rte_pktmbuf_free(m);
        return;
    }
    conn& k = conns_[c];
    const uint32_t gen = k.gen;
    k = conn{};
    k.gen = gen;
    k.path = s.path;
    k.hash = h;
    k.st = conn_state::established;
    k.ws_ok = (opts & 1) != 0;
    k.sack_ok = (opts & 2) != 0;
    k.ts_ok = s.opts.has_timestamps;
    k.rcv_ws = k.ws_ok ? ws_ : 0;
    k.rx_port = port;
    // Why 536: the default MSS (RFC 9293 3.7.1) until a larger segment shows what "full" is.
    k.rcv_mss = std::min<uint16_t>(536, cfg_.mss);
    k.irs = isn;
    k.rcv_nxt = isn + 1;
    k.iss = s.ack - 1;
    k.snd_una = k.snd_nxt = s.ack;
    k.rcv_adv = k.rcv_nxt + std::min(syn_window_, window_cap(cfg_, port)); // the SYN-ACK's
    k.last_ack_sent = k.rcv_nxt;
    k.ts_recent = s.opts.ts_val;
    std::size_t i = h & mask_;
    while (table_[i].used) {
        i = (i + 1) & mask_;
    }
    table_[i] = bucket{true, c, h};
    ++used_;
    st_.open.add();
    st_.accepted.add();
    list_push(l_est, c, now);
    conn_info info;
    info.path = k.path;
    info.rx_port = port;
    info.irs = k.irs;
    info.wscale = k.ws_ok;
    info.sack = k.sack_ok;
    info.timestamps = k.ts_ok;
    k.user = cons_.open(cons_.ctx, conn_id{c, k.gen}, info);
    on_conn(c, m, s, now, true);
}

// Why whole (~120 lines): RFC 9293 3.10.7.4's checks on a segment for a known connection, in
// the RFC's order (sequence acceptability and PAWS, RST, SYN, ACK, timestamps); each step may
// end the segment, and reading them in one place against the RFC is the point. Per segment.
void engine::on_conn(uint32_t c, rte_mbuf* m, const net::tcp_segment& s, uint64_t now,
                     bool opened) noexcept {
    conn& k = conns_[c];
    const uint8_t f = s.flags;
    if (k.list == l_est || k.list == l_fw2) { // activity restarts the idle timers
        list_remove(c);
        list_push(k.st == conn_state::established ? l_est : l_fw2, c, now);
    }
    if (k.st == conn_state::time_wait && (f & tf::syn) != 0 && (f & (tf::ack | tf::rst)) == 0) {
        // RFC 6191: a SYN newer than anything of the old connection reopens the pair.
        const bool newer = k.ts_ok && s.opts.has_timestamps ? seq_gt(s.opts.ts_val, k.ts_recent)
                                                            : seq_gt(s.seq, k.rcv_nxt);
        if (newer) {
            st_.closed.add();
            release(c);
            no_connection(m, s, hash_of(s.path), now);
            return;
        }
    }
    if ((f & tf::rst) != 0) {
        // RFC 5961 3.2: exactly the next expected sequence resets; elsewhere in the window
        // only earns a challenge ACK (a blind attacker must guess the exact value).
        if (s.seq == k.rcv_nxt) {
            if (k.st == conn_state::time_wait) {
                // Both FINs were exchanged and the stream ended with every byte: the RST only
                // ends TIME-WAIT early (as Linux without tcp_rfc1337), the connection closed.
                st_.closed.add();
            } else {
                st_.reset_in.add();
                end_stream(c, end_reason::reset_in);
            }
            release(c);
            count(seg_outcome::rst_accepted);
        } else if (seq_in(s.seq, k.rcv_nxt, k.rcv_adv - k.rcv_nxt)) {
            challenge_ack(c, now);
            count(seg_outcome::rst_challenged);
        } else {
            count(seg_outcome::rst_ignored);
        }
        rte_pktmbuf_free(m);
        return;
    }
    if ((f & tf::syn) != 0) { // RFC 5961 4.2: whatever its sequence number
        challenge_ack(c, now);
        count(seg_outcome::syn_challenged);
        rte_pktmbuf_free(m);
        return;
    }
    if ((f & tf::ack) == 0) {
        count(seg_outcome::no_ack);
        rte_pktmbuf_free(m);
        return;
    }
    if (k.ts_ok && s.opts.has_timestamps && seq_lt(s.opts.ts_val, k.ts_recent)) {
        send_ack(c, now); // RFC 7323 5.3 R1: not acceptable
        count(seg_outcome::paws);
        rte_pktmbuf_free(m);
        return;
    }
    // RFC 9293 3.10.7.4 acceptability, on the payload only: a FIN takes no buffer space, so a
    // FIN at the expected sequence is taken even by a zero window (as Linux does). After the
    // peer's FIN nothing more can come: the window is empty.
    const bool peer_done = k.st == conn_state::closing || k.st == conn_state::last_ack ||
                           k.st == conn_state::time_wait;
    const uint32_t wnd = peer_done ? 0 : k.rcv_adv - k.rcv_nxt;
    const uint32_t len = s.payload_len;
    const bool acceptable =
        len == 0 ? (wnd == 0 ? s.seq == k.rcv_nxt : seq_in(s.seq, k.rcv_nxt, wnd))
                 : wnd != 0 && seq_lt(s.seq, k.rcv_nxt + wnd) && seq_gt(s.seq + len, k.rcv_nxt);
    if (!acceptable) {
        if (len <= 1 && (f & tf::fin) == 0 && s.seq == k.rcv_nxt - 1) {
            count(seg_outcome::keepalive); // RFC 9293 3.8.4: SEG.SEQ = RCV.NXT - 1
        } else if (len > 0 && wnd == 0 && !peer_done && s.seq == k.rcv_nxt) {
            count(seg_outcome::window_probe);
        } else if (len > 0 ? seq_le(s.seq + len, k.rcv_nxt) : seq_lt(s.seq, k.rcv_nxt)) {
            st_.bytes_duplicate.add(len);
            count(seg_outcome::duplicate);
        } else {
            st_.bytes_beyond_window.add(len);
            count(seg_outcome::beyond_window);
        }
        if (k.st == conn_state::time_wait && (f & tf::fin) != 0) {
            list_remove(c); // RFC 9293: a retransmitted FIN restarts TIME-WAIT
            list_push(l_tw, c, now);
        }
        send_ack(c, now);
        rte_pktmbuf_free(m);
        return;
    }
    // The ACK field (RFC 9293 3.10.7.4 fifth, RFC 5961 5.2). Only our SYN and FIN take sequence
    // numbers, so the acceptable values are iss + 1 .. snd_nxt.
    if (seq_gt(s.ack, k.snd_nxt) || seq_lt(s.ack, k.iss + 1)) {
        challenge_ack(c, now);
        count(seg_outcome::bad_ack);
        rte_pktmbuf_free(m);
        return;
    }
    if (seq_gt(s.ack, k.snd_una)) { // our FIN is acknowledged
        k.snd_una = s.ack;
        switch (k.st) {
        case conn_state::fin_wait_1:
            k.st = conn_state::fin_wait_2;
            list_remove(c);
            list_push(l_fw2, c, now);
            break;
        case conn_state::closing:
            k.st = conn_state::time_wait;
            list_remove(c);
            list_push(l_tw, c, now);
            break;
        case conn_state::last_ack:
            st_.closed.add();
            release(c);
            count(seg_outcome::ack_only);
            rte_pktmbuf_free(m);
            return;
        default:
            break;
        }
    }
    if (k.ts_ok && s.opts.has_timestamps && seq_le(s.seq, k.last_ack_sent)) {
        k.ts_recent = s.opts.ts_val; // RFC 7323 4.3 (PAWS above made sure it is not older)
    }
    on_data(c, m, s, now, opened);
}

// Why whole (~120 lines): the payload and FIN of an accepted segment (RFC 9293 3.10.7.4,
// seventh and eighth): trim the head already received, queue out of order or deliver in order
// and drain the queue, then the FIN; they share the trimmed seq/off/len. Per segment.
void engine::on_data(uint32_t c, rte_mbuf* m, const net::tcp_segment& s, uint64_t now,
                     bool opened) noexcept {
    conn& k = conns_[c];
    const bool receiving = k.st == conn_state::established || k.st == conn_state::fin_wait_1 ||
                           k.st == conn_state::fin_wait_2;
    if (!receiving) { // after the peer's FIN only an ACK at rcv_nxt is acceptable
        count(seg_outcome::ack_only);
        rte_pktmbuf_free(m);
        return;
    }
    uint32_t seq = s.seq;
    uint32_t off = s.payload_off;
    uint32_t len = s.payload_len;
    bool fin = (s.flags & tf::fin) != 0;
    if (len != 0) {
        k.rcv_mss = static_cast<uint16_t>(std::clamp<uint32_t>(len, k.rcv_mss, cfg_.mss));
    }
    if (seq_lt(seq, k.rcv_nxt)) { // already received head (acceptability: some is new)
        const uint32_t d = k.rcv_nxt - seq;
        st_.bytes_duplicate.add(d);
        off += d;
        len -= d;
        seq = k.rcv_nxt;
    }
    if (len != 0 && seq_gt(seq + len, k.rcv_adv)) { // tail beyond the window
        const uint32_t cut = seq + len - k.rcv_adv;
        st_.bytes_beyond_window.add(cut);
        len -= cut;
        fin = false;
    }
    if (seq != k.rcv_nxt) {
        // Beyond a hole: queue it and ACK at once, with SACK (RFC 5681 4.2, RFC 2018).
        if (len != 0) {
            switch (ooo_insert(c, m, seq, off, len)) {
            case ooo_result::queued:
                m = nullptr;
                if (fin) {
                    k.fin_queued = true;
                    k.fin_seq = seq + len;
                }
                count(seg_outcome::out_of_order);
                break;
            case ooo_result::duplicate:
                count(seg_outcome::duplicate);
                break;
            case ooo_result::full:
                count(seg_outcome::ooo_full);
                break;
            }
        } else if (fin) {
            k.fin_queued = true;
            k.fin_seq = seq;
            count(seg_outcome::fin);
        } else {
            count(seg_outcome::ack_only);
        }
        if (m != nullptr) {
            rte_pktmbuf_free(m);
        }
        if (s.payload_len != 0 || fin) {
            send_ack(c, now);
        }
        return;
    }
    const bool had_ooo = k.ooo_head != nil;
    delivery d{cons_, conn_id{c, k.gen}, k.user, {}, 0};
    const uint32_t offered = len;
    bool cut = false; // in-order bytes were not admitted: nothing beyond them is taken
    if (len != 0) {
        const uint32_t a = admit(c, m, off, len);
        if (a < len) {
            // Not acknowledged: the sender sends them again (with the FIN, if one came).
            st_.bytes_no_room.add(len - a);
            len = a;
            fin = false;
            cut = true;
        }
    }
    if (len != 0) {
        d.add(m, off, len); // the reference moves to the consumer
        m = nullptr;
        k.rcv_nxt += len;
        st_.bytes_delivered.add(len);
    }
    if (cut) {
        // Runs held beyond the hole may lie inside what was just taken: none may stay queued
        // below rcv_nxt (its SACK block would sit under the cumulative ACK).
        let_go_held(c);
    } else if (!fin) {
        // Pull what the queue now continues; runs the new bytes covered are dropped.
        while (k.ooo_head != nil && seq_le(ooo_[k.ooo_head].seq, k.rcv_nxt)) {
            const uint32_t e = k.ooo_head;
            ooo_seg& q = ooo_[e];
            k.ooo_head = q.next;
            --k.ooo_n;
            --ooo_used_;
            st_.ooo_held.sub();
            ooo_free_[ooo_n_free_++] = e;
            if (seq_le(q.seq + q.len, k.rcv_nxt)) {
                st_.bytes_duplicate.add(q.len);
                rte_pktmbuf_free(q.m);
                continue;
            }
            const uint32_t skip = k.rcv_nxt - q.seq;
            st_.bytes_duplicate.add(skip);
            const uint32_t take = q.len - skip;
            const uint32_t a = admit(c, q.m, q.off + skip, take);
            if (a != 0) {
                d.add(q.m, q.off + skip, a);
                k.rcv_nxt += a;
                st_.bytes_delivered.add(a);
            } else {
                rte_pktmbuf_free(q.m);
            }
            if (a < take) {
                st_.bytes_no_room.add(take - a);
                let_go_held(c);
                cut = true;
                break;
            }
        }
        if (k.ooo_head == nil) {
            k.n_recent = 0;
        }
        if (k.fin_queued && seq_le(k.fin_seq, k.rcv_nxt)) {
            fin = k.fin_seq == k.rcv_nxt; // a FIN the bytes ran past was not a real one
            k.fin_queued = false;
        }
    }
    d.flush();
    if (m != nullptr) {
        rte_pktmbuf_free(m);
    }
    count(len != 0       ? seg_outcome::in_order
          : offered != 0 ? seg_outcome::no_room
          : fin          ? seg_outcome::fin
          : opened       ? seg_outcome::handshake
                         : seg_outcome::ack_only);
    if (fin) {
        peer_fin(c, now);
        return;
    }
    if (cut) {
        send_ack(c, now); // at once: the sender learns where the stream stands
        return;
    }
    // RFC 5681 4.2 / RFC 9293 3.8.6.3: at least every second full-sized segment, at once when a
    // hole was (partly) filled, else within ack_delay.
    if ((had_ooo && len != 0) || k.rcv_nxt - k.last_ack_sent >= 2u * k.rcv_mss ||
        (len != 0 && window_cap(cfg_, k.rx_port) < 2u * k.rcv_mss)) {
        send_ack(c, now);
    } else if (k.rcv_nxt != k.last_ack_sent) {
        ack_push(c, now);
    }
}

uint32_t engine::admit(uint32_t c, rte_mbuf* m, uint32_t off, uint32_t len) noexcept {
    if (cons_.admit == nullptr) {
        return len;
    }
    const conn& k = conns_[c];
    return std::min(len, cons_.admit(cons_.ctx, conn_id{c, k.gen}, k.user, piece{m, off, len}));
}

void engine::peer_fin(uint32_t c, uint64_t now) noexcept {
    conn& k = conns_[c];
    k.rcv_nxt += 1;
    ooo_free_all(c); // bytes beyond the FIN cannot be part of the stream
    k.fin_queued = false;
    end_stream(c, end_reason::fin);
    switch (k.st) {
    case conn_state::established:
        // CLOSE-WAIT lasts no time: logagg has nothing to send, so its FIN goes with the ACK.
        k.st = conn_state::last_ack;
        send_fin(c, now);
        break;
    case conn_state::fin_wait_1:
        k.st = conn_state::closing; // stays on its FIN retransmission list
        send_ack(c, now);
        break;
    case conn_state::fin_wait_2:
        k.st = conn_state::time_wait;
        list_remove(c);
        list_push(l_tw, c, now);
        send_ack(c, now);
        break;
    default:
        break;
    }
}

// ---- timers and control ----

void engine::poll(uint64_t now) noexcept {
    uint32_t budget = poll_budget;
    while (acks_.head != nil && budget != 0 &&
           now - conns_[acks_.head].ack_stamp >= ack_delay_tsc_) {
        st_.delayed_acks.add();
        send_ack(acks_.head, now); // takes it off the list
        --budget;
    }
    // Each list is in deadline order (one duration per list): stop at the first not yet due.
    auto due = [&](uint8_t l, uint64_t d) {
        const uint32_t h = lists_[l].head;
        return h != nil && budget != 0 && now - conns_[h].stamp >= d;
    };
    while (idle_tsc_ != 0 && due(l_est, idle_tsc_)) {
        const uint32_t c = lists_[l_est].head;
        st_.timed_out.add();
        conns_[c].st = conn_state::fin_wait_1;
        send_fin(c, now);
        --budget;
    }
    // FIN retransmission lists, the last first, so a connection moves on at most once per call.
    for (uint32_t l = n_lists_; l-- > l_fin0;) {
        const uint64_t rto = fin_rto_tsc_ << (l - l_fin0);
        while (due(static_cast<uint8_t>(l), rto)) {
            const uint32_t c = lists_[l].head;
            if (conns_[c].fin_sent >= cfg_.fin_tries) {
                reset_out(c);
            } else {
                send_fin(c, now);
            }
            --budget;
        }
    }
    while (due(l_fw2, fin_wait2_tsc_)) {
        reset_out(lists_[l_fw2].head);
        --budget;
    }
    while (due(l_tw, time_wait_tsc_)) {
        st_.closed.add();
        release(lists_[l_tw].head);
        --budget;
    }
    // Connections whose window was too small to send into: reopen it when the consumer has
    // room, round robin so every one is looked at in turn.
    for (uint32_t n = 0; n < window_scan_budget && watch_.head != nil; ++n) {
        const uint32_t c = watch_.head;
        conn& k = conns_[c];
        watch_remove(c);
        const bool receiving = k.st == conn_state::established || k.st == conn_state::fin_wait_1 ||
                               k.st == conn_state::fin_wait_2;
        if (open_window(k, cons_, conn_id{c, k.gen}, window_cap(cfg_, k.rx_port), receiving)) {
            st_.window_updates.add();
            send_ack(c, now); // re-enters the watch if still small
        } else if (receiving && !k.ended) {
            watch_push(c);
        }
        if (watch_.head == c) {
            break; // the only one, just put back
        }
    }
    flush();
}

bool engine::fin_pending() const noexcept {
    for (uint32_t l = l_fin0; l < n_lists_; ++l) {
        if (lists_[l].head != nil) {
            return true;
        }
    }
    return false;
}

uint64_t engine::next_due() const noexcept {
    uint64_t due = UINT64_MAX;
    if (acks_.head != nil) {
        due = conns_[acks_.head].ack_stamp + ack_delay_tsc_;
    }
    // Each list is in deadline order: its head is its earliest.
    auto head = [&](uint32_t l, uint64_t d) {
        if (lists_[l].head != nil) {
            due = std::min(due, conns_[lists_[l].head].stamp + d);
        }
    };
    if (idle_tsc_ != 0) {
        head(l_est, idle_tsc_);
    }
    for (uint32_t l = l_fin0; l < n_lists_; ++l) {
        head(l, fin_rto_tsc_ << (l - l_fin0));
    }
    head(l_fw2, fin_wait2_tsc_);
    head(l_tw, time_wait_tsc_);
    return due;
}

bool engine::close(conn_id id, uint64_t now) noexcept {
    if (state(id) != conn_state::established) {
        return false;
    }
    conns_[id.idx].st = conn_state::fin_wait_1;
    send_fin(id.idx, now);
    return true;
}

bool engine::abort(conn_id id, uint64_t /*now*/) noexcept {
    if (state(id) == conn_state::closed) {
        return false;
    }
    if (conns_[id.idx].st == conn_state::time_wait) {
        st_.closed.add(); // already closed cleanly: nothing to reset
        release(id.idx);
    } else {
        reset_out(id.idx);
    }
    return true;
}

void engine::close_all(uint64_t now) noexcept {
    for (uint32_t c = 0; c < cfg_.max_conns; ++c) {
        if (conns_[c].st == conn_state::established) {
            (void)close(conn_id{c, conns_[c].gen}, now);
        }
    }
    flush();
}

void engine::abort_all(uint64_t now) noexcept {
    for (uint32_t c = 0; c < cfg_.max_conns; ++c) {
        if (conns_[c].st != conn_state::closed) {
            (void)abort(conn_id{c, conns_[c].gen}, now);
        }
    }
    flush();
}

} // namespace logagg::tcp
