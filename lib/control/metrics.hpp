// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane (formats a snapshot; allocates freely, never touches the datapath).
//
// The Prometheus text exposition (format 0.0.4) of a snapshot, and the health verdict behind
// /healthz. Both read only the snapshot, the same one the stats line, the summary, --stats-json
// and the telemetry commands are built from, so they all agree (docs/metrics.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "control/stats.hpp"

namespace logagg::control {

/// The Content-Type of prometheus_text().
inline constexpr const char* prometheus_content_type = "text/plain; version=0.0.4; charset=utf-8";

/// Every metric family of @p s with its # HELP and # TYPE lines (names: docs/metrics.md).
[[nodiscard]] std::string prometheus_text(const snapshot& s);

/// What /healthz remembers between calls: since when each connected sink has been down.
class health_tracker {
public:
    /// Notes the connection state of @p s's sinks at @p now_ms (a monotonic clock in ms).
    void observe(const snapshot& s, uint64_t now_ms);

    /// The verdict for @p s at @p now_ms (observe() it first): healthy when every port's link is
    /// up and every connected sink (TCP, Kafka) is connected, or has been down for no longer
    /// than its backoff ceiling (reconnect-max-ms, Kafka: reconnect.backoff.max.ms: it is still
    /// inside its first retry cycles).
    /// @return the reasons it is not healthy; empty when healthy.
    [[nodiscard]] std::vector<std::string> problems(const snapshot& s, uint64_t now_ms) const;

private:
    std::vector<uint64_t> down_since_ms_; ///< by sink index; 0: up (or not a connected sink)
};

/// The /healthz body: {"status": "ok"} or {"status": "unhealthy", "reasons": [...]}.
[[nodiscard]] std::string health_json(const std::vector<std::string>& problems);

} // namespace logagg::control
