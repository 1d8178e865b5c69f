// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath (notify() on producers, sleep() on the consumer's lcore); built by the control
// plane. Needs no EAL: unit-testable with plain threads.
//
// How an lcore that consumes rings (a worker, the sink lcore) sleeps while they are empty and is
// woken when a producer enqueues, without a syscall per enqueue: the consumer announces that it
// sleeps, and only then does a producer pay for a wake-up.
#pragma once

#include <linux/futex.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <ctime>

#include "util/unique_fd.hpp"

namespace logagg::pipeline {

/// One per sleeping consumer lcore (a state word, and an eventfd for sleeps that also wait on
/// file descriptors). Any number of producers.
///
/// Why no wake-up is lost (the store-buffer pattern, both sides with a full fence):
///   consumer: state = sleeping; fence; look at the rings; if empty, wait (timeout)
///   producer: enqueue;          fence; if state is sleeping, state = awake and wake it
/// The two fences are ordered one way or the other. If the producer's comes first, its enqueue
/// is visible to the consumer's look, which then does not sleep. If the consumer's comes first,
/// the producer sees the sleeping state and wakes it. How it waits, and so how it is woken:
/// - **on a futex** (the state word itself; FUTEX_WAIT returns at once unless the word still
///   says sleeping, so a wake between the look and the wait is not lost): consumers with no
///   file descriptor to watch (workers, sinks). One syscall to sleep, one to wake, none to
///   clear anything afterwards.
/// - **in ppoll() on the eventfd** and the descriptor of also_wake_on() (an RX lcore's queue
///   interrupts or sockets): the producer writes the eventfd, whose counter stays non-zero until
///   the consumer reads it, so ppoll returns at once even if the write came before it began.
/// The exchange on the state word lets one producer of several pay for the wake-up. A wake-up
/// that lands after the consumer woke on its own (timeout) only makes its next eventfd sleep
/// return at once: a spurious pass, never a lost item.
///
/// Cost on the producer's hot path: a fence and a load per enqueue call (not per message); a
/// syscall only when the consumer actually sleeps. Why a futex for consumers: a wake-up through
/// the eventfd costs the consumer a read() to clear it, a third syscall per wake-up, and on a
/// virtual machine each syscall costs microseconds (at a trickle of 1 k msgs/s the sink lcore
/// sleeps and wakes once per message: docs/performance.md).
class waker {
public:
    waker() noexcept : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
    waker(const waker&) = delete;
    waker& operator=(const waker&) = delete;

    /// False when the eventfd could not be created (then eventfd sleeps only sleep their
    /// timeout).
    [[nodiscard]] bool ok() const noexcept { return fd_.valid(); }

    /// Producer, after an enqueue the consumer must see.
    void notify() noexcept {
        std::atomic_thread_fence(std::memory_order_seq_cst);
        uint32_t s = state_.load(std::memory_order_relaxed);
        if ((s == polling || s == waiting) &&
            state_.compare_exchange_strong(s, awake, std::memory_order_acq_rel)) {
            kicks_.fetch_add(1, std::memory_order_relaxed);
            wake(s);
        }
    }

    /// Wakes the consumer whether it sleeps or not (control plane: stop, a stage finished): a
    /// sleep in progress ends, and the next sleep() returns at once.
    void kick() noexcept {
        kicked_.store(true, std::memory_order_seq_cst);
        const uint32_t s = state_.exchange(awake, std::memory_order_seq_cst);
        kicks_.fetch_add(1, std::memory_order_relaxed);
        if (s != awake) {
            wake(s);
        }
    }

    /// Consumer (its own lcore; or the control plane before the lcore starts): sleep() also
    /// ends when @p fd is readable (an RX lcore's epoll set of NIC queue interrupts or of its
    /// net_af_packet sockets); -1: no longer. The waker does not own or read it: other_ready()
    /// says it woke the sleep, and the lcore clears it.
    void also_wake_on(int fd) noexcept { other_fd_ = fd; }
    /// Consumer, after sleep(): the fd of also_wake_on() was readable when it returned.
    [[nodiscard]] bool other_ready() const noexcept { return other_ready_; }

