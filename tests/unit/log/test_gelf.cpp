// SPDX-License-Identifier: BSD-3-Clause
// GELF chunk reassembly and decompression.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <zlib.h>

#include "log/gelf.hpp"

namespace {

using namespace logagg::log::gelf;

constexpr uint64_t sec = 1'000'000'000ULL;

std::string chunk(uint64_t id, uint8_t seq, uint8_t count, const std::string& payload) {
    std::string d;
    d += static_cast<char>(chunk_magic_0);
    d += static_cast<char>(chunk_magic_1);
    d.append(reinterpret_cast<const char*>(&id), 8);
    d += static_cast<char>(seq);
    d += static_cast<char>(count);
    return d + payload;
}

/// Cuts @p msg into @p n chunks of message @p id.
std::vector<std::string> chunks_of(uint64_t id, const std::string& msg, unsigned n) {
    std::vector<std::string> out;
    const std::size_t per = (msg.size() + n - 1) / n;
    for (unsigned i = 0; i < n; ++i) {
        const std::size_t from = std::min(msg.size(), i * per);
        out.push_back(
            chunk(id, static_cast<uint8_t>(i), static_cast<uint8_t>(n), msg.substr(from, per)));
    }
    return out;
}

std::string deflate_as(const std::string& in, int window_bits) {
    z_stream zs{};
    EXPECT_EQ(deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY),
              Z_OK);
    std::string out(deflateBound(&zs, in.size()) + 32, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
    out.resize(out.size() - zs.avail_out);
    deflateEnd(&zs);
    return out;
}

const std::string doc =
    R"({"version":"1.1","host":"web-1","short_message":"GET /api 200","level":6,"_req":"abc"})";

TEST(GelfChunks, InOrderCompletesOnTheLastChunk) {
    reassembler r;
    const auto parts = chunks_of(42, doc, 4);
    std::string_view out;
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
        EXPECT_EQ(r.feed(parts[i], 0, out), chunk_status::pending);
    }
    ASSERT_EQ(r.feed(parts.back(), 0, out), chunk_status::complete);
    EXPECT_EQ(out, doc);
    EXPECT_EQ(r.in_flight(), 0u);
    EXPECT_EQ(r.free_blocks(), limits{}.blocks);
    // A late duplicate of a completed message is a duplicate, not the start of a new message.
    EXPECT_EQ(r.feed(parts[1], 0, out), chunk_status::duplicate);
    EXPECT_EQ(r.in_flight(), 0u);
}

TEST(GelfChunks, OutOfOrderDuplicatesAndInterleavedMessages) {
    reassembler r;
    auto a = chunks_of(1, doc, 5);
    auto b = chunks_of(2, doc + "B", 3);
    std::string_view out;
    EXPECT_EQ(r.feed(a[4], 0, out), chunk_status::pending);
    EXPECT_EQ(r.feed(b[2], 0, out), chunk_status::pending);
    EXPECT_EQ(r.feed(a[4], 0, out), chunk_status::duplicate);
    EXPECT_EQ(r.feed(a[0], 0, out), chunk_status::pending);
    EXPECT_EQ(r.feed(b[0], 0, out), chunk_status::pending);
    EXPECT_EQ(r.feed(a[2], 0, out), chunk_status::pending);
    EXPECT_EQ(r.feed(a[1], 0, out), chunk_status::pending);
    ASSERT_EQ(r.feed(b[1], 0, out), chunk_status::complete);
    EXPECT_EQ(out, doc + "B");
    ASSERT_EQ(r.feed(a[3], 0, out), chunk_status::complete);
    EXPECT_EQ(out, doc);
    EXPECT_EQ(r.in_flight(), 0u);
}

TEST(GelfChunks, MissingChunkTimesOutAndFreesItsMemory) {
    reassembler r;
    const auto parts = chunks_of(7, doc, 3);
    std::string_view out;
    EXPECT_EQ(r.feed(parts[0], 1 * sec, out), chunk_status::pending);
    EXPECT_EQ(r.feed(parts[2], 2 * sec, out), chunk_status::pending);
    EXPECT_EQ(r.expire(5 * sec).messages, 0u); // 4 s old: not yet
    const auto e = r.expire(6 * sec);
    EXPECT_EQ(e.messages, 1u);
    EXPECT_EQ(e.chunks, 2u);
    EXPECT_EQ(r.in_flight(), 0u);
    EXPECT_EQ(r.free_blocks(), limits{}.blocks);
    // The late chunk now starts a new message, which waits for the others again.
    EXPECT_EQ(r.feed(parts[1], 7 * sec, out), chunk_status::pending);
}

TEST(GelfChunks, MalformedChunksAreNamed) {
    reassembler r;
    std::string_view out;
    EXPECT_EQ(r.feed("\x1e\x0f"
                     "short",
                     0, out),
              chunk_status::bad_header);
    EXPECT_EQ(r.feed(std::string(20, 'x'), 0, out), chunk_status::bad_header);
    EXPECT_EQ(r.feed(chunk(1, 0, 0, "x"), 0, out), chunk_status::bad_sequence);
    EXPECT_EQ(r.feed(chunk(1, 0, 129, "x"), 0, out), chunk_status::bad_sequence);
    EXPECT_EQ(r.feed(chunk(1, 3, 3, "x"), 0, out), chunk_status::bad_sequence);
    EXPECT_EQ(r.feed(chunk(1, 0, 3, "x"), 0, out), chunk_status::pending);
    EXPECT_EQ(r.feed(chunk(1, 1, 4, "x"), 0, out), chunk_status::inconsistent_count);
    EXPECT_EQ(r.feed(chunk(2, 0, 2, std::string(limits{}.block_size + 1, 'y')), 0, out),
              chunk_status::chunk_too_large);
    // 128 chunks is the maximum and works.
    const auto many = chunks_of(9, std::string(1000, 'z'), 128);
    for (std::size_t i = 0; i + 1 < many.size(); ++i) {
        ASSERT_EQ(r.feed(many[i], 0, out), chunk_status::pending);
    }
    ASSERT_EQ(r.feed(many.back(), 0, out), chunk_status::complete);
    EXPECT_EQ(out, std::string(1000, 'z'));
}

