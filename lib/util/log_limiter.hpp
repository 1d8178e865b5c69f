// SPDX-License-Identifier: BSD-3-Clause
// Side: any (error paths of sinks). Header-only, no allocation.
#pragma once

#include <time.h>

#include <cstdint>

namespace logagg::util {

/// Lets one error line through per interval and counts the ones held back, so a failing backend
/// cannot flood the console (or slow the sink down with its own logging).
class log_limiter {
public:
    /// Why 10 s: often enough to see a problem persist, rarely enough not to flood.
    static constexpr uint64_t interval_ns = 10'000'000'000ULL;

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
