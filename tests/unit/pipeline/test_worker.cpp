// SPDX-License-Identifier: BSD-3-Clause
// Worker and RX stages against a real mempool and real rings. EAL runs in memory, without
// hugepages or PCI.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "common/eal_env.hpp"
#include "pipeline/message.hpp"
#include "pipeline/rx.hpp"
#include "pipeline/worker.hpp"

namespace {

using logagg::pipeline::lcore_stats;
using logagg::pipeline::msg_desc;
using logagg::pipeline::msg_drop;
using logagg::pipeline::worker_ctx;

using logagg::testing::g_pool;
int g_meta_off = -1;

/// EAL and the pool, plus the dynfield the RX stage registers.
class worker_env : public logagg::testing::eal_env {
public:
    worker_env() : eal_env("worker") {}
    void SetUp() override {
        eal_env::SetUp();
        static const rte_mbuf_dynfield d = {"logagg_pkt_meta", sizeof(logagg::pipeline::pkt_meta),
                                            alignof(logagg::pipeline::pkt_meta), 0};
        g_meta_off = rte_mbuf_dynfield_register(&d);
        ASSERT_GE(g_meta_off, 0);
    }
};

const auto* const g_env = ::testing::AddGlobalTestEnvironment(new worker_env);

/// A packet whose UDP payload is @p payload at offset 42, split into segments of @p seg bytes.
rte_mbuf* make_pkt(const std::string& payload, uint16_t seg = 2048) {
    std::string frame(42, '\x55');
    frame += payload;
    rte_mbuf* head = nullptr;
    rte_mbuf* tail = nullptr;
    std::size_t done = 0;
    do {
        rte_mbuf* m = rte_pktmbuf_alloc(g_pool);
        EXPECT_NE(m, nullptr);
        const std::size_t take = std::min<std::size_t>(seg, frame.size() - done);
        char* p = rte_pktmbuf_append(m, static_cast<uint16_t>(take));
        std::memcpy(p, frame.data() + done, take);
        done += take;
        if (head == nullptr) {
            head = m;
        } else {
            EXPECT_EQ(rte_pktmbuf_chain(head, m), 0);
        }
        tail = m;
    } while (done < frame.size());
    (void)tail;
    auto* meta = logagg::pipeline::meta_of(head, g_meta_off);
    meta->payload_off = 42;
    meta->payload_len = static_cast<uint16_t>(payload.size());
    meta->dst_port = 514;
    return head;
}

/// Reads a descriptor's bytes through the chain.
std::string bytes_of(const msg_desc& d) {
    std::string out(d.len, '\0');
    const void* p = rte_pktmbuf_read(d.pkt, d.off, d.len, out.data());
    if (p != out.data()) {
        std::memcpy(out.data(), p, d.len);
    }
    return out;
}

struct fixture : ::testing::Test {
    rte_ring* ring = nullptr;
    lcore_stats stats;
    worker_ctx w;
    logagg::pipeline::sink_lane lane;
    logagg::pipeline::gen_arena arena;
    std::vector<char> arena_bytes = std::vector<char>(1 << 20);
    logagg::pipeline::listener_table listeners;
    unsigned in_use_before = 0;

