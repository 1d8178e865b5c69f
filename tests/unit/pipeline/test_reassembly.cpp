// SPDX-License-Identifier: BSD-3-Clause
// The reassembler on real mbufs: IPv4 and IPv6, in order and shuffled, and every refusal named,
// with the pool back to its start value after each test.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/eal_env.hpp"
#include "common/frames.hpp"
#include "net/classify.hpp"
#include "pipeline/reassembly.hpp"

namespace {

using logagg::net::drop_reason;
using logagg::testing::bytes;
using logagg::testing::g_pool;

const auto* const g_env =
    ::testing::AddGlobalTestEnvironment(new logagg::testing::eal_env("reassembly"));

struct drops {
    uint32_t by[logagg::net::drop_reason_count] = {};
    uint32_t of(drop_reason r) const { return by[static_cast<std::size_t>(r)]; }
};

void count(void* ctx, drop_reason why, uint32_t frames) noexcept {
    static_cast<drops*>(ctx)->by[static_cast<std::size_t>(why)] += frames;
}

/// A UDP datagram to port 514 with an @p size-byte payload, cut into IP fragments of at most
/// @p per bytes of IP payload (a multiple of 8).
std::vector<bytes> fragments(int ip, std::size_t size, std::size_t per, uint32_t id = 7) {
    logagg::testing::spec s;
    s.ip = ip;
    s.payload = std::string(size, 'p');
    for (std::size_t i = 0; i < size; i += 100) {
        s.payload[i] = static_cast<char>('A' + (i / 100) % 26); // position markers
    }
    s.pad = false;
    const auto whole = logagg::testing::build(s);
    const bytes l3(whole.frame.begin() + 14, whole.frame.end());
    const std::size_t hlen = ip == 4 ? 20 : 40;
    const bytes data(l3.begin() + static_cast<long>(hlen), l3.end());
    std::vector<bytes> out;
    for (std::size_t off = 0; off < data.size(); off += per) {
        const std::size_t len = std::min(per, data.size() - off);
        const bool more = off + len < data.size();
        bytes f(whole.frame.begin(), whole.frame.begin() + 14);
        bytes h(l3.begin(), l3.begin() + static_cast<long>(hlen));
        if (ip == 4) {
            logagg::testing::put16(h, 2, static_cast<uint16_t>(20 + len));
            logagg::testing::put16(h, 4, static_cast<uint16_t>(id));
            logagg::testing::put16(h, 6, static_cast<uint16_t>((more ? 0x2000 : 0) | (off / 8)));
            h[10] = h[11] = 0;
            logagg::testing::put16(h, 10, logagg::testing::cksum(h));
        } else {
            logagg::testing::put16(h, 4, static_cast<uint16_t>(8 + len));
            h[6] = 44;
            h.insert(h.end(), {17, 0, static_cast<uint8_t>((off | (more ? 1 : 0)) >> 8),
                               static_cast<uint8_t>((off & 0xf8) | (more ? 1 : 0)),
                               static_cast<uint8_t>(id >> 24), static_cast<uint8_t>(id >> 16),
                               static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id)});
        }
        f.insert(f.end(), h.begin(), h.end());
        f.insert(f.end(), data.begin() + static_cast<long>(off),
                 data.begin() + static_cast<long>(off + len));
        out.push_back(f);
    }
    return out;
}

rte_mbuf* to_mbuf(const bytes& f) {
    rte_mbuf* m = rte_pktmbuf_alloc(g_pool);
    EXPECT_NE(m, nullptr);
    std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(f.size())), f.data(), f.size());
    return m;
}

struct fixture : ::testing::Test {
    unsigned before = 0;
    drops d;
    logagg::net::listen_ports ports;
    void SetUp() override {
        before = rte_mempool_in_use_count(g_pool);
        ports.add(514);
    }
    void TearDown() override {
        EXPECT_EQ(rte_mempool_in_use_count(g_pool), before) << "mbufs leaked";
    }

    logagg::net::packet_info classify(rte_mbuf* m, drop_reason want = drop_reason::none,
                                      bool reassemble = true) {
        logagg::net::classify_options o;
        o.reassemble = reassemble;
        logagg::net::packet_info info;
        EXPECT_EQ(logagg::net::classify(m, ports, o, info), want);
        return info;
    }

    /// Feeds every fragment; returns the datagram (or nullptr) after the last.
    rte_mbuf* feed(logagg::pipeline::reassembler& r, const std::vector<bytes>& frags,
                   uint64_t now = 0) {
        rte_mbuf* done = nullptr;
        for (const bytes& f : frags) {
            rte_mbuf* m = to_mbuf(f);
            const auto info = classify(m);
            EXPECT_EQ(info.kind, logagg::net::packet_kind::fragment);
            const auto res = r.add(m, info, now, count, &d);
            if (res.datagram != nullptr) {
                EXPECT_EQ(done, nullptr);
                done = res.datagram;
            }
        }
        return done;
    }
};

logagg::pipeline::reassembly_limits limits(uint32_t datagrams = 64, uint32_t max_frags = 512) {
    logagg::pipeline::reassembly_limits l;
    l.datagrams = datagrams;
    l.max_fragments = max_frags;
    l.timeout_tsc = 1000;
    return l;
}

void expect_whole(fixture& t, rte_mbuf* m, std::size_t size) {
    ASSERT_NE(m, nullptr);
    // The rebuilt chain is an ordinary datagram: UDP checksum verified across segments.
    const auto info = t.classify(m, drop_reason::none, false);
    EXPECT_EQ(info.kind, logagg::net::packet_kind::log);
    EXPECT_EQ(info.payload_len, size);
    std::string payload(size, '\0');
    const void* p =
        rte_pktmbuf_read(m, info.payload_off, static_cast<uint32_t>(size), payload.data());
    if (p != payload.data()) {
        std::memcpy(payload.data(), p, size);
    }
    for (std::size_t i = 0; i < size; i += 100) {
        ASSERT_EQ(payload[i], static_cast<char>('A' + (i / 100) % 26)) << "at " << i;
    }
    rte_pktmbuf_free(m);
}

