// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath. The encoder templates declared in encode.hpp (included from there only).
#pragma once

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

#include "log/names.hpp"
#include "log/rfc5424.hpp"
#include "util/utf8.hpp"

namespace logagg::log {
namespace detail {

/// Does @p r hold JSON string content as written (escapes in place)? The fields of a JSON or
/// GELF message that parsed do; encoders decode them.
[[nodiscard]] inline bool holds_json_text(const log_record& r) noexcept {
    return (r.format == input_format::json || r.format == input_format::gelf) &&
           (r.flags & parse_flag::parse_error) == 0;
}

template <class Out>
void gen_int(int64_t v, Out& o) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    o.gen(std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
}

/// ,"key":"value" for a non-empty byte field (JSON-escaped text for JSON and GELF input).
template <class Out>
void json_field(std::string_view key, std::string_view v, bool json_text, Out& o) {
    if (v.empty()) {
        return;
    }
    o.gen(key);
    if (json_text) {
        emit_run(v, 0, v.size(), true, o); // already valid JSON string content
    } else {
        json_escape_bytes(v, o);
    }
    o.gen("\"");
}

/// Walks well-formed RFC 5424 STRUCTURED-DATA ("[id k=\"v\" ...][...]"), calling
/// on_element(id) and on_param(name, raw_value). Stops at the first surprise (defensive: the
/// parser validated it).
template <class E, class P>
void walk_sd(std::string_view sd, E&& on_element, P&& on_param) {
    std::size_t p = 0;
    while (p < sd.size() && sd[p] == '[') {
        std::size_t q = p + 1;
        while (q < sd.size() && sd[q] != ' ' && sd[q] != ']') {
            ++q;
        }
        on_element(sd.substr(p + 1, q - p - 1));
        while (q < sd.size() && sd[q] == ' ') {
            const std::size_t name = q + 1;
            const std::size_t eq = sd.find('=', name);
            if (eq == std::string_view::npos || eq + 1 >= sd.size() || sd[eq + 1] != '"') {
                return;
            }
            std::size_t v = eq + 2;
            while (v < sd.size() && sd[v] != '"') {
                v += sd[v] == '\\' && v + 1 < sd.size() ? 2 : 1;
            }
            if (v >= sd.size()) {
                return;
            }
            on_param(sd.substr(name, eq - name), sd.substr(eq + 2, v - eq - 2));
            q = v + 1;
        }
        if (q >= sd.size() || sd[q] != ']') {
            return;
        }
        p = q + 1;
    }
}

[[nodiscard]] inline bool is_json_ws(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/// Emits validated JSON text @p v on one line: referenced when it holds no CR or LF, else copied
/// with each CR and LF made a space. Why: NDJSON 1.0 says "The JSON texts MUST NOT contain
/// newlines or carriage returns" (text-mode readers split lines on a lone CR too). In valid JSON
/// those bytes can only be whitespace between tokens (a string holds them escaped), so the value
/// is unchanged.
template <class Out>
void embed_json_line(std::string_view v, Out& o) {
    if (v.empty()) {
        return;
    }
    const void* lf = std::memchr(v.data(), '\n', v.size());
    const void* cr = std::memchr(v.data(), '\r', v.size());
    if (lf == nullptr && cr == nullptr) {
        o.ref(v);
        return;
    }
    std::size_t run = 0;
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (v[i] == '\n' || v[i] == '\r') {
            emit_run(v, run, i, false, o);
            o.gen(" ");
            o.copied(1);
            run = i + 1;
        }
    }
    emit_run(v, run, v.size(), false, o);
}

/// Emits the validated JSON object @p obj (c.original without its surrounding whitespace, which
/// starts @p obj_at bytes into the message) on one line, with "#N" put into each key the record
/// lists as repeated (record.hpp key_rename).
template <class Out>
void embed_json_object(const log_record& r, std::string_view obj, std::size_t obj_at, Out& o) {
    std::size_t from = 0;
    for (uint32_t i = 0; i < r.n_renames; ++i) {
        const key_rename& k = r.renames[i];
        if (k.at < obj_at + from || k.at >= obj_at + obj.size()) {
            continue; // defensive: a rename is always inside the object, in message order
        }
        const std::size_t to = k.at - obj_at;
        embed_json_line(obj.substr(from, to - from), o);
        char buf[11] = {'#'};
        o.gen(std::string_view(buf, 1 + name_set::digits(k.suffix, buf + 1)));
        from = to;
    }
    embed_json_line(obj.substr(from), o);
}

/// Does the ndjson encoding of @p r replace bytes with U+FFFD? (Fields of JSON and GELF records
/// are JSON string content of a document simdjson checked for UTF-8: never.)
[[nodiscard]] inline bool replaces_bytes(const log_record& r) noexcept {
    if (holds_json_text(r)) {
        return false;
    }
    for (std::string_view f :
         {r.hostname, r.app_name, r.procid, r.msgid, r.message,
          r.format == input_format::rfc5424 ? r.structured_data : std::string_view{}}) {
        if (!util::valid_utf8(f)) {
            return true;
        }
    }
    return false;
}

/// Writes the members of the "sd" object, element by element, names with their "#N" suffixes.
template <class Out>
struct sd_writer {
    Out& o;
    bool first_el = true;
    bool first_param = true;

