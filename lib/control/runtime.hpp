// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane (set-up, launch, stats, shutdown); it launches the datapath loops.
//
// Owns everything that lives for the run: ports, the mbuf pool, rings, per-lcore contexts and the
// sink. Requires rte_eal_init() to have succeeded.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "config/options.hpp"
#include "config/roles.hpp"
#include "control/stats.hpp"
#include "util/result.hpp"

namespace logagg::control {

/// Set by the SIGINT/SIGTERM handler (lock-free, so async-signal-safe); the control loop polls it.
extern std::atomic<bool> g_signal_stop;

/// Requires rte_eal_init(). True when at least one port EAL probed reads capture files and
/// every other receives nothing (port_rx_source() of each port's driver and devargs): then a
/// full sink can be waited for without loss, and --on-sink-full defaults to block.
[[nodiscard]] bool ports_replay_captures();

class runtime {
public:
    /// Builds ports, pool, rings and contexts. @return the runtime, or the failure naming the
    /// port, queue or option (a usage error when the command line is at fault).
    [[nodiscard]] static util::result<std::unique_ptr<runtime>>
    create(const config::settings& cfg, const config::role_plan& plan);
    ~runtime();
    runtime(const runtime&) = delete;
    runtime& operator=(const runtime&) = delete;

    /// Launches the lcores, runs the control loop on the main lcore until a signal or
    /// --exit-on-idle, drains and stops. @return the process exit status (0 or 1).
    [[nodiscard]] int run();

    /// Counters now (exact once run() returned).
    [[nodiscard]] snapshot take_snapshot() const;

    struct impl;

private:
    explicit runtime(std::unique_ptr<impl> p);
    std::unique_ptr<impl> p_;
};

} // namespace logagg::control
