// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath (notify() on producers, sleep() on the consumer's lcore); built by the control
// plane. Needs no EAL: unit-testable with plain threads.
//
// How an lcore that consumes rings (a worker, the sink lcore) sleeps while they are empty and is
// woken when a producer enqueues, without a syscall per enqueue: the consumer announces that it
// sleeps, and only then does a producer pay for a wake-up.
#pragma once

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <ctime>

#include "util/unique_fd.hpp"

namespace logagg::pipeline {

/// One per sleeping consumer lcore (an eventfd and a "sleeping" flag). Any number of producers.
///
/// Why no wake-up is lost (the store-buffer pattern, both sides with a full fence):
///   consumer: sleeping = 1; fence; look at the rings; if empty, ppoll(eventfd, timeout)
///   producer: enqueue;      fence; if sleeping, sleeping = 0 and write(eventfd)
/// The two fences are ordered one way or the other. If the producer's comes first, its enqueue
/// is visible to the consumer's look, which then does not sleep. If the consumer's comes first,
/// the producer sees sleeping == 1 and writes the eventfd; its counter stays non-zero until the
/// consumer reads it, so ppoll returns at once even if the write happened before ppoll began.
/// The exchange on the flag lets one producer of several pay for the write. A write that lands
/// after the consumer woke on its own (timeout) only makes its next sleep return at once: a
/// spurious pass, never a lost item.
///
/// Cost on the producer's hot path: a fence and a load per enqueue call (not per message); a
/// syscall only when the consumer actually sleeps.
class waker {
public:
    waker() noexcept : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
    waker(const waker&) = delete;
    waker& operator=(const waker&) = delete;

    /// False when the eventfd could not be created (then sleep() only sleeps its timeout).
    [[nodiscard]] bool ok() const noexcept { return fd_.valid(); }

    /// Producer, after an enqueue the consumer must see.
    void notify() noexcept {
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (sleeping_.load(std::memory_order_relaxed) &&
            sleeping_.exchange(false, std::memory_order_acq_rel)) {
            kick();
        }
    }

    /// Wakes the consumer whether it sleeps or not (control plane: stop, a stage finished).
    void kick() noexcept {
        if (fd_.valid()) {
            const uint64_t one = 1;
            kicks_.fetch_add(1, std::memory_order_relaxed);
            (void)!write(fd_.get(), &one, sizeof one);
        }
    }

    /// Control plane, before the lcore starts: sleep() also ends when @p fd is readable (an
    /// RX lcore's epoll set of NIC queue interrupts). The waker does not own or read it:
    /// other_ready() says it woke the sleep, and the lcore clears it.
    void also_wake_on(int fd) noexcept { other_fd_ = fd; }
    /// Consumer, after sleep(): the fd of also_wake_on() was readable when it returned.
    [[nodiscard]] bool other_ready() const noexcept { return other_ready_; }

    /// Consumer: sleeps up to @p timeout_ns (UINT64_MAX: until woken) unless @p has_work(),
    /// evaluated after the sleep is announced, says there is something to do.
    /// @return true when it slept (woken, timed out or interrupted), false when has_work().
    template <class F>
    bool sleep(uint64_t timeout_ns, F&& has_work) noexcept {
        other_ready_ = false;
        sleeping_.store(true, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (has_work()) {
            sleeping_.store(false, std::memory_order_relaxed);
            return false;
        }
        timespec ts{};
        ts.tv_sec = static_cast<time_t>(timeout_ns / 1'000'000'000u);
        ts.tv_nsec = static_cast<long>(timeout_ns % 1'000'000'000u);
        pollfd p[2] = {{fd_.get(), POLLIN, 0}, {other_fd_, POLLIN, 0}};
        const int rc = ppoll(p, 2, timeout_ns == UINT64_MAX ? nullptr : &ts, nullptr);
        sleeping_.store(false, std::memory_order_relaxed);
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
        timespec ts{};
        ts.tv_sec = static_cast<time_t>(timeout_ns / 1'000'000'000u);
        ts.tv_nsec = static_cast<long>(timeout_ns % 1'000'000'000u);
        pollfd p{fd_.get(), POLLIN, 0};
        if (ppoll(&p, fd_.valid() ? 1 : 0, &ts, nullptr) > 0) {
            uint64_t v = 0;
            (void)!read(fd_.get(), &v, sizeof v);
        }
    }

    /// Writes to the eventfd so far (notify() that found the consumer asleep, and kick()).
    [[nodiscard]] uint64_t kicks() const noexcept { return kicks_.load(std::memory_order_relaxed); }

private:
    util::unique_fd fd_;
    int other_fd_ = -1; ///< ppoll ignores a negative fd
    bool other_ready_ = false;
    alignas(64) std::atomic<bool> sleeping_{false};
    std::atomic<uint64_t> kicks_{0}; ///< slow path only (beside a syscall)
};

} // namespace logagg::pipeline
