// SPDX-License-Identifier: BSD-3-Clause
// Side: parse_filter() is control plane (allocates); filter_matches() is datapath (no
// allocation, no exceptions).
//
// Record filters for --filter and --route. The grammar is deliberately small
// (docs/formats.md#filters):
//
//   expr  := term ( "&&" term )*
//   term  := FIELD OP VALUE
//   FIELD := sev | facility | host | app | procid | msgid | msg | format | source
//          | json.KEY | sd.SDID.PARAM
//   OP    := == | != | ^= (starts with) | *= (contains) | < | <= | > | >=
//   VALUE := a bare word (no blanks, no "&&") or a "double-quoted" string (\" and \\ escapes)
//
// sev and facility take names (warning, local0) or numbers and compare numerically: syslog
// counts severity downwards, so `sev<=warning` keeps warning and everything more severe. The
// ordering operators apply to sev and facility only. A field the record does not have never
// equals, starts with or contains anything, so `!=` is its only true comparison.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "log/record.hpp"
#include "util/result.hpp"

namespace logagg::log {

/// What a term compares.
enum class filter_field : uint8_t {
    severity,
    facility,
    host,
    app,
    procid,
    msgid,
    message,
    format,
    source,
    json,
    sd,
};

enum class filter_op : uint8_t { eq, ne, prefix, contains, lt, le, gt, ge };

/// Most distinct json.KEY names all filters together may use (each is one capture slot of the
/// JSON walk). Why 16: filters are few; each slot costs a key comparison per JSON field.
inline constexpr std::size_t max_json_captures = 16;

/// Most --filter and --route options. Why 16: per-lcore counter arrays are sized by them; real
/// deployments use a handful.
inline constexpr std::size_t max_filters = 16;
inline constexpr std::size_t max_routes = 16;

/// One comparison.
struct filter_term {
    filter_field field = filter_field::severity;
    filter_op op = filter_op::eq;
    int number = -1;      ///< severity, facility or input_format operand
    std::string value;    ///< string operand (escapes resolved)
    std::string sd_id;    ///< sd.SDID.PARAM: the SD-ID
    std::string sd_param; ///< ... and the PARAM-NAME
    uint8_t capture = 0;  ///< json.KEY: the capture slot of KEY
};

/// A conjunction of terms, as written.
struct filter {
    std::string text;
    std::vector<filter_term> terms;
};

/// A --route: records matching @c match go to the sinks in @c sinks (bit i: sink i).
struct route {
    filter match;
    uint32_t sinks = 0;
};

/// JSON fields captured for filters, by slot. raw views are JSON string content as written
/// (escapes left in place) or the token of a number, true, false or null.
/// IMPORTANT: lifetime: the views point into the message, like the record's.
struct json_captures {
    std::array<std::string_view, max_json_captures> raw{};
    uint16_t found = 0; ///< bit i: slot i was present in the object

    void clear() noexcept { found = 0; }
};

/// What filter_matches() needs besides the record.
struct filter_context {
    std::string_view source;             ///< "ADDR:PORT" of the sender (only if needs_source)
    const json_captures* json = nullptr; ///< captures of a JSON or GELF record, else nullptr
};

/// Control plane. Parses @p text; json.KEY names are looked up in, or appended to,
/// @p capture_names (their index is the capture slot).
/// @return the filter, or a usage failure naming the offending part (the caller adds the option).
[[nodiscard]] util::result<filter> parse_filter(std::string_view text,
                                                std::vector<std::string>& capture_names);

/// Datapath. True when every term of @p f holds for @p r.
[[nodiscard]] bool filter_matches(const filter& f, const log_record& r,
                                  const filter_context& c) noexcept;

/// True when a term of @p f reads the sender's address (the worker formats it only then).
[[nodiscard]] bool filter_needs_source(const filter& f) noexcept;

/// Finds PARAM @p param of element @p id in well-formed RFC 5424 STRUCTURED-DATA @p sd.
/// @param raw set to the PARAM-VALUE as written (\" \\ \] escapes in place)
[[nodiscard]] bool sd_find(std::string_view sd, std::string_view id, std::string_view param,
                           std::string_view& raw) noexcept;

/// Maps a facility name (kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron,
/// authpriv, ftp, ntp, security, console, solaris-cron, local0-local7) to 0-23, or -1.
[[nodiscard]] int facility_from_name(std::string_view name) noexcept;

} // namespace logagg::log
