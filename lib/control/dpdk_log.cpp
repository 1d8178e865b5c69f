// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane (installation); the write function runs on any thread that calls rte_log.
#include "control/dpdk_log.hpp"

#include <rte_log.h>

#include <mutex>
#include <string>
#include <string_view>

#include "util/log.hpp"

namespace logagg::control {
namespace {

/// The logger level of a DPDK message level (RTE_LOG_EMERG 1 .. RTE_LOG_DEBUG 8: syslog's + 1).
[[nodiscard]] util::log_level level_of(int rte_level) noexcept {
    switch (rte_level) {
    case RTE_LOG_WARNING:
        return util::log_level::warning;
    case RTE_LOG_NOTICE:
        return util::log_level::notice;
    case RTE_LOG_INFO:
        return util::log_level::info;
    case RTE_LOG_DEBUG:
        return util::log_level::debug;
    default: // EMERG, ALERT, CRIT, ERR
        return util::log_level::error;
    }
}

/// Bytes written since the last LF: rte_log() writes a message in one piece or more (a message
/// may be built by several calls), and a line is logged once whole.
std::string pending; // NOLINT(cert-err58-cpp): constructed before main()
/// Guards pending. Why a lock: DPDK logs from any thread (EAL's, the PMDs', telemetry's), on
/// set-up and error paths only, never per packet.
std::mutex pending_lock;

std::FILE* stream = nullptr;

ssize_t write_lines(void* /*cookie*/, const char* buf, std::size_t size) noexcept {
    const std::lock_guard<std::mutex> hold(pending_lock);
    try {
        pending.append(buf, size);
        const util::log_level level = level_of(rte_log_cur_msg_loglevel());
        std::size_t start = 0;
        for (std::size_t lf = pending.find('\n'); lf != std::string::npos;
             lf = pending.find('\n', start)) {
            util::log_text(level, std::string_view(pending).substr(start, lf - start));
            start = lf + 1;
        }
        pending.erase(0, start);
    } catch (...) { // NOLINT(bugprone-empty-catch): out of memory; the bytes are lost
        pending.clear();
    }
    return static_cast<ssize_t>(size);
}

} // namespace

bool route_dpdk_log() noexcept {
    if (stream != nullptr) {
        return true;
    }
    cookie_io_functions_t io{};
    io.write = write_lines;
    std::FILE* f = fopencookie(nullptr, "w", io);
    if (f == nullptr) {
        return false;
    }
    // Unbuffered: each rte_log() reaches write_lines() as it is written, with its own level
    // (stdio formats a message whole before the one write of an unbuffered stream).
    (void)std::setvbuf(f, nullptr, _IONBF, 0);
    if (rte_openlog_stream(f) != 0) {
        (void)std::fclose(f);
        return false;
    }
    stream = f;
    return true;
}

std::FILE* dpdk_log_stream() noexcept {
    return stream;
}

} // namespace logagg::control
