// SPDX-License-Identifier: BSD-3-Clause
// The test-only TCP impairment (lib/tcp/impair.hpp) on real mbufs: which segments it drops, holds
// back and hands over when, in what order, that every mbuf is delivered once or freed (the pool's
// in-use count is back at its start after every test), and the option syntax.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/eal_env.hpp"
#include "tcp/impair.hpp"

namespace {

namespace t = logagg::testing;
using logagg::tcp::impair;
using logagg::tcp::impair_config;

const auto* const g_env = ::testing::AddGlobalTestEnvironment(new t::eal_env("tcp_impair"));

class Impair : public ::testing::Test {
protected:
    void SetUp() override { in_use_ = rte_mempool_in_use_count(t::g_pool); }
    void TearDown() override {
        for (rte_mbuf* m : got_) {
            rte_pktmbuf_free(m);
        }
        EXPECT_EQ(rte_mempool_in_use_count(t::g_pool), in_use_)
            << "an mbuf leaked or was freed twice";
    }

    /// A segment numbered @p n (kept in the mbuf's RSS hash field; the locator's l4_off too).
    static rte_mbuf* seg(uint32_t n) {
        rte_mbuf* m = rte_pktmbuf_alloc(t::g_pool);
        EXPECT_NE(m, nullptr);
        m->hash.rss = n;
        return m;
    }
    /// Feeds segments first..last into @p im, collecting what comes out.
    void feed(impair& im, uint32_t first, uint32_t last) {
        for (uint32_t n = first; n <= last; ++n) {
            logagg::net::tcp_locator at;
            at.l4_off = n;
            im.input(seg(n), at, [this](rte_mbuf* m, const logagg::net::tcp_locator& a) {
                EXPECT_EQ(m->hash.rss, a.l4_off) << "the locator travels with its segment";
                got_.push_back(m);
            });
        }
    }
    void poll(impair& im) {
        im.poll([this](rte_mbuf* m, const logagg::net::tcp_locator&) { got_.push_back(m); });
    }
    std::vector<uint32_t> order() const {
        std::vector<uint32_t> v;
        for (const rte_mbuf* m : got_) {
            v.push_back(m->hash.rss);
        }
        return v;
    }

