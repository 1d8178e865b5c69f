// SPDX-License-Identifier: BSD-3-Clause
// Side: parse_filter() control plane; the rest datapath.
#include "log/filter.hpp"

#include <algorithm>
#include <charconv>

#include "log/encode.hpp"
#include "log/json.hpp"

namespace logagg::log {
namespace {

[[nodiscard]] bool is_blank(char c) noexcept {
    return c == ' ' || c == '\t';
}

[[nodiscard]] std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && is_blank(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && is_blank(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

/// Decodes RFC 5424 PARAM-VALUE escapes (\" \\ \]) one byte at a time.
struct sd_reader {
    std::string_view raw;
    std::size_t i = 0;

    [[nodiscard]] bool done() const noexcept { return i >= raw.size(); }
    char next() noexcept {
        if (raw[i] == '\\' && i + 1 < raw.size() &&
            (raw[i + 1] == '"' || raw[i + 1] == '\\' || raw[i + 1] == ']')) {
            i += 2;
            return raw[i - 1];
        }
        return raw[i++];
    }
};

/// Does the decoded SD value starting at raw position @p from begin with @p want?
[[nodiscard]] bool sd_starts_with(std::string_view raw, std::size_t from,
                                  std::string_view want) noexcept {
    sd_reader r{raw, from};
    for (const char c : want) {
        if (r.done() || r.next() != c) {
            return false;
        }
    }
    return true;
}

[[nodiscard]] bool compare_sd(std::string_view raw, filter_op op, std::string_view want) noexcept {
    switch (op) {
    case filter_op::eq:
    case filter_op::ne: {
        sd_reader r{raw};
        bool same = sd_starts_with(raw, 0, want);
        if (same) {
            for (const char c : want) {
                (void)c;
                (void)r.next();
            }
            same = r.done();
        }
        return (op == filter_op::eq) == same;
    }
    case filter_op::prefix:
        return sd_starts_with(raw, 0, want);
    case filter_op::contains: {
        sd_reader r{raw};
        while (true) {
            if (sd_starts_with(raw, r.i, want)) {
                return true;
            }
            if (r.done()) {
                return false;
            }
            (void)r.next();
        }
    }
    default:
        return false;
    }
}

[[nodiscard]] bool compare_text(std::string_view have, bool present, filter_op op,
                                std::string_view want) noexcept {
    if (!present) {
        return op == filter_op::ne;
    }
    switch (op) {
    case filter_op::eq:
        return have == want;
    case filter_op::ne:
        return have != want;
    case filter_op::prefix:
        return have.substr(0, want.size()) == want;
    case filter_op::contains:
        return have.find(want) != std::string_view::npos;
    default:
        return false;
    }
}

[[nodiscard]] bool compare_number(int have, filter_op op, int want) noexcept {
    if (have < 0) {
        return op == filter_op::ne;
    }
    switch (op) {
    case filter_op::eq:
        return have == want;
    case filter_op::ne:
        return have != want;
    case filter_op::lt:
        return have < want;
    case filter_op::le:
        return have <= want;
    case filter_op::gt:
        return have > want;
    case filter_op::ge:
        return have >= want;
    default:
        return false;
    }
}

struct op_token {
    std::string_view text;
    filter_op op;
};
/// Longest first, so "<=" is not read as "<".
constexpr std::array<op_token, 8> op_tokens{{{"==", filter_op::eq},
                                             {"!=", filter_op::ne},
                                             {"^=", filter_op::prefix},
                                             {"*=", filter_op::contains},
                                             {"<=", filter_op::le},
                                             {">=", filter_op::ge},
                                             {"<", filter_op::lt},
                                             {">", filter_op::gt}}};

[[nodiscard]] bool parse_int(std::string_view s, int lo, int hi, int& out) noexcept {
    int v = 0;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || p != s.data() + s.size() || v < lo || v > hi) {
        return false;
    }
    out = v;
    return true;
}

/// Reads a VALUE: a quoted string (escapes \" \\) or the bare rest of the term.
[[nodiscard]] bool parse_value(std::string_view s, std::string& out) {
    s = trim(s);
    if (s.empty()) {
        return false;
    }
    if (s.front() != '"') {
        if (s.find_first_of(" \t\"") != std::string_view::npos) {
            return false;
        }
        out.assign(s);
        return true;
    }
    out.clear();
    for (std::size_t i = 1; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == '"' || s[i + 1] == '\\')) {
            out += s[++i];
        } else if (s[i] == '"') {
            return i + 1 == s.size();
        } else {
            out += s[i];
        }
    }
    return false; // unterminated
}

// Why whole (~100 lines): one --filter term, in the order it is written (name, operator,
// value) and then the checks each field name puts on its value, as one table.
[[nodiscard]] util::result<filter_term> parse_term(std::string_view text,
                                                   std::vector<std::string>& captures) {
    filter_term t;
    // The operator is the first operator character sequence outside a quoted value.
    std::size_t at = std::string_view::npos;
    const op_token* found = nullptr;
    for (std::size_t i = 0; i < text.size() && found == nullptr; ++i) {
        for (const op_token& o : op_tokens) {
            if (text.substr(i, o.text.size()) == o.text) {
                at = i;
                found = &o;
                break;
            }
        }
    }
    if (found == nullptr) {
        return util::usage_failure("'" + std::string(text) +
                                   "' has no operator (==, !=, ^=, *=, <, <=, >, >=)");
    }
    const std::string_view name = trim(text.substr(0, at));
    const std::string_view rest = text.substr(at + found->text.size());
    t.op = found->op;
    std::string value;
    if (!parse_value(rest, value)) {
        return util::usage_failure(
            "'" + std::string(text) +
            "': the value must be one word or a \"quoted string\" (\\\" and \\\\ escapes)");
    }
    const bool ordering = t.op == filter_op::lt || t.op == filter_op::le || t.op == filter_op::gt ||
                          t.op == filter_op::ge;
    const bool text_op = t.op == filter_op::prefix || t.op == filter_op::contains;
    if (name == "sev" || name == "severity") {
        t.field = filter_field::severity;
        t.number = severity_from_name(value);
        if (t.number < 0 && !parse_int(value, 0, 7, t.number)) {
            return util::usage_failure("'" + value + "' is not a severity (emerg..debug or 0-7)");
        }
    } else if (name == "facility") {
        t.field = filter_field::facility;
        t.number = facility_from_name(value);
        if (t.number < 0 && !parse_int(value, 0, 23, t.number)) {
            return util::usage_failure("'" + value +
                                       "' is not a facility (kern, user, ..., local7 or 0-23)");
        }
    } else if (name == "format") {
        t.field = filter_field::format;
        const auto f = util::enum_from_name<input_format, input_format_names.size()>(value);
        if (!f) {
            return util::usage_failure("'" + value + "' is not a format (" +
                                       util::enum_choices(input_format_names) + ")");
        }
        t.number = static_cast<int>(*f);
        if (t.op != filter_op::eq && t.op != filter_op::ne) {
            return util::usage_failure("format compares with == or != only");
        }
    } else {
        if (name == "host" || name == "hostname") {
            t.field = filter_field::host;
        } else if (name == "app" || name == "app_name") {
            t.field = filter_field::app;
        } else if (name == "procid") {
            t.field = filter_field::procid;
        } else if (name == "msgid") {
            t.field = filter_field::msgid;
        } else if (name == "msg" || name == "message") {
            t.field = filter_field::message;
        } else if (name == "source") {
            t.field = filter_field::source;
        } else if (name.substr(0, 5) == "json." && name.size() > 5) {
            t.field = filter_field::json;
            const std::string key(name.substr(5));
            auto it = std::find(captures.begin(), captures.end(), key);
            if (it == captures.end()) {
                if (captures.size() == max_json_captures) {
                    return util::usage_failure("'" + std::string(name) + "': more than " +
                                               std::to_string(max_json_captures) +
                                               " distinct json.KEY names in filters");
                }
                captures.push_back(key);
                it = captures.end() - 1;
            }
            t.capture = static_cast<uint8_t>(it - captures.begin());
        } else if (name.substr(0, 3) == "sd.") {
            const std::string_view path = name.substr(3);
            const std::size_t dot = path.rfind('.');
            if (dot == std::string_view::npos || dot == 0 || dot + 1 == path.size()) {
                return util::usage_failure("'" + std::string(name) + "' is not sd.SDID.PARAM");
            }
            t.field = filter_field::sd;
            t.sd_id.assign(path.substr(0, dot));
            t.sd_param.assign(path.substr(dot + 1));
        } else {
            return util::usage_failure(
                "unknown field '" + std::string(name) +
                "' (sev, facility, host, app, procid, msgid, msg, format, source, json.KEY, "
                "sd.SDID.PARAM)");
        }
        if (ordering) {
            return util::usage_failure("'" + std::string(text) +
                                       "': <, <=, > and >= compare sev and facility only");
        }
        t.value = std::move(value);
        return t;
    }
    if (text_op) {
        return util::usage_failure("'" + std::string(text) +
                                   "': ^= and *= compare text fields only");
    }
    return t;
}

} // namespace

