// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane (option parsing). Header-only, pure.
//
// Number parsing shared by the option parsers, and the one wording of their range errors.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace logagg::config {

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

/// Why a number was refused.
enum class number_fault : uint8_t { none, syntax, too_small, too_large };

/// Reads a whole decimal number (@p size: with an optional K, M or G suffix) in [@p lo, @p hi]
/// into @p out. Digits whose value does not fit 64 bits are too_large, not a syntax error: the
/// user wrote a number, only too big a one.
[[nodiscard]] inline number_fault read_number(std::string_view s, bool size, uint64_t lo,
                                              uint64_t hi, uint64_t& out) noexcept {
    const auto n = size ? parse_size(s) : parse_u64(s);
    if (!n) {
        std::string_view digits = s;
        if (size && !digits.empty() &&
            std::string_view("KkMmGg").find(digits.back()) != std::string_view::npos) {
            digits.remove_suffix(1);
        }
        const bool all_digits =
            !digits.empty() && digits.find_first_not_of("0123456789") == std::string_view::npos;
        return all_digits ? number_fault::too_large : number_fault::syntax;
    }
    if (*n < lo) {
        return number_fault::too_small;
    }
    if (*n > hi) {
        return number_fault::too_large;
    }
    out = *n;
    return number_fault::none;
}

/// @p n as a size: with the largest K, M or G suffix that divides it exactly.
[[nodiscard]] inline std::string size_text(uint64_t n) {
    constexpr std::string_view suffixes = "GMK";
    for (std::size_t i = 0; i < suffixes.size(); ++i) {
        const uint64_t unit = 1ull << (10 * (3 - i));
        if (n != 0 && n % unit == 0) {
            return std::to_string(n / unit) + suffixes[i];
        }
    }
    return std::to_string(n);
}

/// The one-line reason @p value of @p name was refused, with the accepted range, e.g.
/// "rotate-bytes '17179869184G' is too large: at most 16384G". @p noun says what was expected
/// ("a whole number", "a size"); limits of sizes print with K/M/G where exact.
[[nodiscard]] inline std::string number_message(std::string_view name, std::string_view value,
                                                number_fault f, bool size, uint64_t lo, uint64_t hi,
                                                std::string_view noun) {
    const auto limit = [&](uint64_t n) { return size ? size_text(n) : std::to_string(n); };
    std::string out(name);
    out += " '";
    out += value;
    out += "' ";
    switch (f) {
    case number_fault::too_small:
        out += "is too small: at least " + limit(lo);
        break;
    case number_fault::too_large:
        out += "is too large: at most " + limit(hi);
        break;
    default:
        out += "is not ";
        out += noun;
        out += " in " + limit(lo) + "-" + limit(hi);
        if (size) {
            out += " (K/M/G suffixes allowed)";
        }
        break;
    }
    return out;
}

} // namespace logagg::config
