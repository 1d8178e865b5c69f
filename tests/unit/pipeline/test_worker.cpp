// SPDX-License-Identifier: BSD-3-Clause
// Worker and RX stages against a real mempool and real rings. EAL runs in memory, without
// hugepages or PCI.
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <memory>
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

#include <simdjson.h>
#include <zlib.h>

#include "common/meta_env.hpp"
#include "common/worker_lane.hpp"
#include "log/filter.hpp"
#include "log/gelf.hpp"
#include "log/json.hpp"
#include "pipeline/message.hpp"
#include "pipeline/rx.hpp"
#include "pipeline/worker.hpp"

namespace {

using logagg::pipeline::lcore_stats;
using logagg::pipeline::msg_desc;
using logagg::pipeline::msg_drop;
using logagg::pipeline::worker_ctx;

using logagg::testing::g_meta_off;
using logagg::testing::g_pool;

const auto* const g_env =
    ::testing::AddGlobalTestEnvironment(new logagg::testing::meta_eal_env("worker"));

/// @p bytes in a chain of mbufs of at most @p seg bytes each.
rte_mbuf* chain_of(const std::string& bytes, uint16_t seg) {
    rte_mbuf* head = nullptr;
    std::size_t done = 0;
    do {
        rte_mbuf* m = rte_pktmbuf_alloc(g_pool);
        EXPECT_NE(m, nullptr);
        const std::size_t take = std::min<std::size_t>(seg, bytes.size() - done);
        std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(take)), bytes.data() + done, take);
        done += take;
        if (head == nullptr) {
            head = m;
        } else {
            EXPECT_EQ(rte_pktmbuf_chain(head, m), 0);
        }
    } while (done < bytes.size());
    return head;
}

/// A real Ethernet/IPv4/UDP frame from 198.18.@p src_id (its two low bytes):@p sport to
/// 198.18.0.1:@p dport carrying @p payload at offset 42; no checksums (none is checked here).
std::string udp_frame(const std::string& payload, uint16_t dport, uint16_t src_id, uint16_t sport) {
    std::string f(12, '\x02');
    f += std::string("\x08\x00", 2);
    const auto ulen = static_cast<uint16_t>(8 + payload.size());
    const auto tlen = static_cast<uint16_t>(20 + ulen);
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
                                  static_cast<unsigned char>(src_id >> 8),
                                  static_cast<unsigned char>(src_id),
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
    return f;
}

/// A packet whose UDP payload is @p payload at offset 42, split into segments of @p seg bytes.
rte_mbuf* make_pkt(const std::string& payload, uint16_t seg = 2048) {
    rte_mbuf* head = chain_of(std::string(42, '\x55') + payload, seg);
    auto* meta = logagg::pipeline::meta_of(head, g_meta_off);
    meta->payload_off = 42;
    meta->payload_len = static_cast<uint16_t>(payload.size());
    meta->dst_port = 514;
    return head;
}

using logagg::testing::bytes_of;

