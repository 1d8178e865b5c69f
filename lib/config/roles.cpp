// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane.
#include "config/roles.hpp"

#include <algorithm>

#include <fmt/core.h>
#include <fmt/ranges.h>

namespace logagg::config {
namespace {

[[nodiscard]] bool contains(const std::vector<unsigned>& v, unsigned x) {
    return std::find(v.begin(), v.end(), x) != v.end();
}

[[nodiscard]] std::vector<unsigned> sorted(std::vector<unsigned> v) {
    std::sort(v.begin(), v.end());
    return v;
}

} // namespace

std::string role_plan::roles_of(unsigned lcore) const {
    std::vector<std::string_view> r;
    if (lcore == main) {
        r.push_back("main");
    }
    if (contains(rx, lcore)) {
        r.push_back("rx");
    }
    if (contains(workers, lcore)) {
        r.push_back("worker");
    }
    if (lcore == sink) {
        r.push_back("sink");
    }
    return fmt::format("{}", fmt::join(r, "+"));
}

util::result<role_plan> resolve_roles(const settings& cfg, unsigned main_lcore,
                                      const std::vector<unsigned>& enabled) {
    role_plan p;
    std::string error; ///< check_list()'s finding
    p.main = main_lcore;
    std::vector<unsigned> others;
    for (unsigned l : enabled) {
        if (l != main_lcore) {
            others.push_back(l);
        }
    }
    auto check_list = [&](const char* opt, const std::vector<unsigned>& l) {
        for (unsigned id : l) {
            if (!contains(enabled, id)) {
                error = fmt::format(
                    "{}: lcore {} is not enabled by EAL (enabled: {}; use -l or --lcores)", opt, id,
                    fmt::join(enabled, ","));
                return false;
            }
            if (id == main_lcore) {
                error =
                    fmt::format("{}: lcore {} is the main lcore (control plane); name other lcores "
                                "from -l",
                                opt, id);
                return false;
            }
        }
        return true;
    };
    if (!check_list("--rx-lcores", cfg.rx_lcores) ||
        !check_list("--worker-lcores", cfg.worker_lcores)) {
        return util::usage_failure(std::move(error));
    }
    const bool have_rx = !cfg.rx_lcores.empty();
    const bool have_w = !cfg.worker_lcores.empty();
    if (!have_rx && !have_w) {
        if (others.empty()) {
            p.rx = {main_lcore};
            p.workers = {main_lcore};
            p.notes.push_back(
                "only one lcore: RX, worker and sink share the main lcore (use -l 0-1 or more "
                "to keep the sink off the RX lcore)");
        } else {
            p.rx = {others.front()};
            p.workers.assign(others.begin() + 1, others.end());
            if (p.workers.empty()) {
                p.workers = p.rx;
            }
        }
    } else if (have_rx && !have_w) {
        p.rx = cfg.rx_lcores;
        p.workers = cfg.rx_lcores;
    } else if (!have_rx && have_w) {
        p.workers = cfg.worker_lcores;
        for (unsigned l : others) {
            if (!contains(p.workers, l)) {
                p.rx = {l};
                break;
            }
        }
        if (p.rx.empty()) {
            return util::usage_failure(
                fmt::format("--worker-lcores: no lcore left for RX; name one with --rx-lcores "
                            "(enabled: {})",
                            fmt::join(enabled, ",")));
        }
    } else {
        p.rx = cfg.rx_lcores;
        p.workers = cfg.worker_lcores;
    }
    p.fused = sorted(p.rx) == sorted(p.workers);
    if (!p.fused) {
        for (unsigned l : p.workers) {
            if (contains(p.rx, l)) {
                return util::usage_failure(
                    "--worker-lcores: must be the same set as --rx-lcores (run to completion) or "
                    "disjoint from it (pipeline through rings)");
            }
        }
    }
    p.sink = cfg.sink_lcore.value_or(main_lcore);
    if (!contains(enabled, p.sink)) {
        return util::usage_failure(
            fmt::format("--sink-lcore: lcore {} is not enabled by EAL (enabled: {})", p.sink,
                        fmt::join(enabled, ",")));
    }
    if (contains(p.rx, p.sink) && !(p.rx.size() == 1 && p.rx.front() == main_lcore)) {
        return util::usage_failure(fmt::format(
            "--sink-lcore: lcore {} polls RX; the sink must not stall RX, pick another lcore",
            p.sink));
    }
    return p;
}

} // namespace logagg::config
