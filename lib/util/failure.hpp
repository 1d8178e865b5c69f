// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane (start-up). Header-only, pure.
//
// A start-up failure and whose fault it is: the command line (a usage error, exit 2) or the
// host (a runtime failure, exit 1).
#pragma once

#include <string>
#include <utility>

namespace logagg::util {

/// What went wrong at start-up, one line naming the option, port or sink; empty: nothing. The
/// error half of util::result (util/result.hpp).
/// Built from a string it is a runtime failure; usage_failure() makes a usage error.
struct [[nodiscard]] failure {
    std::string text;
    bool usage = false; ///< the user's input is at fault (exit 2), not the host (exit 1)

    failure() = default;
    failure(std::string t) : text(std::move(t)) {} // NOLINT: implicit, as a plain error string
    failure(const char* t) : text(t) {}            // NOLINT

    [[nodiscard]] bool empty() const noexcept { return text.empty(); }
};

/// A failure the user's input caused (exit 2).
[[nodiscard]] inline failure usage_failure(std::string text) {
    failure f(std::move(text));
    f.usage = true;
    return f;
}

} // namespace logagg::util