/// One sink lane, and the worker listening on 514 (lf framing, 64 KiB max).
struct fixture : logagg::testing::worker_lane_test {
    void make_ring(unsigned size) {
        make_lane(size);
        logagg::pipeline::listener l;
        l.port = 514;
        (void)listeners.add(l);
        w.listeners = &listeners;
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

TEST_F(fixture, AppendLaneCopiesShortRecordsAndFreesThePacketAtOnce) {
    // A file sink lane with append-max=10: short lines are appended with their LF (own, no
    // reference, the RX time carried), longer ones keep a reference; a packet of short lines
    // only goes back to the pool before the sink sees anything.
    make_ring(1024);
    lane.append_max = 10;
    const std::string longer(20, 'L');
    rte_mbuf* a = make_pkt("one\ntwo\n" + longer + "\nsix");
    logagg::pipeline::meta_of(a, g_meta_off)->rx_tsc = 12345;
    rte_mbuf* b = make_pkt("short\nlines\n");
    rte_mbuf* pkts[2] = {a, b};
    logagg::pipeline::worker_frame_burst(w, pkts);
    EXPECT_EQ(rte_mempool_in_use_count(g_pool), in_use_before + 1u)
        << "only the packet with a referenced record is still held";
    std::vector<msg_desc> descs;
    const auto msgs = drain(&descs);
    ASSERT_EQ(msgs, (std::vector<std::string>{"one", "two", longer, "six", "short", "lines"}));
    const std::vector<unsigned> own{1, 1, 0, 1, 1, 1};
    const std::vector<unsigned> rel{0, 0, 1, 0, 0, 0};
    for (std::size_t i = 0; i < descs.size(); ++i) {
        EXPECT_EQ(descs[i].own, own[i]) << i;
        EXPECT_EQ(descs[i].release, rel[i]) << i;
        if (own[i] != 0) {
            EXPECT_EQ(descs[i].gen, 1u);
            EXPECT_EQ(descs[i].lf_follows, 1u);
            EXPECT_EQ(arena.base[descs[i].off + descs[i].len], '\n') << "its LF follows it";
        }
    }
    EXPECT_EQ(descs[0].rx_tsc, 12345u);
    EXPECT_EQ(descs[1].off, descs[0].off + 4) << "appended records are adjacent";
    const auto append = static_cast<std::size_t>(logagg::pipeline::copy_reason::sink_append);
    EXPECT_EQ(stats.copied_by[append].get(), 3u + 3 + 3 + 5 + 5);
    EXPECT_EQ(stats.bytes_copied.get(), stats.copied_by[append].get());
    EXPECT_EQ(arena.head, 4u + 4 + 4 + 6 + 6);
}

TEST_F(fixture, AppendLaneWithOctetFramingPutsTheCountBeforeTheRecord) {
    // A TCP (or file) sink lane with octet framing: the count and a space precede each appended
    // record in the arena, no LF follows, and consecutive records stay back to back, so the sink
    // writes "3 one3 two" as one run. Encoded records are not appended (their width is unknown).
    make_ring(1024);
    lane.append_max = 100;
    lane.append_octet = true;
    const std::string ten(10, 'x');
    rte_mbuf* a = make_pkt("one\ntwo\n" + ten + "\n");
    rte_mbuf* pkts[1] = {a};
    logagg::pipeline::worker_frame_burst(w, pkts);
    EXPECT_EQ(rte_mempool_in_use_count(g_pool), in_use_before) << "nothing referenced";
    std::vector<msg_desc> descs;
    ASSERT_EQ(drain(&descs), (std::vector<std::string>{"one", "two", ten}));
    for (const msg_desc& d : descs) {
        EXPECT_EQ(d.own, 1u);
        EXPECT_EQ(d.octet, 1u);
        EXPECT_EQ(d.lf_follows, 0u);
        EXPECT_EQ(logagg::pipeline::arena_bytes(d), d.len);
        EXPECT_EQ(logagg::pipeline::arena_cost(d),
                  d.len + logagg::pipeline::octet_prefix_bytes(d.len));
    }
    EXPECT_EQ(std::string_view(arena.base, arena.head), "3 one3 two10 " + ten);
    EXPECT_EQ(descs[0].off, 2u);
    EXPECT_EQ(descs[2].off, 13u);
    const auto append = static_cast<std::size_t>(logagg::pipeline::copy_reason::sink_append);
    EXPECT_EQ(stats.copied_by[append].get(), 3u + 3 + 10) << "the counts are not payload";
}

TEST_F(fixture, OctetLaneDoesNotAppendEncodedRecords) {
    make_ring(1024);
    lane.append_max = 100;
    lane.append_octet = true;
    lane.format = logagg::log::output_format::ndjson;
    w.parse = true;
    rte_mbuf* a = make_pkt("<13>1 2026-11-27T10:00:00Z h app - - - hello\n");
    rte_mbuf* pkts[1] = {a};
    logagg::pipeline::worker_frame_burst(w, pkts);
    std::vector<msg_desc> descs;
    ASSERT_EQ(drain(&descs).size(), 1u);
    for (const msg_desc& d : descs) {
        EXPECT_EQ(d.own, 0u);
        EXPECT_EQ(d.octet, 0u);
    }
    const auto append = static_cast<std::size_t>(logagg::pipeline::copy_reason::sink_append);
    EXPECT_EQ(stats.copied_by[append].get(), 0u);
}

TEST_F(fixture, AppendLaneDropModeCutsAtRecordsOutsideOpenUnits) {
    // Ring capacity 3. Packet a: three appended records (they fit, though no descriptor carries
    // a release); packet b: long, short, long: its unit is open across the appended record in
    // the middle, so nothing of b may go (its first record without its packet's reference).
    make_ring(4);
    lane.append_max = 4;
    rte_mbuf* a = make_pkt("a1\na2\na3\n");
    rte_mbuf* b = make_pkt("long-1\nb2\nlong-3\n");
    rte_mbuf* pkts[2] = {a, b};
    logagg::pipeline::worker_frame_burst(w, pkts);
    std::vector<msg_desc> descs;
    EXPECT_EQ(drain(&descs), (std::vector<std::string>{"a1", "a2", "a3"}));
    EXPECT_EQ(stats.sink_full[0].get(), 3u);
    EXPECT_EQ(stats.sink_in[0].get(), 6u);
    EXPECT_EQ(arena.head, 9u) << "the dropped appended record's bytes were given back";
    // Room again: long, short, long goes whole; then long, short: the release goes on the
    // unit's last referenced record, not on the appended one staged after it.
    rte_mbuf* c = make_pkt("long-1\nb2\nlong-3\n");
    rte_mbuf* more[1] = {c};
    logagg::pipeline::worker_frame_burst(w, more);
    descs.clear();
    EXPECT_EQ(drain(&descs), (std::vector<std::string>{"long-1", "b2", "long-3"}));
    ASSERT_EQ(descs.size(), 3u);
    EXPECT_EQ(descs[1].own, 1u);
    EXPECT_EQ(descs[1].release, 0u);
    EXPECT_EQ(descs[0].release, 0u);
    EXPECT_EQ(descs[2].release, 1u);
    rte_mbuf* d = make_pkt("long-1\nb2\n");
    rte_mbuf* last[1] = {d};
    logagg::pipeline::worker_frame_burst(w, last);
    descs.clear();
    EXPECT_EQ(drain(&descs), (std::vector<std::string>{"long-1", "b2"}));
    ASSERT_EQ(descs.size(), 2u);
    EXPECT_EQ(descs[0].release, 1u);
    EXPECT_EQ(descs[1].release, 0u);
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
    lane.key = logagg::pipeline::key_field::host;
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
        // Two keys ("web-01", out of the message) are copied either way.
        if (format == logagg::log::output_format::raw) {
            EXPECT_EQ(stats.bytes_copied.get(), copied_before + 2 * 6);
        } else {
            EXPECT_GE(stats.bytes_copied.get() - copied_before, 2 * body.size() + 2 * 6);
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
        return chain_of(udp_frame("hello", dport, static_cast<uint16_t>(0x100 | src_last), sport),
                        2048);
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

// --- Fan-out, routing, encoding, keys and GELF through worker_frame_burst -------------------

constexpr uint16_t syslog_port = 514;
constexpr uint16_t gelf_port = 12201;

/// A real Ethernet/IPv4/UDP frame from 198.18.0.7:40000 to @p dport carrying @p payload (at
/// offset 42), in segments of @p seg bytes, with the metadata and lengths the RX stage sets.
rte_mbuf* make_udp(const std::string& payload, uint16_t dport = syslog_port, uint16_t seg = 2048) {
    rte_mbuf* head = chain_of(udp_frame(payload, dport, 7, 40000), seg);
    head->l2_len = 14;
    head->l3_len = 20;
    auto* meta = logagg::pipeline::meta_of(head, g_meta_off);
    meta->payload_off = 42;
    meta->payload_len = static_cast<uint16_t>(payload.size());
    meta->dst_port = dport;
    return head;
}

/// One record as a sink sees it: the key piece, the message pieces and their bytes.
struct out_record {
    std::string key;
    std::vector<msg_desc> pieces;
    std::string text;
};

/// A worker with two sink lanes (two rings, two arenas) and every part set up as the runtime
/// does: listeners (514 auto, 12201 GELF), JSON extractors, GELF reassembly and inflation,
/// scratch, clock bases.
struct lanes_fixture : ::testing::Test {
    static constexpr int n_lanes = 2;
    lcore_stats stats;
    worker_ctx w;
    std::array<logagg::pipeline::sink_lane, n_lanes> lanes;
    std::array<logagg::pipeline::gen_arena, n_lanes> arenas;
    std::array<std::vector<char>, n_lanes> arena_bytes;
    std::array<rte_ring*, n_lanes> rings{};
    logagg::pipeline::listener_table listeners;
    logagg::log::json_field_map json_fields;
    logagg::log::json_field_map gelf_fields = logagg::log::json_field_map::gelf();
    std::unique_ptr<logagg::log::json_extractor> json;
    std::unique_ptr<logagg::log::json_extractor> gelf_json;
    logagg::log::gelf::reassembler gelf_chunks;
    logagg::log::gelf::inflater gelf_inflate{65536};
    std::vector<char> scratch = std::vector<char>(65536 + logagg::log::json_padding);
    std::vector<logagg::log::filter> filters;
    std::vector<logagg::log::route> routes;
    std::vector<std::string> capture_names;
    unsigned in_use_before = 0;

    void SetUp() override {
        in_use_before = rte_mempool_in_use_count(g_pool);
        static int n = 0;
        for (int i = 0; i < n_lanes; ++i) {
            const std::string name = "test_lane" + std::to_string(n++);
            rings[i] = rte_ring_create_elem(name.c_str(), sizeof(msg_desc), 1024, SOCKET_ID_ANY,
                                            RING_F_SP_ENQ | RING_F_SC_DEQ);
            ASSERT_NE(rings[i], nullptr);
            arena_bytes[i].resize(1 << 20);
            arenas[i].base = arena_bytes[i].data();
            arenas[i].size = static_cast<uint32_t>(arena_bytes[i].size());
            lanes[i].ring = rings[i];
            lanes[i].arena = &arenas[i];
            lanes[i].sink = static_cast<uint8_t>(i);
            w.lanes.push_back(&lanes[i]);
        }
        logagg::pipeline::listener syslog;
        syslog.port = syslog_port;
        (void)listeners.add(syslog);
        logagg::pipeline::listener gelf;
        gelf.port = gelf_port;
        gelf.format = logagg::pipeline::listen_format::gelf;
        (void)listeners.add(gelf);
        w.meta_off = g_meta_off;
        w.stats = &stats;
        w.listeners = &listeners;
        w.default_sinks = 0b11;
        w.filters = &filters;
        w.routes = &routes;
        w.max_msg = 65536;
        w.scratch = scratch.data();
        w.scratch_size = static_cast<uint32_t>(scratch.size());
        w.gelf_chunks = &gelf_chunks;
        w.gelf_inflate = &gelf_inflate;
        w.tsc_base = rte_rdtsc();
        w.ns_per_tsc = 1e9 / static_cast<double>(rte_get_tsc_hz());
        w.wall_base_ns = 1'709'287'200'000'000'000; // 2024-03-01T10:00:00Z
        extractors();
    }
    /// (Re)builds the extractors after the capture names changed.
    void extractors() {
        json_fields.set_captures(capture_names);
        gelf_fields.set_captures(capture_names);
        json = logagg::log::json_extractor::create(json_fields, 65536).value();
        gelf_json = logagg::log::json_extractor::create(gelf_fields, 65536).value();
        w.json = json.get();
        w.gelf_json = gelf_json.get();
    }
    void TearDown() override {
        for (int i = 0; i < n_lanes; ++i) {
            (void)take(i);
            rte_ring_free(rings[i]);
        }
        EXPECT_EQ(rte_mempool_in_use_count(g_pool), in_use_before)
            << "mbufs leaked or double-freed";
    }
    [[nodiscard]] unsigned in_use() const {
        return rte_mempool_in_use_count(g_pool) - in_use_before;
    }
    logagg::log::route route(std::string_view text, uint32_t sinks) {
        logagg::log::route r;
        auto f = logagg::log::parse_filter(text, capture_names);
        EXPECT_TRUE(f.ok()) << text;
        if (f) {
            r.match = std::move(f).value();
        }
        r.sinks = sinks;
        return r;
    }
    logagg::log::filter filter(std::string_view text) {
        auto f = logagg::log::parse_filter(text, capture_names);
        EXPECT_TRUE(f.ok()) << text;
        return f ? std::move(f).value() : logagg::log::filter{};
    }
    void burst(std::vector<rte_mbuf*> pkts) { logagg::pipeline::worker_frame_burst(w, pkts); }
    /// Dequeues lane @p i like its sink: the records (bytes read while the packets are held),
    /// then the unit references released and the arena handed back.
    std::vector<out_record> take(int i) {
        std::vector<out_record> out;
        std::vector<rte_mbuf*> release;
        out_record cur;
        msg_desc d;
        while (rte_ring_dequeue_elem(rings[i], &d, sizeof d) == 0) {
            const std::string b = logagg::testing::text_of(d, arenas[i]);
            if (d.key != 0) {
                EXPECT_TRUE(cur.pieces.empty()) << "the key piece comes first";
                cur.key += b;
            } else {
                cur.pieces.push_back(d);
                cur.text += b;
            }
            if (d.release != 0) {
                release.push_back(d.pkt);
            }
            if (d.more == 0) {
                out.push_back(std::move(cur));
                cur = out_record{};
            }
        }
        EXPECT_TRUE(cur.pieces.empty() && cur.key.empty()) << "a record was cut";
        for (rte_mbuf* m : release) {
            rte_pktmbuf_free(m);
        }
        arenas[i].released.store(arenas[i].head);
        return out;
    }
    static std::vector<std::string> texts(const std::vector<out_record>& v) {
        std::vector<std::string> out;
        for (const out_record& r : v) {
            out.push_back(r.text);
        }
        return out;
    }
    [[nodiscard]] uint64_t dropped(msg_drop why) const {
        return stats.msg_drops[static_cast<std::size_t>(why)].get();
    }
};

TEST_F(lanes_fixture, FanOutGivesEveryLaneEveryMessageAndOneReferenceEach) {
    rte_mbuf* pkt = make_udp("one\ntwo\nthree", syslog_port, 30); // a chain of segments
    ASSERT_GT(pkt->nb_segs, 1);
    std::vector<rte_mbuf*> segs;
    for (rte_mbuf* s = pkt; s != nullptr; s = s->next) {
        segs.push_back(s);
    }
    burst({pkt});
    EXPECT_EQ(rte_ring_count(rings[0]), 3u);
    EXPECT_EQ(rte_ring_count(rings[1]), 3u);
    for (rte_mbuf* s : segs) {
        EXPECT_EQ(rte_mbuf_refcnt_read(s), 2) << "one reference per lane, on every segment";
    }
    EXPECT_EQ(stats.routed.get(), 3u);
    EXPECT_EQ(stats.sink_in[0].get(), 3u);
    EXPECT_EQ(stats.sink_in[1].get(), 3u);
    EXPECT_EQ(stats.sink_in_bytes[0].get(), 11u);
    const auto a = take(0);
    EXPECT_EQ(texts(a), (std::vector<std::string>{"one", "two", "three"}));
    EXPECT_EQ(a[0].pieces[0].release + a[1].pieces[0].release + a[2].pieces[0].release, 1u);
    EXPECT_EQ(a[2].pieces[0].release, 1u);
    EXPECT_EQ(rte_mbuf_refcnt_read(pkt), 1);
    EXPECT_EQ(in_use(), segs.size()) << "the other lane still holds the packet";
    const auto b = take(1);
    EXPECT_EQ(texts(b), texts(a));
    EXPECT_EQ(b[2].pieces[0].release, 1u);
    EXPECT_EQ(in_use(), 0u);
}

TEST_F(lanes_fixture, RoutesSendEachLaneItsRecords) {
    w.parse = true;
    routes = {route("sev<=err", 0b01), route("app==nginx", 0b10)};
    w.default_sinks = 0;
    const std::vector<std::string> lines = {
        "<11>1 - h nginx - - - crit from nginx",   // both routes
        "<14>1 - h sshd - - - info from sshd",     // none: unrouted
        "<13>1 - h nginx - - - notice from nginx", // app route only
        "<10>1 - h cron - - - crit from cron",     // sev route only
    };
    std::string payload;
    for (const auto& l : lines) {
        payload += l + "\n";
    }
    rte_mbuf* pkt = make_udp(payload);
    burst({pkt});
    EXPECT_EQ(rte_mbuf_refcnt_read(pkt), 2);
    EXPECT_EQ(texts(take(0)), (std::vector<std::string>{lines[0], lines[3]}));
    EXPECT_EQ(texts(take(1)), (std::vector<std::string>{lines[0], lines[2]}));
    EXPECT_EQ(dropped(msg_drop::unrouted), 1u);
    EXPECT_EQ(stats.route_hits[0].get(), 2u);
    EXPECT_EQ(stats.route_hits[1].get(), 2u);
    EXPECT_EQ(stats.routed.get(), 3u);
    EXPECT_EQ(stats.sink_in[0].get(), 2u);
    EXPECT_EQ(stats.sink_in[1].get(), 2u);
    EXPECT_EQ(stats.parsed[static_cast<std::size_t>(logagg::log::input_format::rfc5424)].get(), 4u);
    EXPECT_EQ(in_use(), 0u);

    // Records no route matches go to the default sinks when there are any.
    w.default_sinks = 0b10;
    burst({make_udp(payload)});
    EXPECT_EQ(texts(take(0)), (std::vector<std::string>{lines[0], lines[3]}));
    EXPECT_EQ(texts(take(1)), (std::vector<std::string>{lines[0], lines[1], lines[2]}));
    EXPECT_EQ(dropped(msg_drop::unrouted), 1u);

    // A packet whose only message nobody takes is freed at once.
    w.default_sinks = 0;
    burst({make_udp(lines[1])});
    EXPECT_EQ(dropped(msg_drop::unrouted), 2u);
    EXPECT_EQ(rte_ring_count(rings[0]) + rte_ring_count(rings[1]), 0u);
    EXPECT_EQ(in_use(), 0u);
}

TEST_F(lanes_fixture, RouteBySourceSeesTheSenderOfShortDatagrams) {
    w.parse = true;
    routes = {route("source==198.18.0.7:40000", 0b10)};
    w.needs_source = true;
    w.default_sinks = 0b01;
    burst({make_udp("hi"), make_udp("a longer message than forty bytes from the sender")});
    EXPECT_EQ(texts(take(1)), (std::vector<std::string>{
                                  "hi", "a longer message than forty bytes from the sender"}));
    EXPECT_TRUE(take(0).empty());
    EXPECT_EQ(stats.route_hits[0].get(), 2u);
}

TEST_F(lanes_fixture, FiltersDropAndCount) {
    w.parse = true;
    filters = {filter("sev<=warning"), filter("host^=web-")};
    w.default_sinks = 0b01;
    const std::vector<std::string> lines = {
        "<12>1 - web-1 app - - - warning kept",   // both filters hold
        "<14>1 - web-1 app - - - info dropped",   // the first filter drops it
        "<11>1 - db-1 app - - - err dropped",     // the second one does
        "<8>1 - web-2 app - - - emerg kept too",  // kept
        "<15>1 - db-2 app - - - debug dropped 1", // the first
    };
    std::string payload;
    for (const auto& l : lines) {
        payload += l + "\n";
    }
    burst({make_udp(payload)});
    EXPECT_EQ(texts(take(0)), (std::vector<std::string>{lines[0], lines[3]}));
    EXPECT_EQ(stats.filter_kept[0].get(), 3u);
    EXPECT_EQ(stats.filter_dropped[0].get(), 2u);
    EXPECT_EQ(stats.filter_kept[1].get(), 2u);
    EXPECT_EQ(stats.filter_dropped[1].get(), 1u);
    EXPECT_EQ(dropped(msg_drop::filtered), 3u);
    EXPECT_EQ(stats.routed.get(), 2u);
    EXPECT_EQ(in_use(), 0u);
}

TEST_F(lanes_fixture, JsonCapturesReachFiltersAndRoutes) {
    w.parse = true;
    filters = {filter("json.team!=noise")};
    routes = {route("json.ns==prod", 0b10)};
    extractors();
    w.default_sinks = 0b01;
    const std::vector<std::string> lines = {
        R"({"msg":"a","ns":"prod"})",
        R"({"msg":"b","ns":"dev"})",
        R"({"msg":"c","ns":"prod","team":"noise"})",
        R"({"msg":"d"})",
        "<13>1 - h app - - - not json",
    };
    std::string payload;
    for (const auto& l : lines) {
        payload += l + "\n";
    }
    burst({make_udp(payload)});
    EXPECT_EQ(texts(take(1)), (std::vector<std::string>{lines[0]}));
    EXPECT_EQ(texts(take(0)), (std::vector<std::string>{lines[1], lines[3], lines[4]}));
    EXPECT_EQ(stats.filter_dropped[0].get(), 1u);
}

/// Parses one ndjson record with simdjson DOM (it must be exactly one JSON object).
simdjson::dom::element parse_record(simdjson::dom::parser& p, const std::string& text) {
    EXPECT_EQ(text.find('\n'), std::string::npos) << "one line per record";
    simdjson::dom::element e;
    EXPECT_EQ(p.parse(text).get(e), simdjson::SUCCESS) << text;
    EXPECT_TRUE(e.is_object()) << text;
    return e;
}

TEST_F(lanes_fixture, NdjsonLaneGetsOneJsonObjectPerMessage) {
    w.parse = true;
    w.validate_json = true; // as the runtime sets it when a sink writes ndjson
    lanes[0].format = logagg::log::output_format::ndjson;
    w.default_sinks = 0b01;
    const std::string long_text =
        "An application event log entry that is long enough to be referenced, not copied";
    const std::string rfc5424 = "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - "
                                "ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"App\\\"x\\]\"] " +
                                long_text;
    const std::string rfc3164 =
        "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8";
    const std::string json_line =
        R"({"level":"error","msg":"boom \"quoted\"\ttab","host":"web-1","app":"api","n":[1,2]})";
    // Small segments: every message crosses a segment boundary.
    rte_mbuf* pkt = make_udp(rfc5424 + "\n" + rfc3164 + "\n" + json_line + "\n", syslog_port, 100);
    ASSERT_GT(pkt->nb_segs, 3);
    burst({pkt});
    const auto recs = take(0);
    ASSERT_EQ(recs.size(), 3u);
    simdjson::dom::parser p;

    const auto a = parse_record(p, recs[0].text);
    EXPECT_EQ(std::string_view(a["host"]), "mymachine.example.com");
    EXPECT_EQ(std::string_view(a["app"]), "evntslog");
    EXPECT_EQ(int64_t(a["severity"]), 5);
    EXPECT_EQ(int64_t(a["facility"]), 20);
    EXPECT_EQ(std::string_view(a["msgid"]), "ID47");
    EXPECT_EQ(std::string_view(a["format"]), "rfc5424");
    EXPECT_EQ(std::string_view(a["source"]), "198.18.0.7:40000");
    EXPECT_EQ(std::string_view(a["ts"]), "2003-10-11T22:14:15.003000000Z");
    EXPECT_EQ(std::string_view(a["message"]), long_text);
    EXPECT_EQ(std::string_view(a["sd"]["exampleSDID@32473"]["eventSource"]), "App\"x]");
    EXPECT_EQ(std::string_view(a["sd"]["exampleSDID@32473"]["iut"]), "3");
    bool referenced = false;
    for (const msg_desc& d : recs[0].pieces) {
        referenced |= d.gen == 0;
    }
    EXPECT_TRUE(referenced) << "the long message goes by reference";

    const auto b = parse_record(p, recs[1].text);
    EXPECT_EQ(std::string_view(b["host"]), "mymachine");
    EXPECT_EQ(std::string_view(b["app"]), "su");
    EXPECT_EQ(int64_t(b["severity"]), 2);
    EXPECT_EQ(int64_t(b["facility"]), 4);
    EXPECT_EQ(std::string_view(b["format"]), "rfc3164");
    EXPECT_EQ(std::string_view(b["message"]), "'su root' failed for lonvick on /dev/pts/8");

    const auto c = parse_record(p, recs[2].text);
    EXPECT_EQ(std::string_view(c["host"]), "web-1");
    EXPECT_EQ(std::string_view(c["app"]), "api");
    EXPECT_EQ(int64_t(c["severity"]), 3);
    EXPECT_EQ(std::string_view(c["format"]), "json");
    EXPECT_EQ(std::string_view(c["message"]), "boom \"quoted\"\ttab");
    EXPECT_EQ(int64_t(c["log"]["n"].at(1)), 2) << "the original object, embedded";
    EXPECT_EQ(std::string_view(c["log"]["msg"]), "boom \"quoted\"\ttab");

    for (const std::size_t f : {1, 2, 3}) {
        EXPECT_EQ(stats.parsed[f].get(), 1u);
    }
    // The bytes each record was staged with, generated runs and references each once.
    EXPECT_EQ(stats.sink_in_bytes[0].get(),
              recs[0].text.size() + recs[1].text.size() + recs[2].text.size());
    EXPECT_EQ(in_use(), 0u);
}

// An ndjson record appended to the lane's ring: one generated piece, its LF after it, the LF not
// counted as the record's bytes; the next record starts right after that LF.
TEST_F(lanes_fixture, NdjsonAppendLaneCountsTheRecordWithoutItsLf) {
    w.parse = true;
    lanes[0].format = logagg::log::output_format::ndjson;
    lanes[0].append_max = 4096;
    w.default_sinks = 0b01;
    const std::string m1 =
        "<165>1 2003-10-11T22:14:15.003Z host app - ID47 [a@1 k=\"v\"] " + std::string(100, 'x');
    const std::string m2 = "<165>1 - host2 app - - - short";
    burst({make_udp(m1 + "\n" + m2 + "\n")});
    const auto recs = take(0);
    ASSERT_EQ(recs.size(), 2u);
    std::size_t bytes = 0;
    for (const out_record& r : recs) {
        ASSERT_EQ(r.pieces.size(), 1u) << "appended: one piece, no reference";
        EXPECT_EQ(r.pieces[0].own, 1u);
        EXPECT_EQ(r.pieces[0].lf_follows, 1u);
        EXPECT_EQ(arenas[0].base[r.pieces[0].off + r.pieces[0].len], '\n');
        EXPECT_EQ(r.text.front(), '{');
        EXPECT_EQ(r.text.back(), '}');
        bytes += r.text.size();
    }
    EXPECT_EQ(recs[1].pieces[0].off, recs[0].pieces[0].off + recs[0].pieces[0].len + 1);
    EXPECT_EQ(stats.sink_in_bytes[0].get(), bytes);
    EXPECT_EQ(in_use(), 0u);
}

TEST_F(lanes_fixture, KafkaLikeLaneGetsAKeyThenOneMessagePiece) {
    w.parse = true;
    lanes[0].contiguous = true;
    lanes[0].key = logagg::pipeline::key_field::host;
    w.default_sinks = 0b01;
    const std::string one = "<13>1 - web-1 app - - - fits in one segment";
    burst({make_udp(one)});
    EXPECT_EQ(stats.bytes_copied.get(), 5u) << "a reference needs no copy; the key is copied";
    auto recs = take(0);
    ASSERT_EQ(recs.size(), 1u);
    EXPECT_EQ(recs[0].key, "web-1");
    ASSERT_EQ(recs[0].pieces.size(), 1u);
    EXPECT_EQ(recs[0].text, one);

    // A message across two segments: linearised for parsing, then copied into one piece.
    const std::string two = "<13>1 - web-2 app - - - crosses a segment boundary of the packet";
    rte_mbuf* pkt = make_udp(two, syslog_port, 64);
    ASSERT_EQ(pkt->nb_segs, 2);
    burst({pkt});
    recs = take(0);
    ASSERT_EQ(recs.size(), 1u);
    EXPECT_EQ(recs[0].key, "web-2");
    ASSERT_EQ(recs[0].pieces.size(), 1u);
    EXPECT_EQ(recs[0].pieces[0].gen, 1u);
    EXPECT_EQ(recs[0].text, two);
    EXPECT_EQ(stats.bytes_copied.get(), 5 + 2 * two.size() + 5)
        << "into scratch, then into the arena; and the keys";

    // Encoded: the whole JSON object as one piece, even where it could reference the packet.
    lanes[0].format = logagg::log::output_format::ndjson;
    const std::string enc = "<13>1 - web-3 app - - - " + std::string(100, 'm');
    burst({make_udp(enc)});
    recs = take(0);
    ASSERT_EQ(recs.size(), 1u);
    EXPECT_EQ(recs[0].key, "web-3");
    EXPECT_EQ(recs[0].pieces.size(), 1u);
    simdjson::dom::parser p;
    const auto e = parse_record(p, recs[0].text);
    EXPECT_EQ(std::string_view(e["message"]), std::string(100, 'm'));
    EXPECT_EQ(in_use(), 0u);
}

TEST_F(lanes_fixture, KeyedLaneWithoutAHostSendsNoKey) {
    w.parse = true;
    lanes[0].key = logagg::pipeline::key_field::host;
    w.default_sinks = 0b01;
    burst({make_udp("<13>1 - - app - - - nil host\n<13>1 - h1 app - - - with host")});
    const auto recs = take(0);
    ASSERT_EQ(recs.size(), 2u);
    EXPECT_EQ(recs[0].key, "");
    EXPECT_EQ(recs[0].text, "<13>1 - - app - - - nil host");
    EXPECT_EQ(recs[1].key, "h1");
    EXPECT_EQ(recs[1].text, "<13>1 - h1 app - - - with host");
}

/// zlib (RFC 1950) of @p s.
std::string zlib_of(const std::string& s) {
    uLongf n = compressBound(static_cast<uLong>(s.size()));
    std::string out(n, '\0');
    EXPECT_EQ(compress2(reinterpret_cast<Bytef*>(out.data()), &n,
                        reinterpret_cast<const Bytef*>(s.data()), static_cast<uLong>(s.size()), 6),
              Z_OK);
    out.resize(n);
    return out;
}

/// A GELF chunk: magic, 8-byte message id, sequence number and count, then @p part.
std::string gelf_chunk(uint64_t id, uint8_t seq, uint8_t count, std::string_view part) {
    std::string c = "\x1e\x0f";
    for (int i = 0; i < 8; ++i) {
        c += static_cast<char>(id >> (56 - 8 * i));
    }
    c += static_cast<char>(seq);
    c += static_cast<char>(count);
    c += part;
    return c;
}

TEST_F(lanes_fixture, GelfPlainZlibAndChunkedBecomeOneRecordEach) {
    w.parse = true;
    w.validate_json = true; // as the runtime sets it when a sink writes ndjson
    lanes[0].format = logagg::log::output_format::ndjson;
    w.default_sinks = 0b01;
    auto doc = [](const std::string& host, const std::string& msg) {
        return R"({"version":"1.1","host":")" + host + R"(","short_message":")" + msg +
               R"(","level":3,"_app":"billing"})";
    };
    const std::string chunked = doc("gelf-c", "chunked " + std::string(300, 'c'));
    const std::size_t third = chunked.size() / 3;
    const std::string parts[3] = {chunked.substr(0, third), chunked.substr(third, third),
                                  chunked.substr(2 * third)};
    burst({make_udp(doc("gelf-a", "plain"), gelf_port),
           make_udp(zlib_of(doc("gelf-b", "zlib")), gelf_port),
           make_udp(gelf_chunk(42, 2, 3, parts[2]), gelf_port),
           make_udp(gelf_chunk(42, 0, 3, parts[0]), gelf_port)});
    EXPECT_EQ(in_use(), 2u) << "the pending chunks' packets went back (their bytes are copied)";
    EXPECT_EQ(gelf_chunks.in_flight(), 1u);
    burst({make_udp(gelf_chunk(42, 1, 3, parts[1]), gelf_port)});
    using logagg::log::gelf::chunk_status;
    EXPECT_EQ(stats.gelf_chunks[static_cast<std::size_t>(chunk_status::pending)].get(), 2u);
    EXPECT_EQ(stats.gelf_chunks[static_cast<std::size_t>(chunk_status::complete)].get(), 1u);
    uint64_t other_chunks = 0;
    for (const auto& c : stats.gelf_chunks) {
        other_chunks += c.get();
    }
    EXPECT_EQ(other_chunks, 3u);
    EXPECT_EQ(gelf_chunks.in_flight(), 0u);
    EXPECT_EQ(stats.gelf_bad_compression.get(), 0u);
    EXPECT_EQ(stats.parsed[static_cast<std::size_t>(logagg::log::input_format::gelf)].get(), 3u);
    EXPECT_EQ(stats.messages_framed.get(), 3u);

    const auto recs = take(0);
    ASSERT_EQ(recs.size(), 3u);
    simdjson::dom::parser p;
    const std::vector<std::pair<std::string, std::string>> want = {
        {"gelf-a", "plain"}, {"gelf-b", "zlib"}, {"gelf-c", "chunked " + std::string(300, 'c')}};
    for (std::size_t i = 0; i < 3; ++i) {
        SCOPED_TRACE(i);
        const auto e = parse_record(p, recs[i].text);
        EXPECT_EQ(std::string_view(e["host"]), want[i].first);
        EXPECT_EQ(std::string_view(e["message"]), want[i].second);
        EXPECT_EQ(std::string_view(e["app"]), "billing");
        EXPECT_EQ(int64_t(e["severity"]), 3);
        EXPECT_EQ(std::string_view(e["format"]), "gelf");
    }
    EXPECT_EQ(in_use(), 0u);
}

