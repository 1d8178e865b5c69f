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
/// @p per bytes of IP payload (a multiple of 8), from source @p src (spec::src_id).
std::vector<bytes> fragments(int ip, std::size_t size, std::size_t per, uint32_t id = 7,
                             uint16_t src = 0) {
    logagg::testing::spec s;
    s.ip = ip;
    s.src_id = src;
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

/// Bounds for a test; the per-source ones default to the whole table (no per-source bound).
logagg::pipeline::reassembly_limits limits(uint32_t datagrams = 64, uint32_t max_frags = 512,
                                           uint32_t per_source_datagrams = 0,
                                           uint32_t per_source_fragments = 0) {
    logagg::pipeline::reassembly_limits l;
    l.datagrams = datagrams;
    l.max_fragments = max_frags;
    l.per_source_datagrams = per_source_datagrams != 0 ? per_source_datagrams : datagrams;
    l.per_source_fragments = per_source_fragments != 0 ? per_source_fragments : max_frags;
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
    // Oldest first: at 1000 a is due, b (600) is not.
    r.expire(1000, count, &d);
    EXPECT_EQ(d.of(drop_reason::frag_timeout), 2u); // a's two frames
    EXPECT_EQ(r.pending_datagrams(), 1u);
    r.drain(count, &d);
    EXPECT_EQ(d.of(drop_reason::frag_incomplete), 1u);
    EXPECT_EQ(r.pending_datagrams(), 0u);
    EXPECT_EQ(r.sources(), 0u);
}

/// The first fragment of datagram @p id from source @p src: 64 bytes of a 200-byte datagram,
/// never completed.
bytes first_of(uint32_t id, uint16_t src, int ip = 4) {
    return fragments(ip, 200, 64, id, src)[0];
}

/// Frames fed, and where each went: merged into a datagram or dropped by some reason.
uint32_t accounted(const drops& d, uint32_t merged) {
    uint32_t n = merged;
    for (uint32_t v : d.by) {
        n += v;
    }
    return n;
}

TEST_F(fixture, AFullTableEvictsTheOldestIncompleteDatagram) {
    // Every datagram from its own source (id): the table's bound, not a source's.
    logagg::pipeline::reassembler r(limits(4, 512));
    for (uint32_t id = 1; id <= 4; ++id) {
        EXPECT_EQ(feed(r, {fragments(4, 4000, 1480, id, static_cast<uint16_t>(id))[0]}, id),
                  nullptr);
    }
    EXPECT_EQ(r.pending_datagrams(), 4u);
    // A fifth datagram: the oldest (id 1) goes, its one frame counted.
    EXPECT_EQ(feed(r, {fragments(4, 4000, 1480, 5, 5)[0]}, 5), nullptr);
    EXPECT_EQ(d.of(drop_reason::frag_evicted), 1u);
    EXPECT_EQ(r.pending_datagrams(), 4u);
    // id 2 was not evicted: its other fragments complete it.
    auto two = fragments(4, 4000, 1480, 2, 2);
    expect_whole(*this, feed(r, {two[1], two[2]}, 6), 4000);
    // id 1's rest starts it anew (its first fragment is gone); 3 pending, so nothing goes.
    auto one = fragments(4, 4000, 1480, 1, 1);
    EXPECT_EQ(feed(r, {one[1], one[2]}, 7), nullptr);
    EXPECT_EQ(d.of(drop_reason::frag_evicted), 1u);
    // Full again: the next new datagram evicts id 3, now the oldest, and id 3 anew evicts id 4.
    EXPECT_EQ(feed(r, {fragments(4, 4000, 1480, 6, 6)[0]}, 8), nullptr);
    EXPECT_EQ(d.of(drop_reason::frag_evicted), 2u);
    auto three = fragments(4, 4000, 1480, 3, 3);
    EXPECT_EQ(feed(r, {three[1], three[2]}, 9), nullptr);
    EXPECT_EQ(d.of(drop_reason::frag_evicted), 3u);
    r.drain(count, &d);
    EXPECT_EQ(r.pending_datagrams(), 0u);
    EXPECT_EQ(r.held_fragments(), 0u);
    EXPECT_EQ(accounted(d, 3), 4u + 1u + 2u + 2u + 1u + 2u);
}

TEST_F(fixture, AFloodFromOneSourceCannotStarveTheOthers) {
    // Default bounds: 1,024 datagrams, 64 of them per source address.
    logagg::pipeline::reassembly_limits l;
    l.timeout_tsc = 1000;
    logagg::pipeline::reassembler r(l);
    constexpr uint32_t flood = 50000;
    for (uint32_t id = 0; id < flood; ++id) {
        EXPECT_EQ(feed(r, {first_of(id, 1)}), nullptr);
    }
    // The flooder holds its own share only, and pays for the rest itself.
    EXPECT_EQ(r.pending_datagrams(), 64u);
    EXPECT_EQ(d.of(drop_reason::frag_source_limit), flood - 64);
    EXPECT_EQ(d.of(drop_reason::frag_evicted), 0u);
    // 100 legitimate datagrams from another source, their fragments interleaved with more of the
    // flood: all complete.
    uint32_t merged = 0;
    uint32_t more = 0;
    for (uint32_t id = 0; id < 100; ++id) {
        auto frags = fragments(4, 5000, 1480, id, 2);
        std::vector<bytes> mixed;
        for (const bytes& f : frags) {
            mixed.push_back(f);
            mixed.push_back(first_of(flood + more++, 1));
        }
        rte_mbuf* done = feed(r, mixed);
        ASSERT_NE(done, nullptr) << "datagram " << id;
        merged += static_cast<uint32_t>(frags.size());
        expect_whole(*this, done, 5000);
    }
    EXPECT_EQ(merged, 400u);
    EXPECT_EQ(d.of(drop_reason::frag_evicted), 0u);
    EXPECT_EQ(d.of(drop_reason::frag_source_limit), flood + more - 64);
    r.drain(count, &d);
    EXPECT_EQ(d.of(drop_reason::frag_incomplete), 64u);
    EXPECT_EQ(accounted(d, merged), flood + more + merged);
}

TEST_F(fixture, AFloodOverManySourcesIsEvictedOldestFirst) {
    logagg::pipeline::reassembly_limits l;
    l.timeout_tsc = 1000;
    logagg::pipeline::reassembler r(l);
    constexpr uint32_t flood = 50000;
    for (uint32_t i = 0; i < flood; ++i) {
        const int ip = i % 2 == 0 ? 4 : 6;
        EXPECT_EQ(feed(r, {first_of(i, static_cast<uint16_t>(i + 10), ip)}), nullptr);
    }
    EXPECT_EQ(r.pending_datagrams(), 1024u);
    EXPECT_EQ(r.sources(), 1024u);
    EXPECT_EQ(d.of(drop_reason::frag_evicted), flood - 1024);
    EXPECT_EQ(d.of(drop_reason::frag_source_limit), 0u);
    // A legitimate datagram still completes: its first fragment evicts the oldest of the flood.
    // (Then a slot is free: the next needs no eviction.)
    for (int ip : {4, 6}) {
        expect_whole(*this, feed(r, fragments(ip, 5000, 1232, 77, 9)), 5000);
    }
    EXPECT_EQ(d.of(drop_reason::frag_evicted), flood - 1024 + 1);
    r.drain(count, &d);
    EXPECT_EQ(d.of(drop_reason::frag_incomplete), 1023u);
    EXPECT_EQ(accounted(d, 2 * 5), flood + 2 * 5);
    EXPECT_EQ(r.sources(), 0u);
}

TEST_F(fixture, FullFragmentMemoryEvictsTheOldestOtherDatagram) {
    // 128 fragments per lcore: two datagrams of 60 tiny fragments, then a third needs room.
    logagg::pipeline::reassembler r(limits(64, 128));
    auto a = fragments(4, 1000, 8, 1, 1);
    auto b = fragments(4, 1000, 8, 2, 2);
    auto c = fragments(4, 1000, 8, 3, 3);
    EXPECT_EQ(feed(r, std::vector<bytes>(a.begin(), a.begin() + 60), 1), nullptr);
    EXPECT_EQ(feed(r, std::vector<bytes>(b.begin(), b.begin() + 60), 2), nullptr);
    EXPECT_EQ(feed(r, std::vector<bytes>(c.begin(), c.begin() + 8), 3), nullptr);
    EXPECT_EQ(r.held_fragments(), 128u);
    EXPECT_EQ(d.of(drop_reason::frag_evicted), 0u);
    EXPECT_EQ(feed(r, {c[8]}, 4), nullptr); // a, the oldest, goes
    EXPECT_EQ(d.of(drop_reason::frag_evicted), 60u);
    EXPECT_EQ(r.held_fragments(), 69u);
    EXPECT_EQ(r.pending_datagrams(), 2u);
    r.drain(count, &d);
    EXPECT_EQ(accounted(d, 0), 60u + 60u + 9u);
}

TEST_F(fixture, ASourcesFragmentBoundEvictsItsOwnOldest) {
    // 128 fragments per source (of 4096): source 1 fills its share; source 2 is untouched.
    logagg::pipeline::reassembler r(limits(64, 4096, 64, 128));
    auto a = fragments(4, 1000, 8, 1, 1);
    auto b = fragments(4, 1000, 8, 2, 1);
    auto c = fragments(4, 1000, 8, 3, 1);
    auto other = fragments(4, 1000, 8, 4, 2);
    EXPECT_EQ(feed(r, std::vector<bytes>(other.begin(), other.begin() + 60), 0), nullptr);
    EXPECT_EQ(feed(r, std::vector<bytes>(a.begin(), a.begin() + 60), 1), nullptr);
    EXPECT_EQ(feed(r, std::vector<bytes>(b.begin(), b.begin() + 60), 2), nullptr);
    EXPECT_EQ(feed(r, std::vector<bytes>(c.begin(), c.begin() + 8), 3), nullptr);
    EXPECT_EQ(d.of(drop_reason::frag_source_limit), 0u);
    EXPECT_EQ(feed(r, {c[8]}, 4), nullptr); // source 1 at 128: its oldest (a) goes
    EXPECT_EQ(d.of(drop_reason::frag_source_limit), 60u);
    EXPECT_EQ(d.of(drop_reason::frag_evicted), 0u);
    EXPECT_EQ(r.pending_datagrams(), 3u);
    EXPECT_EQ(r.held_fragments(), 60u + 60u + 9u);
    r.drain(count, &d);
    EXPECT_EQ(accounted(d, 0), 60u + 60u + 60u + 9u);
}

TEST_F(fixture, ASourcesDatagramBoundKeepsItsNewest) {
    logagg::pipeline::reassembler r(limits(64, 512, 2));
    EXPECT_EQ(feed(r, {fragments(4, 4000, 1480, 1)[0]}, 1), nullptr);
    EXPECT_EQ(feed(r, {fragments(6, 4000, 1232, 1)[0]}, 2), nullptr); // another address
    EXPECT_EQ(feed(r, {fragments(4, 4000, 1480, 2)[0]}, 3), nullptr);
    EXPECT_EQ(feed(r, {fragments(4, 4000, 1480, 3)[0]}, 4), nullptr); // id 1 goes
    EXPECT_EQ(d.of(drop_reason::frag_source_limit), 1u);
    auto three = fragments(4, 4000, 1480, 3);
    expect_whole(*this, feed(r, {three[1], three[2]}, 5), 4000);
    auto two = fragments(4, 4000, 1480, 2);
    expect_whole(*this, feed(r, {two[1], two[2]}, 6), 4000);
    EXPECT_EQ(r.pending_datagrams(), 1u); // the IPv6 one
    EXPECT_EQ(r.sources(), 1u);
    r.drain(count, &d);
    EXPECT_EQ(accounted(d, 6), 8u);
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