    void name_text(std::string_view name, uint32_t suffix) {
        json_escape_bytes(name, o);
        if (suffix != 0) {
            char buf[11] = {'#'};
            o.gen(std::string_view(buf, 1 + name_set::digits(suffix, buf + 1)));
        }
    }
    void element(std::string_view id, uint32_t suffix) {
        o.gen(first_el ? "\"" : "},\"");
        name_text(id, suffix);
        o.gen("\":{");
        first_el = false;
        first_param = true;
    }
    void param(std::string_view name, uint32_t suffix, std::string_view value) {
        o.gen(first_param ? "\"" : ",\"");
        name_text(name, suffix);
        o.gen("\":\"");
        json_escape_sd_value(value, o);
        o.gen("\"");
        first_param = false;
    }
    void close() { o.gen(first_el ? "}" : "}}"); }
};

/// Names sd_distinct() looks at. Why 16: real senders write an element or two with a few
/// parameters each; past this the name set's hashing is the cheaper check.
inline constexpr std::size_t sd_distinct_max = 16;

/// Writes @p sd's members through @p w when it has at most sd_distinct_max names and none
/// repeats in its object (SD-IDs among the SD-IDs, PARAM-NAMEs within their element): then no
/// name is renamed, and comparing a few names pairwise costs less than the name set (a third of
/// the sd object's instructions for the usual element of two parameters). @return false, having
/// written nothing, otherwise.
template <class Out>
bool sd_distinct(std::string_view sd, sd_writer<Out>& w) {
    struct name {
        std::string_view text;
        std::string_view value;
        bool element;
    };
    std::array<name, sd_distinct_max> names;
    std::size_t n = 0;
    bool fits = true;
    auto keep = [&](name v) {
        if (n == names.size()) {
            fits = false;
        } else {
            names[n++] = v;
        }
    };
    walk_sd(
        sd,
        [&](std::string_view id) {
            keep({id, {}, true});
        },
        [&](std::string_view param, std::string_view value) {
            keep({param, value, false});
        });
    if (!fits) {
        return false;
    }
    auto same = [](std::string_view a, std::string_view b) {
        return a.size() == b.size() &&
               (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
    };
    for (std::size_t i = 1; i < n; ++i) {
        for (std::size_t j = i; j-- > 0;) {
            if (!names[i].element && names[j].element) {
                break; // a PARAM-NAME is compared with its own element's only
            }
            if (names[j].element == names[i].element && same(names[j].text, names[i].text)) {
                return false;
            }
        }
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (names[i].element) {
            w.element(names[i].text, 0);
        } else {
            w.param(names[i].text, 0, names[i].value);
        }
    }
    return true;
}

/// The "sd" member: RFC 5424 STRUCTURED-DATA as an object of objects, escapes decoded, and a name
/// that repeats in its object (an SD-ID in "sd", a PARAM-NAME in its element) written NAME#N.
template <class Out>
void sd_object(std::string_view sd, Out& o) {
    o.gen(",\"sd\":{");
    sd_writer<Out> w{o};
    if (sd_distinct(sd, w)) {
        w.close();
        return;
    }
    // Names are at least 3 bytes of STRUCTURED-DATA apart ("[a]", " a=\"\""); parse_rfc5424
    // allows at most max_sd_names of them. A record with more (not from the parser) gets the
    // elements that fit.
    const std::size_t n_names = std::min(sd.size() / 3 + 1, max_sd_names);
    std::array<name_set::slot, pow2_at_least(2 * max_sd_names)> slots; // cleared as used
    name_set names(slots.data(), pow2_at_least(2 * n_names));
    const uint32_t sd_scope = names.open_scope();
    uint32_t el_scope = 0;
    bool skip = false; // the element did not fit
    walk_sd(
        sd,
        [&](std::string_view id) {
            const uint32_t suffix = names.add(sd_scope, id);
            skip = suffix == name_set::full;
            if (skip) {
                return;
            }
            w.element(id, suffix);
            el_scope = names.open_scope();
        },
        [&](std::string_view name, std::string_view value) {
            if (skip) {
                return;
            }
            const uint32_t suffix = names.add(el_scope, name);
            if (suffix == name_set::full) {
                return;
            }
            w.param(name, suffix, value);
        });
    w.close();
}

/// A header field of rfc5424 output: PRINTUSASCII only, at most @p max, "-" when empty.
template <class Out>
void sanitized(std::string_view v, std::size_t max, Out& o) {
    if (v.empty()) {
        o.gen("-");
        return;
    }
    if (v.size() > max) {
        v = v.substr(0, max);
    }
    char buf[256];
    for (std::size_t i = 0; i < v.size(); ++i) {
        const char c = v[i];
        buf[i] = c > ' ' && c < 127 ? c : '_';
    }
    o.gen(std::string_view(buf, v.size()));
    o.copied(v.size());
}

template <class Out>
void rfc5424_body(const log_record& r, Out& o) {
    const int fac = r.facility >= 0 ? r.facility : 1;
    const int sev = r.severity >= 0 ? r.severity : 5;
    o.gen("<");
    gen_int(fac * 8 + sev, o);
    o.gen(">1 ");
    if (r.has_timestamp) {
        char ts[40];
        o.gen(std::string_view(ts, format_rfc3339(r.timestamp_ns, 6, ts)));
    } else {
        o.gen("-");
    }
    o.gen(" ");
    sanitized(r.hostname, 255, o);
    o.gen(" ");
    sanitized(r.app_name, 48, o);
    o.gen(" ");
    sanitized(r.procid, 128, o);
    o.gen(" ");
    sanitized(r.msgid, 32, o);
    o.gen(" ");
    if (r.format == input_format::rfc5424 && !r.structured_data.empty()) {
        emit_run(r.structured_data, 0, r.structured_data.size(), true, o);
    } else {
        o.gen("-");
    }
    if (!r.message.empty()) {
        o.gen(" ");
        if (holds_json_text(r)) {
            json_unescape(r.message, o); // UTF-8: a lone surrogate escape becomes U+FFFD
        } else {
            // A MSG that starts with a BOM must be UTF-8 after it (6.4); one that is not goes
            // out without its leading BOMs, as MSG-ANY (any octets).
            std::string_view m = r.message;
            constexpr std::string_view bom = "\xEF\xBB\xBF";
            if (m.substr(0, 3) == bom && !util::valid_utf8(m.substr(3))) {
                while (m.substr(0, 3) == bom) {
                    m.remove_prefix(3);
                }
            }
            if (!m.empty()) {
                o.ref(m);
            }
        }
    }
}

} // namespace detail

template <class Out>
void encode_ndjson(const log_record& r, const encode_context& c, Out& o) {
    char ts[40];
    if (r.has_timestamp) {
        o.gen("{\"ts\":\"");
        // An RFC 5424 TIMESTAMP in UTC is copied (format_rfc3339 was a tenth of the encoder's
        // instructions): the parser accepted its digits, so they are what formatting writes.
        std::size_t n =
            r.format == input_format::rfc5424 ? rfc3339_utc_copy(r.timestamp_text, ts) : 0;
        if (n == 0) {
            n = format_rfc3339(r.timestamp_ns, 9, ts);
        }
        o.gen(std::string_view(ts, n));
        o.gen("\"");
    } else {
        o.gen("{\"ts\":null");
    }
    o.gen(",\"received\":\"");
    o.gen(!c.received_text.empty() ? c.received_text
                                   : std::string_view(ts, format_rfc3339(c.received_ns, 9, ts)));
    o.gen("\"");
    const bool json_text = detail::holds_json_text(r);
    detail::json_field(",\"host\":\"", r.hostname, json_text, o);
    detail::json_field(",\"app\":\"", r.app_name, json_text, o);
    if (r.severity >= 0) {
        o.gen(",\"severity\":");
        detail::gen_int(r.severity, o);
    }
    if (r.facility >= 0) {
        o.gen(",\"facility\":");
        detail::gen_int(r.facility, o);
    }
    detail::json_field(",\"procid\":\"", r.procid, json_text, o);
    detail::json_field(",\"msgid\":\"", r.msgid, json_text, o);
    if (!c.source.empty()) {
        o.gen(",\"source\":\"");
        o.gen(c.source);
        o.gen("\"");
    }
    o.gen(",\"format\":\"");
    o.gen(input_format_names[static_cast<std::size_t>(r.format)]);
    o.gen("\"");
    // The replaced_invalid_utf8 flag, as a bit beside the record's own.
    constexpr uint32_t replaced = 1u << 16;
    const uint32_t flags = r.flags | (detail::replaces_bytes(r) ? replaced : 0u);
    if ((flags & (parse_flag::parse_error | parse_flag::truncated | replaced)) != 0) {
        o.gen(",\"flags\":[");
        bool first = true;
        for (auto [bit, name] : {std::pair{uint32_t{parse_flag::parse_error}, "\"parse_error\""},
                                 std::pair{uint32_t{parse_flag::truncated}, "\"truncated\""},
                                 std::pair{replaced, "\"replaced_invalid_utf8\""}}) {
            if ((flags & bit) != 0) {
                o.gen(first ? "" : ",");
                o.gen(name);
                first = false;
            }
        }
        o.gen("]");
    }
    o.gen(",\"message\":\"");
    if (json_text) {
        detail::emit_run(r.message, 0, r.message.size(), true, o);
    } else {
        json_escape_bytes(r.message, o);
    }
    o.gen("\"");
    if (r.format == input_format::rfc5424 && !r.structured_data.empty()) {
        detail::sd_object(r.structured_data, o);
    }
    if (r.format == input_format::json && (r.flags & parse_flag::json_valid) != 0) {
        o.gen(",\"log\":");
        std::string_view obj = c.original;
        while (!obj.empty() && detail::is_json_ws(obj.front())) {
            obj.remove_prefix(1);
        }
        while (!obj.empty() && detail::is_json_ws(obj.back())) {
            obj.remove_suffix(1);
        }
        detail::embed_json_object(r, obj, static_cast<std::size_t>(obj.data() - c.original.data()),
                                  o);
    }
    o.gen("}");
}

template <class Out>
void encode_rfc5424(const log_record& r, const encode_context&, Out& o) {
    detail::rfc5424_body(r, o);
}

} // namespace logagg::log