    void make_ring(unsigned size) {
        ring = rte_ring_create_elem("test_sink", sizeof(msg_desc), size, SOCKET_ID_ANY,
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
        logagg::pipeline::listener l;
        l.port = 514; // lf framing, 64 KiB max
        (void)listeners.add(l);
        w.listeners = &listeners;
    }
    void SetUp() override { in_use_before = rte_mempool_in_use_count(g_pool); }
    void TearDown() override {
        drain();
        rte_ring_free(ring);
        EXPECT_EQ(rte_mempool_in_use_count(g_pool), in_use_before)
            << "mbufs leaked or double-freed";
    }
    /// Dequeues everything, like the sink: bytes (from the packet or the arena), then releases.
    std::vector<std::string> drain(std::vector<msg_desc>* descs = nullptr) {
        std::vector<std::string> out;
        msg_desc d;
        while (ring != nullptr && rte_ring_dequeue_elem(ring, &d, sizeof d) == 0) {
            out.push_back(d.gen != 0 ? std::string(arena.base + d.off, d.len) : bytes_of(d));
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

TEST_F(fixture, LinesBecomeDescriptorsWithOneReleasePerPacket) {
    make_ring(1024);
    rte_mbuf* pkts[2] = {make_pkt("one\ntwo\r\n\nthree"), make_pkt("four\n")};
    logagg::pipeline::worker_frame_burst(w, pkts);
    std::vector<msg_desc> descs;
    const auto msgs = drain(&descs);
    ASSERT_EQ(msgs, (std::vector<std::string>{"one", "two", "three", "four"}));
    EXPECT_EQ(descs[0].lf_follows, 1u);
    EXPECT_EQ(descs[1].lf_follows, 0u); // "\r" was stripped: the LF does not directly follow
    EXPECT_EQ(descs[2].lf_follows, 0u); // no LF after the last line
    EXPECT_EQ(descs[3].lf_follows, 1u);
    EXPECT_EQ(descs[0].release + descs[1].release + descs[2].release, 1u);
    EXPECT_EQ(descs[2].release, 1u);
    EXPECT_EQ(descs[3].release, 1u);
    EXPECT_EQ(stats.worker_packets.get(), 2u);
    EXPECT_EQ(stats.messages_framed.get(), 4u);
    EXPECT_EQ(stats.empty_skipped.get(), 1u);
}

TEST_F(fixture, EmptyDatagramIsFreedAndCounted) {
    make_ring(64);
    rte_mbuf* pkts[2] = {make_pkt(""), make_pkt("\r\n\0")};
    logagg::pipeline::worker_frame_burst(w, pkts);
    EXPECT_EQ(rte_ring_count(ring), 0u);
    EXPECT_EQ(stats.messages_framed.get(), 0u);
    EXPECT_EQ(stats.empty_skipped.get(), 2u);
}

TEST_F(fixture, PacketWithMoreMessagesThanStagingSpansUnitsOfAChain) {
    make_ring(2048);
    std::string payload;
    std::vector<std::string> expect;
    for (int i = 0; i < 700; ++i) {
        expect.push_back("m" + std::to_string(i));
        payload += expect.back() + "\n";
    }
    rte_mbuf* pkt = make_pkt(payload, 512); // a chain of several segments
    ASSERT_GT(pkt->nb_segs, 1);
    rte_mbuf* pkts[1] = {pkt};
    logagg::pipeline::worker_frame_burst(w, pkts);
    std::vector<msg_desc> descs;
    EXPECT_EQ(drain(&descs), expect);
    unsigned releases = 0;
    for (const msg_desc& d : descs) {
        releases += d.release;
    }
    EXPECT_EQ(releases, 2u); // 512 staged, then the remaining 188: two units, two references
    EXPECT_EQ(descs[logagg::pipeline::stage_capacity - 1].release, 1u);
}

TEST_F(fixture, DropModeDropsWholeUnitsThatDoNotFitAndFreesThem) {
    make_ring(64); // capacity 63
    std::string a;
    std::string b;
    for (int i = 0; i < 40; ++i) {
        a += "a" + std::to_string(i) + "\n";
        b += "b" + std::to_string(i) + "\n";
    }
    rte_mbuf* pkts[2] = {make_pkt(a), make_pkt(b)};
    logagg::pipeline::worker_frame_burst(w, pkts);
    const auto msgs = drain();
    ASSERT_EQ(msgs.size(), 40u);
    EXPECT_EQ(msgs.front(), "a0");
    EXPECT_EQ(stats.sink_full[0].get(), 40u);
    EXPECT_EQ(stats.sink_in[0].get(), 80u);
    EXPECT_EQ(stats.messages_framed.get(), 80u);
}

TEST_F(fixture, ContiguousLaneGetsEachMessageAsOnePiece) {
    // A Kafka lane: one buffer per message. Raw messages in one segment are referenced; encoded
    // ones are generated whole (their references into the packet copied), after a key piece.
    make_ring(1024);
    std::vector<char> scratch(70000);
    w.scratch = scratch.data();
    w.scratch_size = static_cast<uint32_t>(scratch.size());
    w.parse = true;
    lane.contiguous = true;
    lane.key = logagg::sink::key_field::host;
    const std::string body(100, 'x'); // long enough that the encoder would reference it
    const std::string line = "<13>1 2026-11-19T10:00:00Z web-01 app - - - " + body;
    for (const auto format :
         {logagg::log::output_format::raw, logagg::log::output_format::ndjson}) {
        lane.format = format;
        const uint64_t copied_before = stats.bytes_copied.get();
        rte_mbuf* pkts[1] = {make_pkt(line + "\n" + line + "\n")};
        logagg::pipeline::worker_frame_burst(w, pkts);
        std::vector<msg_desc> descs;
        (void)drain(&descs);
        ASSERT_EQ(descs.size(), 4u) << "a key piece and one message piece, twice";
        for (std::size_t i = 0; i < descs.size(); i += 2) {
            EXPECT_EQ(descs[i].key, 1u);
            EXPECT_EQ(std::string(arena.base + descs[i].off, descs[i].len), "web-01");
            const msg_desc& m = descs[i + 1];
            EXPECT_EQ(m.key, 0u);
            EXPECT_EQ(m.more, 0u);
            if (format == logagg::log::output_format::raw) {
                EXPECT_EQ(m.gen, 0u);
                EXPECT_EQ(bytes_of(m), line);
            } else {
                ASSERT_EQ(m.gen, 1u);
                const std::string json(arena.base + m.off, m.len);
                EXPECT_NE(json.find("\"message\":\"" + body + "\""), std::string::npos) << json;
            }
        }
        if (format == logagg::log::output_format::raw) {
            EXPECT_EQ(stats.bytes_copied.get(), copied_before);
        } else {
            EXPECT_GE(stats.bytes_copied.get() - copied_before, 2 * body.size());
        }
        arena.released.store(arena.head);
    }
}

TEST_F(fixture, RxDispatchSpreadsByFlowAndCountsFullWorkerRings) {
    // Two worker rings of capacity 3; frames are IPv4/UDP built here with checksums skipped.
    rte_ring* wr[2] = {rte_ring_create("test_w0", 4, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ),
                       rte_ring_create("test_w1", 4, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ)};
    ASSERT_NE(wr[0], nullptr);
    ASSERT_NE(wr[1], nullptr);
    logagg::net::listen_ports ports;
    ports.add(514);
    logagg::pipeline::rx_ctx rx;
    rx.ports = &ports;
    rx.opts = {false, false};
    rx.meta_off = g_meta_off;
    rx.burst = 32;
    rx.worker_rings = {wr[0], wr[1]};
    rx.stats = &stats;
    rx.prepare();
    auto frame = [](uint8_t src_last, uint16_t sport, uint16_t dport) {
        std::string f(12, '\x02');
        f += std::string("\x08\x00", 2);
        const std::string payload = "hello";
        const uint16_t ulen = static_cast<uint16_t>(8 + payload.size());
        const uint16_t tlen = static_cast<uint16_t>(20 + ulen);
        const unsigned char ip[20] = {0x45,
                                      0,
                                      static_cast<unsigned char>(tlen >> 8),
                                      static_cast<unsigned char>(tlen),
                                      0,
                                      0,
                                      0,
                                      0,
                                      64,
                                      17,
                                      0,
                                      0,
                                      198,
                                      18,
                                      1,
                                      src_last,
                                      198,
                                      18,
                                      0,
                                      1};
        f.append(reinterpret_cast<const char*>(ip), 20);
        const unsigned char udp[8] = {static_cast<unsigned char>(sport >> 8),
                                      static_cast<unsigned char>(sport),
                                      static_cast<unsigned char>(dport >> 8),
                                      static_cast<unsigned char>(dport),
                                      static_cast<unsigned char>(ulen >> 8),
                                      static_cast<unsigned char>(ulen),
                                      0,
                                      0};
        f.append(reinterpret_cast<const char*>(udp), 8);
        f += payload;
        rte_mbuf* m = rte_pktmbuf_alloc(g_pool);
        std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(f.size())), f.data(), f.size());
        return m;
    };
    std::vector<rte_mbuf*> pkts;
    for (int i = 0; i < 10; ++i) {
        pkts.push_back(frame(static_cast<uint8_t>(i), static_cast<uint16_t>(1000 + i), 514));
    }
    pkts.push_back(frame(1, 1000, 53)); // not listened
    logagg::pipeline::rx_dispatch(rx, pkts.data(), static_cast<uint16_t>(pkts.size()));
    const uint64_t full =
        stats.pkt_drops[static_cast<std::size_t>(logagg::net::drop_reason::worker_ring_full)].get();
    EXPECT_EQ(stats.rx_packets.get(), 11u);
    EXPECT_EQ(stats.pkt_drops[static_cast<std::size_t>(logagg::net::drop_reason::port_not_listened)]
                  .get(),
              1u);
    EXPECT_EQ(stats.to_workers.get() + full, 10u);
    EXPECT_EQ(stats.to_workers.get(), rte_ring_count(wr[0]) + rte_ring_count(wr[1]));
    EXPECT_LE(rte_ring_count(wr[0]), 3u);
    for (rte_ring* r : wr) {
        void* m = nullptr;
        while (rte_ring_dequeue(r, &m) == 0) {
            auto* mb = static_cast<rte_mbuf*>(m);
            // Same flow, same worker: the ring index matches the hash.
            EXPECT_EQ(r, wr[logagg::pipeline::worker_for(mb->hash.rss, 2)]);
            rte_pktmbuf_free(mb);
        }
        rte_ring_free(r);
    }
}

} // namespace