// With raw output and nothing else reading records, workers do not parse; GELF datagrams were then
// framed as LF lines: chunk headers and compressed bytes went out as binary "messages", several
// per datagram (e2e case gelf, raw run). A GELF message is still one message, reassembled and
// inflated, written as its JSON.
TEST_F(lanes_fixture, GelfWithRawOutputAndNoParsingIsStillOneMessageEach) {
    ASSERT_FALSE(w.parse);
    w.default_sinks = 0b01;
    const std::string a = R"({"version":"1.1","host":"gelf-a","short_message":"plain\nline"})";
    const std::string b = R"({"version":"1.1","host":"gelf-b","short_message":"zlib"})";
    const std::string c = R"({"version":"1.1","host":"gelf-c","short_message":"chunked"})";
    const std::string d = R"({"version":"1.1","host":"gelf-d","short_message":"auto"})";
    burst({make_udp(a, gelf_port), make_udp(zlib_of(b), gelf_port),
           make_udp(gelf_chunk(7, 1, 2, c.substr(20)), gelf_port),
           make_udp(gelf_chunk(7, 0, 2, c.substr(0, 20)), gelf_port),
           make_udp(zlib_of(d), syslog_port)});
    EXPECT_EQ(texts(take(0)), (std::vector<std::string>{a, b, c, d}));
    EXPECT_EQ(stats.messages_framed.get(), 4u);
    using logagg::log::gelf::chunk_status;
    EXPECT_EQ(stats.gelf_chunks[static_cast<std::size_t>(chunk_status::complete)].get(), 1u);
    EXPECT_GT(stats.bytes_copied.get(), 0u) << "reassembly and inflation copy, counted";
    EXPECT_EQ(in_use(), 0u);
}

