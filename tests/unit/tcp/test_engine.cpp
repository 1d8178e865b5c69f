// SPDX-License-Identifier: BSD-3-Clause
// The receive-side TCP engine on real mbufs (EAL in memory): crafted segments in, the replies it
// sends read back by an independent parser (tests/common/tcp_frames.hpp), the bytes it delivers
// compared with what was sent. Time is driven explicitly (`now` in ns, tsc_hz = 1e9). After every
// test the counters balance and the pool's in-use count is back where it started.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/eal_env.hpp"
#include "common/tcp_frames.hpp"
#include "tcp/engine.hpp"

namespace {

namespace t = logagg::testing;
using logagg::tcp::conn_id;
using logagg::tcp::conn_info;
using logagg::tcp::conn_state;
using logagg::tcp::end_reason;
using logagg::tcp::engine;
using logagg::tcp::piece;
using logagg::tcp::seg_outcome;
using t::bytes;
using t::g_pool;
using t::reply;
using t::tcp_spec;
namespace f = t::tcpf;

const auto* const g_env = ::testing::AddGlobalTestEnvironment(new t::eal_env("tcp_engine"));

constexpr uint64_t ms = 1'000'000; // ns per ms: tsc_hz is 1e9
constexpr uint64_t sec = 1000 * ms;

/// What the consumer saw of one connection.
struct stream {
    conn_id id;
    conn_info info;
    std::string data;
    uint32_t room = 1u << 20;
    uint64_t admit = UINT64_MAX; ///< bytes consumer::admit still lets through (all calls)
    bool ended = false;
    end_reason why = end_reason::fin;
    bool data_after_end = false;
    uint32_t calls = 0;
    bool hold = false; ///< keep the references instead of freeing them at once
    std::vector<rte_mbuf*> held;
    std::vector<piece> pieces; ///< the last data() call's pieces
};

/// A simulated client: its addressing and where both sequence spaces stand.
struct peer {
    tcp_spec base;
    uint32_t isn = 1000;
    uint32_t nxt = 1001; ///< next sequence number it sends
    uint32_t una = 0;    ///< what it acknowledges: our iss + 1 (+1 after our FIN)
    uint32_t iss = 0;
    bool ts = false;
    uint32_t tsval = 5000;
    uint32_t ts_ecr = 0;
    std::size_t stream = 0; ///< index in harness::streams once open

    tcp_spec seg(uint8_t flags, uint32_t seq, const std::string& payload = {}) const {
        tcp_spec s = base;
        s.flags = flags;
        s.seq = seq;
        s.ack = una;
        s.payload = payload;
        if (ts) {
            s.options = t::opt_ts(tsval, ts_ecr);
        }
        return s;
    }
};

struct harness {
    logagg::net::listen_ports ports;
    logagg::tcp::config cfg;
    std::unique_ptr<engine> eng;
    std::vector<stream> streams;
    std::vector<rte_mbuf*> sent;
    uint64_t now = 5 * sec;
    uint16_t rx_port = 0;
    uint32_t end_calls = 0;

    harness() {
        ports.add(514);
        cfg.tsc_hz = 1'000'000'000;
        cfg.tx_pool = g_pool;
        cfg.listeners = &ports;
        cfg.test_seed = 42;
    }
    ~harness() {
        for (stream& s : streams) {
            for (rte_mbuf* m : s.held) {
                rte_pktmbuf_free(m);
            }
        }
        for (rte_mbuf* m : sent) {
            rte_pktmbuf_free(m);
        }
    }

    static uint64_t on_open(void* ctx, conn_id id, const conn_info& info) noexcept {
        auto* h = static_cast<harness*>(ctx);
        stream s;
        s.id = id;
        s.info = info;
        h->streams.push_back(s);
        return h->streams.size() - 1;
    }
    static void on_data(void* ctx, conn_id id, uint64_t user, const piece* p, uint32_t n) noexcept {
        auto* h = static_cast<harness*>(ctx);
        stream& s = h->streams[user];
        EXPECT_EQ(s.id, id);
        if (s.ended) {
            s.data_after_end = true;
        }
        ++s.calls;
        s.pieces.assign(p, p + n);
        for (uint32_t i = 0; i < n; ++i) {
            EXPECT_LE(uint64_t{p[i].off} + p[i].len, rte_pktmbuf_pkt_len(p[i].m));
            std::string buf(p[i].len, '\0');
            const void* b = rte_pktmbuf_read(p[i].m, p[i].off, p[i].len, buf.data());
            EXPECT_NE(b, nullptr);
            s.data.append(static_cast<const char*>(b), p[i].len);
            if (s.hold) {
                s.held.push_back(p[i].m);
            } else {
                rte_pktmbuf_free(p[i].m);
            }
        }
    }
    static uint32_t on_room(void* ctx, conn_id, uint64_t user) noexcept {
        return static_cast<harness*>(ctx)->streams[user].room;
    }
    static uint32_t on_admit(void* ctx, conn_id, uint64_t user, const piece& p) noexcept {
        stream& s = static_cast<harness*>(ctx)->streams[user];
        const auto n = static_cast<uint32_t>(std::min<uint64_t>(p.len, s.admit));
        s.admit -= n;
        return n;
    }
    static void on_end(void* ctx, conn_id id, uint64_t user, end_reason why) noexcept {
        auto* h = static_cast<harness*>(ctx);
        stream& s = h->streams[user];
        EXPECT_EQ(s.id, id);
        EXPECT_FALSE(s.ended) << "end() twice";
        s.ended = true;
        s.why = why;
        ++h->end_calls;
    }
    static void on_tx(void* ctx, rte_mbuf** pkts, uint16_t n) noexcept {
        auto* h = static_cast<harness*>(ctx);
        h->sent.insert(h->sent.end(), pkts, pkts + n);
    }

    void make() {
        logagg::tcp::consumer c;
        c.ctx = this;
        c.open = on_open;
        c.data = on_data;
        c.room = on_room;
        c.end = on_end;
        c.admit = on_admit;
        eng = engine::create(cfg, c, on_tx, this).value();
    }

    /// Replies sent since the last call, read back and freed.
    std::vector<reply> take() {
        std::vector<reply> out;
        const bool offload = (cfg.tx_checksum_offload_ports >> rx_port & 1u) != 0;
        for (rte_mbuf* m : sent) {
            out.push_back(t::read_reply(m, offload));
            EXPECT_TRUE(out.back().ok) << "a reply that does not parse or checksum";
            rte_pktmbuf_free(m);
        }
        sent.clear();
        return out;
    }

    rte_mbuf* to_mbuf(const bytes& frame, const std::vector<uint32_t>& cuts) {
        std::vector<uint32_t> bounds = cuts;
        bounds.push_back(static_cast<uint32_t>(frame.size()));
        rte_mbuf* head = nullptr;
        uint32_t prev = 0;
        for (uint32_t b : bounds) {
            rte_mbuf* m = rte_pktmbuf_alloc(g_pool);
            char* dst =
                m != nullptr ? rte_pktmbuf_append(m, static_cast<uint16_t>(b - prev)) : nullptr;
            if (dst == nullptr) {
                std::fprintf(stderr, "test frame segment of %u bytes does not fit an mbuf\n",
                             b - prev);
                std::abort();
            }
            std::memcpy(dst, frame.data() + prev, b - prev);
            if (head == nullptr) {
                head = m;
            } else {
                EXPECT_EQ(rte_pktmbuf_chain(head, m), 0);
            }
            prev = b;
        }
        head->port = rx_port;
        return head;
    }

    /// Builds one segment (in mbufs cut at @p cuts) and hands it to input(); no flush().
    void input(const tcp_spec& s, const std::vector<uint32_t>& cuts = {}) {
        const t::tcp_built b = t::build_tcp_frame(s);
        logagg::net::tcp_locator at;
        at.l3_off = b.l3_off;
        at.l4_off = b.l4_off;
        at.l4_len = b.l4_len;
        at.ip_version = static_cast<uint8_t>(s.ip);
        eng->input(to_mbuf(b.frame, cuts), at, now);
    }

