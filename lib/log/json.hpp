// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath (json_extractor::parse); json_field_map is built by the control plane.
//
// JSON lines: one object per message, parsed with simdjson On-Demand in place over the received
// bytes. Fields are found by name (configurable, with defaults that cover Docker/Kubernetes,
// Bunyan/pino, logrus, zap and ECS) and kept as views of their raw JSON text (escapes left in
// place; encoders decode them).
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "log/filter.hpp"
#include "log/record.hpp"
#include "util/enum_names.hpp"
#include "util/result.hpp"

namespace logagg::log {

/// Why a JSON message did not give a record. Each is a malformed class with its own counter.
enum class json_status : uint8_t {
    ok,
    not_object, ///< valid start but not an object (array, scalar) or empty
    bad_utf8,   ///< invalid UTF-8 anywhere in the message (simdjson stage 1)
    invalid,    ///< not well-formed JSON (syntax, unclosed, bad literal, bad escape)
    trailing,   ///< bytes other than whitespace after the object
    count_
};
/// The stable name of each json_status value (util/enum_names.hpp); "" for none.
[[nodiscard]] constexpr std::string_view name(json_status v) noexcept {
    switch (v) {
    case json_status::ok:
        return "ok";
    case json_status::not_object:
        return "not_object";
    case json_status::bad_utf8:
        return "bad_utf8";
    case json_status::invalid:
        return "invalid";
    case json_status::trailing:
        return "trailing";
    case json_status::count_:
        break;
    }
    return "";
}
/// The names in enum order.
inline constexpr auto json_status_names =
    util::enum_names<json_status, static_cast<std::size_t>(json_status::count_)>();

/// Which record field a JSON key fills.
enum class json_role : uint8_t { ts, sev, host, app, procid, msgid, msg, count_ };
/// The stable name of each json_role value (util/enum_names.hpp); "" for none.
[[nodiscard]] constexpr std::string_view name(json_role v) noexcept {
    switch (v) {
    case json_role::ts:
        return "ts";
    case json_role::sev:
        return "sev";
    case json_role::host:
        return "host";
    case json_role::app:
        return "app";
    case json_role::procid:
        return "procid";
    case json_role::msgid:
        return "msgid";
    case json_role::msg:
        return "msg";
    case json_role::count_:
        break;
    }
    return "";
}
/// The names in enum order.
inline constexpr auto json_role_names =
    util::enum_names<json_role, static_cast<std::size_t>(json_role::count_)>();

/// Key names per role, in priority order (an earlier name wins when several are present).
/// Keys are matched as written at the top level of the object: escaped keys do not match, and a
/// dotted name such as "log.level" matches that literal key (as ECS loggers write it).
class json_field_map {
public:
    /// The defaults (docs/formats.md lists them).
    json_field_map();
    /// Copies rebuild the key index over the copy's own strings.
    json_field_map(const json_field_map& o);
    json_field_map& operator=(const json_field_map& o);
    json_field_map(json_field_map&& o) : json_field_map(static_cast<const json_field_map&>(o)) {}
    json_field_map& operator=(json_field_map&& o) {
        return *this = static_cast<const json_field_map&>(o);
    }
    ~json_field_map() = default;

    /// The GELF payload specification's fields (docs/formats.md#gelf): timestamp, level, host,
    /// short_message; app and procid from the common additional fields _app, _pid, ...
    [[nodiscard]] static json_field_map gelf();

    /// Control plane. Applies "role=name[|name...],..." (e.g. "ts=time,sev=level|lvl"): each role
    /// named replaces its list. @return success, or a usage failure naming the item (the map is
    /// then unchanged).
    [[nodiscard]] util::result<void> apply(std::string_view spec);

    /// Control plane. Keys whose values filters read (json.KEY), by capture slot; at most
    /// max_json_captures. A key may also have a role.
    void set_captures(const std::vector<std::string>& names);

