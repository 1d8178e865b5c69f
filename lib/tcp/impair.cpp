// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane (option parsing for the test-only impairment).
#include "tcp/impair_config.hpp"

#include <charconv>

#include <fmt/format.h>

namespace logagg::tcp {

util::result<impair_config> parse_impair(std::string_view text) {
    impair_config c;
    bool any = false;
    for (bool more = true; more;) {
        const std::size_t comma = text.find(',');
        const std::string_view item = text.substr(0, comma);
        more = comma != std::string_view::npos;
        text = more ? text.substr(comma + 1) : std::string_view{};
        const std::size_t eq = item.find('=');
        const std::string_view key = item.substr(0, eq);
        uint32_t v = 0;
        const std::string_view num =
            eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1);
        const auto r = std::from_chars(num.data(), num.data() + num.size(), v);
        if (num.empty() || r.ec != std::errc{} || r.ptr != num.data() + num.size()) {
            return util::usage_failure(
                fmt::format("'{}' is not KEY=NUMBER (drop=N, hold=N, after=K)", item));
        }
        if (key == "drop" || key == "hold") {
            if (v == 1) {
                return util::usage_failure(
                    fmt::format("{0}=1 would {0} every segment; use 2 or more (0: off)", key));
            }
            (key == "drop" ? c.drop : c.hold) = v;
            any = any || v != 0;
        } else if (key == "after") {
            if (v == 0 || v > 64) {
                return util::usage_failure("after=K takes 1..64");
            }
            c.after = v;
        } else {
            return util::usage_failure(
                fmt::format("unknown key '{}' (drop=N, hold=N, after=K)", key));
        }
    }
    if (!any) {
        return util::usage_failure("give drop=N and/or hold=N (N >= 2)");
    }
    return c;
}

} // namespace logagg::tcp
