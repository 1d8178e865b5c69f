// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane (stats output). Header-only, pure.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace logagg::util {

/// @p s as a JSON string literal, quotes included (RFC 8259 section 7 escaping).
[[nodiscard]] inline std::string json_quote(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char u[8];
                std::snprintf(u, sizeof u, "\\u%04x", static_cast<unsigned>(c));
                out += u;
            } else {
                out += c;
            }
        }
    }
    out += '"';
    return out;
}

} // namespace logagg::util
