// SPDX-License-Identifier: BSD-3-Clause
// The --poll adaptive back-off (pipeline/idle.hpp): its phases in order, the reset on work, the
// doubling sleeps and their bound, the deeper bound after a long silence, and the timer bound.
// Plain numbers stand for clock ticks.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "pipeline/idle.hpp"

namespace {

using logagg::pipeline::backoff;
using logagg::pipeline::backoff_config;
using logagg::pipeline::idle_action;
using logagg::pipeline::idle_phase;
using logagg::pipeline::pass_load;
using logagg::pipeline::socket_wake;

backoff_config cfg() {
    backoff_config c;
    c.busy = 10;
    c.pause = 20;
    c.first_sleep = 5;
    c.max_sleep = 40;
    return c;
}

TEST(Backoff, BusyThenPauseThenSleep) {
    backoff b(cfg(), 1000);
    EXPECT_EQ(b.after_pass(false, 1000).phase, idle_phase::busy);
    EXPECT_EQ(b.after_pass(false, 1009).phase, idle_phase::busy);
    EXPECT_EQ(b.after_pass(false, 1010).phase, idle_phase::pause);
    EXPECT_EQ(b.after_pass(false, 1029).phase, idle_phase::pause);
    const idle_action a = b.after_pass(false, 1030);
    EXPECT_EQ(a.phase, idle_phase::sleep);
    EXPECT_EQ(a.sleep, 5u);
}

TEST(Backoff, SleepsDoubleUpToTheBound) {
    backoff b(cfg(), 0);
    std::vector<uint64_t> got;
    uint64_t now = 30;
    for (int i = 0; i < 7; ++i) {
        const idle_action a = b.after_pass(false, now);
        ASSERT_EQ(a.phase, idle_phase::sleep);
        got.push_back(a.sleep);
        now += a.sleep;
    }
    EXPECT_EQ(got, (std::vector<uint64_t>{5, 10, 20, 40, 40, 40, 40}));
}

TEST(Backoff, FullPassGoesBusyAndHalvesTheNextSleep) {
    backoff b(cfg(), 0);
    uint64_t now = 30;
    for (int i = 0; i < 5; ++i) {
        now += b.after_pass(false, now).sleep; // at the 40 bound now
    }
    EXPECT_EQ(b.after_pass(pass_load::full, now).phase, idle_phase::busy);
    EXPECT_EQ(b.after_pass(false, now + 1).phase, idle_phase::busy);
    EXPECT_EQ(b.after_pass(false, now + 15).phase, idle_phase::pause);
    idle_action a = b.after_pass(false, now + 30);
    EXPECT_EQ(a.phase, idle_phase::sleep);
    EXPECT_EQ(a.sleep, 20u); // 40 halved
    // Full passes back to back halve it down to the first sleep, not below.
    now += 100;
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(b.after_pass(pass_load::full, now).phase, idle_phase::busy);
    }
    a = b.after_pass(false, now + 30);
    EXPECT_EQ(a.sleep, 5u);
}

TEST(Backoff, SomeWorkKeepsThePhaseAndTheSleepsGrow) {
    backoff b(cfg(), 0);
    // In the busy and pause phases a pass with some work changes nothing.
    EXPECT_EQ(b.after_pass(pass_load::some, 5).phase, idle_phase::busy);
    EXPECT_EQ(b.after_pass(pass_load::some, 12).phase, idle_phase::pause);
    // In the sleep phase it sleeps on, growing to the bound, as a steady moderate rate does.
    std::vector<uint64_t> got;
    uint64_t now = 30;
    for (int i = 0; i < 6; ++i) {
        const idle_action a = b.after_pass(pass_load::some, now);
        ASSERT_EQ(a.phase, idle_phase::sleep);
        got.push_back(a.sleep);
        now += a.sleep;
    }
    EXPECT_EQ(got, (std::vector<uint64_t>{5, 10, 20, 40, 40, 40}));
}

TEST(Backoff, ManyItemsLetTheSleepsGrowToTheLoadedBound) {
    backoff_config c = cfg();
    c.loaded_sleep = 160;
    backoff b(c, 0);
    std::vector<uint64_t> got;
    uint64_t now = 30;
    for (int i = 0; i < 7; ++i) {
        const idle_action a = b.after_pass(pass_load::many, now);
        ASSERT_EQ(a.phase, idle_phase::sleep);
        got.push_back(a.sleep);
        now += a.sleep;
    }
    EXPECT_EQ(got, (std::vector<uint64_t>{5, 10, 20, 40, 80, 160, 160}));
    // A pass with only some work brings back the latency bound at once.
    idle_action a = b.after_pass(pass_load::some, now);
    EXPECT_EQ(a.sleep, 40u);
    // Empty passes keep the bound the last work set.
    now += a.sleep;
    a = b.after_pass(pass_load::none, now);
    EXPECT_EQ(a.sleep, 40u);
}

TEST(Backoff, ConsumerWorkIsAFullPass) {
    backoff_config c;
    c.busy = 10;
    c.first_sleep = 1000;
    c.max_sleep = 1000;
    backoff b(c, 0);
    EXPECT_EQ(b.after_pass(false, 20).sleep, 1000u);
    EXPECT_EQ(b.after_pass(true, 2000).phase, idle_phase::busy);
    EXPECT_EQ(b.after_pass(false, 2005).phase, idle_phase::busy);
    EXPECT_EQ(b.after_pass(false, 2010).sleep, 1000u);
}