    /// Consumer: sleeps up to @p timeout_ns (UINT64_MAX: until woken) unless @p has_work(),
    /// evaluated after the sleep is announced, says there is something to do, or a kick() came
    /// since the last sleep.
    /// @return true when it slept (woken, timed out or interrupted), false when it did not.
    template <class F>
    bool sleep(uint64_t timeout_ns, F&& has_work) noexcept {
        other_ready_ = false;
        const uint32_t how = other_fd_ >= 0 ? polling : waiting;
        state_.store(how, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (kicked_.load(std::memory_order_relaxed)) {
            kicked_.store(false, std::memory_order_relaxed);
            state_.store(awake, std::memory_order_relaxed);
            return false;
        }
        if (has_work()) {
            state_.store(awake, std::memory_order_relaxed);
            return false;
        }
        timespec ts{};
        ts.tv_sec = static_cast<time_t>(timeout_ns / 1'000'000'000u);
        ts.tv_nsec = static_cast<long>(timeout_ns % 1'000'000'000u);
        const timespec* limit = timeout_ns == UINT64_MAX ? nullptr : &ts;
        if (how == waiting) {
            futex_wait(waiting, limit);
            state_.store(awake, std::memory_order_relaxed);
            return true;
        }
        pollfd p[2] = {{fd_.get(), POLLIN, 0}, {other_fd_, POLLIN, 0}};
        const int rc = ppoll(p, 2, limit, nullptr);
        state_.store(awake, std::memory_order_relaxed);
        if (rc > 0 && (p[0].revents & POLLIN) != 0) {
            uint64_t v = 0;
            (void)!read(fd_.get(), &v, sizeof v); // reset the counter (non-blocking)
        }
        other_ready_ = rc > 0 && (p[1].revents & POLLIN) != 0;
        return true;
    }

    /// Consumer: sleeps up to @p timeout_ns without announcing it, so producers do not wake it
    /// (only kick() does): for a consumer that holds work due at a known time anyway.
    void nap(uint64_t timeout_ns) noexcept {
        state_.store(napping, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (!kicked_.load(std::memory_order_relaxed)) {
            timespec ts{};
            ts.tv_sec = static_cast<time_t>(timeout_ns / 1'000'000'000u);
            ts.tv_nsec = static_cast<long>(timeout_ns % 1'000'000'000u);
            futex_wait(napping, &ts);
        }
        state_.store(awake, std::memory_order_relaxed);
    }

    /// Wake-ups paid for so far (notify() that found the consumer asleep, and kick()).
    [[nodiscard]] uint64_t kicks() const noexcept { return kicks_.load(std::memory_order_relaxed); }

private:
    /// state_: what the consumer does. Producers wake polling and waiting; kick() any.
    static constexpr uint32_t awake = 0;
    static constexpr uint32_t polling = 1; ///< in ppoll(): woken through the eventfd
    static constexpr uint32_t waiting = 2; ///< in FUTEX_WAIT on state_
    static constexpr uint32_t napping = 3; ///< in FUTEX_WAIT on state_, for kick() only

    /// Producer side of a wake-up of a consumer found in state @p s.
    void wake(uint32_t s) noexcept {
        if (s != polling) {
            (void)syscall(SYS_futex, &state_, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
            return;
        }
        if (fd_.valid()) {
            const uint64_t one = 1;
            (void)!write(fd_.get(), &one, sizeof one);
        }
    }

    /// Sleeps while state_ is @p expected, up to @p limit (nullptr: no limit). Returns at once
    /// if it is not (a wake-up came between the announcement and here).
    void futex_wait(uint32_t expected, const timespec* limit) noexcept {
        (void)syscall(SYS_futex, &state_, FUTEX_WAIT_PRIVATE, expected, limit, nullptr, 0);
    }

    util::unique_fd fd_;
    int other_fd_ = -1; ///< ppoll ignores a negative fd
    bool other_ready_ = false;
    alignas(64) std::atomic<uint32_t> state_{awake}; ///< also the futex word
    static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t) &&
                  std::atomic<uint32_t>::is_always_lock_free);
    std::atomic<bool> kicked_{false};
    std::atomic<uint64_t> kicks_{0}; ///< slow path only (beside a syscall)
};

} // namespace logagg::pipeline