    /// Sends one segment through input() (and flush()); @return the replies.
    std::vector<reply> send(const tcp_spec& s, const std::vector<uint32_t>& cuts = {}) {
        input(s, cuts);
        eng->flush();
        return take();
    }

    std::vector<reply> poll_at(uint64_t when) {
        now = when;
        eng->poll(now);
        return take();
    }

    /// SYN with @p opts; @return the SYN-ACK (and fills p.iss / p.una).
    reply syn(peer& p, const bytes& opts = {}) {
        tcp_spec s = p.base;
        s.flags = f::syn;
        s.seq = p.isn;
        s.ack = 0;
        s.options = opts;
        const auto r = send(s);
        EXPECT_EQ(r.size(), 1u);
        if (r.empty()) {
            return {};
        }
        p.iss = r[0].seq;
        p.una = r[0].seq + 1;
        p.nxt = p.isn + 1;
        p.ts_ecr = r[0].ts_val;
        return r[0];
    }

    /// A full handshake; the connection is open afterwards (p.stream names it).
    reply connect(peer& p, const bytes& opts = {}) {
        const std::size_t before = streams.size();
        const reply sa = syn(p, opts);
        p.ts = sa.has_ts;
        EXPECT_TRUE(send(p.seg(f::ack, p.nxt)).empty());
        EXPECT_EQ(streams.size(), before + 1);
        p.stream = streams.size() - 1;
        return sa;
    }

    /// Sends @p data at the peer's next sequence number and advances it.
    std::vector<reply> push(peer& p, const std::string& data, uint8_t flags = f::ack | f::psh) {
        auto r = send(p.seg(flags, p.nxt, data));
        p.nxt += static_cast<uint32_t>(data.size()) + ((flags & f::fin) != 0 ? 1 : 0);
        return r;
    }

    uint64_t outcome(seg_outcome o) const {
        return eng->counters().outcome[static_cast<std::size_t>(o)].get();
    }
    conn_id id(const peer& p) const { return streams[p.stream].id; }

    /// We close @p p's open connection first, the peer ACKs our FIN and sends its own: the
    /// connection is in TIME-WAIT afterwards. The replies are read and let go.
    void to_time_wait(peer& p) {
        ASSERT_TRUE(eng->close(id(p), now));
        eng->flush();
        p.una = p.iss + 2;
        send(p.seg(f::ack, p.nxt));
        push(p, "", f::ack | f::fin);
        ASSERT_EQ(eng->state(id(p)), conn_state::time_wait);
    }
};

/// The stream's bytes for sequence offsets [a, b) (offsets from the first data byte).
std::string ref(uint32_t a, uint32_t b) {
    std::string s;
    for (uint32_t i = a; i < b; ++i) {
        s.push_back(static_cast<char>('a' + (i * 7 + i / 26) % 26));
    }
    return s;
}

struct Engine : ::testing::Test {
    unsigned before = 0;
    std::unique_ptr<harness> h;

    void SetUp() override {
        before = rte_mempool_in_use_count(g_pool);
        h = std::make_unique<harness>();
    }
    void TearDown() override {
        if (h->eng) {
            const auto& st = h->eng->counters();
            uint64_t sum = 0;
            for (const auto& c : st.outcome) {
                sum += c.get();
            }
            EXPECT_EQ(sum, st.segments.get()) << "a segment not counted exactly once";
            EXPECT_EQ(st.accepted.get(),
                      st.open.get() + st.closed.get() + st.reset_in.get() + st.reset_out.get());
            EXPECT_EQ(st.open.get(), h->eng->connections());
            EXPECT_EQ(st.ooo_held.get(), h->eng->held_mbufs());
        }
        h.reset();
        EXPECT_EQ(rte_mempool_in_use_count(g_pool), before) << "mbufs leaked";
    }

    peer client(int ip = 4, uint16_t sport = 40000, uint16_t src_id = 0) {
        peer p;
        p.base.ip = ip;
        p.base.sport = sport;
        p.base.src_id = src_id;
        return p;
    }

    /// Makes the engine (with h->cfg as set) and opens one connection from client() that
    /// offers @p opts.
    peer connected(const bytes& opts = {}) {
        h->make();
        peer p = client();
        h->connect(p, opts);
        return p;
    }
};

// ---- handshake ----

TEST_F(Engine, HandshakeEchoesOnlyTheOfferedOptions) {
    h->make();
    for (unsigned mask = 0; mask < 16; ++mask) {
        peer p = client(4, static_cast<uint16_t>(41000 + mask));
        bytes opts;
        if (mask & 1) {
            opts = t::cat({opts, t::opt_mss(1400)});
        }
        if (mask & 2) {
            opts = t::cat({opts, t::opt_ws(9)});
        }
        if (mask & 4) {
            opts = t::cat({opts, t::opt_sack_ok()});
        }
        if (mask & 8) {
            opts = t::cat({opts, t::opt_ts(777, 0)});
        }
        const uint32_t conns = h->eng->connections();
        const reply sa = h->syn(p, opts);
        EXPECT_EQ(h->eng->connections(), conns) << "state kept for a SYN";
        EXPECT_EQ(sa.flags, f::syn | f::ack);
        EXPECT_EQ(sa.ack, p.isn + 1);
        EXPECT_EQ(sa.window, 65535);
        EXPECT_EQ(sa.mss, 1460) << "our MSS, whatever the client's";
        EXPECT_EQ(sa.ws, (mask & 2) ? h->eng->window_shift() : -1) << mask;
        EXPECT_EQ(sa.sack_ok, (mask & 4) != 0) << mask;
        EXPECT_EQ(sa.has_ts, (mask & 8) != 0) << mask;
        if (mask & 8) {
            EXPECT_EQ(sa.ts_ecr, 777u);
        }
        p.ts = sa.has_ts;
        EXPECT_TRUE(h->send(p.seg(f::ack, p.nxt)).empty());
        ASSERT_EQ(h->eng->connections(), conns + 1) << mask;
        const stream& s = h->streams.back();
        EXPECT_EQ(s.info.wscale, (mask & 2) != 0);
        EXPECT_EQ(s.info.sack, (mask & 4) != 0);
        EXPECT_EQ(s.info.timestamps, (mask & 8) != 0);
        EXPECT_EQ(s.info.irs, p.isn);
        EXPECT_EQ(s.info.path.remote_port, p.base.sport);
        // The window of the first ACK is scaled only when the client offered scaling.
        EXPECT_TRUE(h->push(p, ref(0, 1400)).empty());
        const auto r = h->push(p, ref(1400, 2800)); // the second full segment: ACKed at once
        ASSERT_EQ(r.size(), 1u);
        const uint32_t wnd = uint32_t{r[0].window} << ((mask & 2) ? h->eng->window_shift() : 0);
        EXPECT_GT(wnd, (mask & 2) ? 65535u : 60000u) << mask;
        EXPECT_LE(wnd, (mask & 2) ? (1u << 20) + 64 : 65535u) << mask;
    }
    EXPECT_EQ(h->eng->counters().accepted.get(), 16u);
    EXPECT_EQ(h->eng->counters().cookies_sent.get(), 16u);
    EXPECT_EQ(h->eng->counters().cookies_validated.get(), 16u);
    EXPECT_EQ(h->outcome(seg_outcome::handshake), 16u);
    EXPECT_EQ(h->outcome(seg_outcome::syn), 16u);
}

TEST_F(Engine, RepliesGoBackTheWayTheSegmentCame) {
    h->rx_port = 3;
    h->cfg.tx_checksum_offload_ports = 1u << 3;
    h->make();
    peer p = client(6);
    p.base.tags = {0x88a8, 0x8100};
    const reply sa = h->syn(p, t::opt_mss(1400));
    ASSERT_TRUE(sa.ok) << "offload form";
    EXPECT_EQ(sa.port, 3);
    EXPECT_EQ(sa.ip, 6);
    EXPECT_EQ(std::memcmp(sa.eth_dst, t::k_client_mac, 6), 0);
    EXPECT_EQ(std::memcmp(sa.eth_src, t::k_our_mac, 6), 0);
    ASSERT_EQ(sa.tags.size(), 2u);
    EXPECT_EQ(sa.tags[0], 0x88a8002au);
    EXPECT_EQ(sa.tags[1], 0x8100002au);
    uint8_t ip[16] = {};
    t::our_ip(6, ip);
    EXPECT_EQ(std::memcmp(sa.src, ip, 16), 0);
    t::client_ip(6, 0, ip);
    EXPECT_EQ(std::memcmp(sa.dst, ip, 16), 0);
    EXPECT_EQ(sa.sport, 514);
    EXPECT_EQ(sa.dport, 40000);
}

TEST_F(Engine, CookieGoodForTwoPeriodsForgedOrStaleRefused) {
    h->make();
    const uint64_t period = engine::cookie_period_s * sec;
    // Good in the next period.
    peer a = client(4, 40001);
    h->now = 10 * sec;
    h->syn(a);
    h->now += period;
    EXPECT_TRUE(h->send(a.seg(f::ack, a.nxt)).empty());
    EXPECT_EQ(h->eng->connections(), 1u);
    // Stale two periods later: RST with the sequence the client expects (its ACK number).
    peer b = client(4, 40002);
    h->now = 10 * sec;
    h->syn(b);
    h->now += 2 * period;
    auto r = h->send(b.seg(f::ack, b.nxt));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].flags, f::rst);
    EXPECT_EQ(r[0].seq, b.una);
    EXPECT_EQ(h->eng->counters().cookies_failed.get(), 1u);
    // Forged: any bit of the cookie, the client's ISN, or another client's port.
    peer c = client(4, 40003);
    h->syn(c);
    for (uint32_t bit : {0u, 3u, 24u, 25u, 26u, 27u, 31u}) {
        tcp_spec s = c.seg(f::ack, c.nxt);
        s.ack = c.una ^ (1u << bit);
        r = h->send(s);
        ASSERT_EQ(r.size(), 1u) << bit;
        EXPECT_EQ(r[0].flags, f::rst);
    }
    peer other = c;
    other.base.sport = 40004;
    r = h->send(other.seg(f::ack, other.nxt));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].flags, f::rst);
    EXPECT_EQ(h->eng->counters().cookies_failed.get(), 9u);
    EXPECT_EQ(h->outcome(seg_outcome::cookie_failed), 9u);
    EXPECT_EQ(h->eng->connections(), 1u);
    // The genuine one still works, and an engine with other secrets refuses it.
    EXPECT_TRUE(h->send(c.seg(f::ack, c.nxt)).empty());
    EXPECT_EQ(h->eng->connections(), 2u);
    harness other_engine;
    other_engine.cfg.test_seed = 43;
    other_engine.make();
    peer d = client(4, 40005);
    h->syn(d);
    other_engine.now = h->now;
    r = other_engine.send(d.seg(f::ack, d.nxt));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].flags, f::rst);
}