TEST(Backoff, SleepNeverPassesTheNextTimer) {
    backoff b(cfg(), 0);
    uint64_t now = 30;
    for (int i = 0; i < 5; ++i) {
        now += b.after_pass(false, now).sleep; // at the 40 bound now
    }
    idle_action a = b.after_pass(false, now, now + 7);
    EXPECT_EQ(a.phase, idle_phase::sleep);
    EXPECT_EQ(a.sleep, 7u);
    // A timer already due: no sleep, run the pass.
    EXPECT_EQ(b.after_pass(false, now, now).phase, idle_phase::busy);
    EXPECT_EQ(b.after_pass(false, now, now - 1).phase, idle_phase::busy);
    // The timer bounds one sleep; the next one without a timer is at the bound again.
    a = b.after_pass(false, now);
    EXPECT_EQ(a.sleep, 40u);
}

TEST(Backoff, TimerBoundsEvenTheFirstSleepButNeverToZero) {
    backoff b(cfg(), 0);
    const idle_action a = b.after_pass(false, 30, 31);
    EXPECT_EQ(a.phase, idle_phase::sleep);
    EXPECT_EQ(a.sleep, 1u);
}

TEST(Backoff, DeepSleepOnlyAfterALongSilence) {
    backoff_config c = cfg();
    c.deep_after = 1000;
    c.deep_sleep = 300;
    backoff b(c, 0);
    uint64_t now = 30;
    uint64_t longest_before = 0;
    while (now < 1000) {
        const idle_action a = b.after_pass(false, now);
        ASSERT_EQ(a.phase, idle_phase::sleep);
        longest_before = std::max(longest_before, a.sleep);
        now += a.sleep;
    }
    EXPECT_EQ(longest_before, 40u);
    std::vector<uint64_t> got;
    for (int i = 0; i < 5; ++i) {
        const idle_action a = b.after_pass(false, now);
        got.push_back(a.sleep);
        now += a.sleep;
    }
    EXPECT_EQ(got, (std::vector<uint64_t>{40, 80, 160, 300, 300}));
    // Some work brings back the short bound at once (a trickle never sleeps deep).
    idle_action a = b.after_pass(pass_load::some, now);
    EXPECT_EQ(a.phase, idle_phase::sleep);
    EXPECT_LE(a.sleep, 40u);
    now += a.sleep;
    for (int i = 0; i < 6; ++i) {
        a = b.after_pass(false, now);
        EXPECT_LE(a.sleep, 40u);
        now += a.sleep;
    }
}

TEST(Backoff, NoBusyNoPauseSleepsAtOnce) {
    backoff_config c;
    c.first_sleep = 100;
    c.max_sleep = 100;
    backoff b(c, 0);
    const idle_action a = b.after_pass(false, 0);
    EXPECT_EQ(a.phase, idle_phase::sleep);
    EXPECT_EQ(a.sleep, 100u);
}

TEST(SocketWake, ListensWhileFramesComeFarApart) {
    socket_wake w(250);
    uint64_t now = 1000;
    ASSERT_TRUE(w.after_pass(pass_load::none, now)); // starts listening
    // A frame every 1,000 ticks, each ending a listening sleep and found alone.
    for (int i = 0; i < 10; ++i) {
        w.slept(true, true);
        now += 1000;
        EXPECT_TRUE(w.after_pass(pass_load::some, now)) << i;
        EXPECT_TRUE(w.after_pass(pass_load::none, now + 5)) << i;
    }
    // A listening sleep that timed out, or that the eventfd ended, changes nothing.
    w.slept(true, false);
    EXPECT_TRUE(w.after_pass(pass_load::none, now + 100));
    w.slept(true, false);
    EXPECT_TRUE(w.after_pass(pass_load::some, now + 120));
}

TEST(SocketWake, CloseFramesTurnToBoundedSleepsUntilOneFindsNothing) {
    socket_wake w(250);
    uint64_t now = 10'000;
    w.slept(true, true);
    ASSERT_TRUE(w.after_pass(pass_load::some, now));
    // The next wake-up by a frame comes 100 ticks later: bounded sleeps from now on.
    w.slept(true, true);
    now += 100;
    EXPECT_FALSE(w.after_pass(pass_load::some, now));
    EXPECT_FALSE(w.listening());
    // Bounded sleeps that find frames keep it so, whatever the passes between them find.
    for (int i = 0; i < 5; ++i) {
        EXPECT_FALSE(w.after_pass(pass_load::none, now + 1)); // busy and pause passes
        w.slept(false, false);
        now += 500;
        EXPECT_FALSE(w.after_pass(i % 2 == 0 ? pass_load::some : pass_load::many, now)) << i;
    }
    // One that finds nothing: listen again.
    w.slept(false, false);
    now += 500;
    EXPECT_TRUE(w.after_pass(pass_load::none, now));
    EXPECT_TRUE(w.listening());
}

TEST(SocketWake, SeveralFramesWaitingTurnToBoundedSleeps) {
    socket_wake w(250);
    w.slept(true, true);
    ASSERT_TRUE(w.after_pass(pass_load::some, 100'000));
    // Far from the previous wake-up, but four or more frames came while it woke: a rate at which
    // a wake-up per frame costs more than bounded sleeps.
    w.slept(true, true);
    EXPECT_FALSE(w.after_pass(pass_load::many, 200'000));
    socket_wake f(250);
    f.slept(true, true);
    EXPECT_FALSE(f.after_pass(pass_load::full, 300'000));
}

} // namespace
