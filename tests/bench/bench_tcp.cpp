// SPDX-License-Identifier: BSD-3-Clause
// ns per segment of the receive-side TCP engine (tcp::engine::input_burst, delivery to the
// consumer, the ACKs it builds and hands to TX) next to ns per datagram of the UDP path's
// classify() in the same binary, so the two transports compare within one run. The engine runs
// one established connection (handshake through its own SYN cookies) in bursts of 32 segments, as
// a worker would after rte_eth_rx_burst. The segments are 32 mbufs prepared once: before each
// burst only their sequence numbers (and checksums, incrementally) are rewritten; the consumer
// takes the pieces without copying or freeing (each mbuf carries references enough for the run),
// so what is measured is the engine, not a framer, a sink or the NIC. EAL runs in memory.
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "common/frames.hpp"
#include "common/tcp_frames.hpp"
#include "net/classify.hpp"
#include "tcp/engine.hpp"

namespace {

namespace t = logagg::testing;
using logagg::tcp::conn_id;
using logagg::tcp::engine;

rte_mempool* g_pool = nullptr;

constexpr uint16_t burst = 32;
/// The engine's clock runs at 1 GHz (ns); a burst is taken to arrive every 32 x 200 ns.
constexpr uint64_t ns_per_segment = 200;

struct sink_state {
    uint64_t bytes = 0;
    uint64_t pieces = 0;
    uint32_t iss = 0; ///< from the SYN-ACK
    bool want_iss = true;
};

uint64_t on_open(void*, conn_id, const logagg::tcp::conn_info&) noexcept {
    return 0;
}
void on_data(void* ctx, conn_id, uint64_t, const logagg::tcp::piece* p, uint32_t n) noexcept {
    auto* s = static_cast<sink_state*>(ctx);
    for (uint32_t i = 0; i < n; ++i) {
        s->bytes += p[i].len; // the reference is left on the mbuf (see the top of the file)
    }
    s->pieces += n;
}
uint32_t on_room(void*, conn_id, uint64_t) noexcept {
    return 1u << 20;
}
void on_end(void*, conn_id, uint64_t, logagg::tcp::end_reason) noexcept {}

void on_tx(void* ctx, rte_mbuf** pkts, uint16_t n) noexcept {
    auto* s = static_cast<sink_state*>(ctx);
    if (s->want_iss) { // the handshake: read the cookie back
        const t::reply r = t::read_reply(pkts[0]);
        s->iss = r.seq;
        s->want_iss = false;
    }
    rte_pktmbuf_free_bulk(pkts, n); // what a TX burst's completion does
}

rte_mbuf* to_mbuf(const t::bytes& frame) {
    rte_mbuf* m = rte_pktmbuf_alloc(g_pool);
    if (m == nullptr) {
        std::abort();
    }
    char* d = rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size()));
    std::memcpy(d, frame.data(), frame.size());
    m->port = 0;
    return m;
}

logagg::net::tcp_locator locator_of(const t::tcp_built& b, bool verify) {
    logagg::net::tcp_locator at;
    at.l3_off = b.l3_off;
    at.l4_off = b.l4_off;
    at.l4_len = b.l4_len;
    at.ip_version = 4;
    at.verify_checksum = verify;
    return at;
}

