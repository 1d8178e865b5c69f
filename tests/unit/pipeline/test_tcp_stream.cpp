// SPDX-License-Identifier: BSD-3-Clause
// The TCP stream framing (tcp_streams, the engine's consumer) against a real mempool and a real
// sink ring: segments handed over as the engine hands them, messages split anywhere.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "common/meta_env.hpp"
#include "common/worker_lane.hpp"
#include "pipeline/message.hpp"
#include "pipeline/tcp_stream.hpp"
#include "pipeline/worker.hpp"

namespace {

using logagg::pipeline::lcore_stats;
using logagg::pipeline::msg_desc;
using logagg::pipeline::msg_drop;
using logagg::testing::g_meta_off;
using logagg::testing::g_pool;

const auto* const g_env =
    ::testing::AddGlobalTestEnvironment(new logagg::testing::meta_eal_env("tcp_stream"));

constexpr uint32_t hdr = 54; // where the engine's piece starts: after Ethernet, IPv4 and TCP

/// A segment carrying @p payload after 54 header bytes; the piece the engine would hand over.
logagg::tcp::piece segment(const std::string& payload) {
    rte_mbuf* m = rte_pktmbuf_alloc(g_pool);
    EXPECT_NE(m, nullptr);
    char* p = rte_pktmbuf_append(m, static_cast<uint16_t>(hdr + payload.size()));
    std::memset(p, 0x55, hdr);
    std::memcpy(p + hdr, payload.data(), payload.size());
    logagg::pipeline::meta_of(m, g_meta_off)->rx_tsc = 1;
    return {m, hdr, static_cast<uint32_t>(payload.size())};
}

struct fixture : logagg::testing::worker_lane_test {
    std::unique_ptr<logagg::pipeline::tcp_streams> streams;
    logagg::tcp::consumer c;
    uint32_t next_idx = 0;

    /// Listeners: 514 auto, 601 octet, 602 lf, 12201 gelf; max_msg 16.
    void SetUp() override {
        worker_lane_test::SetUp();
        ASSERT_NO_FATAL_FAILURE(make_lane(1024));
        w.scratch_size = 1 << 16;
        scratch.resize(w.scratch_size);
        w.scratch = scratch.data();
        for (auto [port, mode, fmt] :
             {std::tuple{514, logagg::log::framing_mode::auto_detect,
                         logagg::pipeline::listen_format::raw},
              std::tuple{601, logagg::log::framing_mode::octet,
                         logagg::pipeline::listen_format::raw},
              std::tuple{602, logagg::log::framing_mode::lf, logagg::pipeline::listen_format::raw},
              std::tuple{12201, logagg::log::framing_mode::auto_detect,
                         logagg::pipeline::listen_format::gelf}}) {
            logagg::pipeline::listener l;
            l.port = static_cast<uint16_t>(port);
            l.framing.mode = mode;
            l.format = fmt;
            (void)listeners.add(l);
        }
        logagg::pipeline::tcp_stream_config sc;
        sc.max_conns = 8;
        sc.span_buffers = 2;
        sc.max_msg = 16;
        streams = std::make_unique<logagg::pipeline::tcp_streams>(w, listeners, sc);
        c = streams->consumer();
    }
    void TearDown() override {
        EXPECT_EQ(streams->spans_in_use(), 0u);
        worker_lane_test::TearDown();
    }
    std::vector<char> scratch;

