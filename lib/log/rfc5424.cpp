// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath.
#include "log/rfc5424.hpp"

#include <array>
#include <bit>
#include <cstdint>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "log/names.hpp"
#include "util/chars.hpp"
#include "util/utf8.hpp"

namespace logagg::log {
namespace {

using util::digits;
using util::is_digit;

[[nodiscard]] constexpr bool is_print(char c) noexcept {
    return c >= 33 && c <= 126;
} // PRINTUSASCII

[[nodiscard]] constexpr bool leap(int y) noexcept {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/// Takes the next header field up to SP. @return false when no SP follows or the field is empty.
[[nodiscard]] bool field(std::string_view& rest, std::string_view& out) noexcept {
    const std::size_t sp = rest.find(' ');
    if (sp == std::string_view::npos || sp == 0) {
        return false;
    }
    out = rest.substr(0, sp);
    rest.remove_prefix(sp + 1);
    return true;
}

[[nodiscard]] bool printable(std::string_view s) noexcept {
    for (char c : s) {
        if (!is_print(c)) {
            return false;
        }
    }
    return true;
}

/// Length of the header field at the front of @p rest when it is 1 to @p max PRINTUSASCII bytes
/// followed by SP, found in one pass that looks for the SP and checks the bytes together (16 at a
/// time, SSE2); 0 when it is not, or when @p rest is shorter than 16 bytes. On 0 the caller takes
/// the byte-by-byte path (field(), then the length and printable() checks), so a malformed field
/// gets the same status as ever.
///
/// Why: a find(' ') over the rest of the message, then a class test per byte, cost about 400
/// instructions a message over five header fields (docs/performance.md). Never reads outside
/// @p rest: the last block is the last 16 bytes of @p rest, overlapping those already seen.
[[nodiscard]] inline std::size_t quick_field(std::string_view rest, std::size_t max) noexcept {
#if defined(__SSE2__)
    const std::size_t n = rest.size();
    if (n < 16) {
        return 0;
    }
    const char* const p = rest.data();
    std::size_t off = 0; // the first byte not yet looked at
    for (;;) {
        const std::size_t at = off + 16 <= n ? off : n - 16;
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + at));
        // PRINTUSASCII is 0x21..0x7E: a signed compare above 0x20 leaves out the bytes of 0x80
        // and above, one below 0x7F leaves out DEL.
        const __m128i print = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(0x20)),
                                            _mm_cmplt_epi8(v, _mm_set1_epi8(0x7F)));
        const unsigned stop = (~static_cast<unsigned>(_mm_movemask_epi8(print)) & 0xFFFFU) >>
                              (off - at); // bit k: byte off + k
        if (stop != 0) {
            const std::size_t len = off + static_cast<std::size_t>(std::countr_zero(stop));
            return len != 0 && len <= max && p[len] == ' ' ? len : 0;
        }
        off = at + 16;
        if (off >= n || off > max) {
            return 0; // no SP in rest, or too long: the slow path says which
        }
    }
#else
    (void)rest;
    (void)max;
    return 0;
#endif
}

/// Takes the next header field (RFC 5424 6.2.4-6.2.7: 1 to @p max PRINTUSASCII bytes, then SP)
/// from @p rest into @p out. @return ok, missing_space (no SP follows, or the field is empty), or
/// @p bad (too long or not PRINTUSASCII).
[[nodiscard]] rfc5424_status header_field(std::string_view& rest, std::string_view& out,
                                          std::size_t max, rfc5424_status bad) noexcept {
    if (const std::size_t len = quick_field(rest, max); len != 0) {
        out = rest.substr(0, len);
        rest.remove_prefix(len + 1);
        return rfc5424_status::ok;
    }
    if (!field(rest, out)) {
        return rfc5424_status::missing_space;
    }
    return out.size() > max || !printable(out) ? bad : rfc5424_status::ok;
}

/// Validates SD-NAME (6.3: 1-32 PRINTUSASCII except '=', SP, ']', '"') at the front of @p s.
///
/// Why a 16-byte test first: names are a few bytes and a class test per byte was about a third of
/// parse_rfc5424's own cost with one SD-ELEMENT (docs/performance.md). When the first 16 bytes
/// hold the end of the name (always, for a valid name under 16 bytes), one SSE2 test finds it;
/// otherwise the byte loop goes on from where that test stopped.
[[nodiscard]] std::size_t sd_name(std::string_view s) noexcept {
    std::size_t n = 0;
#if defined(__SSE2__)
    if (s.size() >= 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data()));
        const __m128i print = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(0x20)),
                                            _mm_cmplt_epi8(v, _mm_set1_epi8(0x7F)));
        const __m128i taken = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('=')),
                                           _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(']')),
                                                        _mm_cmpeq_epi8(v, _mm_set1_epi8('"'))));
        const auto stop = static_cast<unsigned>(_mm_movemask_epi8(_mm_andnot_si128(taken, print))) ^
                          0xFFFFU; // bit k: byte k ends the name
        if (stop != 0) {
            n = static_cast<std::size_t>(std::countr_zero(stop));
            return n >= 1 ? n : 0;
        }
        n = 16;
    }
