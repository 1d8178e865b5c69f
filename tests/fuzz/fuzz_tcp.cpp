// SPDX-License-Identifier: BSD-3-Clause
// The TCP engine driven by a program of operations decoded from the input: segments from a few
// clients (handshakes that use the cookies the engine really sent, data at fuzzed offsets with
// bytes that are a function of their sequence number, fuzzed flags, options, checksums, data
// offsets and chain splits, and raw garbage), time steps, consumer room (and admission) changes,
// polls, close and abort calls, the consumer releasing what it holds. After every operation: each
// segment counted under exactly one outcome, the connection counters balance, the engine's mbufs
// within its bounds, and the pool's in-use count equal to what the engine and the consumer hold.
// Every byte delivered must be the byte the client sent at that stream position (so each stream
// position is delivered once and in order, and the bytes_delivered counter is their sum), and no
// ACK names a byte the consumer has not been given. At the end everything is released. EAL runs in
// memory (no hugepages) with one pool.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "common/tcp_frames.hpp"
#include "tcp/engine.hpp"

namespace {

namespace t = logagg::testing;
namespace tf = t::tcpf;
using logagg::tcp::conn_id;
using logagg::tcp::engine;

rte_mempool* g_pool = nullptr;
/// FUZZ_TCP_DEBUG set: print each input's counters (to see what a seed reaches).
bool g_debug = false;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::fprintf(stderr, "fuzz_tcp: check failed at line %d: %s\n", __LINE__, #cond);      \
            std::abort();                                                                          \
        }                                                                                          \
    } while (0)

/// The byte a client sends at sequence number @p s: any two segments agree on shared bytes.
uint8_t stream_byte(uint32_t s) {
    return static_cast<uint8_t>((s * 131u) ^ (s >> 9) ^ 0x5a);
}

struct reader {
    const uint8_t* p;
    size_t n;
    size_t i = 0;
    [[nodiscard]] bool done() const { return i >= n; }
    uint8_t u8() { return i < n ? p[i++] : 0; }
    uint16_t u16() { return static_cast<uint16_t>(u8() << 8 | u8()); }
    uint32_t u32() { return uint32_t{u16()} << 16 | u16(); }
};

constexpr unsigned n_clients = 5;
/// Source port of garbage segments (op 14); no client uses it.
constexpr uint16_t garbage_port = 2000;
constexpr std::size_t max_held_by_consumer = 48;

struct client {
    int ip = 4;
    uint16_t sport = 0;
    uint16_t dport = 514;
    uint16_t src_id = 0;
    uint32_t isn = 0;
    uint32_t iss = 0; ///< from the last SYN-ACK the engine sent to this client
    bool have_iss = false;
    uint32_t tsval = 1;
};

struct conn_rec {
    conn_id id;
    bool checked = true; ///< a client's connection: its bytes are stream_byte() of their position
    uint32_t irs = 0;
    uint64_t delivered = 0;
    uint32_t room = 1u << 20;
    uint64_t admit = UINT64_MAX; ///< bytes consumer::admit still lets through
    bool ended = false;
    int ip = 4;
    uint16_t remote_port = 0;
    uint8_t remote_ip[16] = {};
};

struct world {
    client clients[n_clients];
    std::vector<conn_rec> conns;
    std::vector<rte_mbuf*> held; ///< references the consumer keeps
    uint32_t default_room = 1u << 20;
    uint64_t default_admit = UINT64_MAX;
};

uint64_t on_open(void* ctx, conn_id id, const logagg::tcp::conn_info& info) noexcept {
    auto* w = static_cast<world*>(ctx);
    conn_rec r;
    r.id = id;
    r.irs = info.irs;
    r.checked = info.path.remote_port != garbage_port;
    r.room = w->default_room;
    r.admit = w->default_admit;
    r.ip = info.path.ip_version;
    r.remote_port = info.path.remote_port;
    std::memcpy(r.remote_ip, info.path.remote_ip, sizeof r.remote_ip);
    w->conns.push_back(r);
    return w->conns.size() - 1;
}