TEST_F(Engine, LostFinalAckAndFirstDataOpenWithTheIsnMemo) {
    // The client's final ACK and first data segment are lost; its second segment arrives first.
    // Its SEG.SEQ - 1 is not the ISN, but the memo kept the ISN from the SYN: the connection
    // opens, the segment waits out of order (ACKed with SACK, no RST), and the retransmitted
    // first segment delivers both in order. The late final ACK is then a plain duplicate.
    h->make();
    peer p = client();
    h->syn(p, t::cat({t::opt_sack_ok()}));
    auto r = h->send(p.seg(f::ack | f::psh, p.nxt + 100, ref(100, 250)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].flags, f::ack) << "refused instead of opened";
    EXPECT_EQ(r[0].ack, p.nxt) << "the hole starts at the first data byte";
    ASSERT_EQ(r[0].sack.size(), 1u);
    EXPECT_EQ(r[0].sack[0].first, p.nxt + 100);
    EXPECT_EQ(r[0].sack[0].second, p.nxt + 250);
    ASSERT_EQ(h->streams.size(), 1u);
    p.stream = 0;
    EXPECT_EQ(h->eng->counters().cookies_by_memo.get(), 1u);
    EXPECT_EQ(h->eng->counters().cookies_validated.get(), 0u);
    EXPECT_EQ(h->eng->counters().cookies_failed.get(), 0u);
    EXPECT_EQ(h->outcome(seg_outcome::out_of_order), 1u);
    EXPECT_TRUE(h->streams[0].data.empty());
    r = h->send(p.seg(f::ack | f::psh, p.nxt, ref(0, 100)));
    EXPECT_EQ(h->streams[0].data, ref(0, 250));
    p.nxt += 250;
    ASSERT_FALSE(r.empty());
    EXPECT_EQ(r.back().ack, p.nxt);
    r = h->send(p.seg(f::ack, p.isn + 1)); // the late final ACK: below RCV.NXT, no harm
    EXPECT_EQ(h->eng->connections(), 1u);
    for (const reply& x : r) {
        EXPECT_EQ(x.flags & f::rst, 0);
    }
    EXPECT_EQ(h->eng->counters().reset_out.get(), 0u);
    // The memo entry was used up: the same 4-tuple's cookie does not open a second connection.
    h->eng->abort(h->id(p), h->now);
    h->eng->flush();
    h->take();
    r = h->send(p.seg(f::ack | f::psh, p.nxt + 100, ref(350, 400)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].flags, f::rst);
}

TEST_F(Engine, WithoutTheMemoAWrongIsnIsRefused) {
    // An engine with the same secrets that never saw the SYN has no memo entry: a valid cookie
    // with a client ISN it does not match is refused (RST), as a forged one is.
    h->make();
    harness twin;
    twin.make();
    peer p = client();
    h->syn(p);
    twin.now = h->now;
    auto r = twin.send(p.seg(f::ack | f::psh, p.nxt + 100, ref(100, 200)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].flags, f::rst);
    EXPECT_EQ(twin.eng->counters().cookies_failed.get(), 1u);
    // ... while the segment whose SEG.SEQ - 1 is the ISN proves it alone.
    r = twin.send(p.seg(f::ack | f::psh, p.nxt, ref(0, 100)));
    EXPECT_EQ(twin.eng->connections(), 1u);
    EXPECT_EQ(twin.eng->counters().cookies_validated.get(), 1u);
    twin.eng->abort(twin.streams[0].id, twin.now);
    twin.eng->flush();
    twin.take();
}

// ---- data ----

TEST_F(Engine, InOrderBytesStraightFromTheMbufs) {
    peer p = connected();
    std::vector<uint32_t> payload_offs;
    h->streams[p.stream].hold = true;
    EXPECT_TRUE(h->push(p, ref(0, 300)).empty());
    ASSERT_EQ(h->streams[p.stream].pieces.size(), 1u);
    const piece first = h->streams[p.stream].pieces[0];
    EXPECT_EQ(first.off, 14u + 20u + 20u); // the payload inside the received frame
    EXPECT_EQ(first.len, 300u);
    // A frame in three mbufs: the piece spans the chain.
    const std::string big = ref(300, 1300);
    h->send(p.seg(f::ack, p.nxt, big), {30, 500});
    p.nxt += 1000;
    ASSERT_EQ(h->streams[p.stream].pieces.size(), 1u);
    EXPECT_EQ(h->streams[p.stream].pieces[0].m->nb_segs, 3);
    h->push(p, ref(1300, 1400));
    EXPECT_EQ(h->streams[p.stream].data, ref(0, 1400));
    EXPECT_EQ(h->eng->counters().bytes_delivered.get(), 1400u);
    EXPECT_EQ(h->outcome(seg_outcome::in_order), 3u);
    EXPECT_EQ(h->eng->held_mbufs(), 0u) << "in-order bytes are not held by the engine";
}

