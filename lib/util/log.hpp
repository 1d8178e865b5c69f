// SPDX-License-Identifier: BSD-3-Clause
// Side: any lcore, on error paths only (never per packet). Header-only.
//
// logagg's one logger: every line the program prints goes through here, except --help,
// --version and the exit summary table (documents, printed whole by main()). Two streams:
//  - log lines on stderr (log_line(), log_error(), log_limiter, and DPDK's own log, which
//    control/dpdk_log.hpp forwards here): one prefix ("logagg: "), a level threshold, and rate
//    limiting for errors that can repeat at line rate (a sink's backend failing). The level
//    comes from EAL's --log-level (main() copies rte_log's global level after rte_eal_init()),
//    so one flag sets DPDK's log and logagg's;
//  - program output on stdout (report(), notice()): the start-up report, the periodic stats
//    line and the run's events (link changes, shutdown). Not filtered by level: tests and
//    scripts read these lines at --log-level=error, and they are what the program says it does,
//    not diagnostics. Each line is one write, flushed, so a reader of a pipe sees it as it
//    happens.
#pragma once

#include <time.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/core.h>

namespace logagg::util {

/// Severities, numbered as syslog's (RFC 5424 6.2.1) and DPDK's RTE_LOG_* minus one.
enum class log_level : uint8_t { error = 3, warning = 4, notice = 5, info = 6, debug = 7 };

/// The logger's prefix, on every log line and run event.
inline constexpr std::string_view log_prefix = "logagg: ";

namespace detail {
/// Lines above this level are not printed. Why info by default: everything logagg logs shows
/// until main() reads --log-level.
inline std::atomic<uint8_t> log_threshold{static_cast<uint8_t>(log_level::info)};
} // namespace detail

/// Sets the most verbose level printed (main(), from EAL's --log-level).
inline void set_log_level(log_level l) noexcept {
    detail::log_threshold.store(static_cast<uint8_t>(l), std::memory_order_relaxed);
}

/// Whether a line of level @p l is printed.
[[nodiscard]] inline bool log_enabled(log_level l) noexcept {
    return static_cast<uint8_t>(l) <= detail::log_threshold.load(std::memory_order_relaxed);
}

namespace detail {
/// Writes "logagg: TEXT[ [N similar errors not shown]]\n" as one write to stderr.
inline void write_line(fmt::string_view f, fmt::format_args args, uint64_t held_back) {
    std::string line(log_prefix);
    line += fmt::vformat(f, args);
    if (held_back != 0) {
        line += fmt::format(" [{} similar errors not shown]", held_back);
    }
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stderr);
}
} // namespace detail

namespace detail {
/// Writes @p line (with its LF) to stdout as one write and flushes it.
inline void put_stdout(const std::string& line) noexcept {
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
}
} // namespace detail

/// Prints @p text as one log line of level @p l that its source already filtered (DPDK's log,
/// which applies --log-level per log type itself): logagg's prefix, stderr, no threshold here.
inline void log_text(log_level l, std::string_view text) noexcept {
    (void)l; // one format for every level: the source chose to print it
    try {
        std::string line(log_prefix);
        line += text;
        line += '\n';
        std::fwrite(line.data(), 1, line.size(), stderr);
    } catch (...) { // NOLINT(bugprone-empty-catch): out of memory; the line is lost
    }
}

/// Prints one line of the start-up report (or the periodic stats line) on stdout, as given
/// (report lines are indented under the banner; no prefix). Any level.
template <typename... A>
void report(fmt::format_string<A...> f, A&&... args) noexcept {
    try {
        std::string line = fmt::vformat(f, fmt::make_format_args(args...));
        line += '\n';
        detail::put_stdout(line);
    } catch (...) { // NOLINT(bugprone-empty-catch): formatting failed; the line is lost
    }
}

/// Prints one event of the run (shutdown, a link change, a sink reconnected) on stdout with
/// logagg's prefix. Any level.
template <typename... A>
void notice(fmt::format_string<A...> f, A&&... args) noexcept {
    try {
        std::string line(log_prefix);
        line += fmt::vformat(f, fmt::make_format_args(args...));
        line += '\n';
        detail::put_stdout(line);
    } catch (...) { // NOLINT(bugprone-empty-catch): formatting failed; the line is lost
    }
}

/// Prints one line at level @p l on stderr, with logagg's prefix.
template <typename... A>
void log_line(log_level l, fmt::format_string<A...> f, A&&... args) {
    if (log_enabled(l)) {
        detail::write_line(f, fmt::make_format_args(args...), 0);
    }
}

/// An error line (a failure logagg reports and survives, or the reason it exits).
template <typename... A>
void log_error(fmt::format_string<A...> f, A&&... args) {
    log_line(log_level::error, f, std::forward<A>(args)...);
}

/// Lets one line through per interval and counts the ones held back, so a failing backend
/// cannot flood the console (or slow the sink down with its own logging). One per source of
/// repeated errors (a sink, a segment writer).
class log_limiter {
public:
    /// Why 10 s: often enough to see a problem persist, rarely enough not to flood.
    static constexpr uint64_t interval_ns = 10'000'000'000ULL;

    /// Prints the line at level @p l when the interval since the last one printed has passed,
    /// followed by how many were held back since; otherwise only counts it.
    template <typename... A>
    void line(log_level l, fmt::format_string<A...> f, A&&... args) noexcept {
        if (!log_enabled(l)) {
            return;
        }
        uint64_t held_back = 0;
        if (!allow(held_back)) {
            return;
        }
        try {
            detail::write_line(f, fmt::make_format_args(args...), held_back);
        } catch (...) { // NOLINT(bugprone-empty-catch): formatting failed; the line is lost
        }
    }
    template <typename... A>
    void error(fmt::format_string<A...> f, A&&... args) noexcept {
        line(log_level::error, f, std::forward<A>(args)...);
    }

    /// @return true when a line may be printed now; @p held_back is then set to the number of
    /// lines suppressed since the last one printed (and the count restarts).
    [[nodiscard]] bool allow(uint64_t& held_back) noexcept {
        timespec ts{};
        clock_gettime(CLOCK_MONOTONIC, &ts);
        const uint64_t now =
            static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
        if (last_ns_ != 0 && now - last_ns_ < interval_ns) {
            ++suppressed_;
            return false;
        }
        last_ns_ = now;
        held_back = suppressed_;
        suppressed_ = 0;
        return true;
    }

private:
    uint64_t last_ns_ = 0;
    uint64_t suppressed_ = 0;
};

} // namespace logagg::util
