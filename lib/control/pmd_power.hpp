// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane (port set-up and shutdown, before the ports start and after they stop).
//
// --pmd-power: DPDK's PMD power management (rte_power_pmd_mgmt.h, an experimental API in DPDK
// 22.11, kept to this file) on the RX queues an lcore busy-polls. After a run of empty polls the
// PMD's RX callback pauses (pause), waits on the queue's next descriptor (monitor) or lowers the
// core's frequency (scale). It saves power on cores dedicated to logagg; the OS still accounts
// the lcore as busy, which is why --poll adaptive (real sleeps) is the default
// (docs/architecture.md#polling).
#pragma once

#include <cstdint>

#include "config/options.hpp"
#include "util/result.hpp"

namespace logagg::control {

/// Turns power management @p mode on for RX queue @p queue of @p port, polled by @p lcore. Must
/// run while the port is stopped. @return a failure naming the port, queue and DPDK's reason.
[[nodiscard]] util::result<void> pmd_power_enable(unsigned lcore, uint16_t port, uint16_t queue,
                                                  config::pmd_power mode);

/// Turns it off again (the port stopped). Errors are ignored: this runs at shutdown.
void pmd_power_disable(unsigned lcore, uint16_t port, uint16_t queue) noexcept;

} // namespace logagg::control