TEST_F(Engine, BytesTheConsumerCannotAdmitAreNotAcknowledged) {
    peer p = connected(t::opt_sack_ok());
    const uint32_t b = p.nxt;
    stream& s = h->streams[p.stream];
    // Nothing admitted: nothing taken, the segment freed, an ACK at once at the old point.
    s.admit = 0;
    auto r = h->send(p.seg(f::ack | f::psh, b, ref(0, 300)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].ack, b);
    EXPECT_TRUE(s.data.empty());
    EXPECT_EQ(h->outcome(seg_outcome::no_room), 1u);
    EXPECT_EQ(h->eng->counters().bytes_no_room.get(), 300u);
    EXPECT_EQ(h->eng->held_mbufs(), 0u);
    // A prefix admitted: delivered and ACKed at once; the FIN behind the rest is not taken.
    s.admit = 100;
    r = h->send(p.seg(f::ack | f::psh | f::fin, b, ref(0, 300)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].ack, b + 100);
    EXPECT_EQ(r[0].flags, f::ack) << "no FIN of ours: the peer's was not taken";
    EXPECT_EQ(s.data, ref(0, 100));
    EXPECT_FALSE(s.ended);
    EXPECT_EQ(h->outcome(seg_outcome::in_order), 1u);
    EXPECT_EQ(h->eng->counters().bytes_no_room.get(), 500u);
    // Out of order runs held (SACKed), then the hole filled while the consumer takes only 150
    // more bytes: the hole's 100, 50 of the first run; the rest of it and the run after it are
    // let go and not acknowledged.
    s.admit = UINT64_MAX;
    r = h->send(p.seg(f::ack | f::psh, b + 200, ref(200, 300)));
    r = h->send(p.seg(f::ack | f::psh, b + 300, ref(300, 400)));
    ASSERT_EQ(r[0].sack.size(), 1u);
    EXPECT_EQ(h->eng->held_mbufs(), 2u);
    s.admit = 150;
    r = h->send(p.seg(f::ack | f::psh, b + 100, ref(100, 200)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].ack, b + 250);
    EXPECT_TRUE(r[0].sack.empty()) << "nothing is held any more";
    EXPECT_EQ(h->eng->held_mbufs(), 0u);
    EXPECT_EQ(s.data, ref(0, 250));
    EXPECT_EQ(h->eng->counters().bytes_no_room.get(), 500u + 50u + 100u);
    // Room again: the sender's retransmission is taken, then its FIN.
    s.admit = UINT64_MAX;
    r = h->send(p.seg(f::ack | f::psh | f::fin, b + 250, ref(250, 400)));
    EXPECT_EQ(s.data, ref(0, 400));
    EXPECT_TRUE(s.ended);
    EXPECT_EQ(h->eng->counters().bytes_delivered.get(), 400u);
    EXPECT_EQ(h->outcome(seg_outcome::no_room), 1u);
}

TEST_F(Engine, AnAdmissionCutLetsGoTheRunsHeldInsideWhatWasTaken) {
    // Found by fuzz_tcp: a run held out of order, then an in-order segment covering it of which
    // the consumer admits a prefix reaching past the run. The run must not stay queued below
    // rcv_nxt, where its SACK block would sit under the cumulative ACK.
    peer p = connected(t::opt_sack_ok());
    const uint32_t b = p.nxt;
    stream& s = h->streams[p.stream];
    auto r = h->send(p.seg(f::ack | f::psh, b + 16, ref(16, 56)));
    ASSERT_EQ(r.size(), 1u);
    ASSERT_EQ(r[0].sack.size(), 1u);
    s.admit = 200;
    r = h->send(p.seg(f::ack | f::psh, b, ref(0, 300)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].ack, b + 200);
    EXPECT_TRUE(r[0].sack.empty()) << "a SACK block at " << r[0].sack[0].first - b;
    EXPECT_EQ(h->eng->held_mbufs(), 0u);
    EXPECT_EQ(s.data, ref(0, 200));
    EXPECT_EQ(h->eng->counters().bytes_no_room.get(), 100u);
    EXPECT_EQ(h->eng->counters().bytes_duplicate.get(), 40u);
    // A run held beyond the cut is let go too (not acknowledged), and taken again when resent.
    s.admit = UINT64_MAX;
    r = h->send(p.seg(f::ack | f::psh, b + 250, ref(250, 300)));
    ASSERT_EQ(r[0].sack.size(), 1u);
    s.admit = 20;
    r = h->send(p.seg(f::ack | f::psh, b + 200, ref(200, 240)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].ack, b + 220);
    EXPECT_TRUE(r[0].sack.empty());
    EXPECT_EQ(h->eng->held_mbufs(), 0u);
    s.admit = UINT64_MAX;
    h->send(p.seg(f::ack | f::psh, b + 220, ref(220, 300)));
    EXPECT_EQ(s.data, ref(0, 300));
}

TEST_F(Engine, DelayedAndImmediateAcks) {
    peer p = connected();
    // One small segment: ACKed when ack_delay (500 us) runs out, not before.
    EXPECT_TRUE(h->push(p, ref(0, 100)).empty());
    EXPECT_TRUE(h->poll_at(h->now + 499'999).empty());
    auto r = h->poll_at(h->now + 1);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].ack, p.nxt);
    EXPECT_EQ(r[0].flags, f::ack);
    EXPECT_EQ(h->eng->counters().delayed_acks.get(), 1u);
    // Two full-sized segments: the second is ACKed at once.
    EXPECT_TRUE(h->push(p, ref(100, 1560)).empty());
    r = h->push(p, ref(1560, 3020));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].ack, p.nxt);
    EXPECT_TRUE(h->poll_at(h->now + sec).empty()) << "nothing left to ACK";
    // Out of order: at once, a duplicate ACK.
    r = h->send(p.seg(f::ack, p.nxt + 100, ref(3120, 3200)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].ack, p.nxt);
    // A pure ACK is not answered.
    EXPECT_TRUE(h->send(p.seg(f::ack, p.nxt)).empty());
}

TEST_F(Engine, OutOfOrderWithSackBlocksInRfc2018Order) {
    peer p = connected(t::opt_sack_ok());
    const uint32_t b = p.nxt;
    auto seg = [&](uint32_t lo, uint32_t hi) {
        return h->send(p.seg(f::ack | f::psh, b + lo, ref(lo, hi)));
    };
    auto r = seg(100, 200);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].ack, b);
    ASSERT_EQ(r[0].sack.size(), 1u);
    EXPECT_EQ(r[0].sack[0], std::make_pair(b + 100, b + 200));
    r = seg(300, 400);
    ASSERT_EQ(r[0].sack.size(), 2u);
    EXPECT_EQ(r[0].sack[0], std::make_pair(b + 300, b + 400)) << "the newest block first";
    EXPECT_EQ(r[0].sack[1], std::make_pair(b + 100, b + 200));
    r = seg(500, 600);
    ASSERT_EQ(r[0].sack.size(), 3u);
    EXPECT_EQ(r[0].sack[0], std::make_pair(b + 500, b + 600));
    EXPECT_EQ(r[0].sack[1], std::make_pair(b + 300, b + 400));
    EXPECT_EQ(r[0].sack[2], std::make_pair(b + 100, b + 200));
    r = seg(200, 300); // joins the first two blocks
    ASSERT_EQ(r[0].sack.size(), 2u);
    EXPECT_EQ(r[0].sack[0], std::make_pair(b + 100, b + 400));
    EXPECT_EQ(r[0].sack[1], std::make_pair(b + 500, b + 600));
    EXPECT_TRUE(h->streams[p.stream].data.empty());
    EXPECT_EQ(h->eng->held_mbufs(), 4u);
    r = seg(0, 100); // fills the hole: ACKed at once, the rest stays SACKed
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].ack, b + 400);
    ASSERT_EQ(r[0].sack.size(), 1u);
    EXPECT_EQ(r[0].sack[0], std::make_pair(b + 500, b + 600));
    EXPECT_EQ(h->streams[p.stream].data, ref(0, 400));
    r = seg(400, 500);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].ack, b + 600);
    EXPECT_TRUE(r[0].sack.empty());
    EXPECT_EQ(h->streams[p.stream].data, ref(0, 600));
    EXPECT_EQ(h->eng->held_mbufs(), 0u);
    EXPECT_EQ(h->outcome(seg_outcome::out_of_order), 4u);
    EXPECT_EQ(h->outcome(seg_outcome::in_order), 2u);
}