int facility_from_name(std::string_view n) noexcept {
    static constexpr std::array<std::string_view, 16> names{
        "kern", "user", "mail",     "daemon", "auth", "syslog",   "lpr",     "news",
        "uucp", "cron", "authpriv", "ftp",    "ntp",  "security", "console", "solaris-cron"};
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (n == names[i]) {
            return static_cast<int>(i);
        }
    }
    if (n.size() == 6 && n.substr(0, 5) == "local" && n[5] >= '0' && n[5] <= '7') {
        return 16 + (n[5] - '0');
    }
    return -1;
}

util::result<filter> parse_filter(std::string_view text, std::vector<std::string>& capture_names) {
    filter out;
    out.text.assign(text);
    bool in_quotes = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\\' && in_quotes) {
            ++i;
        } else if (text[i] == '"') {
            in_quotes = !in_quotes;
        } else if (!in_quotes && text.substr(i, 2) == "||") {
            std::string e = "'"; // appended: GCC 12 warns falsely (-Wrestrict) on a + chain
            e.append(text);
            e.append("': '||' is not supported, terms join with && only; for A || B give two "
                     "routes to the same sinks (--route 'A=>SINK' --route 'B=>SINK': a record "
                     "goes to a sink once, whatever the number of routes it matches); every "
                     "--filter must match");
            return util::usage_failure(std::move(e));
        }
    }
    std::string_view rest = text;
    while (true) {
        // Split at "&&" outside quotes.
        std::size_t cut = std::string_view::npos;
        bool quoted = false;
        for (std::size_t i = 0; i < rest.size(); ++i) {
            if (rest[i] == '\\' && quoted) {
                ++i;
            } else if (rest[i] == '"') {
                quoted = !quoted;
            } else if (!quoted && rest.substr(i, 2) == "&&") {
                cut = i;
                break;
            }
        }
        const std::string_view term_text = trim(rest.substr(0, cut));
        if (term_text.empty()) {
            return util::usage_failure("empty term in '" + std::string(text) + "'");
        }
        auto t = parse_term(term_text, capture_names);
        if (!t) {
            return t.error();
        }
        out.terms.push_back(std::move(t).value());
        if (cut == std::string_view::npos) {
            return out;
        }
        rest = rest.substr(cut + 2);
    }
}