TEST_F(lanes_fixture, GelfRecordsFeedFiltersToo) {
    w.parse = true;
    filters = {filter("host==gelf-a && msg^=keep")};
    w.default_sinks = 0b10;
    const std::string a = R"({"version":"1.1","host":"gelf-a","short_message":"keep me"})";
    const std::string b = R"({"version":"1.1","host":"gelf-b","short_message":"keep me"})";
    burst({make_udp(a, gelf_port), make_udp(zlib_of(b), gelf_port)});
    EXPECT_EQ(texts(take(1)), (std::vector<std::string>{a}));
    EXPECT_EQ(dropped(msg_drop::filtered), 1u);
}

TEST_F(lanes_fixture, EachListenerCountsItsFramesBytesMessagesAndDrops) {
    // Two listeners (514 syslog, 12201 GELF); a filter drops one message of each. Frames,
    // payload bytes, messages and dropped messages land on the listener of their port (by
    // listener_table slot); a GELF message counts on the frame that completed it.
    w.parse = true;
    filters = {filter("host^=web-")};
    w.default_sinks = 0b01;
    const std::string lines = "<12>1 - web-1 app - - - kept\n<14>1 - db-1 app - - - dropped\n";
    const std::string a = R"({"version":"1.1","host":"web-2","short_message":"kept"})";
    const std::string b = R"({"version":"1.1","host":"db-2","short_message":"dropped"})";
    const std::string chunked = R"({"version":"1.1","host":"web-3","short_message":"two parts"})";
    const std::string c0 = gelf_chunk(9, 0, 2, chunked.substr(0, 20));
    const std::string c1 = gelf_chunk(9, 1, 2, chunked.substr(20));
    burst({make_udp(lines), make_udp(""), make_udp(a, gelf_port), make_udp(zlib_of(b), gelf_port),
           make_udp(c0, gelf_port), make_udp(c1, gelf_port)});
    const auto& syslog = stats.listeners[listeners.slot(syslog_port)];
    const auto& gelf = stats.listeners[listeners.slot(gelf_port)];
    EXPECT_NE(listeners.slot(syslog_port), listeners.slot(gelf_port));
    EXPECT_EQ(syslog.packets.get(), 2u);
    EXPECT_EQ(syslog.bytes.get(), lines.size());
    EXPECT_EQ(syslog.messages.get(), 2u);
    EXPECT_EQ(syslog.dropped.get(), 1u);
    EXPECT_EQ(gelf.packets.get(), 4u);
    EXPECT_EQ(gelf.bytes.get(), a.size() + zlib_of(b).size() + c0.size() + c1.size());
    EXPECT_EQ(gelf.messages.get(), 3u);
    EXPECT_EQ(gelf.dropped.get(), 1u);
    EXPECT_EQ(stats.listeners[0].packets.get(), 0u) << "slot 0: ports without a listener";
    EXPECT_EQ(syslog.messages.get() + gelf.messages.get(), stats.messages_framed.get());
    EXPECT_EQ(syslog.dropped.get() + gelf.dropped.get(), dropped(msg_drop::filtered));
    EXPECT_EQ(dropped(msg_drop::filtered), 2u);
    EXPECT_EQ(texts(take(0)).size(), 3u);
}