TEST_F(Engine, OverlapsAndDuplicatesAreTrimmed) {
    peer p = connected();
    const uint32_t b = p.nxt;
    auto seg = [&](uint32_t lo, uint32_t hi) {
        return h->send(p.seg(f::ack, b + lo, ref(lo, hi)));
    };
    seg(200, 300);
    seg(150, 350); // covers the queued run: replaces it
    EXPECT_EQ(h->eng->held_mbufs(), 1u);
    seg(250, 400); // head overlaps: trimmed to 350..400
    seg(100, 160); // tail overlaps: trimmed to 100..150
    seg(160, 340); // wholly inside: a duplicate
    EXPECT_EQ(h->outcome(seg_outcome::duplicate), 1u);
    EXPECT_EQ(h->eng->held_mbufs(), 3u);
    seg(0, 120); // in order, overlapping the queue
    EXPECT_EQ(h->streams[p.stream].data, ref(0, 400));
    seg(350, 500); // partly old: only 400..500 is new
    EXPECT_EQ(h->streams[p.stream].data, ref(0, 500));
    auto r = seg(0, 500); // all old
    ASSERT_EQ(r.size(), 1u) << "a duplicate is ACKed at once";
    EXPECT_EQ(r[0].ack, b + 500);
    EXPECT_EQ(h->streams[p.stream].data, ref(0, 500));
    EXPECT_EQ(h->outcome(seg_outcome::duplicate), 2u);
    EXPECT_EQ(h->eng->counters().bytes_delivered.get(), 500u);
    // Received: 100+200+150+60+180+120+150+500 = 1460 bytes, 500 delivered, the rest duplicate.
    EXPECT_EQ(h->eng->counters().bytes_duplicate.get(), 960u);
}

TEST_F(Engine, ASegmentSpanningTwoAdjacentQueuedRunsIsADuplicate) {
    // Trimming makes queued runs touch; a segment whose head lies in one and whose tail lies in
    // the next carries nothing new: a duplicate, not an empty run queued (which held an mbuf,
    // took a slot of the bounds and was counted out_of_order).
    peer p = connected();
    const uint32_t b = p.nxt;
    auto seg = [&](uint32_t lo, uint32_t hi) {
        return h->send(p.seg(f::ack, b + lo, ref(lo, hi)));
    };
    seg(200, 300);
    seg(100, 250); // tail trimmed: 100..200, touching 200..300
    ASSERT_EQ(h->eng->held_mbufs(), 2u);
    const auto r = seg(150, 250);
    EXPECT_EQ(h->outcome(seg_outcome::duplicate), 1u);
    EXPECT_EQ(h->outcome(seg_outcome::out_of_order), 2u);
    EXPECT_EQ(h->eng->held_mbufs(), 2u);
    ASSERT_EQ(r.size(), 1u) << "a duplicate is ACKed at once";
    EXPECT_EQ(r[0].ack, b);
    seg(0, 100);
    EXPECT_EQ(h->streams[p.stream].data, ref(0, 300));
    EXPECT_EQ(h->eng->held_mbufs(), 0u);
    // Received 100 + 150 + 100 + 100 bytes, 300 delivered: 50 + 100 duplicate.
    EXPECT_EQ(h->eng->counters().bytes_duplicate.get(), 150u);
}

TEST_F(Engine, DataBeyondTheWindowIsDroppedAndCounted) {
    h->cfg.max_window = 8192; // SYN-ACK window 8192, no scaling needed
    peer p = connected();
    const uint32_t b = p.nxt;
    auto r = h->send(p.seg(f::ack, b + 9000, ref(9000, 9100)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].ack, b);
    EXPECT_EQ(h->outcome(seg_outcome::beyond_window), 1u);
    EXPECT_EQ(h->eng->counters().bytes_beyond_window.get(), 100u);
    // Straddling the right edge: the part inside is kept (out of order), the rest cut.
    h->send(p.seg(f::ack, b + 8000, ref(8000, 8500)));
    EXPECT_EQ(h->eng->counters().bytes_beyond_window.get(), 100u + 308u);
    EXPECT_EQ(h->eng->held_mbufs(), 1u);
    h->send(p.seg(f::ack, b, ref(0, 8000)), {2000, 4000, 6000, 7000}); // a GRO-sized frame
    EXPECT_EQ(h->streams[p.stream].data, ref(0, 8192));
}

TEST_F(Engine, ZeroWindowProbesAndWindowUpdate) {
    h->cfg.max_window = 4096;
    peer p = connected();
    h->streams[p.stream].room = 0; // the consumer is full from the start
    std::vector<uint64_t> edges;
    auto note = [&](const std::vector<reply>& rs) {
        for (const reply& r : rs) {
            edges.push_back(uint64_t{r.ack} + r.window); // no wrap in this test
        }
    };
    note(h->push(p, ref(0, 1460)));
    note(h->push(p, ref(1460, 2920)));
    ASSERT_EQ(edges.size(), 1u);
    note(h->push(p, ref(2920, 4096))); // fills the window offered in the SYN-ACK
    auto r = h->poll_at(h->now + ms);
    note(r);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].window, 0);
    EXPECT_EQ(r[0].ack, p.nxt);
    EXPECT_EQ(h->eng->counters().zero_window_episodes.get(), 1u);
    EXPECT_EQ(h->streams[p.stream].data, ref(0, 4096)) << "everything in the window delivered";
    // Persist probes: answered at once with the (still zero) window; the byte is not taken.
    for (int i = 0; i < 3; ++i) {
        r = h->send(p.seg(f::ack, p.nxt, ref(4096, 4097)));
        note(r);
        ASSERT_EQ(r.size(), 1u);
        EXPECT_EQ(r[0].window, 0);
        EXPECT_EQ(r[0].ack, p.nxt);
    }
    EXPECT_EQ(h->outcome(seg_outcome::window_probe), 3u);
    EXPECT_EQ(h->eng->counters().zero_window_episodes.get(), 1u) << "one episode";
    // A little room is not worth an update (silly window avoidance) ...
    h->streams[p.stream].room = 100;
    EXPECT_TRUE(h->poll_at(h->now + ms).empty());
    // ... a segment's worth is: poll() sends the update unasked.
    h->streams[p.stream].room = 3000;
    r = h->poll_at(h->now + ms);
    note(r);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].window, 3000);
    EXPECT_EQ(h->eng->counters().window_updates.get(), 1u);
    EXPECT_TRUE(h->poll_at(h->now + ms).empty()) << "one update, not one per poll";
    h->push(p, ref(4096, 5096));
    EXPECT_EQ(h->streams[p.stream].data, ref(0, 5096));
    // Room shrinking again never pulls the right edge back (RFC 9293 3.8.6).
    h->streams[p.stream].room = 0;
    note(h->push(p, ref(5096, 6596)));
    note(h->poll_at(h->now + ms));
    for (std::size_t i = 1; i < edges.size(); ++i) {
        EXPECT_GE(edges[i], edges[i - 1]) << "right edge moved back at ACK " << i;
    }
}

TEST_F(Engine, WithoutWindowScalingTheWindowStaysUnscaled) {
    h->make();
    peer p = client();
    const reply sa = h->connect(p);
    EXPECT_EQ(sa.ws, -1);
    h->push(p, ref(0, 1460));
    auto r = h->push(p, ref(1460, 2920));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].window, 65535) << "room is 1 MiB, the field says 64 KiB unscaled";
}