/// One engine with one established connection and 32 prepared segments of @p payload bytes.
class fixture {
public:
    fixture(uint32_t payload, bool verify) {
        ports_.add(514);
        logagg::tcp::config cfg;
        cfg.tsc_hz = 1'000'000'000;
        cfg.tx_pool = g_pool;
        cfg.listeners = &ports_;
        cfg.test_seed = 1;
        logagg::tcp::consumer cons{&st_, on_open, on_data, on_room, on_end};
        e_ = engine::create(cfg, cons, on_tx, &st_).value();
        t::tcp_spec syn;
        syn.flags = t::tcpf::syn;
        syn.seq = isn_;
        syn.options = t::cat({t::opt_mss(1460), t::opt_ws(7), t::opt_sack_ok()});
        input(t::build_tcp_frame(syn), true);
        e_->flush();
        t::tcp_spec ack;
        ack.seq = isn_ + 1;
        ack.ack = st_.iss + 1;
        input(t::build_tcp_frame(ack), true);
        if (e_->connections() != 1) {
            std::fprintf(stderr, "bench_tcp: handshake failed\n");
            std::abort();
        }
        // The data segments: the checksum is kept valid for any sequence number by adding the
        // number's two words to the sum of everything else (RFC 1624).
        t::tcp_spec d;
        d.seq = 0;
        d.ack = st_.iss + 1;
        d.flags = t::tcpf::ack | t::tcpf::psh;
        d.payload = std::string(payload, 'x');
        d.payload.back() = '\n';
        const t::tcp_built b = t::build_tcp_frame(d);
        seq_off_ = b.l4_off + 4;
        csum_off_ = b.l4_off + 16;
        base_sum_ = static_cast<uint16_t>(~(b.frame[csum_off_] << 8 | b.frame[csum_off_ + 1]));
        at_.fill(locator_of(b, verify));
        for (rte_mbuf*& m : segs_) {
            m = to_mbuf(b.frame);
            rte_mbuf_refcnt_set(m, UINT16_MAX); // the engine and the consumer never free them
        }
        payload_ = payload;
        nxt_ = isn_ + 1;
    }
    ~fixture() {
        e_->abort_all(0);
        e_.reset();
        for (rte_mbuf* m : segs_) {
            rte_mbuf_refcnt_set(m, 1);
            rte_pktmbuf_free(m);
        }
    }
    fixture(const fixture&) = delete;
    fixture& operator=(const fixture&) = delete;

    /// Writes sequence number @p seq into prepared segment @p i.
    void stamp(unsigned i, uint32_t seq) {
        auto* p = rte_pktmbuf_mtod(segs_[i], uint8_t*);
        p[seq_off_] = static_cast<uint8_t>(seq >> 24);
        p[seq_off_ + 1] = static_cast<uint8_t>(seq >> 16);
        p[seq_off_ + 2] = static_cast<uint8_t>(seq >> 8);
        p[seq_off_ + 3] = static_cast<uint8_t>(seq);
        const uint16_t c =
            static_cast<uint16_t>(~t::fold16(base_sum_ + (seq >> 16) + (seq & 0xffff)));
        p[csum_off_] = static_cast<uint8_t>(c >> 8);
        p[csum_off_ + 1] = static_cast<uint8_t>(c);
    }
    /// One burst: segment i of the burst carries stream position order[i] (0..31) of the next
    /// 32 segments; then a poll (delayed ACKs, the worker loop's timers).
    void run_burst(const std::array<uint8_t, burst>& order) {
        for (unsigned i = 0; i < burst; ++i) {
            stamp(i, nxt_ + order[i] * payload_);
        }
        now_ += burst * ns_per_segment;
        e_->input_burst(segs_.data(), at_.data(), burst, now_);
        e_->poll(now_);
        nxt_ += burst * payload_;
    }
    [[nodiscard]] const sink_state& sink() const { return st_; }
    [[nodiscard]] const engine& eng() const { return *e_; }

private:
    void input(const t::tcp_built& b, bool verify) {
        e_->input(to_mbuf(b.frame), locator_of(b, verify), now_);
    }

    logagg::net::listen_ports ports_;
    sink_state st_;
    std::unique_ptr<engine> e_;
    std::array<rte_mbuf*, burst> segs_{};
    std::array<logagg::net::tcp_locator, burst> at_{};
    uint32_t seq_off_ = 0;
    uint32_t csum_off_ = 0;
    uint16_t base_sum_ = 0;
    uint32_t payload_ = 0;
    uint32_t isn_ = 1000;
    uint32_t nxt_ = 0;
    uint64_t now_ = 1'000'000'000;
};

void report(benchmark::State& state, const fixture& f, uint64_t segments) {
    const auto& c = f.eng().counters();
    const auto got = [&](logagg::tcp::seg_outcome o) {
        return c.outcome[static_cast<std::size_t>(o)].get();
    };
    // Every segment must have been taken as new bytes, or the figure measures something else.
    if (got(logagg::tcp::seg_outcome::in_order) + got(logagg::tcp::seg_outcome::out_of_order) <
        segments) {
        state.SkipWithError("segments not accepted as new data");
    }
    state.SetItemsProcessed(static_cast<int64_t>(segments));
    state.SetBytesProcessed(static_cast<int64_t>(f.sink().bytes));
    state.counters["acks/seg"] =
        static_cast<double>(c.tx_ack.get()) / static_cast<double>(std::max<uint64_t>(segments, 1));
}

