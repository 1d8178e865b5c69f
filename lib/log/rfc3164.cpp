// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath.
#include "log/rfc3164.hpp"

#include <array>
#include <cstdint>

#include "log/rfc5424.hpp"
#include "util/chars.hpp"

namespace logagg::log {
namespace {

using util::digits;
using util::is_digit;

constexpr int64_t s_ns = 1'000'000'000;
constexpr int64_t day_s = 86400;
/// Largest |seconds| whose nanoseconds fit int64 (the span parse_rfc3339 also keeps to).
constexpr int64_t max_secs = INT64_MAX / s_ns - 1;
/// RFC 5424 APP-NAME and PROCID limits (6.2.5, 6.2.6), used for TAG and the [pid].
constexpr std::size_t max_app = 48;
constexpr std::size_t max_procid = 128;
/// RFC 5424 HOSTNAME limit (6.2.4).
constexpr std::size_t max_host = 255;

[[nodiscard]] constexpr bool is_upper(char c) noexcept {
    return c >= 'A' && c <= 'Z';
}
[[nodiscard]] constexpr bool is_alpha(char c) noexcept {
    return is_upper(c) || (c >= 'a' && c <= 'z');
}
/// PRINTUSASCII (no SP).
[[nodiscard]] constexpr bool is_print(char c) noexcept {
    return c >= 33 && c <= 126;
}
/// A byte of a host name or address (IPv6 included).
[[nodiscard]] constexpr bool is_host_char(char c) noexcept {
    return is_alpha(c) || is_digit(c) || c == '.' || c == '-' || c == '_' || c == ':';
}

/// The month (1-12) whose English abbreviation ("Jan") is at @p p, or 0.
[[nodiscard]] unsigned month_at(std::string_view s, std::size_t p) noexcept {
    static constexpr std::array<std::string_view, 12> names{
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    if (p > s.size() || s.size() - p < 3 || !is_upper(s[p])) {
        return 0;
    }
    const std::string_view m = s.substr(p, 3);
    for (unsigned i = 0; i < names.size(); ++i) {
        if (names[i] == m) {
            return i + 1;
        }
    }
    return 0;
}

[[nodiscard]] constexpr bool leap(int64_t y) noexcept {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/// The proleptic Gregorian year of @p ns (H. Hinnant's civil_from_days).
[[nodiscard]] int64_t year_of(int64_t ns) noexcept {
    int64_t days = ns / (day_s * s_ns);
    if (ns % (day_s * s_ns) < 0) {
        --days;
    }
    const int64_t z = days + 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    return yoe + era * 400 + (mp >= 10 ? 1 : 0);
}

enum class found : uint8_t { none, ok, bad };

/// A timestamp read from the header.
struct stamp {
    std::size_t text_end = 0; ///< one past the stamp text (date, time, zone and year read)
    std::size_t next = 0;     ///< where parsing goes on
    int64_t ns = 0;
    bool cisco_tail = false; ///< ended by ":": the content follows, there is no host
};

/// Date and time fields of a stamp, before conversion.
struct civil {
    int64_t year = -1; ///< -1: none given
    unsigned month = 0;
    int day = 0;
    int hour = 0;
    int minute = 0;
    int second = 0;
    int64_t frac_ns = 0;
};

/// Converts @p c to UTC ns into @p ns, inferring a missing year from @p now_ns.
/// @return false for an out of range field or a time outside the int64 nanosecond span.
[[nodiscard]] bool to_ns(const civil& c, int64_t now_ns, int64_t& ns) noexcept {
    static constexpr std::array<int, 12> mdays{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const int feb29 = c.year < 0 || leap(c.year) ? 1 : 0;
    if (c.day < 1 || c.day > mdays[c.month - 1] + (c.month == 2 ? feb29 : 0) || c.hour > 23 ||
        c.minute > 59 || c.second > 59) {
        return false;
    }
    const auto at = [&c](int64_t y, int64_t& out) {
        if (y < -1'000'000 || y > 1'000'000) {
            return false;
        }
        const int64_t secs = days_from_civil(y, c.month, static_cast<unsigned>(c.day)) * day_s +
                             c.hour * 3600 + c.minute * 60 + c.second;
        if (secs > max_secs || secs < -max_secs) {
            return false;
        }
        out = secs * s_ns + c.frac_ns;
        return true;
    };
    if (c.year >= 0) {
        return at(c.year, ns);
    }
    const int64_t y = year_of(now_ns);
    const int64_t limit = now_ns > INT64_MAX - day_s * s_ns ? INT64_MAX : now_ns + day_s * s_ns;
    if (at(y, ns) && ns <= limit) {
        return true;
    }
    return at(y - 1, ns);
}

/// Reads "hh:mm:ss[.f{1,9}]" at @p p into @p c. @return one past it, or 0 when it is not there.
[[nodiscard]] std::size_t read_time(std::string_view s, std::size_t p, civil& c) noexcept {
    c.hour = digits(s, p, 2);
    c.minute = digits(s, p + 3, 2);
    c.second = digits(s, p + 6, 2);
    if (c.hour < 0 || c.minute < 0 || c.second < 0 || s[p + 2] != ':' || s[p + 5] != ':') {
        return 0;
    }
    p += 8;
    if (p < s.size() && s[p] == '.') {
        ++p;
        int n = 0;
        while (p < s.size() && is_digit(s[p]) && n < 10) {
            c.frac_ns = c.frac_ns * 10 + (s[p] - '0');
            ++p;
            ++n;
        }
        if (n == 0 || n > 9) {
            return 0;
        }
        for (int i = n; i < 9; ++i) {
            c.frac_ns *= 10;
        }
    }
    return p;
}

/// Reads "Mmm dd [yyyy ]hh:mm:ss[.f]" at @p p (the year only when @p c has none yet). It has
/// clearly started once "Mmm dd hh:" or "Mmm dd yyyy hh:" is there. @return one past the time
/// (with @p result ok), or none / bad.
[[nodiscard]] std::size_t read_month_first(std::string_view s, std::size_t p, civil& c,
                                           found& result) noexcept {
    result = found::none;
    c.month = month_at(s, p);
    if (c.month == 0 || p + 3 >= s.size() || s[p + 3] != ' ') {
        return 0;
    }
    std::size_t q = p + 4;
    const bool padded = q < s.size() && s[q] == ' '; // "Oct  1"
    if (padded) {
        ++q;
    }
    if (q >= s.size() || !is_digit(s[q])) {
        return 0;
    }
    c.day = s[q++] - '0';
    if (!padded && q < s.size() && is_digit(s[q])) {
        c.day = c.day * 10 + (s[q++] - '0');
    }
    if (q >= s.size() || s[q] != ' ') {
        return 0;
    }
    ++q;
    const auto time_starts = [&s](std::size_t t) {
        return digits(s, t, 2) >= 0 && t + 2 < s.size() && s[t + 2] == ':';
    };
    const int year = digits(s, q, 4);
    if (c.year < 0 && year >= 0 && q + 4 < s.size() && s[q + 4] == ' ' && time_starts(q + 5)) {
        c.year = year; // "Mmm dd yyyy hh:mm:ss" (Cisco ASA)
        q += 5;
    } else if (!time_starts(q)) {
        return 0;
    }
    result = found::bad;
    const std::size_t end = read_time(s, q, c);
    if (end == 0) {
        return 0;
    }
    result = found::ok;
    return end;
}

/// Reads a zone name at @p p: 1-6 letters (upper case only unless @p any_case). @return its
/// length, or 0.
[[nodiscard]] std::size_t zone_at(std::string_view s, std::size_t p, bool any_case) noexcept {
    std::size_t n = 0;
    while (p + n < s.size() && n <= 6 && (any_case ? is_alpha(s[p + n]) : is_upper(s[p + n]))) {
        ++n;
    }
    return n <= 6 ? n : 0;
}

/// Reads a timestamp in any of the forms of rfc3164.hpp at @p p. @p cisco: a Cisco sequence
/// number or "*"/"." marker came before, so any zone name ended by ":" is read with it.
[[nodiscard]] found read_stamp(std::string_view s, std::size_t p, bool cisco, int64_t now_ns,
                               stamp& st) noexcept {
    // RFC 3339 (rsyslog's RSYSLOG_ForwardFormat): clearly started at "yyyy-mm-ddT".
    if (digits(s, p, 4) >= 0 && digits(s, p + 5, 2) >= 0 && digits(s, p + 8, 2) >= 0 &&
        s[p + 4] == '-' && s[p + 7] == '-' && p + 10 < s.size() && s[p + 10] == 'T') {
        std::size_t e = p;
        while (e < s.size() && s[e] != ' ') {
            ++e;
        }
        std::string_view tok = s.substr(p, e - p);
        if (tok.back() == ':') { // ended like a Cisco stamp
            tok.remove_suffix(1);
            st.cisco_tail = true;
        }
        bool ok = parse_rfc3339(tok, st.ns, 9);
        if (!ok && tok.size() < 32) { // no zone: UTC
            std::array<char, 32> z{};
            tok.copy(z.data(), tok.size());
            z[tok.size()] = 'Z';
            ok = parse_rfc3339(std::string_view(z.data(), tok.size() + 1), st.ns, 9);
        }
        if (!ok) {
            return found::bad;
        }
        st.text_end = p + tok.size();
        st.next = e;
        return found::ok;
    }
    civil c;
    found result = found::none;
    std::size_t q = 0;
    const bool year_first = digits(s, p, 4) >= 0 && p + 4 < s.size() && s[p + 4] == ' ' &&
                            month_at(s, p + 5) != 0 && p + 8 < s.size() && s[p + 8] == ' ';
    if (year_first) { // "yyyy Mmm dd hh:mm:ss" (Cisco NX-OS): clearly started
        c.year = digits(s, p, 4);
        q = read_month_first(s, p + 5, c, result);
        if (result != found::ok) {
            return found::bad;
        }
    } else {
        q = read_month_first(s, p, c, result);
        if (result != found::ok) {
            return result;
        }
    }
    if (q < s.size() && s[q] != ' ' && s[q] != ':') {
        return found::bad;
    }
    st.text_end = q;
    st.next = q;
    if (q < s.size() && s[q] == ':') {
        st.cisco_tail = true;
        st.next = q + 1;
    } else if (q < s.size()) {
        const std::size_t z = zone_at(s, q + 1, cisco);
        const std::size_t ze = q + 1 + z;
        const std::string_view name = s.substr(q + 1, z);
        const bool colon = z > 0 && ze < s.size() && s[ze] == ':';
        if (colon &&
            (cisco || name == "UTC" || name == "GMT" || (z >= 2 && s.substr(ze, 3) == ": %"))) {
            st.cisco_tail = true;
            st.text_end = ze;
            st.next = ze + 1;
        } else if (!cisco && c.year < 0 && z >= 2 && z <= 5 && ze < s.size() && s[ze] == ' ' &&
                   digits(s, ze + 1, 4) >= 0 && (ze + 5 == s.size() || s[ze + 5] == ' ')) {
            c.year = digits(s, ze + 1, 4); // "Mmm dd hh:mm:ss ZONE yyyy" (date(1))
            st.text_end = ze + 5;
            st.next = ze + 5;
        }
    }
    return to_ns(c, now_ns, st.ns) ? found::ok : found::bad;
}

/// Cisco: does a stamp (or, without one, the message id) look to start at @p p?
[[nodiscard]] bool cisco_stamp_at(std::string_view s, std::size_t p) noexcept {
    if (p >= s.size()) {
        return false;
    }
    const char c = s[p];
    return c == '*' || c == '.' || c == '%' || is_digit(c) || month_at(s, p) != 0;
}

/// Reads "TAG[PID]: " at @p p into app_name and procid and sets message to what follows it; with
/// no tag there, message is everything from @p p.
void read_tag(std::string_view s, std::size_t p, log_record& out) noexcept {
    out.message = s.substr(p);
    std::size_t i = p;
    bool all_digits = true;
    while (i < s.size() && i - p <= max_app && is_print(s[i]) && s[i] != ':' && s[i] != '[') {
        all_digits = all_digits && is_digit(s[i]);
        ++i;
    }
    const std::size_t n = i - p;
    if (n == 0 || n > max_app || i >= s.size() || all_digits) {
        return;
    }
    std::string_view procid;
    std::size_t m = i + 1;
    if (s[i] == ':') {
        if (m < s.size() && s[m] != ' ') {
            return;
        }
    } else if (s[i] == '[') {
        std::size_t j = i + 1;
        while (j < s.size() && j - i - 1 <= max_procid && is_print(s[j]) && s[j] != ']') {
            ++j;
        }
        const std::size_t np = j - i - 1;
        if (np == 0 || np > max_procid || j >= s.size() || s[j] != ']') {
            return;
        }
        procid = s.substr(i + 1, np);
        m = j + 1;
        if (m < s.size() && s[m] == ':') {
            ++m;
            if (m < s.size() && s[m] != ' ') {
                return;
            }
        } else if (m < s.size() && s[m] != ' ') {
            return;
        }
    } else {
        return; // a space or a byte that is not printable ASCII: a word, not a tag
    }
    if (m < s.size()) {
        ++m; // the SP before the content
    }
    std::string_view app = s.substr(p, n);
    if (app.size() > 1 && app[0] == '%') {
        app.remove_prefix(1);
    }
    out.app_name = app;
    out.procid = procid;
    out.message = s.substr(m);
}

[[nodiscard]] std::size_t skip_spaces(std::string_view s, std::size_t p) noexcept {
    while (p < s.size() && s[p] == ' ') {
        ++p;
    }
    return p;
}

} // namespace

rfc3164_status parse_rfc3164(std::string_view s, int64_t now_ns, log_record& out) noexcept {
    out = log_record{};
    out.format = input_format::rfc3164;
    if (s.empty()) {
        return rfc3164_status::empty;
    }
    std::size_t p = 0;
    const bool has_pri = s[0] == '<';
    if (has_pri) { // 4.1.1: "<" 1-3 digits ">", 0-191
        int pri = 0;
        p = 1;
        while (p < s.size() && p <= 3 && is_digit(s[p])) {
            pri = pri * 10 + (s[p] - '0');
            ++p;
        }
        if (p == 1 || p >= s.size() || s[p] != '>' || pri > 191) {
            return rfc3164_status::bad_pri;
        }
        ++p;
        if (p == s.size()) {
            return rfc3164_status::empty;
        }
        out.facility = static_cast<int8_t>(pri / 8);
        out.severity = static_cast<int8_t>(pri % 8);
    }
    // Cisco IOS "SEQ: [HOST: ]" or NX-OS ": ".
    bool cisco = false;
    {
        std::size_t q = p;
        while (q < s.size() && q - p < 10 && is_digit(s[q])) {
            ++q;
        }
        if (has_pri && q + 1 < s.size() && s[q] == ':' && s[q + 1] == ' ') {
            cisco = true;
            p = q + 2;
            std::size_t h = p;
            while (h < s.size() && h - p <= max_host && is_host_char(s[h]) && s[h] != ':') {
                ++h;
            }
            if (h > p && h - p <= max_host && h + 1 < s.size() && s[h] == ':' && s[h + 1] == ' ' &&
                cisco_stamp_at(s, h + 2)) {
                out.hostname = s.substr(p, h - p);
                p = h + 2;
            }
        }
    }
    const bool marker = p + 1 < s.size() && (s[p] == '*' || s[p] == '.') && month_at(s, p + 1) != 0;
    stamp st;
    const found f = read_stamp(s, marker ? p + 1 : p, cisco || marker, now_ns, st);
    if (f == found::bad) {
        return rfc3164_status::bad_timestamp;
    }
    if (f == found::none) {
        read_tag(s, p, out); // no stamp, so no host either
        return rfc3164_status::ok;
    }
    const std::size_t t0 = marker ? p + 1 : p;
    out.has_timestamp = true;
    out.timestamp_ns = st.ns;
    out.timestamp_text = s.substr(t0, st.text_end - t0);
    p = skip_spaces(s, st.next);
    if (!st.cisco_tail && out.hostname.empty()) {
        std::size_t h = p;
        bool host_chars = true;
        while (h < s.size() && s[h] != ' ' && h - p <= max_host) {
            host_chars = host_chars && is_host_char(s[h]);
            ++h;
        }
        if (h > p && h - p <= max_host && h < s.size() && s[h] == ' ' && host_chars &&
            s[h - 1] != ':') {
            out.hostname = s.substr(p, h - p);
            p = skip_spaces(s, h);
            if (p + 1 < s.size() && s[p] == ':' && s[p + 1] == ' ') { // ASA "fw1 : %ASA-..."
                p += 2;
            }
        }
    }
    read_tag(s, p, out);
    return rfc3164_status::ok;
}

} // namespace logagg::log
