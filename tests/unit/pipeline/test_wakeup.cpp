// SPDX-License-Identifier: BSD-3-Clause
// The consumer wake-up (pipeline/wakeup.hpp) under two-thread stress: a producer publishes N
// items with random gaps (none, spins, yields, short sleeps) and notifies; the consumer takes
// what is there and otherwise sleeps WITHOUT a timeout. A lost wake-up leaves the consumer asleep
// for good with items pending: the test then never ends (meson's timeout fails it); no timing
// threshold is involved. Also: notify() pays no syscall while the consumer is awake.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <random>
#include <thread>
#include <time.h>
#include <unistd.h>

#include "pipeline/wakeup.hpp"

namespace {

using logagg::pipeline::waker;

void gap(std::mt19937& rng) {
    const unsigned r = rng() % 100;
    if (r < 60) {
        return; // back to back
    }
    if (r < 85) {
        for (unsigned i = rng() % 2000; i > 0; --i) {
            std::atomic_signal_fence(std::memory_order_seq_cst);
        }
        return;
    }
    if (r < 95) {
        std::this_thread::yield();
        return;
    }
    timespec ts{0, static_cast<long>(rng() % 50'000)};
    nanosleep(&ts, nullptr); // long enough for the consumer to fall asleep
}

/// @param lockstep each producer waits until its item was taken before the next: every item is
/// then the last one for a while, so a lost wake-up stalls the test instead of being covered by
/// the next notify().
/// @param with_fd the consumer also waits on a descriptor (never readable here), as an RX lcore
/// with interrupts or sockets does: it sleeps in ppoll() and is woken through the eventfd, not
/// on the futex.
void stress(uint64_t n, unsigned seed, unsigned producers, bool lockstep, bool with_fd = false) {
    waker w;
    ASSERT_TRUE(w.ok());
    int pipefd[2] = {-1, -1};
    if (with_fd) {
        ASSERT_EQ(pipe(pipefd), 0);
        w.also_wake_on(pipefd[0]);
    }
    std::atomic<uint64_t> produced{0}; // the "ring": items published so far
    uint64_t consumed = 0;
    std::atomic<uint64_t> taken{0}; // consumed, published for lockstep producers
    uint64_t sleeps = 0;
    uint64_t attempts = 0; // sleep() calls: each raises the flag once
    std::thread consumer([&] {
        std::mt19937 crng(seed ^ 0x5a5a5a5au);
        while (consumed < n) {
            const uint64_t avail = produced.load(std::memory_order_acquire);
            if (avail != consumed) {
                consumed = avail; // take everything published
                taken.store(consumed, std::memory_order_release);
                continue;
            }
            ++attempts;
            // The look at the "ring", then a random delay before returning: it widens the
            // window between the look and the sleep, where a wake-up would be lost if the sleep
            // were announced after the look instead of before it.
            if (w.sleep(UINT64_MAX, [&] {
                    const bool work = produced.load(std::memory_order_acquire) != consumed;
                    for (unsigned i = crng() % 512; i > 0; --i) {
                        std::atomic_signal_fence(std::memory_order_seq_cst);
                    }
                    return work;
                })) {
                ++sleeps;
            }
        }
    });
    std::vector<std::thread> ps;
    for (unsigned p = 0; p < producers; ++p) {
        ps.emplace_back([&, p] {
            std::mt19937 rng(seed + p);
            for (uint64_t i = 0; i < n / producers; ++i) {
                const uint64_t mine = produced.fetch_add(1, std::memory_order_release) + 1;
                w.notify();
                gap(rng);
                while (lockstep && taken.load(std::memory_order_acquire) < mine) {
                    std::this_thread::yield();
                }
            }
        });
    }
    for (auto& t : ps) {
        t.join();
    }
    consumer.join();
    if (with_fd) {
        close(pipefd[0]);
        close(pipefd[1]);
    }
    EXPECT_EQ(consumed, n);
    EXPECT_GT(sleeps, 0u); // the consumer did sleep: the wake-up path was exercised
    // No write per item: at most one per raised flag (a sleep, or a look that found work).
    EXPECT_LE(w.kicks(), attempts);
    if (!lockstep) {
        EXPECT_LT(w.kicks(), n); // in lockstep the consumer may sleep before every item
    }
}

TEST(Waker, NoLostWakeupOneProducer) {
    stress(100'000, 1, 1, false);
}

TEST(Waker, NoLostWakeupTwoProducers) {
    stress(100'000, 7, 2, false);
}

TEST(Waker, NoLostWakeupLockstep) {
    stress(30'000, 3, 1, true);
}

TEST(Waker, NoLostWakeupLockstepTwoProducers) {
    stress(30'000, 11, 2, true);
}

TEST(Waker, NoLostWakeupInPpoll) {
    stress(100'000, 5, 2, false, true);
}

TEST(Waker, NoLostWakeupInPpollLockstep) {
    stress(30'000, 13, 1, true, true);
}

TEST(Waker, NotifyWithoutSleeperWritesNothing) {
    waker w;
    for (int i = 0; i < 1000; ++i) {
        w.notify();
    }
    EXPECT_EQ(w.kicks(), 0u);
}

TEST(Waker, SleepReturnsAtOnceWhenWorkIsThere) {
    waker w;
    EXPECT_FALSE(w.sleep(UINT64_MAX, [] { return true; }));
}

TEST(Waker, KickBeforeSleepIsNotLost) {
    // A kick while the consumer is awake: its next sleep returns at once (no sleep: a lost kick
    // would block for good here), and only that one (the one after times out).
    waker w;
    w.kick();
    EXPECT_FALSE(w.sleep(UINT64_MAX, [] { return false; }));
    EXPECT_TRUE(w.sleep(1'000'000, [] { return false; }));
    int pipefd[2] = {-1, -1};
    ASSERT_EQ(pipe(pipefd), 0);
    w.also_wake_on(pipefd[0]);
    w.kick();
    EXPECT_FALSE(w.sleep(UINT64_MAX, [] { return false; }));
    EXPECT_TRUE(w.sleep(1'000'000, [] { return false; }));
    EXPECT_FALSE(w.other_ready());
    const char c = 'x';
    ASSERT_EQ(write(pipefd[1], &c, 1), 1);
    EXPECT_TRUE(w.sleep(UINT64_MAX, [] { return false; })); // the descriptor ends it
    EXPECT_TRUE(w.other_ready());
    close(pipefd[0]);
    close(pipefd[1]);
}

TEST(Waker, KickEndsASleepAndANap) {
    for (int nap = 0; nap < 2; ++nap) {
        waker w;
        std::atomic<bool> asleep{false};
        std::thread t([&] {
            asleep.store(true);
            if (nap != 0) {
                w.nap(UINT64_MAX / 2); // ~292 years: only the kick ends it
            } else {
                EXPECT_TRUE(w.sleep(UINT64_MAX, [] { return false; }));
            }
        });
        while (!asleep.load()) {
            std::this_thread::yield();
        }
        // Whether the kick lands before or during the sleep, the thread ends.
        w.kick();
        t.join();
        EXPECT_EQ(w.kicks(), 1u);
    }
}

TEST(Waker, NotifyDoesNotEndANap) {
    // A nap hears only kick(): producers' notifications are for sleeps. Checked by state: a
    // napping consumer's notify() pays for nothing.
    waker w;
    std::atomic<bool> asleep{false};
    std::thread t([&] {
        asleep.store(true);
        w.nap(UINT64_MAX / 2);
    });
    while (!asleep.load()) {
        std::this_thread::yield();
    }
    for (int i = 0; i < 100; ++i) {
        w.notify();
    }
    EXPECT_EQ(w.kicks(), 0u);
    w.kick();
    t.join();
}

} // namespace