#endif
    while (n < s.size() && n <= 32 && is_print(s[n]) && s[n] != '=' && s[n] != ']' && s[n] != '"') {
        ++n;
    }
    return n >= 1 && n <= 32 ? n : 0;
}

/// Length of the STRUCTURED-DATA at the front of @p s (one or more SD-ELEMENTs), or 0. Counts
/// its SD-ELEMENTs and names (SD-IDs and PARAM-NAMEs).
[[nodiscard]] std::size_t structured_data(std::string_view s, std::size_t& n_elements,
                                          std::size_t& n_names) noexcept {
    std::size_t p = 0;
    n_elements = 0;
    n_names = 0;
    while (p < s.size() && s[p] == '[') {
        ++p;
        const std::size_t id = sd_name(s.substr(p));
        if (id == 0) {
            return 0;
        }
        p += id;
        ++n_elements;
        ++n_names;
        while (p < s.size() && s[p] == ' ') {
            ++p;
            const std::size_t name = sd_name(s.substr(p));
            if (name == 0 || p + name + 1 >= s.size() || s[p + name] != '=' ||
                s[p + name + 1] != '"') {
                return 0;
            }
            ++n_names;
            p += name + 2;
            // PARAM-VALUE: '"', '\' and ']' must be escaped with '\' (6.3.3); any other
            // character after a backslash is taken as it is, the backslash included.
            for (;;) {
                if (p >= s.size()) {
                    return 0;
                }
#if defined(__SSE2__)
                // 16 bytes at a time to the next '\\', ']' or '"' (the bytes the loop looks at).
                if (s.size() - p >= 16) {
                    const __m128i v =
                        _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + p));
                    const auto hit = static_cast<unsigned>(_mm_movemask_epi8(
                        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\\')),
                                     _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(']')),
                                                  _mm_cmpeq_epi8(v, _mm_set1_epi8('"'))))));
                    if (hit == 0) {
                        p += 16;
                        continue;
                    }
                    p += static_cast<std::size_t>(std::countr_zero(hit));
                }
#endif
                if (s[p] == '\\') {
                    p += 2; // the escaped character (or an unknown escape: kept as is)
                    continue;
                }
                if (s[p] == ']') {
                    return 0;
                }
                if (s[p] == '"') {
                    ++p;
                    break;
                }
                ++p;
            }
        }
        if (p >= s.size() || s[p] != ']') {
            return 0;
        }
        ++p;
    }
    return p;
}

/// Does an SD-ID occur more than once in @p sd (well-formed STRUCTURED-DATA of @p n_elements
/// SD-ELEMENTs, at most max_sd_names)?
[[nodiscard]] bool repeated_sd_id(std::string_view sd, std::size_t n_elements) noexcept {
    if (n_elements < 2) {
        return false;
    }
    std::array<name_set::slot, pow2_at_least(2 * max_sd_names)> slots; // cleared as used
    name_set ids(slots.data(), pow2_at_least(2 * n_elements));
    const uint32_t scope = ids.open_scope();
    std::size_t p = 0;
    while (p < sd.size()) {
        // At '[': the SD-ID runs to the first SP or ']'; then skip to the element's end, minding
        // escapes in PARAM-VALUEs.
        const std::size_t id_end = sd.find_first_of(" ]", p + 1);
        if (ids.add(scope, sd.substr(p + 1, id_end - p - 1)) != 0) {
            return true;
        }
        p = id_end;
        bool in_value = false;
        while (in_value || sd[p] != ']') {
            if (in_value && sd[p] == '\\') {
                ++p;
            } else if (sd[p] == '"') {
                in_value = !in_value;
            }
            ++p;
        }
        ++p;
    }
    return false;
}

