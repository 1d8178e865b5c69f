// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane. Parse options, initialise EAL, build the runtime, run, report, exit.
#include <csignal>
#include <cstdio>
#include <fstream>
#include <string_view>
#include <vector>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_log.h>

#include <fmt/core.h>

#include "config/options.hpp"
#include "config/roles.hpp"
#include "control/dpdk_log.hpp"
#include "control/http.hpp"
#include "control/runtime.hpp"
#include "control/stats.hpp"
#include "control/telemetry.hpp"
#include "util/log.hpp"

namespace {

constexpr int exit_runtime = 1;
constexpr int exit_usage = 2;

void on_signal(int) {
    logagg::control::g_signal_stop.store(true, std::memory_order_relaxed);
}

[[nodiscard]] int usage_error(std::string_view msg) {
    logagg::util::log_error("{}", msg);
    return exit_usage;
}

/// Writes @p text to @p path via a temporary file and rename, so readers never see half a file.
[[nodiscard]] bool write_file_atomically(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        f << text;
        if (!f.flush()) {
            return false;
        }
    }
    return std::rename(tmp.c_str(), path.c_str()) == 0;
}

} // namespace

int main(int argc, char** argv) {
    using namespace logagg::config;
    using namespace logagg::control;
    // logagg's options follow "--". They are parsed before EAL so that usage errors and --help
    // need neither privileges nor hugepages.
    int sep = argc;
    for (int i = 1; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--") {
            sep = i;
            break;
        }
    }
    if (argc >= 2 && (std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h")) {
        fmt::print("{}", help_text());
        return 0;
    }
    if (argc >= 2 && std::string_view(argv[1]) == "--version") {
        fmt::print("logagg {}\n", LOGAGG_VERSION);
        return 0;
    }
    std::vector<std::string_view> app_args;
    for (int i = sep + 1; i < argc; ++i) {
        app_args.emplace_back(argv[i]);
    }
    auto parsed = parse_options(app_args);
    if (!parsed) {
        return usage_error(parsed.error().text);
    }
    switch (parsed.value().what) {
    case command::action::help:
        fmt::print("{}", help_text());
        return 0;
    case command::action::version:
        fmt::print("logagg {}\n", LOGAGG_VERSION);
        return 0;
    case command::action::run:
        break;
    }
    settings cfg = std::move(parsed).value().cfg;
    // What the options name on the filesystem is the user's too: checked now, not at exit.
    if (auto checked = check_paths(cfg); !checked) {
        return usage_error(checked.error().text);
    }

    std::signal(SIGPIPE, SIG_IGN);
    std::signal(SIGXFSZ, SIG_IGN); // a file size limit shows up as EFBIG, counted by the sink
    // DPDK's log through logagg's logger from EAL's first line on.
    if (!route_dpdk_log()) {
        logagg::util::log_error(
            "cannot route DPDK's log through logagg's: it keeps its own stream");
    }
    const int eal_argc = sep;
    const int consumed = rte_eal_init(eal_argc, argv);
    if (consumed < 0) {
        const int err = rte_errno;
        logagg::util::log_error("EAL initialisation failed: {}", rte_strerror(err));
        return err == EINVAL ? exit_usage : exit_runtime;
    }
    // One --log-level (EAL's) for DPDK's log and logagg's: RTE_LOG_* are syslog's levels + 1.
    logagg::util::set_log_level(
        static_cast<logagg::util::log_level>(rte_log_get_global_level() - 1));
    if (consumed + 1 < eal_argc) {
        // EAL's getopt moves words it does not know behind its options: one was given before "--".
        logagg::util::log_error("unexpected argument '{}' before '--' (logagg options go after --)",
                                argv[consumed + 1]);
        rte_eal_cleanup();
        return exit_usage;
    }
    std::vector<unsigned> enabled;
    unsigned id = 0;
    RTE_LCORE_FOREACH(id) {
        enabled.push_back(id);
    }
    const auto resolved = resolve_roles(cfg, rte_get_main_lcore(), enabled);
    if (!resolved) {
        rte_eal_cleanup();
        return usage_error(resolved.error().text);
    }
    const role_plan& plan = resolved.value();

    // --metrics binds now: a port in use is an error before any port starts or packet arrives.
    std::unique_ptr<metrics_server> metrics;
    if (cfg.metrics) {
        auto started = metrics_server::start(*cfg.metrics);
        if (!started) {
            logagg::util::log_error("{}", started.error().text);
            rte_eal_cleanup();
            return exit_runtime;
        }
        metrics = std::move(started).value();
    }
    register_telemetry();

    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);

    // A capture file can wait for the sinks (as Suricata's and Zeek's -r do): when every port
    // replays one, a full sink holds the replay back instead of dropping. Live ports drop.
    const bool defaulted = !cfg.on_sink_full.has_value();
    const bool replay = defaulted && ports_replay_captures();
    if (defaulted) {
        cfg.on_sink_full = replay ? full_policy::block : full_policy::drop;
    }
    std::string banner = fmt::format("logagg {}: listening on", LOGAGG_VERSION);
    for (uint16_t p : cfg.listen) {
        banner += fmt::format(" udp:{}", p);
    }
    logagg::util::report("{}; on sink full: {}; {} mode", banner, name(*cfg.on_sink_full),
                         plan.fused ? "run-to-completion" : "pipeline");
    if (replay) {
        logagg::util::report(
            "  on sink full: block, the default when every port replays a capture file: the "
            "replay waits for the sinks and loses nothing (--on-sink-full drop to drop instead)");
    }
    for (const logagg::config::sink_spec& s : cfg.sinks) {
        logagg::util::report("  sink {}: {} (format {}, buffer {} bytes, drop {})", s.name, s.text,
                             logagg::log::output_format_names[static_cast<std::size_t>(s.format)],
                             s.buffer_bytes, s.drop_oldest ? "oldest" : "newest");
    }
    for (const logagg::log::filter& f : cfg.filters) {
        logagg::util::report("  filter: {}", f.text);
    }
    for (const std::string& n : plan.notes) {
        logagg::util::report("  note: {}", n);
    }
    if (metrics) {
        logagg::util::report("  metrics: {}/metrics and {}/healthz", metrics->url(),
                             metrics->url());
    }
    int status = exit_runtime;
    {
        auto created = runtime::create(cfg, plan);
        if (!created) {
            const logagg::util::failure& error = created.error();
            logagg::util::log_error("{}", error.text);
            status = error.usage ? exit_usage : exit_runtime;
        } else {
            const std::unique_ptr<runtime> rt = std::move(created).value();
            const snapshot_source source = [r = rt.get()] { return r->take_snapshot(); };
            if (metrics) {
                metrics->serve(source);
            }
            telemetry_serve(source);
            status = rt->run();
            const snapshot s = rt->take_snapshot();
            fmt::print("{}", summary_table(s));
            if (!cfg.stats_json.empty() && !write_file_atomically(cfg.stats_json, to_json(s))) {
                logagg::util::log_error("--stats-json: cannot write '{}'", cfg.stats_json);
                status = exit_runtime;
            }
            if (!s.packets_balanced() || !s.messages_balanced() || !s.sinks_balanced()) {
                logagg::util::log_error("internal error: counters do not balance (see summary)");
                status = exit_runtime;
            }
            // The runtime goes away at the end of this block: nobody may ask it any more.
            telemetry_serve({});
            if (metrics) {
                metrics->serve({});
            }
        }
    }
    metrics.reset();
    rte_eal_cleanup();
    return status;
}
