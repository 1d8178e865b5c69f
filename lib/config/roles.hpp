// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane (start-up). Pure: unit-testable without EAL.
//
// Decides which lcore runs which role from the options and the lcores EAL enabled.
#pragma once

#include <string>
#include <vector>

#include "config/options.hpp"
#include "util/result.hpp"

namespace logagg::config {

/// Who does what. RX lcore i polls queue i of every port.
struct role_plan {
    unsigned main = 0;
    std::vector<unsigned> rx;
    std::vector<unsigned> workers;
    unsigned sink = 0;
    bool fused = false; ///< RX and worker run to completion on each RX lcore (no worker rings)
    std::vector<std::string> notes; ///< decisions worth printing at start-up

    /// Human-readable role list of one lcore, e.g. "main+sink" or "rx+worker"; empty if idle.
    [[nodiscard]] std::string roles_of(unsigned lcore) const;
};

/// @param main_lcore the EAL main lcore
/// @param enabled    every lcore EAL enabled (main included), ascending
/// @return the plan, or a usage failure naming the option.
[[nodiscard]] util::result<role_plan> resolve_roles(const settings& cfg, unsigned main_lcore,
                                                    const std::vector<unsigned>& enabled);

} // namespace logagg::config