// ---- close ----

TEST_F(Engine, PeerFinEndsTheStreamAndOurFinFollows) {
    peer p = connected(t::opt_ts(1, 0));
    auto r = h->push(p, ref(0, 50), f::ack | f::fin);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].flags, f::ack | f::fin);
    EXPECT_EQ(r[0].ack, p.nxt) << "acknowledges the FIN";
    EXPECT_EQ(r[0].seq, p.iss + 1);
    const stream& s = h->streams[p.stream];
    EXPECT_EQ(s.data, ref(0, 50));
    EXPECT_TRUE(s.ended);
    EXPECT_EQ(s.why, end_reason::fin);
    EXPECT_EQ(h->eng->state(s.id), conn_state::last_ack);
    EXPECT_TRUE(h->eng->fin_pending()) << "the stream ended, the close has not";
    // Its FIN again (our FIN-ACK lost): ACKed again, with our FIN.
    r = h->send(p.seg(f::ack | f::fin, p.nxt - 1));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].flags, f::ack | f::fin);
    p.una = p.iss + 2;
    EXPECT_TRUE(h->send(p.seg(f::ack, p.nxt)).empty());
    EXPECT_EQ(h->eng->connections(), 0u);
    EXPECT_FALSE(h->eng->fin_pending());
    EXPECT_EQ(h->eng->counters().closed.get(), 1u);
    EXPECT_EQ(h->eng->state(s.id), conn_state::closed);
    EXPECT_FALSE(s.data_after_end);
}

TEST_F(Engine, OurFinThenHalfCloseThenTimeWait) {
    peer p = connected();
    const conn_id id = h->id(p);
    ASSERT_TRUE(h->eng->close(id, h->now));
    h->eng->flush();
    auto r = h->take();
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].flags, f::ack | f::fin);
    EXPECT_EQ(r[0].seq, p.iss + 1);
    EXPECT_EQ(h->eng->state(id), conn_state::fin_wait_1);
    EXPECT_TRUE(h->eng->fin_pending());
    EXPECT_FALSE(h->eng->close(id, h->now)) << "already closing";
    p.una = p.iss + 2;
    EXPECT_TRUE(h->send(p.seg(f::ack, p.nxt)).empty());
    EXPECT_EQ(h->eng->state(id), conn_state::fin_wait_2);
    EXPECT_FALSE(h->eng->fin_pending()) << "our FIN is acknowledged";
    h->push(p, ref(0, 80)); // the peer may still send
    EXPECT_EQ(h->streams[p.stream].data, ref(0, 80));
    r = h->push(p, "", f::ack | f::fin);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].flags, f::ack);
    EXPECT_EQ(r[0].ack, p.nxt);
    EXPECT_EQ(r[0].seq, p.iss + 2);
    EXPECT_EQ(h->eng->state(id), conn_state::time_wait);
    EXPECT_TRUE(h->streams[p.stream].ended);
    const uint64_t t0 = h->now;
    // A retransmitted FIN in TIME-WAIT is ACKed and restarts it.
    h->now = t0 + 1000 * ms;
    r = h->send(p.seg(f::ack | f::fin, p.nxt - 1));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].ack, p.nxt);
    EXPECT_TRUE(h->poll_at(t0 + 2999 * ms).empty());
    EXPECT_EQ(h->eng->state(id), conn_state::time_wait);
    h->poll_at(t0 + 3000 * ms);
    EXPECT_EQ(h->eng->state(id), conn_state::closed);
    EXPECT_EQ(h->eng->counters().closed.get(), 1u);
}

TEST_F(Engine, OurFinRetransmittedThenReset) {
    peer p = connected();
    const conn_id id = h->id(p);
    const uint64_t t0 = h->now;
    ASSERT_TRUE(h->eng->close(id, t0));
    h->eng->flush();
    ASSERT_EQ(h->take().size(), 1u);
    // 200 ms, doubling: retransmissions at 0.2, 0.6, 1.4, 3.0, 6.2 s; the reset at 12.6 s.
    const uint64_t at[] = {200, 600, 1400, 3000, 6200};
    for (uint64_t a : at) {
        EXPECT_TRUE(h->poll_at(t0 + a * ms - 1).empty()) << a;
        auto r = h->poll_at(t0 + a * ms);
        ASSERT_EQ(r.size(), 1u) << a;
        EXPECT_EQ(r[0].flags, f::ack | f::fin);
        EXPECT_EQ(r[0].seq, p.iss + 1);
    }
    EXPECT_TRUE(h->poll_at(t0 + 12600 * ms - 1).empty());
    auto r = h->poll_at(t0 + 12600 * ms);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].flags, f::rst | f::ack);
    EXPECT_EQ(r[0].seq, p.iss + 2);
    EXPECT_EQ(h->eng->counters().fin_retransmits.get(), 5u);
    EXPECT_EQ(h->eng->counters().reset_out.get(), 1u);
    EXPECT_TRUE(h->streams[p.stream].ended);
    EXPECT_EQ(h->streams[p.stream].why, end_reason::reset_out);
    EXPECT_EQ(h->eng->connections(), 0u);
}

TEST_F(Engine, FinWait2Timeout) {
    peer p = connected();
    ASSERT_TRUE(h->eng->close(h->id(p), h->now));
    h->eng->flush();
    h->take();
    p.una = p.iss + 2;
    h->send(p.seg(f::ack, p.nxt));
    const uint64_t t0 = h->now;
    EXPECT_TRUE(h->poll_at(t0 + 60 * sec - 1).empty());
    auto r = h->poll_at(t0 + 60 * sec);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].flags, f::rst | f::ack);
    EXPECT_EQ(h->eng->counters().reset_out.get(), 1u);
    EXPECT_EQ(h->streams[p.stream].why, end_reason::reset_out);
}

TEST_F(Engine, OutOfOrderFinWaitsForTheHole) {
    peer p = connected();
    const uint32_t b = p.nxt;
    auto r = h->send(p.seg(f::ack | f::fin, b + 100, ref(100, 200)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].flags, f::ack);
    EXPECT_FALSE(h->streams[p.stream].ended);
    r = h->send(p.seg(f::ack, b, ref(0, 100)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].flags, f::ack | f::fin);
    EXPECT_EQ(r[0].ack, b + 201);
    EXPECT_EQ(h->streams[p.stream].data, ref(0, 200));
    EXPECT_TRUE(h->streams[p.stream].ended);
}

TEST_F(Engine, IdleTimeoutClosesAndActivityPostponesIt) {
    h->cfg.idle_timeout_s = 10;
    peer p = connected();
    const uint64_t t0 = h->now;
    h->now = t0 + 5 * sec;
    h->push(p, ref(0, 10));
    h->poll_at(h->now + ms); // its delayed ACK
    EXPECT_TRUE(h->poll_at(t0 + 15 * sec - 1).empty());
    auto r = h->poll_at(t0 + 15 * sec);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].flags, f::ack | f::fin);
    EXPECT_EQ(h->eng->counters().timed_out.get(), 1u);
    EXPECT_EQ(h->eng->state(h->id(p)), conn_state::fin_wait_1);
}

// ---- RST, SYN and ACK validation (RFC 5961) ----

