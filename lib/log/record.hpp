// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath (a plain value type; no allocation).
#pragma once

#include <cstdint>
#include <string_view>

namespace logagg::log {

/// Where a record's fields came from.
enum class input_format : uint8_t { raw, rfc5424, rfc3164, json, gelf };

/// Parse flags (bit set).
namespace parse_flag {
inline constexpr uint16_t bom = 1u
                                << 0; ///< RFC 5424 MSG started with a UTF-8 BOM (not in `message`)
inline constexpr uint16_t no_timestamp = 1u << 1; ///< TIMESTAMP was the NILVALUE
inline constexpr uint16_t parse_error =
    1u << 2; ///< the format did not parse; `message` is the raw bytes
inline constexpr uint16_t json_valid =
    1u << 3; ///< JSON input checked whole: the original object may be embedded verbatim
inline constexpr uint16_t truncated = 1u << 4; ///< the message was cut to --max-msg
} // namespace parse_flag

/// A key of a JSON object that repeats an earlier key of the same object: the encoders write it
/// as KEY#suffix (docs/formats.md#repeated-names).
struct key_rename {
    uint32_t at;     ///< offset in the message of the key's closing quote (where "#N" goes)
    uint32_t suffix; ///< N >= 2
};

/// A parsed log message: views into the packet plus scalars.
/// IMPORTANT: lifetime: every string_view points into the received packet (or a worker buffer for
/// converted payloads) and is valid exactly as long as the mbuf reference that backs the message.
struct log_record {
    int64_t timestamp_ns = 0; ///< UTC nanoseconds since the epoch, when has_timestamp
    bool has_timestamp = false;
    int8_t severity = -1; ///< 0-7, -1 when absent
    int8_t facility = -1; ///< 0-23, -1 when absent
    input_format format = input_format::raw;
    uint16_t flags = 0; ///< parse_flag bits
    /// As received. For input_format::rfc5424, the TIMESTAMP timestamp_ns was parsed from (the
    /// ndjson encoder copies it when it is in UTC).
    std::string_view timestamp_text;
    std::string_view hostname; ///< empty for the NILVALUE
    std::string_view app_name;
    std::string_view procid;
    std::string_view msgid;
    std::string_view structured_data; ///< raw "[...]..." (escapes left in place); empty for "-"
    std::string_view message;
    /// JSON input validated whole (parse_flag::json_valid): its repeated keys, in message order.
    /// IMPORTANT: lifetime: points into the json_extractor that parsed the message, valid until
    /// its next parse().
    const key_rename* renames = nullptr;
    uint32_t n_renames = 0;
};

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil algorithm).
[[nodiscard]] constexpr int64_t days_from_civil(int64_t y, unsigned m, unsigned d) noexcept {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

static_assert(days_from_civil(1970, 1, 1) == 0);
static_assert(days_from_civil(2000, 2, 29) == 11016);

} // namespace logagg::log