void on_data(void* ctx, conn_id id, uint64_t user, const logagg::tcp::piece* p,
             uint32_t n) noexcept {
    auto* w = static_cast<world*>(ctx);
    CHECK(user < w->conns.size());
    conn_rec& r = w->conns[user];
    CHECK(r.id == id);
    CHECK(!r.ended);
    CHECK(n > 0);
    for (uint32_t i = 0; i < n; ++i) {
        CHECK(p[i].len > 0);
        CHECK(uint64_t{p[i].off} + p[i].len <= rte_pktmbuf_pkt_len(p[i].m));
        std::vector<uint8_t> buf(p[i].len);
        const auto* b =
            static_cast<const uint8_t*>(rte_pktmbuf_read(p[i].m, p[i].off, p[i].len, buf.data()));
        CHECK(b != nullptr);
        for (uint32_t k = 0; k < p[i].len && r.checked; ++k) {
            const auto seq = static_cast<uint32_t>(r.irs + 1 + r.delivered + k);
            CHECK(b[k] == stream_byte(seq));
        }
        r.delivered += p[i].len;
        if (w->held.size() < max_held_by_consumer) {
            w->held.push_back(p[i].m);
        } else {
            rte_pktmbuf_free(p[i].m);
        }
    }
}

uint32_t on_room(void* ctx, conn_id id, uint64_t user) noexcept {
    auto* w = static_cast<world*>(ctx);
    CHECK(user < w->conns.size() && w->conns[user].id == id && !w->conns[user].ended);
    return w->conns[user].room;
}

uint32_t on_admit(void* ctx, conn_id id, uint64_t user, const logagg::tcp::piece& p) noexcept {
    auto* w = static_cast<world*>(ctx);
    CHECK(user < w->conns.size() && w->conns[user].id == id && !w->conns[user].ended);
    CHECK(p.len > 0 && uint64_t{p.off} + p.len <= rte_pktmbuf_pkt_len(p.m));
    conn_rec& r = w->conns[user];
    const auto n = static_cast<uint32_t>(std::min<uint64_t>(p.len, r.admit));
    r.admit -= n;
    return n;
}

void on_end(void* ctx, conn_id id, uint64_t user, logagg::tcp::end_reason) noexcept {
    auto* w = static_cast<world*>(ctx);
    CHECK(user < w->conns.size() && w->conns[user].id == id);
    CHECK(!w->conns[user].ended);
    w->conns[user].ended = true;
}

/// What the engine acknowledges on a connection was delivered: a pure ACK (or FIN-ACK) names at
/// most the next byte after what the consumer got, plus the peer's FIN; SACK blocks lie beyond it.
/// Checked against every connection the 4-tuple had (a reply queued for an old one may leave after
/// a new SYN took the slot over): one of them must explain it.
void check_ack(const world& w, const t::reply& r) {
    bool known = false;
    bool explained = false;
    for (const conn_rec& c : w.conns) {
        if (c.ip != r.ip || c.remote_port != r.dport ||
            std::memcmp(c.remote_ip, r.dst, r.ip == 4 ? 4 : 16) != 0) {
            continue;
        }
        known = true;
        const uint32_t acked = r.ack - (c.irs + 1); // bytes (and FIN) acknowledged
        bool ok = acked <= c.delivered + 1;
        for (const auto& [left, right] : r.sack) {
            ok = ok && static_cast<int32_t>(left - r.ack) > 0 &&
                 static_cast<int32_t>(right - left) > 0;
        }
        explained = explained || ok;
    }
    CHECK(known);
    if (!explained || g_debug) {
        std::fprintf(stderr, "ack %u flags %x sack %zu:", r.ack, r.flags, r.sack.size());
        for (const auto& [l, rr] : r.sack) {
            std::fprintf(stderr, " %u-%u", l, rr);
        }
        std::fprintf(stderr, "\n");
        for (const conn_rec& c : w.conns) {
            std::fprintf(stderr, "  conn port %u irs %u delivered %lu ended %d\n", c.remote_port,
                         c.irs, static_cast<unsigned long>(c.delivered), c.ended);
        }
    }
    CHECK(explained);
}

