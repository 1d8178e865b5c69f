// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane (see pmd_power.hpp).
// rte_power_ethdev_pmgmt_queue_enable() is experimental in DPDK 22.11: allowed here only.
#define ALLOW_EXPERIMENTAL_API 1

#include "control/pmd_power.hpp"

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <rte_power_pmd_mgmt.h>

namespace logagg::control {

util::result<void> pmd_power_enable(unsigned lcore, uint16_t port, uint16_t queue,
                                    config::pmd_power mode) {
    rte_power_pmd_mgmt_type t = RTE_POWER_MGMT_TYPE_PAUSE;
    switch (mode) {
    case config::pmd_power::off:
        return util::ok();
    case config::pmd_power::pause:
        t = RTE_POWER_MGMT_TYPE_PAUSE;
        break;
    case config::pmd_power::monitor:
        t = RTE_POWER_MGMT_TYPE_MONITOR;
        break;
    case config::pmd_power::scale:
        t = RTE_POWER_MGMT_TYPE_SCALE;
        break;
    }
    const int rc = rte_power_ethdev_pmgmt_queue_enable(lcore, port, queue, t);
    if (rc != 0) {
        const char* why = mode == config::pmd_power::monitor
                              ? " (monitor needs a PMD that reports its next descriptor, and a "
                                "CPU with UMWAIT or MONITORX)"
                          : mode == config::pmd_power::scale
                              ? " (scale needs a cpufreq driver rte_power can use: bare metal)"
                              : "";
        return util::failure(fmt::format("port {} queue {} (lcore {}): --pmd-power {}: {}{}", port,
                                         queue, lcore, name(mode), std::strerror(-rc), why));
    }
    return util::ok();
}

void pmd_power_disable(unsigned lcore, uint16_t port, uint16_t queue) noexcept {
    (void)rte_power_ethdev_pmgmt_queue_disable(lcore, port, queue);
}

} // namespace logagg::control