TEST_F(fixture, Ipv4InOrderAndShuffled) {
    logagg::pipeline::reassembler r(limits());
    expect_whole(*this, feed(r, fragments(4, 5000, 1480)), 5000);
    auto frags = fragments(4, 20000, 1480, 8);
    std::mt19937 rng(1);
    std::shuffle(frags.begin(), frags.end(), rng);
    expect_whole(*this, feed(r, frags), 20000);
    EXPECT_EQ(r.pending_datagrams(), 0u);
    EXPECT_EQ(r.held_fragments(), 0u);
}

TEST_F(fixture, Ipv6FragmentHeaderIsRemoved) {
    logagg::pipeline::reassembler r(limits());
    auto frags = fragments(6, 60000, 1232);
    std::reverse(frags.begin(), frags.end());
    expect_whole(*this, feed(r, frags), 60000);
}

TEST_F(fixture, OverlapDiscardsTheWholeDatagram) {
    logagg::pipeline::reassembler r(limits());
    auto frags = fragments(4, 4000, 1480);
    auto other = fragments(4, 4000, 1000); // same id, different cut: overlaps
    EXPECT_EQ(feed(r, {frags[0], other[1]}), nullptr);
    EXPECT_EQ(d.of(drop_reason::frag_overlap), 2u);
    EXPECT_EQ(r.held_fragments(), 0u);
}

TEST_F(fixture, DuplicatesAreDroppedAlone) {
    logagg::pipeline::reassembler r(limits());
    auto frags = fragments(4, 4000, 1480);
    std::vector<bytes> with_dup{frags[0], frags[1], frags[1], frags[2]};
    expect_whole(*this, feed(r, with_dup), 4000);
    EXPECT_EQ(d.of(drop_reason::frag_duplicate), 1u);
}

TEST_F(fixture, TimeoutsAndShutdownDropWhatIsPending) {
    logagg::pipeline::reassembler r(limits());
    auto a = fragments(4, 4000, 1480, 1);
    auto b = fragments(6, 4000, 1232, 2);
    EXPECT_EQ(feed(r, {a[0], a[1]}, 0), nullptr);
    EXPECT_EQ(feed(r, {b[0]}, 600), nullptr);
    r.expire(999, count, &d);
    EXPECT_EQ(d.of(drop_reason::frag_timeout), 0u);
    // Scans run at most every timeout/16 (62 here): by 1000 + 62 a is found, b (600) is not due.
    r.expire(1062, count, &d);
    EXPECT_EQ(d.of(drop_reason::frag_timeout), 2u); // a's two frames
    r.drain(count, &d);
    EXPECT_EQ(d.of(drop_reason::frag_incomplete), 1u);
    EXPECT_EQ(r.pending_datagrams(), 0u);
}

TEST_F(fixture, BoundsAreNamed) {
    logagg::pipeline::reassembler r(limits(2, 4));
    EXPECT_EQ(feed(r, {fragments(4, 4000, 1480, 1)[0]}), nullptr);
    EXPECT_EQ(feed(r, {fragments(4, 4000, 1480, 2)[0]}), nullptr);
    EXPECT_EQ(feed(r, {fragments(4, 4000, 1480, 3)[0]}), nullptr);
    EXPECT_EQ(d.of(drop_reason::frag_table_full), 1u);
    auto two = fragments(4, 4000, 1480, 2);
    EXPECT_EQ(feed(r, {two[1], fragments(4, 4000, 1480, 1)[1]}), nullptr); // 4 held now
    EXPECT_EQ(feed(r, {two[2]}), nullptr);
    EXPECT_EQ(d.of(drop_reason::frag_memory_full), 1u);
    r.drain(count, &d);
    EXPECT_EQ(d.of(drop_reason::frag_incomplete), 4u);
}

TEST_F(fixture, TooManyFragmentsAndInconsistentEnds) {
    logagg::pipeline::reassembler r(limits());
    auto tiny = fragments(4, 1000, 8, 9); // 126 fragments of 8 bytes
    EXPECT_EQ(feed(r, std::vector<bytes>(tiny.begin(), tiny.begin() + 65)), nullptr);
    EXPECT_EQ(d.of(drop_reason::frag_too_many), 65u);
    auto frags = fragments(4, 4000, 1480, 10);
    auto shorter = fragments(4, 1000, 504, 10); // its last fragment ends before data we hold
    EXPECT_EQ(feed(r, {frags[1], shorter[1]}), nullptr);
    EXPECT_GE(d.of(drop_reason::frag_overlap), 1u);
    r.drain(count, &d);
}

TEST_F(fixture, InvalidFragmentsAreRefusedByClassify) {
    auto frags = fragments(4, 4000, 1480);
    bytes odd = frags[0];
    logagg::testing::put16(odd, 16,
                           static_cast<uint16_t>(20 + 1477)); // non-final, not a multiple of 8
    odd.resize(14 + 20 + 1477);
    odd[24] = odd[25] = 0;
    bytes hdr(odd.begin() + 14, odd.begin() + 34);
    logagg::testing::put16(odd, 24, logagg::testing::cksum(hdr));
    rte_mbuf* m = to_mbuf(odd);
    classify(m, drop_reason::frag_invalid);
    rte_pktmbuf_free(m);
    m = to_mbuf(frags[0]);
    classify(m, drop_reason::ipv4_fragment, false); // --reassembly off
    rte_pktmbuf_free(m);
}

} // namespace