void on_tx(void* ctx, rte_mbuf** pkts, uint16_t n) noexcept {
    auto* w = static_cast<world*>(ctx);
    for (uint16_t i = 0; i < n; ++i) {
        const t::reply r = t::read_reply(pkts[i]);
        CHECK(r.ok);
        CHECK(r.payload_len == 0);
        if ((r.flags & (tf::syn | tf::rst | tf::ack)) == tf::ack) {
            check_ack(*w, r);
        }
        if ((r.flags & (tf::syn | tf::ack)) == (tf::syn | tf::ack)) {
            for (client& c : w->clients) {
                if (c.sport == r.dport && r.ip == c.ip) {
                    uint8_t ip[16] = {};
                    t::client_ip(c.ip, c.src_id, ip);
                    if (std::memcmp(ip, r.dst, c.ip == 4 ? 4 : 16) == 0) {
                        c.iss = r.seq;
                        c.have_iss = true;
                    }
                }
            }
        }
        rte_pktmbuf_free(pkts[i]);
    }
}

rte_mbuf* to_mbuf(const t::bytes& frame, uint32_t extra_cut) {
    // Segments of at most 1024 bytes (the pool's mbufs hold 2048), plus one fuzzed cut.
    std::vector<uint32_t> bounds;
    for (uint32_t b = 1024; b < frame.size(); b += 1024) {
        bounds.push_back(b);
    }
    if (extra_cut != 0 && extra_cut < frame.size()) {
        bounds.push_back(extra_cut);
        std::sort(bounds.begin(), bounds.end());
        bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
    }
    bounds.push_back(static_cast<uint32_t>(frame.size()));
    rte_mbuf* head = nullptr;
    uint32_t prev = 0;
    for (uint32_t b : bounds) {
        rte_mbuf* m = rte_pktmbuf_alloc(g_pool);
        CHECK(m != nullptr);
        char* d = rte_pktmbuf_append(m, static_cast<uint16_t>(b - prev));
        CHECK(d != nullptr);
        std::memcpy(d, frame.data() + prev, b - prev);
        if (head == nullptr) {
            head = m;
        } else {
            CHECK(rte_pktmbuf_chain(head, m) == 0);
        }
        prev = b;
    }
    head->port = 0;
    return head;
}

