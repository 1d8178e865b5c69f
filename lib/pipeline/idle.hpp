// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath (each lcore's own loop). Pure: unit-testable without EAL.
//
// What a polling lcore does when a pass over its work found nothing (--poll adaptive): keep
// polling (busy), poll with a CPU pause between passes, then really sleep, for times that grow
// to a bound. Any pass that did work returns it to busy. The sleeps are what makes an idle
// lcore cost nothing the OS accounts; the bound is what keeps the latency of the first packet
// after a quiet spell low (docs/architecture.md#polling).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "util/enum_names.hpp"

namespace logagg::pipeline {

/// --poll: how lcores wait for work.
enum class poll_mode : uint8_t {
    busy,     ///< every lcore polls without pause (dedicated cores, benchmarks)
    adaptive, ///< busy while work flows, then pause, then sleeps (default)
};
/// Values of poll_mode.
inline constexpr std::size_t poll_mode_count = 2;
/// The stable name of each poll_mode value (--poll's; util/enum_names.hpp).
[[nodiscard]] constexpr std::string_view name(poll_mode v) noexcept {
    switch (v) {
    case poll_mode::busy:
        return "busy";
    case poll_mode::adaptive:
        return "adaptive";
    }
    return "";
}
/// The names in enum order.
inline constexpr auto poll_mode_names = util::enum_names<poll_mode, poll_mode_count>();

/// Back-off timing, in ticks of whatever clock the caller passes to backoff::after_pass() (the
/// datapath uses TSC ticks; tests use plain numbers).
struct backoff_config {
    uint64_t busy = 0;        ///< poll flat out this long after the last work
    uint64_t pause = 0;       ///< then poll with a CPU pause between passes this long more
    uint64_t first_sleep = 1; ///< then sleep, this long first
    uint64_t max_sleep = 1;   ///< each sleep doubles, up to this bound
    /// Quiet this long since the last work, sleeps may grow further, to deep_sleep (the first
    /// packet after a long silence waits longer; a steady trickle never gets there).
    uint64_t deep_after = UINT64_MAX;
    uint64_t deep_sleep = 0; ///< bound of sleeps once quiet for deep_after (>= max_sleep)
    /// Bound of sleeps while the passes with work find many items (pass_load::many): a rate at
    /// which each wake-up collects several packets may wait a little longer per wake-up.
    uint64_t loaded_sleep = 0;
};

/// What to do before the next pass.
enum class idle_phase : uint8_t { busy, pause, sleep };

struct idle_action {
    idle_phase phase = idle_phase::busy;
    uint64_t sleep = 0; ///< phase sleep: for this many ticks (never 0)
};

/// What a pass found.
enum class pass_load : uint8_t {
    none, ///< nothing to do
    some, ///< some work, less than a full burst: the sleeps keep their pace
    many, ///< as some, with several items: the sleeps may grow to loaded_sleep
    full, ///< a full burst (more is likely waiting): back to busy, and sleeps half as long
};

/// The back-off state machine of one lcore.
///
/// Phases after the last full pass: busy for config().busy, pause for config().pause, then
/// sleeps. Each sleep doubles the next, up to max_sleep (deep_sleep once quiet for deep_after).
/// A full pass returns to busy and halves the next sleep (not below first_sleep); a pass with
/// some work keeps the phase and lets the sleeps grow like an empty one, so at a steady moderate
/// rate an lcore settles on sleeps of max_sleep, each collecting several packets (one wake-up
/// costs tens of microseconds of CPU; one per packet would cost more than the packet).
class backoff {
public:
    explicit backoff(const backoff_config& c, uint64_t now = 0) noexcept : c_(c) { reset(now); }

    /// As if a full pass just ended at @p now, with the first sleep next.
    void reset(uint64_t now) noexcept {
        phase_start_ = now;
        last_work_ = now;
        next_sleep_ = std::max<uint64_t>(c_.first_sleep, 1);
    }