    uint64_t open(uint16_t port) {
        logagg::tcp::conn_info info;
        info.path.local_port = port;
        return c.open(c.ctx, {next_idx++, 1}, info);
    }
    void data(uint64_t user, const std::vector<std::string>& segs) {
        for (const std::string& s : segs) {
            const logagg::tcp::piece p = segment(s);
            c.data(c.ctx, {static_cast<uint32_t>(user), 1}, user, &p, 1);
        }
        logagg::pipeline::worker_flush(w);
    }
    void end(uint64_t user) {
        c.end(c.ctx, {static_cast<uint32_t>(user), 1}, user, logagg::tcp::end_reason::fin);
    }
    uint64_t dropped(msg_drop r) const {
        return stats.msg_drops[static_cast<std::size_t>(r)].get();
    }
};

TEST_F(fixture, LinesSplitAnywhereArriveWholeAndSpansAreCounted) {
    const uint64_t u = open(602);
    data(u, {"one\ntw", "o\nthr", "ee", "\r\n\nfour\n"});
    EXPECT_EQ(drain(), (std::vector<std::string>{"one", "two", "three", "four"}));
    EXPECT_EQ(stats.messages_framed.get(), 4u);
    EXPECT_EQ(stats.empty_skipped.get(), 1u);
    // Every byte of a split message is copied: "tw" + "o", "thr" + "ee" + the CR.
    EXPECT_EQ(
        stats.copied_by[static_cast<std::size_t>(logagg::pipeline::copy_reason::tcp_span)].get(),
        2u + 1u + 3u + 2u + 1u);
    end(u);
    EXPECT_EQ(streams->open(), 0u);
}

TEST_F(fixture, OctetCountsSplitInTheirHeaderAndAPartialFrameAtTheEndIsDropped) {
    const uint64_t u = open(601);
    data(u, {"5 hel", "lo1", "0 0123456789", "\n3 a", "bc3", " x"});
    EXPECT_EQ(drain(), (std::vector<std::string>{"hello", "0123456789", "abc"}));
    end(u); // "3 x": one byte of three
    EXPECT_EQ(dropped(msg_drop::tcp_partial), 1u);
    EXPECT_EQ(stats.messages_framed.get(), 4u); // framed == routed + dropped
    EXPECT_EQ(stats.routed.get(), 3u);
}

TEST_F(fixture, AutoDecidesPerConnectionFromTheFirstByte) {
    const uint64_t a = open(514);
    const uint64_t b = open(514);
    data(a, {"3 abc4 defg"});
    data(b, {"<13>x\n<14>y\n"});
    EXPECT_EQ(drain(), (std::vector<std::string>{"abc", "defg", "<13>x", "<14>y"}));
    end(a);
    end(b);
    EXPECT_EQ(dropped(msg_drop::tcp_partial), 0u);
}

TEST_F(fixture, BrokenOctetCountingDiscardsTheRestOfTheStream) {
    const uint64_t u = open(601);
    data(u, {"2 ok", "x7 nope", "3 abc"});
    EXPECT_EQ(drain(), (std::vector<std::string>{"ok"}));
    EXPECT_EQ(stats.framing_errors.get(), 1u);
    end(u);
}

TEST_F(fixture, GelfIsNulDelimited) {
    const uint64_t u = open(12201);
    data(u, {"{\"a\":1}", std::string("\0{\"b\"", 5), std::string(":2}\0", 4)});
    data(u, {std::string("{\"c\":3}\0", 8)});
    EXPECT_EQ(drain(), (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "{\"c\":3}"}));
    end(u);
}

TEST_F(fixture, OversizeMessagesAreCutToMaxMsgInAndAcrossSegments) {
    const uint64_t u = open(602);
    data(u, {"0123456789abcdefXYZ\nshort\n0123456789", "abcdefXYZ\n"});
    EXPECT_EQ(drain(), (std::vector<std::string>{"0123456789abcdef", "short", "0123456789abcdef"}));
    EXPECT_EQ(stats.truncated.get(), 2u);
    end(u);
}

TEST_F(fixture, WithoutAFreeSpanBufferASplitMessageIsDroppedAndCounted) {
    const uint64_t a = open(602);
    const uint64_t b = open(602);
    const uint64_t d = open(602);
    data(a, {"aa"});
    data(b, {"bb"}); // both span buffers taken
    data(d, {"dd", "d\nnext\n"});
    EXPECT_EQ(drain(), (std::vector<std::string>{"next"}));
    EXPECT_EQ(dropped(msg_drop::tcp_no_span), 1u);
    data(a, {"a\n"});
    EXPECT_EQ(drain(), (std::vector<std::string>{"aaa"}));
    end(a);
    end(b); // "bb" never ended
    end(d);
    EXPECT_EQ(dropped(msg_drop::tcp_partial), 1u);
}

TEST_F(fixture, RoomClosesWhenTheSinkRingIsFull) {
    const uint64_t u = open(602);
    EXPECT_GT(c.room(c.ctx, {0, 1}, u), 0u);
    // Fill the ring but for less than a staging array: no room left.
    msg_desc filler{};
    while (rte_ring_free_count(ring) > 100) {
        ASSERT_EQ(rte_ring_enqueue_elem(ring, &filler, sizeof filler), 0);
    }
    EXPECT_EQ(c.room(c.ctx, {0, 1}, u), 0u);
    msg_desc d;
    while (rte_ring_dequeue_elem(ring, &d, sizeof d) == 0) {
    }
    EXPECT_GT(c.room(c.ctx, {0, 1}, u), 0u);
    end(u);
}