TEST_F(lanes_fixture, DropModeDropsWholeUnitsPerLaneAndRollsBackItsArena) {
    w.parse = true;
    lanes[1].format = logagg::log::output_format::ndjson;
    rte_ring_free(rings[1]);
    rings[1] = rte_ring_create_elem("test_small_lane", sizeof(msg_desc), 8, SOCKET_ID_ANY,
                                    RING_F_SP_ENQ | RING_F_SC_DEQ); // room for 7
    ASSERT_NE(rings[1], nullptr);
    lanes[1].ring = rings[1];
    std::string a;
    std::string b;
    for (int i = 0; i < 4; ++i) {
        a += "<13>1 - h app - - - a" + std::to_string(i) + "\n";
        b += "<13>1 - h app - - - b" + std::to_string(i) + "\n";
    }
    rte_mbuf* pa = make_udp(a);
    rte_mbuf* pb = make_udp(b);
    burst({pa, pb});
    EXPECT_EQ(rte_mbuf_refcnt_read(pa), 2);
    EXPECT_EQ(rte_mbuf_refcnt_read(pb), 1) << "lane 1 dropped its unit of b and its reference";
    EXPECT_EQ(stats.sink_in[1].get(), 8u);
    EXPECT_EQ(stats.sink_full[1].get(), 4u);
    EXPECT_EQ(stats.sink_full[0].get(), 0u);
    const uint64_t head = arenas[1].head;
    const auto recs = take(1);
    ASSERT_EQ(recs.size(), 4u);
    uint64_t end = 0;
    simdjson::dom::parser p;
    for (std::size_t i = 0; i < recs.size(); ++i) {
        for (const msg_desc& d : recs[i].pieces) {
            if (d.gen != 0) {
                end = std::max<uint64_t>(end, d.off + d.len);
            }
        }
        const auto e = parse_record(p, recs[i].text);
        EXPECT_EQ(std::string_view(e["message"]), "a" + std::to_string(i));
    }
    EXPECT_EQ(head, end) << "the dropped records' generated bytes are free again";
    EXPECT_EQ(take(0).size(), 8u);
    EXPECT_EQ(in_use(), 0u);
}