    /// After a pass at @p now that found @p load. @p next_timer: the earliest time something on
    /// this lcore is due without new input (a batch age, a retry, a deadline); UINT64_MAX if
    /// none. A sleep never runs past it.
    [[nodiscard]] idle_action after_pass(pass_load load, uint64_t now,
                                         uint64_t next_timer = UINT64_MAX) noexcept {
        if (load == pass_load::full) {
            phase_start_ = now;
            last_work_ = now;
            loaded_ = true;
            next_sleep_ =
                std::max<uint64_t>(std::max<uint64_t>(c_.first_sleep, 1), next_sleep_ / 2);
            return {idle_phase::busy, 0};
        }
        if (load == pass_load::some || load == pass_load::many) {
            last_work_ = now;
            loaded_ = load == pass_load::many;
        }
        const uint64_t since = now - phase_start_;
        if (since < c_.busy) {
            return {idle_phase::busy, 0};
        }
        if (since - c_.busy < c_.pause) {
            return {idle_phase::pause, 0};
        }
        if (next_timer <= now) {
            return {idle_phase::busy, 0}; // something is due: run the pass now
        }
        const uint64_t bound = now - last_work_ >= c_.deep_after
                                   ? std::max(c_.max_sleep, c_.deep_sleep)
                               : loaded_ ? std::max(c_.max_sleep, c_.loaded_sleep)
                                         : c_.max_sleep;
        const uint64_t s = std::min(next_sleep_, bound);
        next_sleep_ = s > bound / 2 ? bound : s * 2;
        return {idle_phase::sleep, std::max<uint64_t>(std::min(s, next_timer - now), 1)};
    }

    /// Consumers (woken by producers): any work counts as a full pass.
    [[nodiscard]] idle_action after_pass(bool worked, uint64_t now,
                                         uint64_t next_timer = UINT64_MAX) noexcept {
        return after_pass(worked ? pass_load::full : pass_load::none, now, next_timer);
    }

    [[nodiscard]] const backoff_config& config() const noexcept { return c_; }

private:
    backoff_config c_;
    uint64_t phase_start_ = 0; ///< the last full pass
    uint64_t last_work_ = 0;   ///< the last pass with any work (deep_after counts from it)
    uint64_t next_sleep_ = 1;
    bool loaded_ = false; ///< the last pass with work found many items
};

/// An RX lcore whose queues are kernel sockets that say when a frame came (net_af_packet's
/// rings): whether its next sleep listens to them (the first frame ends it: one wake-up per frame
/// and no latency bound of its own) or is one of backoff's bounded sleeps (one wake-up per bound,
/// collecting every frame that came meanwhile). Listening costs less while frames come further
/// apart than the bound; when they come closer, a wake-up per frame costs more than bounded
/// sleeps. So: listen until a wake-up by a frame finds several frames waiting, or comes soon
/// after the previous one; then bounded sleeps until one finds nothing, then listen again.
class socket_wake {
public:
    /// @p close: a wake-up by a frame less than this after the previous one (ticks of the
    /// caller's clock) means frames come too close for a wake-up each.
    explicit socket_wake(uint64_t close) noexcept : close_(close) {}

    /// After a pass that found @p load at @p now. @return whether the next sleep listens.
    [[nodiscard]] bool after_pass(pass_load load, uint64_t now) noexcept {
        if (woke_by_frame_) {
            woke_by_frame_ = false;
            const bool several = load == pass_load::many || load == pass_load::full;
            if (several || now - last_frame_wake_ < close_) {
                listen_ = false;
            }
            last_frame_wake_ = now;
        } else if (slept_bounded_) {
            slept_bounded_ = false;
            if (load == pass_load::none) {
                listen_ = true;
            }
        }
        return listen_;
    }

    /// After a sleep: whether it listened to the sockets (what after_pass() said), and whether a
    /// frame ended it (a listening sleep that timed out or was woken otherwise changes nothing).
    void slept(bool listened, bool by_frame) noexcept {
        woke_by_frame_ = listened && by_frame;
        slept_bounded_ = !listened;
    }

    [[nodiscard]] bool listening() const noexcept { return listen_; }

private:
    uint64_t close_;
    uint64_t last_frame_wake_ = 0;
    bool listen_ = true;
    bool woke_by_frame_ = false;
    bool slept_bounded_ = false;
};

} // namespace logagg::pipeline
