// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane (DPDK's telemetry thread runs the commands).
//
// logagg's commands on DPDK's telemetry socket (/var/run/dpdk/<prefix>/dpdk_telemetry.v2), beside
// DPDK's own /ethdev/stats etc.: /logagg/stats, /logagg/sinks and /logagg/ports, built from the
// same snapshot as /metrics and --stats-json (docs/metrics.md).
#pragma once

#include "control/http.hpp"

namespace logagg::control {

/// Registers the commands (once; requires rte_eal_init()). Until telemetry_serve() gives them a
/// source they answer null, as DPDK does for a command that fails.
void register_telemetry();

/// The commands take snapshots from @p src from now on; an empty function detaches the previous
/// one (it returns once no command is using it any more).
void telemetry_serve(snapshot_source src);

} // namespace logagg::control
