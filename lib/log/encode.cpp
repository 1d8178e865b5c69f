// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath.
#include "log/encode.hpp"

namespace logagg::log {
namespace {

/// The date of day @p z since 1970-01-01 (H. Hinnant's civil_from_days).
void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) noexcept {
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
}

void put(char*& p, uint64_t v, int width) noexcept {
    for (int i = width - 1; i >= 0; --i) {
        p[i] = static_cast<char>('0' + v % 10);
        v /= 10;
    }
    p += width;
}

} // namespace

std::size_t format_rfc3339(int64_t ns, int frac, char* buf) noexcept {
    int64_t secs = ns / 1'000'000'000;
    int64_t sub = ns % 1'000'000'000;
    if (sub < 0) {
        sub += 1'000'000'000;
        --secs;
    }
    int64_t days = secs / 86400;
    int64_t tod = secs % 86400;
    if (tod < 0) {
        tod += 86400;
        --days;
    }
    int64_t y = 0;
    unsigned m = 0;
    unsigned d = 0;
    civil_from_days(days, y, m, d);
    char* p = buf;
    put(p, static_cast<uint64_t>(y < 0 ? 0 : y % 10000), 4);
    *p++ = '-';
    put(p, m, 2);
    *p++ = '-';
    put(p, d, 2);
    *p++ = 'T';
    put(p, static_cast<uint64_t>(tod / 3600), 2);
    *p++ = ':';
    put(p, static_cast<uint64_t>(tod / 60 % 60), 2);
    *p++ = ':';
    put(p, static_cast<uint64_t>(tod % 60), 2);
    if (frac > 0) {
        *p++ = '.';
        uint64_t f = static_cast<uint64_t>(sub);
        for (int i = frac; i < 9; ++i) {
            f /= 10;
        }
        put(p, f, frac);
    }
    *p++ = 'Z';
    return static_cast<std::size_t>(p - buf);
}

} // namespace logagg::log
