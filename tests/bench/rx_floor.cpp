// SPDX-License-Identifier: BSD-3-Clause
// The DPDK I/O floor for scripts/bench: the same EAL, port and pool set-up as logagg, then a bare
// rte_eth_rx_burst + rte_pktmbuf_free_bulk loop on one lcore until SIGINT/SIGTERM.
// Prints {"packets": N, "bytes": B, "seconds": S, "pps": X} on stdout.
#include <atomic>
#include <csignal>
#include <cstdio>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

namespace {

std::atomic<bool> g_stop{false};
uint64_t g_packets = 0;
uint64_t g_bytes = 0;

void on_signal(int) {
    g_stop.store(true, std::memory_order_relaxed);
}

int rx_loop(void*) {
    rte_mbuf* pkts[32];
    uint64_t packets = 0;
    uint64_t bytes = 0;
    while (!g_stop.load(std::memory_order_relaxed)) {
        uint16_t pid = 0;
        RTE_ETH_FOREACH_DEV(pid) {
            const uint16_t n = rte_eth_rx_burst(pid, 0, pkts, 32);
            for (uint16_t i = 0; i < n; ++i) {
                bytes += pkts[i]->pkt_len;
            }
            packets += n;
            if (n != 0) {
                rte_pktmbuf_free_bulk(pkts, n);
            }
        }
    }
    g_packets = packets;
    g_bytes = bytes;
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    if (rte_eal_init(argc, argv) < 0) {
        std::fprintf(stderr, "rx_floor: EAL init failed\n");
        return 1;
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    // Same pool geometry as logagg's default on -l 0-1 (32767 mbufs of 2176 bytes, cache 256).
    rte_mempool* pool = rte_pktmbuf_pool_create(
        "floor_pool", 32767, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, static_cast<int>(rte_socket_id()));
    if (pool == nullptr) {
        std::fprintf(stderr, "rx_floor: no pool\n");
        return 1;
    }
    uint16_t pid = 0;
    RTE_ETH_FOREACH_DEV(pid) {
        rte_eth_conf conf{};
        rte_eth_dev_info info{};
        rte_eth_dev_info_get(pid, &info);
        const uint16_t ntx = info.max_tx_queues > 0 ? 1 : 0;
        uint16_t nrx = 1024;
        uint16_t ntxd = 512;
        if (rte_eth_dev_configure(pid, 1, ntx, &conf) != 0 ||
            rte_eth_dev_adjust_nb_rx_tx_desc(pid, &nrx, &ntxd) != 0 ||
            rte_eth_rx_queue_setup(pid, 0, nrx, SOCKET_ID_ANY, nullptr, pool) != 0 ||
            (ntx != 0 && rte_eth_tx_queue_setup(pid, 0, ntxd, SOCKET_ID_ANY, nullptr) != 0) ||
            rte_eth_dev_start(pid) != 0) {
            std::fprintf(stderr, "rx_floor: port %u set-up failed\n", pid);
            return 1;
        }
    }
    const unsigned worker = rte_get_next_lcore(rte_get_main_lcore(), 1, 0);
    if (worker >= RTE_MAX_LCORE) {
        std::fprintf(stderr, "rx_floor: needs two lcores (-l 0-1)\n");
        return 2;
    }
    const uint64_t t0 = rte_rdtsc();
    rte_eal_remote_launch(rx_loop, nullptr, worker);
    rte_eal_mp_wait_lcore();
    const double secs =
        static_cast<double>(rte_rdtsc() - t0) / static_cast<double>(rte_get_tsc_hz());
    std::printf("{\"packets\": %lu, \"bytes\": %lu, \"seconds\": %.6f, \"pps\": %.1f}\n",
                static_cast<unsigned long>(g_packets), static_cast<unsigned long>(g_bytes), secs,
                static_cast<double>(g_packets) / secs);
    RTE_ETH_FOREACH_DEV(pid) {
        rte_eth_dev_stop(pid);
        rte_eth_dev_close(pid);
    }
    rte_eal_cleanup();
    return 0;
}
