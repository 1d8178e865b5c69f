// SPDX-License-Identifier: BSD-3-Clause
// A worker_ctx writing into one sink lane (a real descriptor ring and an arena of generated
// bytes), read back as a sink reads it, for the tests of the worker and of the TCP stream framing
// that feeds it. Every test ends with the mempool as it found it.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "common/eal_env.hpp"
#include "common/meta_env.hpp"
#include "pipeline/message.hpp"
#include "pipeline/worker.hpp"

namespace logagg::testing {

/// A packet descriptor's bytes, read through the chain.
inline std::string bytes_of(const pipeline::msg_desc& d) {
    std::string out(d.len, '\0');
    const void* p = rte_pktmbuf_read(d.pkt, d.off, d.len, out.data());
    if (p != out.data()) {
        std::memcpy(out.data(), p, d.len);
    }
    return out;
}

/// A descriptor's bytes as a sink reads them: from @p arena if generated, else from the packet.
inline std::string text_of(const pipeline::msg_desc& d, const pipeline::gen_arena& arena) {
    return d.gen != 0 ? std::string(arena.base + d.off, d.len) : bytes_of(d);
}

/// The worker (w) with one sink lane: its ring, made by make_lane(), and a 1 MiB arena.
struct worker_lane_test : ::testing::Test {
    rte_ring* ring = nullptr;
    pipeline::lcore_stats stats;
    pipeline::worker_ctx w;
    pipeline::sink_lane lane;
    pipeline::gen_arena arena;
    std::vector<char> arena_bytes = std::vector<char>(1 << 20);
    pipeline::listener_table listeners;
    unsigned in_use_before = 0;

    /// Creates the lane's ring of @p size descriptors and points the worker at the lane (its
    /// only one, a default sink), the pkt_meta field and the stats.
    void make_lane(unsigned size) {
        ring = rte_ring_create_elem("test_sink", sizeof(pipeline::msg_desc), size, SOCKET_ID_ANY,
                                    RING_F_SP_ENQ | RING_F_SC_DEQ);
        ASSERT_NE(ring, nullptr);
        arena.base = arena_bytes.data();
        arena.size = static_cast<uint32_t>(arena_bytes.size());
        lane.ring = ring;
        lane.arena = &arena;
        w.lanes = {&lane};
        w.default_sinks = 1;
        w.meta_off = g_meta_off;
        w.stats = &stats;
    }
    void SetUp() override { in_use_before = rte_mempool_in_use_count(g_pool); }
    void TearDown() override {
        drain();
        rte_ring_free(ring);
        EXPECT_EQ(rte_mempool_in_use_count(g_pool), in_use_before)
            << "mbufs leaked or double-freed";
    }
    /// Dequeues everything, like the sink: bytes (from the packet or the arena), then releases.
    std::vector<std::string> drain(std::vector<pipeline::msg_desc>* descs = nullptr) {
        std::vector<std::string> out;
        pipeline::msg_desc d;
        while (ring != nullptr && rte_ring_dequeue_elem(ring, &d, sizeof d) == 0) {
            out.push_back(text_of(d, arena));
            if (descs != nullptr) {
                descs->push_back(d);
            }
            if (d.release != 0) {
                rte_pktmbuf_free(d.pkt);
            }
        }
        return out;
    }
};

} // namespace logagg::testing
