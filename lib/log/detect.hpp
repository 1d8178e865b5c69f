// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath (no allocation, no exceptions; reads at most the first few bytes of the view).
//
// Per-message format auto-detection for listeners in `auto` mode (docs/formats.md#auto-detection).
#pragma once

#include <cstdint>
#include <string_view>

#include "log/gelf.hpp"
#include "log/record.hpp"

namespace logagg::log {

/// The format of one message (framing already removed), from its first bytes, in this order:
/// - gelf: a GELF chunk (magic 0x1e 0x0f), a gzip member (RFC 1952 magic 0x1f 0x8b) or a zlib
///   stream (gelf::detect_compression()) without a preset dictionary (FDICT clear: GELF senders
///   never use one, and it keeps text such as "x " (0x78 0x20) from looking compressed);
/// - json: the first byte other than SP and TAB is "{";
/// - rfc5424: "<", 1-3 digits, ">", then a VERSION (a digit 1-9 and up to two more digits)
///   followed by SP;
/// - rfc3164: anything else (the liberal parser takes any bytes).
/// The rfc5424 rule is the worker's former "a digit 1-9 followed by a digit or SP" made to look
/// for the SP after the VERSION's digits: Cisco IOS sends "<189>1234: ..." (a message counter),
/// which that rule took for RFC 5424. Every message it sends to rfc3164 instead (and a 4-digit
/// PRI, which the worker also accepted) fails parse_rfc5424() anyway (bad_pri, bad_version or
/// missing_space).
/// Never returns raw. Thread-safe (no state).
[[nodiscard]] inline input_format detect_format(std::string_view v) noexcept {
    if (v.size() >= 2) {
        const auto b0 = static_cast<uint8_t>(v[0]);
        const auto b1 = static_cast<uint8_t>(v[1]);
        if (b0 == 0x1e && b1 == 0x0f) {
            return input_format::gelf;
        }
        switch (gelf::detect_compression(v)) {
        case gelf::compression::gzip:
            return input_format::gelf;
        case gelf::compression::zlib:
            if ((b1 & 0x20) == 0) { // RFC 1950 FLG.FDICT
                return input_format::gelf;
            }
            break;
        case gelf::compression::none:
            break;
        }
    }
    std::size_t i = 0;
    while (i < v.size() && (v[i] == ' ' || v[i] == '\t')) {
        ++i;
    }
    if (i < v.size() && v[i] == '{') {
        return input_format::json;
    }
    if (!v.empty() && v[0] == '<') {
        std::size_t p = 1;
        while (p < v.size() && p < 4 && v[p] >= '0' && v[p] <= '9') {
            ++p;
        }
        if (p > 1 && p + 1 < v.size() && v[p] == '>' && v[p + 1] >= '1' && v[p + 1] <= '9') {
            std::size_t q = p + 2;
            while (q < v.size() && q < p + 4 && v[q] >= '0' && v[q] <= '9') {
                ++q;
            }
            if (q < v.size() && v[q] == ' ') {
                return input_format::rfc5424;
            }
        }
    }
    return input_format::rfc3164;
}

} // namespace logagg::log
