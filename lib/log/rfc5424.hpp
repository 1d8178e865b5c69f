// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath (no allocation, no exceptions; never reads outside the given view).
//
// RFC 5424 syslog messages, strictly (section 6 ABNF), parsed in place.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "log/record.hpp"
#include "util/enum_names.hpp"

namespace logagg::log {

/// Why a message is not valid RFC 5424. Each is a malformed class with its own counter.
enum class rfc5424_status : uint8_t {
    ok,
    bad_pri,             ///< no "<PRIVAL>", PRIVAL > 191, or leading zeros (6.2.1)
    bad_version,         ///< VERSION not 1-3 digits starting with 1-9 (6.2.2)
    missing_space,       ///< a header field not followed by exactly one SP
    bad_timestamp,       ///< not NILVALUE nor a valid FULL-DATE "T" FULL-TIME (6.2.3)
    bad_hostname,        ///< empty, longer than 255, or not PRINTUSASCII (6.2.4)
    bad_app_name,        ///< longer than 48 (6.2.5)
    bad_procid,          ///< longer than 128 (6.2.6)
    bad_msgid,           ///< longer than 32 (6.2.7)
    bad_structured_data, ///< not NILVALUE nor well-formed SD-ELEMENTs (6.3)
    repeated_sd_id,      ///< an SD-ID that occurs more than once (6.3.2 "MUST NOT")
    too_many_sd_names,   ///< more than max_sd_names SD-IDs and PARAM-NAMEs in all (our limit)
    bad_utf8,            ///< MSG starts with a BOM but is not UTF-8 after it (6.4, RFC 3629)
    count_
};
/// The stable name of each rfc5424_status value (util/enum_names.hpp); "" for none.
[[nodiscard]] constexpr std::string_view name(rfc5424_status v) noexcept {
    switch (v) {
    case rfc5424_status::ok:
        return "ok";
    case rfc5424_status::bad_pri:
        return "bad_pri";
    case rfc5424_status::bad_version:
        return "bad_version";
    case rfc5424_status::missing_space:
        return "missing_space";
    case rfc5424_status::bad_timestamp:
        return "bad_timestamp";
    case rfc5424_status::bad_hostname:
        return "bad_hostname";
    case rfc5424_status::bad_app_name:
        return "bad_app_name";
    case rfc5424_status::bad_procid:
        return "bad_procid";
    case rfc5424_status::bad_msgid:
        return "bad_msgid";
    case rfc5424_status::bad_structured_data:
        return "bad_structured_data";
    case rfc5424_status::repeated_sd_id:
        return "repeated_sd_id";
    case rfc5424_status::too_many_sd_names:
        return "too_many_sd_names";
    case rfc5424_status::bad_utf8:
        return "bad_utf8";
    case rfc5424_status::count_:
        break;
    }
    return "";
}
/// The names in enum order.
inline constexpr auto rfc5424_status_names =
    util::enum_names<rfc5424_status, static_cast<std::size_t>(rfc5424_status::count_)>();

/// Most SD-IDs and PARAM-NAMEs, together, in one message's STRUCTURED-DATA. Why: finding a
/// repeated SD-ID (and, in the encoders, a repeated PARAM-NAME) in linear time without
/// allocating takes a table on the stack, sized for this many names; real senders write a few
/// (a message with more is forwarded as a parse error, its bytes intact).
inline constexpr std::size_t max_sd_names = 512;

/// Parses @p msg (one message, framing already removed) into @p out. On success every field of
/// @p out is set (views into @p msg) and format is rfc5424; on failure @p out is unspecified.
/// @param truncated @p msg was cut to --max-msg: a UTF-8 character cut at its end is the cut's
/// doing, not the sender's, and does not make a MSG after a BOM bad_utf8.
[[nodiscard]] rfc5424_status parse_rfc5424(std::string_view msg, log_record& out,
                                           bool truncated = false) noexcept;

/// Parses an RFC 5424 TIMESTAMP (FULL-DATE "T" FULL-TIME, fractions up to @p max_frac digits
/// (6 in RFC 5424; 9 for the RFC 3339 stamps of JSON logs), "Z" or +/-hh:mm) into UTC
/// nanoseconds. @return false when @p t is not one.
[[nodiscard]] bool parse_rfc3339(std::string_view t, int64_t& ns, int max_frac = 6) noexcept;

} // namespace logagg::log