/// Reads the fixed-width FULL-DATE "T" PARTIAL-TIME without its fraction,
/// "YYYY-MM-DDThh:mm:ss", at the front of @p t into @p v (year, month, day, hour, minute,
/// second; not range-checked). @return false when @p t is shorter or any byte is not the digit
/// or separator due there.
///
/// Why one SSE2 test of the first 16 bytes: six digits() calls, each checking its bounds and
/// looping over its digits, were most of parse_rfc3339's ~360 instructions a message
/// (docs/performance.md).
[[nodiscard]] bool date_time(std::string_view t, int (&v)[6]) noexcept {
    if (t.size() < 19) {
        return false;
    }
#if defined(__SSE2__)
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(t.data()));
    const __m128i d = _mm_sub_epi8(b, _mm_set1_epi8('0'));
    // A byte is a digit when, less '0', it is at most 9 unsigned.
    const auto digit = static_cast<unsigned>(
        _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d)));
    const auto sep = static_cast<unsigned>(_mm_movemask_epi8(
        _mm_cmpeq_epi8(b, _mm_setr_epi8(0, 0, 0, 0, '-', 0, 0, '-', 0, 0, 'T', 0, 0, ':', 0, 0))));
    constexpr unsigned digit_at = 0b1101'1011'0110'1111; // bytes 0-3, 5-6, 8-9, 11-12, 14-15
    constexpr unsigned sep_at = 0b0010'0100'1001'0000;   // bytes 4, 7, 10, 13
    if ((digit & digit_at) != digit_at || (sep & sep_at) != sep_at || t[16] != ':' ||
        !is_digit(t[17]) || !is_digit(t[18])) {
        return false;
    }
    auto two = [&t](std::size_t p) { return (t[p] - '0') * 10 + (t[p + 1] - '0'); };
    v[0] = two(0) * 100 + two(2);
    v[1] = two(5);
    v[2] = two(8);
    v[3] = two(11);
    v[4] = two(14);
    v[5] = two(17);
    return true;
#else
    constexpr std::size_t at[6][2] = {{0, 4}, {5, 2}, {8, 2}, {11, 2}, {14, 2}, {17, 2}};
    for (std::size_t i = 0; i < 6; ++i) {
        v[i] = digits(t, at[i][0], at[i][1]);
        if (v[i] < 0) {
            return false;
        }
    }
    return t[4] == '-' && t[7] == '-' && t[10] == 'T' && t[13] == ':' && t[16] == ':';
#endif
}

} // namespace

bool parse_rfc3339(std::string_view t, int64_t& ns, int max_frac) noexcept {
    // FULL-DATE = 4DIGIT "-" 2DIGIT "-" 2DIGIT; PARTIAL-TIME = 2DIGIT ":" 2DIGIT ":" 2DIGIT [.
    // 1*6DIGIT] (1*max_frac here)
    int v[6];
    if (!date_time(t, v)) {
        return false;
    }
    const int y = v[0];
    const int mo = v[1];
    const int d = v[2];
    const int h = v[3];
    const int mi = v[4];
    const int s = v[5];
    if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) {
        return false;
    }
    static constexpr int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (d > mdays[mo - 1] + (mo == 2 && leap(y) ? 1 : 0)) {
        return false;
    }
    std::size_t p = 19;
    int64_t frac_ns = 0;
    if (p < t.size() && t[p] == '.') {
        ++p;
        int n = 0;
        while (p < t.size() && is_digit(t[p]) && n < max_frac) {
            frac_ns = frac_ns * 10 + (t[p] - '0');
            ++p;
            ++n;
        }
        if (n == 0) {
            return false;
        }
        static constexpr int64_t scale[10] = {
            1'000'000'000, 100'000'000, 10'000'000, 1'000'000, 100'000,
            10'000,        1'000,       100,        10,        1}; // 10^(9 - n)
        frac_ns *= scale[n < 9 ? n : 9];
    }
    int64_t offset_s = 0;
    if (p < t.size() && t[p] == 'Z') {
        ++p;
    } else if (p < t.size() && (t[p] == '+' || t[p] == '-')) {
        const int oh = digits(t, p + 1, 2);
        const int om = digits(t, p + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59 || t[p + 3] != ':') {
            return false;
        }
        offset_s = (t[p] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
        p += 6;
    } else {
        return false;
    }
    if (p != t.size()) {
        return false;
    }
    const int64_t secs =
        days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 +
        mi * 60 + s - offset_s;
    // int64 nanoseconds span 1677-09-21 to 2262-04-11; RFC 5424 allows years 0000-9999, and
    // those outside the span are refused rather than wrapped.
    constexpr int64_t max_secs = INT64_MAX / 1'000'000'000 - 1;
    if (secs > max_secs || secs < -max_secs) {
        return false;
    }
    ns = secs * 1'000'000'000 + frac_ns;
    return true;
}