TEST(GelfChunks, TableAndMemoryBoundsHold) {
    limits l;
    l.slots = 4;
    l.blocks = 6;
    l.block_size = 64;
    reassembler r(l);
    std::string_view out;
    for (uint64_t id = 0; id < 4; ++id) {
        EXPECT_EQ(r.feed(chunk(id, 0, 2, "a"), 0, out), chunk_status::pending);
    }
    EXPECT_EQ(r.feed(chunk(99, 0, 2, "a"), 0, out), chunk_status::table_full);
    EXPECT_EQ(r.feed(chunk(0, 1, 3, "a"), 0, out), chunk_status::inconsistent_count);
    EXPECT_EQ(r.feed(chunk(0, 1, 2, "b"), 0, out), chunk_status::complete);
    EXPECT_EQ(out, "ab");
    // 3 slots hold 3 blocks; 3 blocks left: fill them through one new message of 8 chunks.
    for (uint8_t q = 0; q < 3; ++q) {
        EXPECT_EQ(r.feed(chunk(50, q, 8, "c"), 0, out), chunk_status::pending);
    }
    EXPECT_EQ(r.feed(chunk(50, 3, 8, "c"), 0, out), chunk_status::memory_full);
    EXPECT_EQ(r.free_blocks(), 0u);
    const auto e = r.expire(10 * sec);
    EXPECT_EQ(e.messages, 4u);
    EXPECT_EQ(r.free_blocks(), 6u);
}

TEST(GelfChunks, RandomInterleavingsAlwaysReassembleExactly) {
    std::mt19937 rng(12345);
    limits l;
    l.slots = 64; // small table: exercises probing and backward-shift deletion
    reassembler r(l);
    for (int round = 0; round < 50; ++round) {
        std::vector<std::pair<uint64_t, std::string>> msgs;
        std::vector<std::string> all;
        for (int m = 0; m < 40; ++m) {
            const uint64_t id = rng();
            std::string body = "msg-" + std::to_string(round) + "-" + std::to_string(m) +
                               std::string(rng() % 3000, 'p');
            msgs.emplace_back(id, body);
            for (auto& c : chunks_of(id, body, 1 + rng() % 20)) {
                all.push_back(c);
                if (rng() % 5 == 0) {
                    all.push_back(c); // duplicate
                }
            }
        }
        std::shuffle(all.begin(), all.end(), rng);
        std::vector<std::string> done;
        std::string_view out;
        for (const auto& c : all) {
            const chunk_status s = r.feed(c, 0, out);
            ASSERT_TRUE(s == chunk_status::pending || s == chunk_status::complete ||
                        s == chunk_status::duplicate);
            if (s == chunk_status::complete) {
                done.emplace_back(out);
            }
        }
        std::vector<std::string> want;
        for (auto& m : msgs) {
            want.push_back(m.second);
        }
        std::sort(done.begin(), done.end());
        std::sort(want.begin(), want.end());
        ASSERT_EQ(done, want) << "round " << round;
        ASSERT_EQ(r.in_flight(), 0u);
        ASSERT_EQ(r.free_blocks(), l.blocks);
    }
}

TEST(GelfInflate, ZlibAndGzipAreDetectedAndInflated) {
    inflater inf;
    const std::string z = deflate_as(doc, 15);
    const std::string g = deflate_as(doc, 15 + 16);
    EXPECT_EQ(detect_compression(z), compression::zlib);
    EXPECT_EQ(detect_compression(g), compression::gzip);
    EXPECT_EQ(detect_compression(doc), compression::none);
    std::string_view out;
    ASSERT_EQ(inf.inflate(z, out), inflate_status::ok);
    EXPECT_EQ(out, doc);
    ASSERT_EQ(inf.inflate(g, out), inflate_status::ok);
    EXPECT_EQ(out, doc);
}

TEST(GelfInflate, BombsAndGarbageAreRejected) {
    inflater inf(4096);
    const std::string bomb = deflate_as(std::string(1 << 20, 'a'), 15);
    std::string_view out;
    EXPECT_EQ(inf.inflate(bomb, out), inflate_status::too_large);
    EXPECT_EQ(inf.inflate("\x78\x9c"
                          "garbage",
                          out),
              inflate_status::corrupt);
    std::string cut = deflate_as(doc, 15);
    cut.resize(cut.size() / 2);
    EXPECT_EQ(inf.inflate(cut, out), inflate_status::corrupt);
    // Still usable after errors.
    ASSERT_EQ(inf.inflate(deflate_as(doc, 31), out), inflate_status::ok);
    EXPECT_EQ(out, doc);
}

TEST(GelfInflate, ChunkedCompressedMessageEndToEnd) {
    reassembler r;
    inflater inf;
    const std::string g = deflate_as(doc + std::string(5000, ' '), 31);
    const auto parts = chunks_of(77, g, 6);
    std::string_view msg;
    for (std::size_t i = parts.size(); i-- > 0;) {
        const chunk_status s = r.feed(parts[i], 0, msg);
        ASSERT_EQ(s, i == 0 ? chunk_status::complete : chunk_status::pending);
    }
    std::string_view out;
    ASSERT_EQ(inf.inflate(msg, out), inflate_status::ok);
    EXPECT_EQ(out, doc + std::string(5000, ' '));
}

} // namespace
