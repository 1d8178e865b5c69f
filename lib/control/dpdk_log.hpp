// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane (main(), before rte_eal_init()); the stream it installs is written by any
// thread DPDK logs from.
//
// DPDK's own log (rte_log: EAL, the PMDs, telemetry) through logagg's logger, so its lines carry
// logagg's prefix and go where logagg's log lines go (stderr). DPDK filters them by its
// --log-level first (globally and per log type), as before.
#pragma once

#include <cstdio>

namespace logagg::control {

/// Installs (rte_openlog_stream()) a stream whose lines go to util::log_text() with the level
/// of the message being logged (rte_log_cur_msg_loglevel()). Call before rte_eal_init() so
/// that EAL's start-up messages take that way too. @return false when the stream could not be
/// created (DPDK then keeps its default stream).
[[nodiscard]] bool route_dpdk_log() noexcept;

/// The stream route_dpdk_log() installed (nullptr before), for tests.
[[nodiscard]] std::FILE* dpdk_log_stream() noexcept;

} // namespace logagg::control
