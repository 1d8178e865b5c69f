// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath (a producer waiting for room in a full ring under --on-sink-full block).
//
// With --on-sink-full block (the default when every port replays a capture) a producer whose
// ring is full waits for its consumer instead of dropping. Spinning there makes a replay that
// the file system limits cost two busy cores; with --poll adaptive the producer pauses briefly,
// then sleeps until half the ring is free, so the CPU it is charged follows the work it can do.
// Each such sleep costs a wake-up, and the consumer always has at least a quarter of the ring
// in front of it while the producer sleeps (see block_sleep_us()).
#pragma once

#include <algorithm>
#include <cstdint>

#include <rte_cycles.h>
#include <rte_pause.h>
#include <rte_ring.h>

namespace logagg::pipeline {

/// CPU pauses before a blocked producer sleeps. Why 256: a few microseconds, the time a
/// consumer in the middle of a burst takes to free some slots; longer waits are its writes.
inline constexpr uint32_t block_spins = 256;

/// The sleep step of a producer blocked on a ring of @p capacity slots (0: spin, --poll busy or
/// a ring too small to sleep on). Why capacity / 40 us, at most 1 ms: a quarter of the ring lasts
/// that long at 10 M records/s, faster than a sink lcore here frees slots, so the consumer never
/// runs dry while the producer sleeps; below 20 us a sleep costs more than it saves.
[[nodiscard]] constexpr uint32_t block_sleep_us(uint32_t capacity, bool adaptive) noexcept {
    const uint32_t us = std::min<uint32_t>(capacity / 40, 1000);
    return adaptive && us >= 20 ? us : 0;
}

/// One step of the wait for room in @p ring: a CPU pause for the first block_spins steps of an
/// episode, then sleeps of @p sleep_us until half the ring is free (nothing when sleep_us is 0).
/// @p spins counts the episode's steps; the caller zeroes it when the episode ends.
inline void blocked_step(const rte_ring* ring, uint32_t sleep_us, uint32_t& spins) noexcept {
    if (sleep_us == 0 || ++spins < block_spins) {
        rte_pause();
        return;
    }
    const unsigned half = rte_ring_get_capacity(ring) / 2;
    do {
        rte_delay_us_sleep(sleep_us);
    } while (rte_ring_free_count(ring) < half);
    spins = 0;
}

} // namespace logagg::pipeline
