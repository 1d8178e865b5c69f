// SPDX-License-Identifier: BSD-3-Clause
// ns per frame of worker_frame_burst() for raw output (no parsing) to one file-like lane: the
// per-frame cost of framing, staging and the counters. The packets are allocated and freed in
// the timed loop too (the same work in every build compared), in bursts of 32 like the RX stage's.
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "pipeline/counters.hpp"
#include "pipeline/listener.hpp"
#include "pipeline/message.hpp"
#include "pipeline/worker.hpp"

namespace {

using logagg::pipeline::msg_desc;

/// Frames per burst: the RX stage's default burst.
constexpr unsigned burst = 32;

rte_mempool* g_pool = nullptr;
int g_meta_off = -1;

bool start_eal() {
    std::vector<std::string> args{"bench_worker",
                                  "--no-huge",
                                  "-m",
                                  "128",
                                  "--no-pci",
                                  "--no-shconf",
                                  "--file-prefix",
                                  "logagg-bench-worker-" + std::to_string(getpid()),
                                  "-l",
                                  "0",
                                  "--log-level=error"};
    std::vector<char*> argv;
    for (auto& a : args) {
        argv.push_back(a.data());
    }
    if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
        std::fprintf(stderr, "EAL init failed: %s\n", rte_strerror(rte_errno));
        return false;
    }
    g_pool =
        rte_pktmbuf_pool_create("bench_pool", 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    static const rte_mbuf_dynfield d = {"logagg_pkt_meta", sizeof(logagg::pipeline::pkt_meta),
                                        alignof(logagg::pipeline::pkt_meta), 0};
    g_meta_off = rte_mbuf_dynfield_register(&d);
    return g_pool != nullptr && g_meta_off >= 0;
}

/// A frame whose UDP payload (at offset 42) is @p payload, to port 514.
rte_mbuf* make_pkt(const std::string& payload) {
    rte_mbuf* m = rte_pktmbuf_alloc(g_pool);
    char* p = rte_pktmbuf_append(m, static_cast<uint16_t>(42 + payload.size()));
    std::memset(p, 0x55, 42);
    std::memcpy(p + 42, payload.data(), payload.size());
    auto* meta = logagg::pipeline::meta_of(m, g_meta_off);
    meta->payload_off = 42;
    meta->payload_len = static_cast<uint16_t>(payload.size());
    meta->dst_port = 514;
    meta->rx_tsc = 0;
    return m;
}

/// @p lines LF-terminated 250-byte messages per datagram.
void BM_raw_frames(benchmark::State& state) {
    const auto lines = static_cast<int>(state.range(0));
    std::string payload;
    for (int i = 0; i < lines; ++i) {
        payload += "<13>1 2026-11-27T12:00:00Z host app - - - " + std::string(206, 'x') + "\n";
    }
    rte_ring* ring = rte_ring_create_elem("bench_sink", sizeof(msg_desc), 8192, SOCKET_ID_ANY,
                                          RING_F_SP_ENQ | RING_F_SC_DEQ);
    auto stats = std::make_unique<logagg::pipeline::lcore_stats>();
    auto lane = std::make_unique<logagg::pipeline::sink_lane>();
    logagg::pipeline::gen_arena arena;
    std::vector<char> arena_bytes(1 << 20);
    arena.base = arena_bytes.data();
    arena.size = static_cast<uint32_t>(arena_bytes.size());
    lane->ring = ring;
    lane->arena = &arena;
    auto listeners = std::make_unique<logagg::pipeline::listener_table>();
    logagg::pipeline::listener l;
    l.port = 514;
    (void)listeners->add(l);
    logagg::pipeline::worker_ctx w;
    w.lanes = {lane.get()};
    w.default_sinks = 1;
    w.meta_off = g_meta_off;
    w.stats = stats.get();
    w.listeners = listeners.get();
    std::array<rte_mbuf*, burst> pkts{};
    std::array<msg_desc, 512> out{};
    for (auto _ : state) {
        for (rte_mbuf*& m : pkts) {
            m = make_pkt(payload);
        }
        logagg::pipeline::worker_frame_burst(w, pkts);
        unsigned n = 0;
        while ((n = rte_ring_dequeue_burst_elem(ring, out.data(), sizeof(msg_desc), out.size(),
                                                nullptr)) != 0) {
            for (unsigned i = 0; i < n; ++i) {
                if (out[i].release != 0) {
                    rte_pktmbuf_free(out[i].pkt);
                }
            }
        }
    }
    state.SetItemsProcessed(state.iterations() * burst);
    rte_ring_free(ring);
}
BENCHMARK(BM_raw_frames)->Arg(1)->Arg(4);

} // namespace

int main(int argc, char** argv) {
    if (!start_eal()) {
        return 1;
    }
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    rte_mempool_free(g_pool);
    rte_eal_cleanup();
    return 0;
}