TEST_F(Engine, ResetExactInWindowAndOutside) {
    h->cfg.challenge_acks_per_s = 2;
    peer p = connected();
    h->push(p, ref(0, 10));
    h->poll_at(h->now + ms);
    auto r = h->send(p.seg(f::rst, p.nxt + 1000000));
    EXPECT_TRUE(r.empty()) << "outside the window: dropped silently";
    for (int i = 0; i < 3; ++i) {
        r = h->send(p.seg(f::rst, p.nxt + 10));
        if (i < 2) {
            ASSERT_EQ(r.size(), 1u) << "in the window, not exact: challenge ACK";
            EXPECT_EQ(r[0].flags, f::ack);
            EXPECT_EQ(r[0].ack, p.nxt);
        } else {
            EXPECT_TRUE(r.empty()) << "over challenge_acks_per_s";
        }
    }
    EXPECT_EQ(h->eng->counters().challenge_acks_limited.get(), 1u);
    h->now += sec; // a new second, a new budget
    EXPECT_EQ(h->send(p.seg(f::rst, p.nxt + 10)).size(), 1u);
    EXPECT_EQ(h->outcome(seg_outcome::rst_challenged), 4u);
    EXPECT_EQ(h->outcome(seg_outcome::rst_ignored), 1u);
    EXPECT_FALSE(h->streams[p.stream].ended);
    EXPECT_TRUE(h->send(p.seg(f::rst, p.nxt)).empty());
    EXPECT_TRUE(h->streams[p.stream].ended);
    EXPECT_EQ(h->streams[p.stream].why, end_reason::reset_in);
    EXPECT_EQ(h->eng->counters().reset_in.get(), 1u);
    EXPECT_EQ(h->eng->connections(), 0u);
}

TEST_F(Engine, SynOnAnOpenConnectionEarnsAChallengeAck) {
    peer p = connected();
    tcp_spec s = p.seg(f::syn, 123456);
    s.ack = 0;
    auto r = h->send(s);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].flags, f::ack);
    EXPECT_EQ(r[0].ack, p.nxt);
    EXPECT_EQ(h->eng->connections(), 1u);
    EXPECT_EQ(h->outcome(seg_outcome::syn_challenged), 1u);
    EXPECT_EQ(h->eng->counters().challenge_acks.get(), 1u);
}

TEST_F(Engine, AckOfWhatWasNeverSentOrNoAckBit) {
    peer p = connected();
    tcp_spec s = p.seg(f::ack, p.nxt, ref(0, 10));
    s.ack = p.una + 1000;
    auto r = h->send(s);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].ack, p.nxt);
    EXPECT_EQ(h->outcome(seg_outcome::bad_ack), 1u);
    EXPECT_TRUE(h->streams[p.stream].data.empty());
    EXPECT_TRUE(h->send(p.seg(f::psh, p.nxt, ref(0, 10))).empty());
    EXPECT_EQ(h->outcome(seg_outcome::no_ack), 1u);
    EXPECT_TRUE(h->streams[p.stream].data.empty());
}

TEST_F(Engine, PawsRejectsAnOlderTimestamp) {
    peer p = connected(t::opt_ts(5000, 0));
    p.tsval = 6000;
    h->push(p, ref(0, 10));
    p.tsval = 5500;
    auto r = h->send(p.seg(f::ack, p.nxt, ref(10, 20)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].ack, p.nxt);
    EXPECT_EQ(r[0].ts_ecr, 6000u) << "TS.Recent is the newest in-order timestamp";
    EXPECT_EQ(h->outcome(seg_outcome::paws), 1u);
    EXPECT_EQ(h->streams[p.stream].data, ref(0, 10));
}

TEST_F(Engine, KeepaliveProbesAreAnswered) {
    peer p = connected();
    h->push(p, ref(0, 10));
    h->poll_at(h->now + ms);
    for (const std::string& garbage : {std::string(), std::string("x")}) {
        auto r = h->send(p.seg(f::ack, p.nxt - 1, garbage));
        ASSERT_EQ(r.size(), 1u);
        EXPECT_EQ(r[0].ack, p.nxt);
        EXPECT_EQ(r[0].seq, p.iss + 1);
    }
    EXPECT_EQ(h->outcome(seg_outcome::keepalive), 2u);
    EXPECT_EQ(h->streams[p.stream].data, ref(0, 10));
}

// ---- no connection ----

TEST_F(Engine, ClosedPortsAndStraySegments) {
    h->make();
    peer p = client();
    p.base.dport = 80;
    tcp_spec s = p.seg(f::syn, 7000);
    auto r = h->send(s);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].flags, f::rst | f::ack);
    EXPECT_EQ(r[0].seq, 0u);
    EXPECT_EQ(r[0].ack, 7001u);
    s = p.seg(f::ack, 7000, "abc");
    s.ack = 99;
    r = h->send(s);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].flags, f::rst);
    EXPECT_EQ(r[0].seq, 99u);
    s = p.seg(f::fin, 7000, "abc");
    r = h->send(s);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].ack, 7004u) << "SEG.SEQ + SEG.LEN, the FIN counted";
    EXPECT_TRUE(h->send(p.seg(f::rst, 7000)).empty());
    EXPECT_EQ(h->outcome(seg_outcome::no_connection), 3u);
    EXPECT_EQ(h->outcome(seg_outcome::rst_ignored), 1u);
    // To the listening port: no SYN, no ACK: dropped; SYN-ACK: RST; SYN+FIN: dropped.
    peer q = client();
    EXPECT_TRUE(h->send(q.seg(f::fin, 1)).empty());
    s = q.seg(f::syn | f::ack, 1);
    s.ack = 555;
    r = h->send(s);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].flags, f::rst);
    EXPECT_EQ(r[0].seq, 555u);
    EXPECT_TRUE(h->send(q.seg(f::syn | f::fin, 1)).empty());
    EXPECT_EQ(h->outcome(seg_outcome::bad_flags), 1u);
    EXPECT_EQ(h->eng->connections(), 0u);
}

TEST_F(Engine, MalformedSegmentsAreCountedAndIgnored) {
    peer p = connected();
    tcp_spec s = p.seg(f::ack, p.nxt, ref(0, 10));
    s.csum = t::csum_kind::bad;
    EXPECT_TRUE(h->send(s).empty());
    s.csum = t::csum_kind::partial; // only where the port accepts it
    EXPECT_TRUE(h->send(s).empty());
    s.csum = t::csum_kind::good;
    s.doff_words = 4;
    EXPECT_TRUE(h->send(s).empty());
    s.doff_words = 15;
    EXPECT_TRUE(h->send(s).empty());
    s.doff_words = -1;
    s.options = {3, 0, 0, 0};
    EXPECT_TRUE(h->send(s).empty());
    EXPECT_EQ(h->outcome(seg_outcome::bad_checksum), 2u);
    EXPECT_EQ(h->outcome(seg_outcome::bad_header), 2u);
    EXPECT_EQ(h->outcome(seg_outcome::bad_options), 1u);
    EXPECT_TRUE(h->streams[p.stream].data.empty());
    h->push(p, ref(0, 10));
    EXPECT_EQ(h->streams[p.stream].data, ref(0, 10));
}

// ---- bounds ----

TEST_F(Engine, SynFloodKeepsNoState) {
    h->make();
    for (uint32_t i = 0; i < 3000; ++i) {
        peer p = client(i % 2 == 0 ? 4 : 6, static_cast<uint16_t>(1024 + i % 50000),
                        static_cast<uint16_t>(i / 7));
        tcp_spec s = p.seg(f::syn, i * 7919);
        s.ack = 0;
        s.options = t::cat({t::opt_mss(1460), t::opt_sack_ok(), t::opt_ts(i, 0), t::opt_ws(7)});
        h->input(s);
        if (h->sent.size() >= 256) {
            h->take();
        }
    }
    h->eng->flush();
    h->take();
    EXPECT_EQ(h->eng->connections(), 0u);
    EXPECT_EQ(h->eng->held_mbufs(), 0u);
    EXPECT_EQ(h->eng->counters().cookies_sent.get(), 3000u);
    EXPECT_EQ(h->eng->counters().tx_syn_ack.get(), 3000u);
}