    std::vector<rte_mbuf*> got_;
    unsigned in_use_ = 0;
};

TEST_F(Impair, NothingConfiguredPassesEverythingInOrder) {
    impair im(impair_config{});
    feed(im, 1, 10);
    poll(im);
    EXPECT_EQ(order(), (std::vector<uint32_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
    EXPECT_EQ(im.counters().seen.get(), 10u);
    EXPECT_EQ(im.counters().dropped.get(), 0u);
    EXPECT_EQ(im.counters().held.get(), 0u);
}

TEST_F(Impair, DropsEveryNthAndFreesIt) {
    impair im(impair_config{3, 0, 3});
    feed(im, 1, 10);
    EXPECT_EQ(order(), (std::vector<uint32_t>{1, 2, 4, 5, 7, 8, 10}));
    EXPECT_EQ(im.counters().dropped.get(), 3u);
    EXPECT_EQ(im.counters().held.get(), 0u);
    // The dropped mbufs went back to the pool: what is in use is exactly what was delivered.
    EXPECT_EQ(rte_mempool_in_use_count(t::g_pool), in_use_ + got_.size());
}

TEST_F(Impair, HoldsEveryNthUntilKMoreHavePassed) {
    impair im(impair_config{0, 4, 3});
    feed(im, 1, 11);
    EXPECT_EQ(order(), (std::vector<uint32_t>{1, 2, 3, 5, 6, 7, 4, 9, 10, 11, 8}));
    EXPECT_EQ(im.counters().held.get(), 2u);
    EXPECT_EQ(im.holding(), 0u);
}

TEST_F(Impair, HeldSegmentsOverlapAndKeepTheirOrder) {
    // hold=2, after=3: segments 2, 4, 6 ... are each held for three delivered segments; at most
    // two wait at once, and they leave oldest first.
    impair im(impair_config{0, 2, 3});
    feed(im, 1, 9);
    // 1 | 2 held | 3 | 4 held | 5 | 6 held | 7 -> 2 (three passed: 3, 5, 7) | 8 held | 9 -> 4
    EXPECT_EQ(order(), (std::vector<uint32_t>{1, 3, 5, 7, 2, 9, 4}));
    EXPECT_EQ(im.holding(), 2u); // 6 and 8
    poll(im);                    // segments arrived since the last poll: nothing is handed over
    EXPECT_EQ(im.holding(), 2u);
    poll(im); // an idle loop: the rest goes
    EXPECT_EQ(order(), (std::vector<uint32_t>{1, 3, 5, 7, 2, 9, 4, 6, 8}));
    EXPECT_EQ(im.holding(), 0u);
}

TEST_F(Impair, AnIdlePollReleasesWhatNoLaterSegmentPushes) {
    impair im(impair_config{0, 3, 3});
    feed(im, 1, 3); // 3 held, nothing after it
    EXPECT_EQ(order(), (std::vector<uint32_t>{1, 2}));
    poll(im);
    EXPECT_EQ(im.holding(), 1u) << "the poll of the loop that received it must not release it";
    poll(im);
    EXPECT_EQ(order(), (std::vector<uint32_t>{1, 2, 3}));
}

TEST_F(Impair, DropTakesPrecedenceOverHold) {
    impair im(impair_config{2, 3, 1});
    feed(im, 1, 10);
    poll(im);
    poll(im);
    // even numbers dropped; 3 and 9 held for one segment each (6 was dropped, not held)
    EXPECT_EQ(order(), (std::vector<uint32_t>{1, 5, 3, 7, 9}));
    EXPECT_EQ(im.counters().dropped.get(), 5u);
    EXPECT_EQ(im.counters().held.get(), 2u);
}

TEST_F(Impair, HoldingIsBounded) {
    impair im(impair_config{0, 2, 64});
    feed(im, 1, 40);
    EXPECT_EQ(im.holding(), impair::max_held);
    EXPECT_EQ(im.counters().held.get(), impair::max_held);
    // Beyond the bound the even segments pass: 20 odd + (20 - 8) even delivered so far.
    EXPECT_EQ(got_.size(), 32u);
}

TEST_F(Impair, DestructorFreesWhatIsHeld) {
    {
        impair im(impair_config{0, 2, 64});
        feed(im, 1, 6);
        EXPECT_EQ(im.holding(), 3u);
    }
    EXPECT_EQ(rte_mempool_in_use_count(t::g_pool), in_use_ + got_.size());
}

TEST(ImpairParse, Accepts) {
    auto r = logagg::tcp::parse_impair("drop=50");
    ASSERT_TRUE(r) << r.error().text;
    EXPECT_EQ(r.value().drop, 50u);
    EXPECT_EQ(r.value().hold, 0u);
    EXPECT_EQ(r.value().after, 3u);
    r = logagg::tcp::parse_impair("hold=7,drop=0,after=5");
    ASSERT_TRUE(r) << r.error().text;
    EXPECT_EQ(r.value().drop, 0u);
    EXPECT_EQ(r.value().hold, 7u);
    EXPECT_EQ(r.value().after, 5u);
}

TEST(ImpairParse, Refuses) {
    for (const char* bad :
         {"", "drop", "drop=", "drop=x", "drop=1", "hold=1", "drop=0", "drop=0,hold=0", "after=3",
          "drop=5,after=0", "drop=5,after=65", "loss=5", "drop=5,", "drop=-2", "drop=5x"}) {
        const auto r = logagg::tcp::parse_impair(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_FALSE(r.error().text.empty()) << bad;
        EXPECT_TRUE(r.error().usage) << bad;
    }
}

} // namespace