void check_invariants(const engine& e, const world& w, const logagg::tcp::config& cfg,
                      unsigned base) {
    const auto& st = e.counters();
    uint64_t sum = 0;
    for (const auto& c : st.outcome) {
        sum += c.get();
    }
    CHECK(sum == st.segments.get());
    CHECK(st.accepted.get() ==
          st.open.get() + st.closed.get() + st.reset_in.get() + st.reset_out.get());
    CHECK(st.open.get() == e.connections());
    CHECK(e.connections() <= cfg.max_conns);
    CHECK(st.ooo_held.get() == e.held_mbufs());
    CHECK(e.held_mbufs() <= cfg.ooo_per_engine);
    uint32_t live = 0;
    uint64_t delivered = 0;
    for (const conn_rec& r : w.conns) {
        delivered += r.delivered;
        CHECK(e.held_mbufs(r.id) <= cfg.ooo_per_conn);
        if (!r.ended) {
            ++live;
            CHECK(e.state(r.id) != logagg::tcp::conn_state::closed);
        }
    }
    CHECK(live <= e.connections());
    CHECK(delivered == st.bytes_delivered.get());
    // Every mbuf out of the pool is the engine's (out-of-order segments, replies not yet
    // flushed: one segment each) or the consumer's. Frames here are at most 5 segments long.
    CHECK(e.tx_queued() < logagg::tcp::tx_batch);
    unsigned consumer_segs = e.tx_queued();
    for (const rte_mbuf* m : w.held) {
        consumer_segs += m->nb_segs;
    }
    const unsigned in_use = rte_mempool_in_use_count(g_pool);
    CHECK(in_use >= base + consumer_segs);
    const unsigned engine_segs = in_use - base - consumer_segs;
    CHECK(engine_segs >= e.held_mbufs() && engine_segs <= 5 * e.held_mbufs());
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    std::string prefix = "logagg-fuzz-tcp-" + std::to_string(getpid());
    std::vector<std::string> args{"fuzz_tcp",         "--no-huge",     "-m",   "256", "--no-pci",
                                  "--no-shconf",      "--file-prefix", prefix, "-l",  "0",
                                  "--log-level=error"};
    std::vector<char*> argv;
    for (auto& a : args) {
        argv.push_back(a.data());
    }
    if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
        std::fprintf(stderr, "fuzz_tcp: EAL init failed\n");
        std::abort();
    }
    g_pool =
        rte_pktmbuf_pool_create("fuzz_tcp", 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    CHECK(g_pool != nullptr);
    g_debug = std::getenv("FUZZ_TCP_DEBUG") != nullptr;
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) {
        return 0;
    }
    reader in{data, size};
    const unsigned base = rte_mempool_in_use_count(g_pool);
    logagg::net::listen_ports ports;
    ports.add(514);
    logagg::tcp::config cfg;
    const uint8_t shape = in.u8();
    cfg.max_conns = 1 + (shape & 3);
    cfg.ooo_per_conn = 1 + ((shape >> 2) & 3);
    cfg.ooo_per_engine = cfg.ooo_per_conn + ((shape >> 4) & 3) * 2;
    static constexpr uint32_t windows[4] = {4096, 65535, 1u << 20, 3000};
    cfg.max_window = windows[(shape >> 6) & 3];
    cfg.tsc_hz = 1'000'000'000;
    cfg.idle_timeout_s = 10;
    cfg.fin_tries = 3;
    cfg.fin_wait2_s = 5;
    cfg.challenge_acks_per_s = 8;
    cfg.tx_pool = g_pool;
    cfg.listeners = &ports;
    cfg.test_seed = 7;
    world w;
    w.conns.reserve(64);
    static const client templ[n_clients] = {
        {4, 1000, 514, 0, 0, 0, false, 1}, {4, 1001, 514, 0, 0, 0, false, 1},
        {6, 1000, 514, 0, 0, 0, false, 1}, {4, 1000, 514, 1, 0, 0, false, 1},
        {4, 1002, 80, 0, 0, 0, false, 1},
    };
    for (unsigned i = 0; i < n_clients; ++i) {
        w.clients[i] = templ[i];
    }
    logagg::tcp::consumer cons;
    cons.ctx = &w;
    cons.open = on_open;
    cons.data = on_data;
    cons.room = on_room;
    cons.end = on_end;
    cons.admit = on_admit;
    uint64_t now = 3 * 1'000'000'000ULL;
    {
        const std::unique_ptr<engine> made = engine::create(cfg, cons, on_tx, &w).value();
        engine& e = *made;
        unsigned ops = 0;
        while (!in.done() && ops++ < 256) {
            const uint8_t op = in.u8();
            if (g_debug) {
                std::fprintf(stderr, "op %02x at %zu\n", op, in.i - 1);
            }
            client& c = w.clients[(op >> 4) % n_clients];
            auto find_conn = [&]() -> conn_rec* {
                for (auto it = w.conns.rbegin(); it != w.conns.rend(); ++it) {
                    if (!it->ended && e.state(it->id) != logagg::tcp::conn_state::closed) {
                        return &*it;
                    }
                }
                return nullptr;
            };
            switch (op & 15) {
            case 0:
            case 1:
            case 2:
            case 3:
            case 4:
            case 5: { // a segment from client c
                t::tcp_spec s;
                s.ip = c.ip;
                s.sport = c.sport;
                s.dport = c.dport;
                s.src_id = c.src_id;
                s.pad = false;
                const uint8_t kind = in.u8();
                const uint8_t fl = in.u8();
                if ((op & 15) == 0) { // SYN with a fuzzed option set
                    c.isn = in.u32();
                    s.flags = tf::syn | (fl & (tf::fin | tf::ack | tf::rst | tf::psh));
                    s.seq = c.isn;
                    if (kind & 1) {
                        s.options = t::cat({s.options, t::opt_mss(1460)});
                    }
                    if (kind & 2) {
                        s.options = t::cat({s.options, t::opt_ws(kind >> 4)});
                    }
                    if (kind & 4) {
                        s.options = t::cat({s.options, t::opt_sack_ok()});
                    }
                    if (kind & 8) {
                        s.options = t::cat({s.options, t::opt_ts(c.tsval, 0)});
                    }
                } else {
                    s.flags = fl;
                    // Sequence: relative to the client's first byte (the common case), or any.
                    const auto rel = static_cast<int16_t>(in.u16());
                    s.seq = (kind & 0x80) != 0 ? in.u32()
                                               : c.isn + 1 + static_cast<uint32_t>(rel) * 16u;
                    const uint8_t am = in.u8();
                    s.ack = (am & 0xc0) == 0xc0 ? in.u32() : c.iss + 1 + (am & 3);
                    const uint32_t len =
                        (kind & 0x40) != 0 ? uint32_t{in.u8()} * 12u : uint32_t{in.u8()} % 40u;
                    for (uint32_t k = 0; k < len; ++k) {
                        s.payload.push_back(static_cast<char>(stream_byte(s.seq + k)));
                    }
                    if ((kind & 0x20) != 0) {
                        c.tsval += in.u8() % 4; // mostly increasing, sometimes not
                        if ((kind & 0x08) != 0) {
                            c.tsval -= 3;
                        }
                        s.options = t::opt_ts(c.tsval, 0);
                    }
                    if ((kind & 0x10) != 0) { // SACK blocks a client might send, or junk
                        const uint8_t n = in.u8() % 4;
                        t::bytes sack{1, 1, 5, static_cast<uint8_t>(2 + 8 * n)};
                        for (uint8_t k = 0; k < n * 8; ++k) {
                            sack.push_back(in.u8());
                        }
                        if (s.options.size() + sack.size() <= 40) {
                            s.options = t::cat({s.options, sack});
                        }
                    }
                }
                if ((op & 15) == 5) { // corruption of one kind
                    switch (in.u8() % 5) {
                    case 0:
                        s.csum = t::csum_kind::bad;
                        break;
                    case 1:
                        // Below 5 words only: a larger wrong offset can make a valid segment
                        // whose payload starts elsewhere, and the stream check would blame the
                        // engine for bytes the segment really carries.
                        s.doff_words = in.u8() % 5;
                        break;
                    case 2: {
                        const uint8_t n = in.u8() % 12;
                        s.options.clear();
                        for (uint8_t k = 0; k < n; ++k) {
                            s.options.push_back(in.u8());
                        }
                        break;
                    }
                    case 3:
                        s.csum = t::csum_kind::partial;
                        break;
                    default:
                        s.flags = in.u8();
                        break;
                    }
                }
                const t::tcp_built b = t::build_tcp_frame(s);
                logagg::net::tcp_locator at;
                at.l3_off = b.l3_off;
                at.l4_off = b.l4_off;
                at.l4_len = b.l4_len;
                at.ip_version = static_cast<uint8_t>(s.ip);
                at.accept_partial = (kind & 4) != 0;
                e.input(to_mbuf(b.frame, in.u8() % 4 == 0 ? in.u16() % 1200 : 0), at, now);
                if ((fl & 0x40) != 0) {
                    e.flush(); // else the replies wait for the next poll or a full batch
                }
                break;
            }
            case 6: // the final ACK of a handshake, with the cookie it got
                if (c.have_iss) {
                    t::tcp_spec s;
                    s.ip = c.ip;
                    s.sport = c.sport;
                    s.dport = c.dport;
                    s.src_id = c.src_id;
                    s.seq = c.isn + 1;
                    s.ack = c.iss + 1;
                    s.flags = tf::ack;
                    s.options = t::opt_ts(c.tsval, 0);
                    if ((in.u8() & 1) != 0) {
                        s.options.clear();
                    }
                    const t::tcp_built b = t::build_tcp_frame(s);
                    logagg::net::tcp_locator at;
                    at.l3_off = b.l3_off;
                    at.l4_off = b.l4_off;
                    at.l4_len = b.l4_len;
                    at.ip_version = static_cast<uint8_t>(s.ip);
                    e.input(to_mbuf(b.frame, 0), at, now);
                }
                break;
            case 7: { // time passes
                const uint8_t step = in.u8();
                now += (step & 0x80) != 0 ? static_cast<uint64_t>(step & 0x7f) * 100'000'000ULL
                                          : uint64_t{step} * 50'000ULL;
                break;
            }
            case 8: { // the consumer's room changes, and so what it admits from now on
                static constexpr uint32_t rooms[6] = {0, 100, 1460, 4000, 70000, 1u << 20};
                const uint32_t room = rooms[in.u8() % 6];
                const uint64_t admit = room == (1u << 20) ? UINT64_MAX : room;
                if (conn_rec* r = find_conn()) {
                    r->room = room;
                    r->admit = admit;
                } else {
                    w.default_room = room;
                    w.default_admit = admit;
                }
                break;
            }
            case 9:
            case 10:
                e.poll(now);
                break;
            case 11:
                if (conn_rec* r = find_conn()) {
                    (void)e.close(r->id, now);
                }
                break;
            case 12:
                if ((in.u8() & 3) == 0) {
                    if (conn_rec* r = find_conn()) {
                        (void)e.abort(r->id, now);
                    }
                }
                break;
            case 13: { // the consumer lets go of some references
                const std::size_t n = std::min<std::size_t>(in.u8() % 16, w.held.size());
                for (std::size_t k = 0; k < n; ++k) {
                    rte_pktmbuf_free(w.held[k]);
                }
                w.held.erase(w.held.begin(), w.held.begin() + static_cast<long>(n));
                break;
            }
            case 14: { // garbage where a TCP header should be (a valid IPv4 frame around it)
                const uint8_t n = in.u8() % 64;
                t::tcp_spec s;
                s.dport = 514;
                s.sport = garbage_port;
                t::tcp_built b = t::build_tcp_frame(s);
                b.frame.resize(b.l4_off);
                for (uint8_t k = 0; k < n; ++k) {
                    b.frame.push_back(in.u8());
                }
                // From a port no client uses: garbage may open a connection (the fuzzer can
                // solve the cookie comparison), and its bytes are not a client's stream.
                if (n >= 4) {
                    b.frame[b.l4_off] = garbage_port >> 8;
                    b.frame[b.l4_off + 1] = garbage_port & 0xff;
                    b.frame[b.l4_off + 2] = 514 >> 8;
                    b.frame[b.l4_off + 3] = 514 & 0xff;
                }
                logagg::net::tcp_locator at;
                at.l3_off = b.l3_off;
                at.l4_off = b.l4_off;
                at.l4_len = n;
                at.ip_version = 4;
                at.verify_checksum = (n & 1) != 0;
                t::bytes frame = b.frame;
                if (frame.size() < 60) {
                    frame.resize(60, 0);
                }
                e.input(to_mbuf(frame, 0), at, now);
                break;
            }
            default:
                if ((in.u8() & 7) == 0) {
                    e.close_all(now);
                }
                break;
            }
            check_invariants(e, w, cfg, base);
        }
        if (g_debug) {
            logagg::tcp::for_each_counter(
                e.counters(), [](std::string_view g, std::string_view n, uint64_t v) {
                    if (v != 0) {
                        std::fprintf(stderr, "%.*s.%.*s=%llu ", static_cast<int>(g.size()),
                                     g.data(), static_cast<int>(n.size()), n.data(),
                                     static_cast<unsigned long long>(v));
                    }
                });
            std::fprintf(stderr, "\n");
        }
        e.abort_all(now);
        for (const conn_rec& r : w.conns) {
            CHECK(r.ended);
        }
        CHECK(e.held_mbufs() == 0);
        CHECK(e.connections() == 0);
    }
    for (rte_mbuf* m : w.held) {
        rte_pktmbuf_free(m);
    }
    CHECK(rte_mempool_in_use_count(g_pool) == base);
    return 0;
}
