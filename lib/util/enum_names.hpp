// SPDX-License-Identifier: BSD-3-Clause
// Side: any. Header-only, pure, compile time.
//
// The one way an enum's values get the names logagg prints (stats keys, the summary, --help,
// metrics labels): a `constexpr std::string_view name(E) noexcept` beside the enum, an
// exhaustive switch without a default, so that -Wswitch (on with -Wall, an error with -Werror)
// names a value added without a case. Where code needs the names in enum order (parsing a name,
// iterating over counters), enum_names() builds that table from name() at compile time; nobody
// writes a second list. Code that reads a name back (an option's value, a state file) uses
// enum_from_name(), and its error message lists the names with enum_choices(), so a name is
// written and read one way. tests/unit/util/test_enum_names.cpp checks every value has a non-empty,
// distinct name.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace logagg::util {

/// The names of the first @p N values of @p E (0 .. N-1), in enum order, from name(E) (found by
/// argument-dependent lookup in E's namespace).
template <typename E, std::size_t N>
[[nodiscard]] constexpr std::array<std::string_view, N> enum_names() noexcept {
    std::array<std::string_view, N> out{};
    for (std::size_t i = 0; i < N; ++i) {
        out[i] = name(static_cast<E>(i));
    }
    return out;
}

/// The value of @p E whose name is @p n among the first @p N, or N when none is.
template <typename E, std::size_t N>
[[nodiscard]] constexpr std::size_t enum_index(std::string_view n) noexcept {
    for (std::size_t i = 0; i < N; ++i) {
        if (name(static_cast<E>(i)) == n) {
            return i;
        }
    }
    return N;
}

/// The value of @p E named @p n among the first @p N, or nullopt when none is.
template <typename E, std::size_t N>
[[nodiscard]] constexpr std::optional<E> enum_from_name(std::string_view n) noexcept {
    const std::size_t i = enum_index<E, N>(n);
    return i == N ? std::nullopt : std::optional<E>(static_cast<E>(i));
}

/// The names of @p names for an error message, in order: "a, b or c" ("a" for one).
template <std::size_t N>
[[nodiscard]] std::string enum_choices(const std::array<std::string_view, N>& names) {
    std::string out;
    for (std::size_t i = 0; i < N; ++i) {
        if (i != 0) {
            out += i + 1 == N ? " or " : ", ";
        }
        out += names[i];
    }
    return out;
}

} // namespace logagg::util
