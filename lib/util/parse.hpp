// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane (option parsing). Header-only, pure.
//
// Number parsing shared by the option parsers.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

namespace logagg::util {

/// A whole decimal number, nothing else. nullopt on any other text or overflow.
[[nodiscard]] inline std::optional<uint64_t> parse_u64(std::string_view s) noexcept {
    uint64_t v = 0;
    if (s.empty()) {
        return std::nullopt;
    }
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size()) {
        return std::nullopt;
    }
    return v;
}

/// A byte size with an optional K, M or G suffix (binary multiples). nullopt on error.
[[nodiscard]] inline std::optional<uint64_t> parse_size(std::string_view s) noexcept {
    uint64_t mult = 1;
    if (!s.empty()) {
        switch (s.back()) {
        case 'K':
        case 'k':
            mult = 1ull << 10;
            break;
        case 'M':
        case 'm':
            mult = 1ull << 20;
            break;
        case 'G':
        case 'g':
            mult = 1ull << 30;
            break;
        default:
            break;
        }
        if (mult != 1) {
            s.remove_suffix(1);
        }
    }
    const auto n = parse_u64(s);
    if (!n || *n > UINT64_MAX / mult) {
        return std::nullopt;
    }
    return *n * mult;
}

} // namespace logagg::util