    struct key {
        std::string_view name; ///< into names_ or captures_ (stable after set-up)
        json_role role;        ///< json_role::count_: no role, only captured
        uint8_t priority;      ///< 0 is best
        int8_t capture;        ///< capture slot, or -1
    };
    /// Datapath: the role and priority of @p raw_key, or nullptr. Keys are bucketed by length,
    /// so a lookup compares the few names of the key's length, first byte first (a linear scan
    /// of all 35 default names was a third of the JSON path's instructions).
    [[nodiscard]] const key* find(std::string_view raw_key) const noexcept {
        const std::size_t len = raw_key.size();
        const std::size_t b = len < max_bucketed ? len : max_bucketed;
        for (uint16_t i = bucket_[b]; i < bucket_[b + 1]; ++i) {
            const key& k = by_len_[i];
            if (k.name.size() == len && k.name[0] == raw_key[0] &&
                std::memcmp(k.name.data(), raw_key.data(), len) == 0) {
                return &k;
            }
        }
        return nullptr;
    }
    [[nodiscard]] const std::vector<key>& keys() const noexcept { return keys_; }

private:
    void rebuild();
    void index();
    std::array<std::vector<std::string>, static_cast<std::size_t>(json_role::count_)> names_;
    std::vector<std::string> captures_;
    std::vector<key> keys_;
    /// Names of length L are by_len_[bucket_[L], bucket_[L + 1]); longer ones share the last
    /// bucket. Why 64: the longest name --json-fields accepts.
    static constexpr std::size_t max_bucketed = 65;
    std::vector<key> by_len_;
    std::array<uint16_t, max_bucketed + 2> bucket_{};
};

/// Bytes simdjson may read past the end of a message (must be addressable, any content);
/// simdjson's SIMDJSON_PADDING (checked in json.cpp, which alone includes simdjson: it is built
/// for a chosen instruction set, see docs/formats.md).
inline constexpr std::size_t json_padding = 64;

/// Maps a severity name (case-insensitive: emerg, alert, crit, err/error, warn/warning, notice,
/// info, debug, trace, fatal, panic, ...) to 0-7. @return -1 when unknown.
[[nodiscard]] int severity_from_name(std::string_view name) noexcept;

/// Maps a numeric level to 0-7: 0-7 as syslog severities, 10-60 as Bunyan/pino levels
/// (10 trace, 20 debug -> 7; 30 info -> 6; 40 warn -> 4; 50 error -> 3; 60 fatal -> 2).
/// @return -1 otherwise.
[[nodiscard]] int severity_from_number(int64_t n) noexcept;

/// Converts an epoch number to ns by magnitude: < 1e11 seconds (fractions kept), < 1e14
/// milliseconds, < 1e17 microseconds, else nanoseconds. @return false for negative or non-finite.
[[nodiscard]] bool epoch_to_ns(double v, int64_t& ns) noexcept;

/// One per worker lcore: owns the simdjson parser (its buffers are sized once at set-up, so
/// parsing never allocates).
class json_extractor {
public:
    /// Control plane. @param max_len the longest message that will be parsed (--max-msg).
    /// @return the extractor, or a failure when this CPU lacks the instruction set simdjson was
    ///         built for or the parser's buffers cannot be allocated.
    [[nodiscard]] static util::result<std::unique_ptr<json_extractor>>
    create(const json_field_map& fields, std::size_t max_len);
    ~json_extractor();
    json_extractor(const json_extractor&) = delete;
    json_extractor& operator=(const json_extractor&) = delete;

    /// The simdjson implementation compiled in ("haswell", "westmere", "fallback", ...).
    [[nodiscard]] static std::string_view implementation() noexcept;

    /// Parses the object in [data, data + len); [data + len, data + capacity) must be readable
    /// and capacity >= len + json_padding. With @p validate_all, every value is checked (not
    /// only the extracted ones), so on ok the whole message is well-formed JSON
    /// (parse_flag::json_valid is set). Fills @p out with views into [data, data + len), and
    /// @p captures (when given) with the values of the field map's capture keys.
    [[nodiscard]] json_status parse(const char* data, std::size_t len, std::size_t capacity,
                                    bool validate_all, log_record& out,
                                    json_captures* captures = nullptr) noexcept;

private:
    explicit json_extractor(const json_field_map& fields); ///< create() sizes the parser

    struct impl;
    const json_field_map& fields_;
    std::unique_ptr<impl> impl_;
};

} // namespace logagg::log