namespace {

/// PRI (6.2.1) and VERSION (6.2.2) at the start of @p msg: @p pri, and @p p at the SP after
/// VERSION. Inlined: parse_rfc5424() runs it once per message.
[[gnu::always_inline]] inline rfc5424_status pri_and_version(std::string_view msg, int& pri,
                                                             std::size_t& p) noexcept {
    // PRI (6.2.1): "<" 1*3DIGIT ">", 0..191, no leading zeros.
    if (msg.size() < 3 || msg[0] != '<') {
        return rfc5424_status::bad_pri;
    }
    p = 1;
    pri = 0;
    while (p < msg.size() && p <= 4 && is_digit(msg[p])) {
        pri = pri * 10 + (msg[p] - '0');
        ++p;
    }
    if (p == 1 || p > 4 || p >= msg.size() || msg[p] != '>' || pri > 191 ||
        (msg[1] == '0' && p > 2)) {
        return rfc5424_status::bad_pri;
    }
    ++p;
    // VERSION (6.2.2): NONZERO-DIGIT 0*2DIGIT, then SP.
    const std::size_t v0 = p;
    while (p < msg.size() && is_digit(msg[p]) && p - v0 < 3) {
        ++p;
    }
    if (p == v0 || msg[v0] == '0' || (p < msg.size() && is_digit(msg[p]))) {
        return rfc5424_status::bad_version;
    }
    if (p >= msg.size() || msg[p] != ' ') {
        return rfc5424_status::missing_space;
    }
    return rfc5424_status::ok;
}

} // namespace

// Follows RFC 5424's ABNF field by field (PRI and VERSION in pri_and_version(), then TIMESTAMP,
// HOSTNAME, APP-NAME, PROCID, MSGID, SD, MSG), one cursor through the message; the header fields
// are marked by their section numbers. Hot path: one call per message.
rfc5424_status parse_rfc5424(std::string_view msg, log_record& out, bool truncated) noexcept {
    out = log_record{};
    int pri = 0;
    std::size_t p = 0;
    if (const rfc5424_status st = pri_and_version(msg, pri, p); st != rfc5424_status::ok) {
        return st;
    }
    std::string_view rest = msg.substr(p + 1);
    std::string_view ts;
    // TIMESTAMP (6.2.3): up to SP (a printable one found in the quick pass; anything else by
    // field(), the same field either way).
    if (const std::size_t len = quick_field(rest, rest.size()); len != 0) {
        ts = rest.substr(0, len);
        rest.remove_prefix(len + 1);
    } else if (!field(rest, ts)) {
        return rfc5424_status::missing_space;
    }
    if (ts == "-") {
        out.flags |= parse_flag::no_timestamp;
    } else if (!parse_rfc3339(ts, out.timestamp_ns)) {
        return rfc5424_status::bad_timestamp;
    } else {
        out.has_timestamp = true;
    }
    // HOSTNAME, APP-NAME, PROCID, MSGID (6.2.4-6.2.7).
    std::string_view host;
    std::string_view app;
    std::string_view proc;
    std::string_view id;
    rfc5424_status st = header_field(rest, host, 255, rfc5424_status::bad_hostname);
    if (st == rfc5424_status::ok) {
        st = header_field(rest, app, 48, rfc5424_status::bad_app_name);
    }
    if (st == rfc5424_status::ok) {
        st = header_field(rest, proc, 128, rfc5424_status::bad_procid);
    }
    if (st == rfc5424_status::ok) {
        st = header_field(rest, id, 32, rfc5424_status::bad_msgid);
    }
    if (st != rfc5424_status::ok) {
        return st;
    }
    // STRUCTURED-DATA (6.3): NILVALUE or SD-ELEMENTs, then nothing or SP MSG.
    std::size_t sd_len = 0;
    if (!rest.empty() && rest[0] == '-') {
        sd_len = 1;
    } else {
        std::size_t n_elements = 0;
        std::size_t n_names = 0;
        sd_len = structured_data(rest, n_elements, n_names);
        if (sd_len == 0) {
            return rfc5424_status::bad_structured_data;
        }
        if (n_names > max_sd_names) {
            return rfc5424_status::too_many_sd_names;
        }
        out.structured_data = rest.substr(0, sd_len);
        if (repeated_sd_id(out.structured_data, n_elements)) {
            return rfc5424_status::repeated_sd_id;
        }
    }
    rest.remove_prefix(sd_len);
    if (!rest.empty()) {
        if (rest[0] != ' ') {
            return rfc5424_status::bad_structured_data;
        }
        rest.remove_prefix(1);
        if (rest.substr(0, 3) == "\xEF\xBB\xBF") { // MSG-UTF8: BOM then UTF-8 (6.4)
            out.flags |= parse_flag::bom;
            rest.remove_prefix(3);
            if (truncated ? !util::valid_utf8_cut(rest) : !util::valid_utf8(rest)) {
                return rfc5424_status::bad_utf8;
            }
        }
        out.message = rest;
    }
    auto nil = [](std::string_view f) { return f == "-" ? std::string_view{} : f; };
    out.timestamp_text = ts;
    out.hostname = nil(host);
    out.app_name = nil(app);
    out.procid = nil(proc);
    out.msgid = nil(id);
    out.facility = static_cast<int8_t>(pri / 8);
    out.severity = static_cast<int8_t>(pri % 8);
    out.format = input_format::rfc5424;
    return rfc5424_status::ok;
}

} // namespace logagg::log
