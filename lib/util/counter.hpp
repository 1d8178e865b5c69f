// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath writes (one writer per counter), control plane reads.
//
// A single-writer counter for per-lcore statistics, usable by every layer (lib/pipeline has the
// same type for its own counters).
#pragma once

#include <atomic>
#include <cstdint>

namespace logagg::util {

/// A counter with exactly one writer (the lcore that owns it): an update is a relaxed load and a
/// relaxed store (a plain add on x86, no locked instruction); any thread reads it with a relaxed
/// load, exactly once the writer has stopped.
class counter {
public:
    /// Adds @p n. Only the owning lcore may call this.
    void add(uint64_t n = 1) noexcept {
        v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    /// Subtracts @p n (gauges). Only the owning lcore may call this.
    void sub(uint64_t n = 1) noexcept {
        v_.store(v_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
    }
    /// @return the current value; any thread.
    [[nodiscard]] uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<uint64_t> v_{0};
};

} // namespace logagg::util