/// As the engine does: admits @p payload's prefix, hands that over (framed, flushed).
/// @return the bytes admitted.
uint32_t admit_and_deliver(fixture& f, uint64_t user, const std::string& payload) {
    logagg::tcp::piece p = segment(payload);
    const logagg::tcp::conn_id id{static_cast<uint32_t>(user), 1};
    const uint32_t n = f.c.admit(f.c.ctx, id, user, p);
    if (n == 0) {
        rte_pktmbuf_free(p.m);
        return 0;
    }
    p.len = n;
    f.c.data(f.c.ctx, id, user, &p, 1);
    logagg::pipeline::worker_flush(f.w);
    return n;
}

/// Fills the sink ring until @p left descriptors are free.
void fill_ring(rte_ring* ring, unsigned left) {
    msg_desc filler{};
    while (rte_ring_free_count(ring) > left) {
        ASSERT_EQ(rte_ring_enqueue_elem(ring, &filler, sizeof filler), 0);
    }
}

/// Takes the fillers out of the ring again, and returns what came after them.
std::vector<std::string> unfill(fixture& f, unsigned fillers) {
    msg_desc d;
    for (unsigned i = 0; i < fillers; ++i) {
        EXPECT_EQ(rte_ring_dequeue_elem(f.ring, &d, sizeof d), 0);
    }
    return f.drain();
}

TEST_F(fixture, AdmissionTakesOnlyTheLinesTheRingHasRoomFor) {
    const uint64_t u = open(602);
    std::string lines;
    std::vector<std::string> want;
    for (int i = 0; i < 30; ++i) {
        lines += static_cast<char>('a' + i % 26);
        lines += '\n';
        want.emplace_back(1, static_cast<char>('a' + i % 26));
    }
    // A whole segment fits while the worst case (a record per two bytes) does.
    EXPECT_EQ(admit_and_deliver(*this, u, lines), lines.size());
    EXPECT_EQ(drain(), want);
    // Ten descriptors free: exactly the first ten lines are admitted, nothing is dropped.
    fill_ring(ring, 10);
    const unsigned fillers = rte_ring_count(ring);
    EXPECT_EQ(admit_and_deliver(*this, u, lines), 20u);
    EXPECT_EQ(stats.sink_full[0].get(), 0u);
    EXPECT_EQ(rte_ring_free_count(ring), 0u);
    EXPECT_EQ(admit_and_deliver(*this, u, lines.substr(20)), 0u) << "the ring is full";
    std::vector<std::string> got = unfill(*this, fillers);
    EXPECT_EQ(got, std::vector<std::string>(want.begin(), want.begin() + 10));
    // Room again: the rest (what the sender sends again).
    EXPECT_EQ(admit_and_deliver(*this, u, lines.substr(20)), 40u);
    EXPECT_EQ(drain(), std::vector<std::string>(want.begin() + 10, want.end()));
    EXPECT_EQ(stats.sink_full[0].get(), 0u);
    end(u);
}

TEST_F(fixture, AdmissionCountsTheHeldMessageAndOctetFrames) {
    // A message held from an earlier segment ends with the first LF: one record more.
    const uint64_t u = open(602);
    EXPECT_EQ(admit_and_deliver(*this, u, "held"), 4u);
    fill_ring(ring, 2);
    unsigned fillers = rte_ring_count(ring);
    EXPECT_EQ(admit_and_deliver(*this, u, "\nx\ny\nz\n"), 3u); // "held" and "x"
    EXPECT_EQ(unfill(*this, fillers), (std::vector<std::string>{"held", "x"}));
    EXPECT_EQ(admit_and_deliver(*this, u, "y\nz\n"), 4u);
    EXPECT_EQ(drain(), (std::vector<std::string>{"y", "z"}));
    end(u);
    // Octet counting: whole frames only, a header alone is no record.
    const uint64_t o = open(601);
    std::string frames;
    for (int i = 0; i < 20; ++i) {
        frames += "1 ";
        frames += static_cast<char>('a' + i);
    }
    fill_ring(ring, 3);
    fillers = rte_ring_count(ring);
    EXPECT_EQ(admit_and_deliver(*this, o, frames), 9u);
    EXPECT_EQ(unfill(*this, fillers), (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(admit_and_deliver(*this, o, frames.substr(9)), frames.size() - 9);
    EXPECT_EQ(drain().size(), 17u);
    EXPECT_EQ(stats.sink_full[0].get(), 0u);
    end(o);
    EXPECT_EQ(dropped(msg_drop::tcp_partial), 0u);
}

} // namespace