TEST_F(Engine, FullTableRefusesAndRecyclesTimeWait) {
    h->cfg.max_conns = 2;
    h->make();
    peer a = client(4, 40001);
    peer b = client(4, 40002);
    peer late = client(4, 40003);
    h->connect(a);
    h->syn(late); // its cookie predates the full table
    h->connect(b);
    auto r = h->send(late.seg(f::ack, late.nxt));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].flags, f::rst);
    peer c = client(4, 40004);
    tcp_spec s = c.seg(f::syn, c.isn);
    s.ack = 0;
    r = h->send(s);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].flags, f::rst | f::ack) << "refused at once";
    EXPECT_EQ(r[0].ack, c.isn + 1);
    EXPECT_EQ(h->eng->counters().refused.get(), 2u);
    EXPECT_EQ(h->outcome(seg_outcome::refused), 2u);
    // a goes to TIME-WAIT (we closed first); its slot is taken by the next client.
    ASSERT_NO_FATAL_FAILURE(h->to_time_wait(a));
    h->connect(c);
    EXPECT_EQ(h->eng->connections(), 2u);
    EXPECT_EQ(h->eng->state(h->id(a)), conn_state::closed);
    EXPECT_EQ(h->eng->counters().closed.get(), 1u);
}

// A RST in TIME-WAIT (at the expected sequence) ends TIME-WAIT early, as Linux does without
// tcp_rfc1337; both FINs were exchanged and every byte delivered, so the connection counts as
// closed, not as reset by the peer, and its stream keeps its fin end.
TEST_F(Engine, ResetInTimeWaitCountsAsClosed) {
    peer p = connected();
    const conn_id id = h->id(p);
    ASSERT_NO_FATAL_FAILURE(h->to_time_wait(p));
    ASSERT_TRUE(h->streams[p.stream].ended);
    EXPECT_TRUE(h->send(p.seg(f::rst, p.nxt)).empty());
    EXPECT_EQ(h->eng->state(id), conn_state::closed);
    EXPECT_EQ(h->streams[p.stream].why, end_reason::fin);
    EXPECT_EQ(h->outcome(seg_outcome::rst_accepted), 1u);
    const logagg::tcp::stats& st = h->eng->counters();
    EXPECT_EQ(st.reset_in.get(), 0u);
    EXPECT_EQ(st.closed.get(), 1u);
    EXPECT_EQ(st.accepted.get(),
              st.open.get() + st.closed.get() + st.reset_in.get() + st.reset_out.get());
    EXPECT_EQ(h->eng->connections(), 0u);
}

TEST_F(Engine, TimeWaitReopenedByANewerSyn) {
    peer a = connected();
    ASSERT_NO_FATAL_FAILURE(h->to_time_wait(a));
    // An older SYN is challenged, a newer one answered with a SYN-ACK.
    tcp_spec s = a.seg(f::syn, a.nxt - 100);
    s.ack = 0;
    auto r = h->send(s);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].flags, f::ack);
    peer again = client();
    again.isn = a.nxt + 100000;
    const reply sa = h->syn(again);
    EXPECT_EQ(sa.flags, f::syn | f::ack);
    EXPECT_EQ(h->eng->connections(), 0u);
    h->send(again.seg(f::ack, again.nxt));
    EXPECT_EQ(h->eng->connections(), 1u);
    EXPECT_EQ(h->streams.size(), 2u);
}

TEST_F(Engine, OutOfOrderBoundsPerConnectionAndEngine) {
    h->cfg.ooo_per_conn = 2;
    h->cfg.ooo_per_engine = 3;
    h->make();
    peer a = client(4, 40001);
    peer b = client(4, 40002);
    h->connect(a, t::opt_sack_ok());
    h->connect(b, t::opt_sack_ok());
    const uint32_t ab = a.nxt;
    h->send(a.seg(f::ack, ab + 100, ref(100, 200)));
    h->send(a.seg(f::ack, ab + 300, ref(300, 400)));
    auto r = h->send(a.seg(f::ack, ab + 500, ref(500, 600)));
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].sack.size(), 2u) << "what was not kept is not SACKed";
    EXPECT_EQ(h->outcome(seg_outcome::ooo_full), 1u);
    EXPECT_EQ(h->eng->held_mbufs(h->id(a)), 2u);
    const uint32_t bb = b.nxt;
    h->send(b.seg(f::ack, bb + 100, ref(100, 200)));
    h->send(b.seg(f::ack, bb + 300, ref(300, 400))); // the engine's third: full
    EXPECT_EQ(h->outcome(seg_outcome::ooo_full), 2u);
    EXPECT_EQ(h->eng->held_mbufs(), 3u);
    // A segment that replaces a held run fits even when the bounds are reached.
    h->send(a.seg(f::ack, ab + 100, ref(100, 400)));
    EXPECT_EQ(h->eng->held_mbufs(h->id(a)), 2u) << "[100,200) kept, [200,400) replaced [300,400)";
    EXPECT_EQ(h->outcome(seg_outcome::out_of_order), 4u);
    h->send(a.seg(f::ack, ab, ref(0, 100)));
    EXPECT_EQ(h->streams[a.stream].data, ref(0, 400));
    // abort_all() at the deadline: RSTs, end() for everyone, every mbuf back.
    h->eng->abort_all(h->now);
    EXPECT_EQ(h->take().size(), 2u);
    EXPECT_EQ(h->eng->held_mbufs(), 0u);
    EXPECT_EQ(h->end_calls, 2u);
}

TEST_F(Engine, ReferencesHeldByTheConsumerOutliveTheEngine) {
    peer p = connected();
    h->streams[p.stream].hold = true;
    h->send(p.seg(f::ack, p.nxt + 100, ref(100, 200)));
    h->push(p, ref(0, 100));
    ASSERT_EQ(h->streams[p.stream].held.size(), 2u);
    // The engine goes first (TearDown frees the consumer's references after it).
    h->eng->abort_all(h->now);
    h->take();
    for (rte_mbuf* m : h->streams[p.stream].held) {
        EXPECT_EQ(rte_mbuf_refcnt_read(m), 1) << "exactly the consumer's reference";
    }
}

} // namespace

namespace {

/// docs/tcp.md, read whole.
std::string tcp_doc() {
    std::FILE* f = std::fopen(LOGAGG_TCP_DOC, "rb");
    if (f == nullptr) {
        ADD_FAILURE() << "cannot open " << LOGAGG_TCP_DOC;
        return {};
    }
    std::string s;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
        s.append(buf, n);
    }
    std::fclose(f);
    return s;
}

TEST(EngineMemory, BytesPerConnectionAndOooEntryAsDocumented) {
    // docs/tcp.md states both figures in bold: they must be the ones the code has.
    const std::string doc = tcp_doc();
    EXPECT_NE(doc.find("**" + std::to_string(engine::bytes_per_connection()) + " bytes** per slot"),
              std::string::npos)
        << "docs/tcp.md must state " << engine::bytes_per_connection() << " bytes per slot";
    EXPECT_NE(
        doc.find("**" + std::to_string(engine::bytes_per_ooo_entry()) + " bytes** per pool entry"),
        std::string::npos)
        << "docs/tcp.md must state " << engine::bytes_per_ooo_entry() << " bytes per entry";
    // And the bound stays what the slot was designed for: a few cache lines.
    EXPECT_LE(engine::bytes_per_connection(), 256u);
}

TEST(EngineCounters, EveryCounterIsDocumented) {
    // The counters table of docs/tcp.md names every counter for_each_counter() reports, in the
    // row of its group; no two counters share a name.
    const std::string doc = tcp_doc();
    logagg::tcp::stats st;
    std::vector<std::string> seen;
    logagg::tcp::for_each_counter(st, [&](std::string_view group, std::string_view name, uint64_t) {
        const std::string row = "| `" + std::string(group) + "` |";
        const auto at = doc.find(row);
        ASSERT_NE(at, std::string::npos) << "no row for group " << group;
        const auto end = doc.find('\n', at);
        const std::string line = doc.substr(at, end - at);
        EXPECT_NE(line.find("`" + std::string(name) + "`"), std::string::npos)
            << group << "." << name << " is not in docs/tcp.md";
        const std::string full = std::string(group) + "." + std::string(name);
        EXPECT_EQ(std::count(seen.begin(), seen.end(), full), 0) << full << " twice";
        seen.push_back(full);
    });
}

} // namespace
