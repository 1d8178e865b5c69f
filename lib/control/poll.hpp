// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath (idle_wait() runs on each lcore after each pass); the back-off settings are
// chosen by the control plane before the lcores start.
//
// --poll adaptive: how long each kind of lcore polls, pauses and sleeps when it finds nothing to
// do (docs/architecture.md#polling). The state machine is pipeline/idle.hpp, the wake-up
// pipeline/wakeup.hpp; this file holds the numbers and the one call the loops make.
#pragma once

#include <sys/prctl.h>

#include <cstdint>

#include <rte_pause.h>

#include "pipeline/counters.hpp"
#include "pipeline/idle.hpp"
#include "pipeline/wakeup.hpp"

namespace logagg::control {

/// Poll flat out this long after the last pass that did work. Why 2 us: the next frames of a
/// burst the sender is still writing arrive within it; longer spins cost more CPU per message
/// than they save at the rates where sleeping matters (below ~100 k msgs/s).
inline constexpr uint64_t busy_us = 2;
/// Then poll with a CPU pause between passes this long. Why 3 us: a sleep costs a syscall and a
/// context switch (~2-5 us here), so a gap shorter than that is cheaper to spin through.
inline constexpr uint64_t pause_us = 3;
/// An RX lcore's first sleep. Why 50 us: at 10-100 k msgs/s it collects several datagrams per
/// wake-up (the port's ring holds them meanwhile), instead of paying a wake-up per datagram.
inline constexpr uint64_t rx_first_sleep_us = 50;
/// The bound RX sleeps double up to while traffic is recent: the wake-up latency bound. Why
/// 500 us: a datagram arriving during a sleep waits at most this long (plus the kernel's timer
/// latency, tens of us) before its RX lcore polls; with the sink's wake-up and write that keeps
/// the p99 RX-to-file latency under 1 ms at 1 k msgs/s (batch-ms=0). Shorter costs CPU: a
/// wake-up costs ~30 us of CPU on a virtual machine, so at 10 k msgs/s 500 us sleeps (2,000
/// wake-ups/s, 5 datagrams each) cost 60 ms/s where 200 us sleeps would cost 150 ms/s.
inline constexpr uint64_t rx_max_sleep_us = 500;
/// The bound RX sleeps may grow to while each wake-up finds at least rx_many_frames frames (a
/// steady rate of ~8 k datagrams/s and up, below what makes full bursts). Why 1 ms: at 10 k
/// msgs/s it halves the wake-ups of the 500 us bound (1,000 a second, ~10 datagrams each); the
/// latency bound at such rates becomes 1 ms, while below them (1 k msgs/s) it stays 500 us.
inline constexpr uint64_t rx_loaded_sleep_us = 1000;
/// Frames a pass must find for pass_load::many. Why 4: at the 500 us bound that is 8 k
/// datagrams/s; a trickle of 1 k/s finds one at most.
inline constexpr uint32_t rx_many_frames = 4;
/// After this long without a frame, RX sleeps may grow further, to rx_deep_sleep_us. Why 1 s:
/// a steady trickle (1 msg/s and up) never gets there, so its latency keeps the 500 us bound.
inline constexpr uint64_t rx_deep_after_us = 1'000'000;
/// Why 2 ms: an idle RX lcore then wakes 500 times a second (~1.5% of a core at ~30 us a
/// wake-up); the first datagram after a silence of over a second waits at most 2 ms, during
/// which the port's ring takes a burst of up to 256 k frames/s per 512 descriptors.
inline constexpr uint64_t rx_deep_sleep_us = 2000;
/// An RX lcore that sleeps on its net_af_packet sockets (docs/architecture.md#polling) turns to
/// bounded sleeps when a wake-up by a frame comes less than this after the previous one. Why
/// 250 us: half the 500 us bound. Frames further apart than the bound cost a wake-up each either
/// way, and listening saves the bounded sleeps that find nothing between them (two per frame at
/// 1 k/s); frames closer than half the bound (over ~4 k/s) are collected several per bounded
/// sleep, fewer wake-ups than one per frame.
inline constexpr uint64_t rx_listen_close_us = 250;
/// --lcore-affinity shared: how often an lcore looks at its busy fraction to choose between its
/// own CPU and the shared set. Why 50 ms: a change of affinity is one syscall (and a migration);
/// 20 a second at most costs nothing next to the traffic that makes an lcore busy.
inline constexpr uint64_t affinity_window_us = 50'000;
/// Busy over this share of a window: the lcore goes back to its own CPU. Why 30%: at rates
/// where an lcore is that busy (~100 k msgs/s and up here) wake-ups are few and the cache of
/// one CPU is worth more; below, sleeping lcores woken beside their wakers cost less (at 1 k
/// msgs/s about half the CPU on this VM: docs/performance.md).
inline constexpr uint64_t affinity_pin_percent = 30;
/// Busy under this share of a window while on its own CPU: shared again. Why 10%: well below
/// affinity_pin_percent, so a rate near the threshold does not switch every window.
inline constexpr uint64_t affinity_share_percent = 10;
/// The longest a woken-on-demand lcore (worker, sink) sleeps without a timer due. Why 100 ms: a
/// safety net for what has no timer of its own (GELF chunk expiry is seconds), 10 wake-ups/s.
inline constexpr uint64_t consumer_max_sleep_us = 100'000;
/// The longest a sink holding records due soon naps without listening to producers. Why 1 ms:
/// the default batch age; a worker->sink ring (16384 descriptors) does not fill in 1 ms below
/// 16 M msgs/s, and a sink with records due in more than that listens again.
inline constexpr uint64_t sink_nap_max_us = 1000;

/// How long after its sinks last moved records a sink lcore keeps looking at its rings every
/// batch age (napping, not listening to producers) before it sleeps until woken. Why 100 ms:
/// traffic with shorter gaps counts as flowing; while it flows, one wake-up per batch age (1,000
/// a second at the default 1 ms) replaces a wake-up per enqueue (one per RX burst).
inline constexpr uint64_t sink_cadence_window_us = 100'000;

/// Back-off of an lcore that polls a NIC queue (nothing wakes it: it sleeps bounded times).
[[nodiscard]] inline pipeline::backoff_config rx_backoff(uint64_t hz) noexcept {
    const uint64_t us = hz / 1'000'000;
    pipeline::backoff_config c;
    c.busy = busy_us * us;
    c.pause = pause_us * us;
    c.first_sleep = rx_first_sleep_us * us;
    c.max_sleep = rx_max_sleep_us * us;
    c.deep_after = rx_deep_after_us * us;
    c.deep_sleep = rx_deep_sleep_us * us;
    c.loaded_sleep = rx_loaded_sleep_us * us;
    return c;
}

/// Back-off of an lcore that only consumes rings (worker, sink, main+sink): producers wake it,
/// so it sleeps until then or its next timer.
[[nodiscard]] inline pipeline::backoff_config consumer_backoff(uint64_t hz) noexcept {
    const uint64_t us = hz / 1'000'000;
    pipeline::backoff_config c;
    c.busy = busy_us * us;
    c.pause = pause_us * us;
    c.first_sleep = consumer_max_sleep_us * us;
    c.max_sleep = consumer_max_sleep_us * us;
    return c;
}

/// Back-off of an RX lcore whose queues raise interrupts: it polls, pauses, then sleeps until a
/// frame arrives (or its next timer, or the consumers' safety-net bound).
[[nodiscard]] inline pipeline::backoff_config rx_intr_backoff(uint64_t hz) noexcept {
    return consumer_backoff(hz);
}

/// This thread's sleeps end when asked, not up to 50 us later (the default timer slack of
/// non-real-time threads, as large as the sleeps themselves).
inline void precise_sleeps() noexcept {
    (void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
}

/// After a pass that found @p load: nothing (busy), a CPU pause, or a sleep on @p w until a
/// producer's notify(), a kick(), the back-off's bound or @p next_timer (TSC), whichever comes
/// first. @p nap: sleep without listening to producers (work is due at next_timer anyway).
/// @p has_work: the lcore's rings, looked at after the sleep is announced (wakeup.hpp).
/// @return true when it slept (not when has_work() said there was work after all).
template <class HasWork>
bool idle_wait(pipeline::backoff& bo, pipeline::waker& w, pipeline::lcore_stats& st,
               pipeline::pass_load load, uint64_t now, uint64_t next_timer, bool nap,
               double ns_per_tsc, HasWork&& has_work) noexcept {
    const pipeline::idle_action a = bo.after_pass(load, now, next_timer);
    switch (a.phase) {
    case pipeline::idle_phase::busy:
        return false;
    case pipeline::idle_phase::pause:
        rte_pause();
        return false;
    case pipeline::idle_phase::sleep: {
        const auto ns = static_cast<uint64_t>(static_cast<double>(a.sleep) * ns_per_tsc);
        if (nap) {
            w.nap(ns);
            st.sleeps.add();
            return true;
        }
        if (w.sleep(ns, has_work)) {
            st.sleeps.add();
            return true;
        }
        return false;
    }
    }
    return false;
}

} // namespace logagg::control