bool filter_needs_source(const filter& f) noexcept {
    return std::any_of(f.terms.begin(), f.terms.end(),
                       [](const filter_term& t) { return t.field == filter_field::source; });
}

bool sd_find(std::string_view sd, std::string_view id, std::string_view param,
             std::string_view& raw) noexcept {
    bool found = false;
    bool in_element = false;
    detail::walk_sd(
        sd, [&](std::string_view el) { in_element = el == id; },
        [&](std::string_view name, std::string_view value) {
            if (in_element && !found && name == param) {
                raw = value;
                found = true;
            }
        });
    return found;
}

bool filter_matches(const filter& f, const log_record& r, const filter_context& c) noexcept {
    for (const filter_term& t : f.terms) {
        bool ok = false;
        switch (t.field) {
        case filter_field::severity:
            ok = compare_number(r.severity, t.op, t.number);
            break;
        case filter_field::facility:
            ok = compare_number(r.facility, t.op, t.number);
            break;
        case filter_field::format:
            ok = (static_cast<int>(r.format) == t.number) == (t.op == filter_op::eq);
            break;
        case filter_field::host:
            ok = compare_text(r.hostname, !r.hostname.empty(), t.op, t.value);
            break;
        case filter_field::app:
            ok = compare_text(r.app_name, !r.app_name.empty(), t.op, t.value);
            break;
        case filter_field::procid:
            ok = compare_text(r.procid, !r.procid.empty(), t.op, t.value);
            break;
        case filter_field::msgid:
            ok = compare_text(r.msgid, !r.msgid.empty(), t.op, t.value);
            break;
        case filter_field::message:
            ok = compare_text(r.message, true, t.op, t.value);
            break;
        case filter_field::source:
            ok = compare_text(c.source, !c.source.empty(), t.op, t.value);
            break;
        case filter_field::json: {
            const bool present = c.json != nullptr && ((c.json->found >> t.capture) & 1u) != 0;
            ok = compare_text(present ? c.json->raw[t.capture] : std::string_view{}, present, t.op,
                              t.value);
            break;
        }
        case filter_field::sd: {
            std::string_view raw;
            const bool present = r.format == input_format::rfc5424 &&
                                 sd_find(r.structured_data, t.sd_id, t.sd_param, raw);
            ok = present ? compare_sd(raw, t.op, t.value) : t.op == filter_op::ne;
            break;
        }
        }
        if (!ok) {
            return false;
        }
    }
    return true;
}

} // namespace logagg::log