/// In order: every segment is one message (Arg 0: payload bytes; Arg 1: software checksum).
void BM_tcp_in_order(benchmark::State& state) {
    fixture f(static_cast<uint32_t>(state.range(0)), state.range(1) != 0);
    std::array<uint8_t, burst> order{};
    for (unsigned i = 0; i < burst; ++i) {
        order[i] = static_cast<uint8_t>(i);
    }
    uint64_t n = 0;
    for (auto _ : state) {
        f.run_burst(order);
        n += burst;
    }
    report(state, f, n);
}

/// Out of order: in each group of Arg 2 segments the first arrives last (the others are queued,
/// each ACKed at once with SACK blocks; the last fills the hole and delivers the group).
void BM_tcp_reorder(benchmark::State& state) {
    fixture f(static_cast<uint32_t>(state.range(0)), state.range(1) != 0);
    const auto g = static_cast<unsigned>(state.range(2));
    std::array<uint8_t, burst> order{};
    for (unsigned base = 0; base < burst; base += g) {
        for (unsigned i = 0; i + 1 < g; ++i) {
            order[base + i] = static_cast<uint8_t>(base + i + 1);
        }
        order[base + g - 1] = static_cast<uint8_t>(base);
    }
    uint64_t n = 0;
    for (auto _ : state) {
        f.run_burst(order);
        n += burst;
    }
    report(state, f, n);
}

/// The UDP path's per-datagram parse for the same message: classify() (Arg 0: payload bytes;
/// Arg 1: software IPv4 and UDP checksums), as bench_classify measures it.
void BM_udp_classify(benchmark::State& state) {
    t::spec s;
    s.payload = std::string(static_cast<std::size_t>(state.range(0)), 'x');
    const auto b = t::build(s);
    const t::chain c(b.frame);
    logagg::net::listen_ports ports;
    ports.add(514);
    const bool sw = state.range(1) != 0;
    const logagg::net::classify_options opts{sw, sw};
    logagg::net::packet_info info;
    for (auto _ : state) {
        benchmark::DoNotOptimize(logagg::net::classify(c.get(), ports, opts, info));
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations());
}

// Args: payload bytes, software checksum (1) or a NIC verdict/--no-checksum (0)[, group size].
BENCHMARK(BM_udp_classify)->Args({200, 1})->Args({200, 0})->Args({1400, 1})->Args({1400, 0});
BENCHMARK(BM_tcp_in_order)->Args({200, 1})->Args({200, 0})->Args({1400, 1})->Args({1400, 0});
BENCHMARK(BM_tcp_reorder)
    ->Args({200, 0, 2})
    ->Args({200, 0, 16})
    ->Args({1400, 0, 2})
    ->Args({1400, 0, 16});

} // namespace

int main(int argc, char** argv) {
    std::string prefix = "logagg-bench-tcp-" + std::to_string(getpid());
    std::vector<std::string> args{"bench_tcp",        "--no-huge",     "-m",   "128", "--no-pci",
                                  "--no-shconf",      "--file-prefix", prefix, "-l",  "0",
                                  "--log-level=error"};
    std::vector<char*> eal_argv;
    for (auto& a : args) {
        eal_argv.push_back(a.data());
    }
    if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
        std::fprintf(stderr, "bench_tcp: EAL init failed\n");
        return 1;
    }
    // A per-lcore cache, as the worker's pools have: ACKs are allocated and freed constantly.
    g_pool = rte_pktmbuf_pool_create("bench_tcp", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                     SOCKET_ID_ANY);
    if (g_pool == nullptr) {
        std::fprintf(stderr, "bench_tcp: no mbuf pool\n");
        return 1;
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 1;
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    rte_mempool_free(g_pool);
    rte_eal_cleanup();
    return 0;
}
