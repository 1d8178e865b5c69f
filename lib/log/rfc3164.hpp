// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath (no allocation, no exceptions; never reads outside the given view).
//
// RFC 3164 ("BSD syslog") and what real devices send under that name, parsed liberally in place,
// in one forward scan (no regex, no locale, no copies). Like rsyslog's pmrfc3164, most inputs
// parse somehow: a message with no recognisable header at all is ok with only `message` set;
// only clearly broken structure is an error.
//
// Shape: [<PRI>] [Cisco "SEQ: " [HOST ": "]] [TIMESTAMP] [HOST] [TAG["[" PID "]"] ":"] CONTENT
//
// - PRI: "<" 1-3 digits ">" with a value 0-191 (leading zeros accepted, as RFC 3164 does not
//   forbid them). Without one, severity and facility are -1.
// - TIMESTAMP, one of:
//   - "Mmm dd hh:mm:ss" (4.1.2; the day space-padded "Oct  1", zero-padded "Oct 01" or bare
//     "Oct 1"), with an optional fraction of 1-9 digits ("hh:mm:ss.mmm", microseconds, ...);
//   - "Mmm dd yyyy hh:mm:ss" (Cisco ASA) and "yyyy Mmm dd hh:mm:ss" (Cisco NX-OS), fraction too;
//   - "Mmm dd hh:mm:ss ZONE yyyy" (date(1) output, RFC 3164 section 5.4 example 3);
//   - RFC 3339 "yyyy-mm-ddThh:mm:ss[.f{1,9}][Z|+hh:mm|-hh:mm]" (rsyslog's
//     RSYSLOG_ForwardFormat), via parse_rfc3339().
//   Month names are English and case-sensitive ("Oct"). A stamp without a zone offset is taken as
//   UTC: zone names (UTC, GMT, CST, ...) are skipped, never applied, as abbreviations are
//   ambiguous (CST is US Central and China Standard). A stamp without a year gets the year of
//   @p now_ns, or the year before when that would put it more than a day after @p now_ns
//   (December messages read in January); "Feb 29" in a non-leap inferred year lands on Mar 1.
//   timestamp_text spans the date and time and any zone or year read with them.
// - Cisco IOS/NX-OS: a sequence number "1234: " (or NX-OS's bare ": ") after the PRI, then an
//   optional origin host "router1: ", then a stamp with an optional "*" (clock not synchronised)
//   or "." (synchronisation lost) marker (left out of timestamp_text) and an optional zone name,
//   ended by ":" ("*Mar  1 18:46:11.123: ", ".Mar  1 00:00:01 UTC: ", "2023 Oct 11 22:14:15
//   UTC: "). A stamp followed directly by ":" (ASA), or by "UTC:" / "GMT:" / an upper-case zone
//   name and ": %", is read the same way. After such a stamp there is no host: the content
//   follows, with the "%FACILITY-SEVERITY-MNEMONIC:" token as the tag.
// - HOST (after a stamp that is not Cisco's): the next word, when it is 1-255 of [A-Za-z0-9._:-]
//   and a space follows it. A word ending in ":" or containing "[" is the tag (no host).
// - TAG: 1-48 printable bytes other than ":", "[" and SP (RFC 3164 allows 32 alphanumerics; real
//   tags are longer and contain "-", "/", "_", ".": 48 is RFC 5424's APP-NAME limit), followed by
//   ": " (or ":" at the end), or by "[" PID "]" (PID 1-128 printable bytes) and then ": ", " "
//   or the end. A tag of digits only is no tag (Cisco sequence numbers); a leading "%" is left out
//   of app_name (Cisco, ASA and FTD message ids: "%SYS-5-CONFIG_I:" gives "SYS-5-CONFIG_I"); an
//   empty tag (ASA's "fw1 : %ASA-6-...") is skipped once. Anything else, including a tag longer
//   than 48, means no tag: the whole rest is the message.
// - msgid and structured_data are always empty.
//
// Not handled (kept in `message`): Cisco uptime stamps ("00:01:23:", "1d02h:"), a header
// repeated behind a relay's header (the first is used), two-word hosts, "Mmm dd hh:mm:ss yyyy"
// without a zone name, and lower-case month names.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "log/record.hpp"
#include "util/enum_names.hpp"

namespace logagg::log {

/// Why a message could not be read as RFC 3164. Each is a malformed class with its own counter.
enum class rfc3164_status : uint8_t {
    ok,
    empty,         ///< no bytes at all, or nothing after the PRI
    bad_pri,       ///< starts with "<" that does not begin "<" 1-3 digits ">" of value 0-191
    bad_timestamp, ///< a timestamp clearly started ("Mmm dd hh:", "Mmm dd yyyy ",
                   ///< "yyyy Mmm ", "yyyy-mm-ddT") but has a bad field, is cut short, or is not
                   ///< followed by SP, ":" or the end
    count_
};
/// The stable name of each rfc3164_status value (util/enum_names.hpp); "" for none.
[[nodiscard]] constexpr std::string_view name(rfc3164_status v) noexcept {
    switch (v) {
    case rfc3164_status::ok:
        return "ok";
    case rfc3164_status::empty:
        return "empty";
    case rfc3164_status::bad_pri:
        return "bad_pri";
    case rfc3164_status::bad_timestamp:
        return "bad_timestamp";
    case rfc3164_status::count_:
        break;
    }
    return "";
}
/// The names in enum order.
inline constexpr auto rfc3164_status_names =
    util::enum_names<rfc3164_status, static_cast<std::size_t>(rfc3164_status::count_)>();

/// Parses @p msg (one message, framing already removed) into @p out, in place: every string field
/// of @p out is a view into @p msg. @p now_ns (UTC nanoseconds since the epoch: the receive time)
/// is used only to give a year to stamps that have none. On success format is rfc3164,
/// severity/facility come from the PRI (-1 without one), msgid and structured_data are empty;
/// on failure @p out is unspecified. Thread-safe (no state); never allocates.
/// IMPORTANT: lifetime: the views in @p out are valid as long as the bytes of @p msg.
[[nodiscard]] rfc3164_status parse_rfc3164(std::string_view msg, int64_t now_ns,
                                           log_record& out) noexcept;

} // namespace logagg::log
