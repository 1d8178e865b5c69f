// SPDX-License-Identifier: BSD-3-Clause
// Side: any (header-only, pure, no allocation): byte classes and fixed-width numbers shared by
// the parsers.
#pragma once

#include <cstddef>
#include <string_view>

namespace logagg::util {

[[nodiscard]] constexpr bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

/// The value of hex digit @p c (either case), or -1.
[[nodiscard]] constexpr int hex_value(char c) noexcept {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/// Reads exactly @p n decimal digits at @p p of @p s. @return the value, or -1 when they are
/// not all there or not all digits. Never reads outside @p s.
[[nodiscard]] constexpr int digits(std::string_view s, std::size_t p, std::size_t n) noexcept {
    if (p > s.size() || n > s.size() - p) {
        return -1;
    }
    int v = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (!is_digit(s[p + i])) {
            return -1;
        }
        v = v * 10 + (s[p + i] - '0');
    }
    return v;
}

static_assert(digits("2026", 0, 4) == 2026 && digits("20x6", 0, 4) == -1 &&
              digits("1", 0, 2) == -1);
static_assert(hex_value('F') == 15 && hex_value('g') == -1);

} // namespace logagg::util
