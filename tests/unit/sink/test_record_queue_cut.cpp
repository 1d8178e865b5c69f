// SPDX-License-Identifier: BSD-3-Clause
// record_queue against a real descriptor ring: records of several descriptors (a key piece, then
// the message) come out whole, also when a dequeue burst cuts one in two. EAL runs in memory.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "common/eal_env.hpp"
#include "pipeline/counters.hpp"
#include "pipeline/message.hpp"
#include "sink/record_queue.hpp"

namespace {

using logagg::pipeline::msg_desc;

const auto* const g_env =
    ::testing::AddGlobalTestEnvironment(new logagg::testing::eal_env("record_queue_cut"));

/// A generated piece at arena offset @p off (no packet: release stays 0, nothing to free).
msg_desc gen_piece(uint32_t off, uint32_t len, bool more, bool key) {
    msg_desc d{};
    d.pkt = nullptr;
    d.off = off;
    d.len = len;
    d.more = more ? 1u : 0u;
    d.gen = 1;
    d.key = key ? 1u : 0u;
    return d;
}

struct fixture : ::testing::Test {
    rte_ring* ring = nullptr;
    std::vector<char> bytes = std::vector<char>(1 << 20);
    logagg::pipeline::gen_arena arena;
    logagg::pipeline::sink_stats stats;

    void SetUp() override {
        ring = rte_ring_create_elem("test_rq_cut", sizeof(msg_desc), 1 << 14, SOCKET_ID_ANY,
                                    RING_F_SP_ENQ | RING_F_SC_DEQ);
        ASSERT_NE(ring, nullptr);
        arena.base = bytes.data();
        arena.size = static_cast<uint32_t>(bytes.size());
    }
    void TearDown() override { rte_ring_free(ring); }
};

TEST_F(fixture, RecordCutByABurstStaysWhole) {
    // One single-piece record, then keyed records of two pieces: the first 256-descriptor
    // burst ends on the key piece of record 128, and pull(3) has taken enough records by then.
    std::vector<msg_desc> descs;
    uint32_t off = 0;
    auto put = [&](const std::string& s, bool more, bool key) {
        std::memcpy(bytes.data() + off, s.data(), s.size());
        descs.push_back(gen_piece(off, static_cast<uint32_t>(s.size()), more, key));
        off += static_cast<uint32_t>(s.size());
    };
    put("m0", false, false);
    for (int i = 1; i < 300; ++i) {
        put("k" + std::to_string(i), true, true);
        put("m" + std::to_string(i), false, false);
    }
    ASSERT_EQ(rte_ring_enqueue_bulk_elem(ring, descs.data(), sizeof(msg_desc),
                                         static_cast<unsigned>(descs.size()), nullptr),
              descs.size());
    logagg::sink::queue_limits lim;
    lim.block = true;
    logagg::sink::record_queue q({ring}, {&arena}, lim, stats);
    uint32_t pulled = 0;
    for (int round = 0; round < 10 && pulled < 300; ++round) {
        pulled += q.pull(3);
    }
    ASSERT_EQ(pulled, 300u);
    ASSERT_EQ(q.tail() - q.head(), 300u);
    EXPECT_TRUE(q.key(q.rec(0)).empty());
    for (uint64_t i = 1; i < 300; ++i) {
        const logagg::sink::queued_record& r = q.rec(i);
        ASSERT_EQ(r.n, 2u) << "record " << i;
        EXPECT_EQ(q.key(r), "k" + std::to_string(i)) << "record " << i;
        std::string msg;
        (void)q.for_each_run(r, [&](const char* p, uint32_t n) { msg.append(p, n); });
        EXPECT_EQ(msg, "m" + std::to_string(i));
    }
    q.confirm(q.tail(), logagg::config::framing_kind::none);
    EXPECT_EQ(stats.delivered.get(), 300u);
}

} // namespace