TEST_F(lanes_fixture, SpilledUnitsOfAFannedOutPacketHoldAReferenceEach) {
    std::string payload;
    for (int i = 0; i < 700; ++i) {
        payload += "m" + std::to_string(i) + "\n";
    }
    rte_mbuf* pkt = make_udp(payload);
    burst({pkt});
    EXPECT_EQ(rte_mbuf_refcnt_read(pkt), 4) << "two units in each of two lanes";
    const auto a = take(0);
    EXPECT_EQ(a.size(), 700u);
    EXPECT_EQ(rte_mbuf_refcnt_read(pkt), 2);
    const auto b = take(1);
    EXPECT_EQ(texts(b), texts(a));
    EXPECT_EQ(b[699].text, "m699");
    EXPECT_EQ(in_use(), 0u);
}

TEST_F(lanes_fixture, FullArenaDropsMessagesAndCountsThem) {
    w.parse = true;
    w.validate_json = true; // as the runtime sets it when a sink writes ndjson
    lanes[0].format = logagg::log::output_format::ndjson;
    arenas[0].size = 8192; // the sink releases nothing until take(): it fills up
    w.default_sinks = 0b01;
    std::string payload;
    for (int i = 0; i < 40; ++i) {
        payload += "<13>1 - h app - - - message number " + std::to_string(i) + "\n";
    }
    burst({make_udp(payload)});
    const auto recs = take(0);
    EXPECT_EQ(stats.sink_in[0].get(), 40u);
    EXPECT_GT(stats.sink_full[0].get(), 0u);
    EXPECT_GT(recs.size(), 0u);
    EXPECT_EQ(recs.size() + stats.sink_full[0].get(), 40u);
    simdjson::dom::parser p;
    for (std::size_t i = 0; i < recs.size(); ++i) {
        const auto e = parse_record(p, recs[i].text);
        EXPECT_EQ(std::string_view(e["message"]), "message number " + std::to_string(i));
    }
    // Released: room again.
    burst({make_udp("<13>1 - h app - - - after")});
    const auto more = take(0);
    ASSERT_EQ(more.size(), 1u);
    EXPECT_EQ(std::string_view(parse_record(p, more[0].text)["message"]), "after");
    EXPECT_EQ(in_use(), 0u);
}

} // namespace
