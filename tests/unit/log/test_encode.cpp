// SPDX-License-Identifier: BSD-3-Clause
// Output encoders: ndjson lines are checked with a real JSON parser (simdjson DOM) field by
// field; rfc5424 output is parsed back with parse_rfc5424 and its octet count checked; escaping
// of control characters, quotes, invalid UTF-8 and SD-PARAM escapes; what is referenced rather
// than copied, and the copy counter.
#include <gtest/gtest.h>

#include <simdjson.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "common/string_out.hpp"
#include "log/encode.hpp"
#include "log/json.hpp"
#include "log/rfc5424.hpp"

namespace {

using namespace logagg::log;

using logagg::testing::string_out;

std::string escaped(std::string_view in) {
    string_out o;
    json_escape_bytes(in, o);
    return o.text;
}

TEST(Encode, JsonEscaping) {
    EXPECT_EQ(escaped("plain"), "plain");
    EXPECT_EQ(escaped("a\"b\\c"), "a\\\"b\\\\c");
    EXPECT_EQ(escaped("t\tn\nr\r\x01\x1f"), "t\\tn\\nr\\r\\u0001\\u001f");
    EXPECT_EQ(escaped("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"),
              "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
    // Invalid: a lone continuation byte, a truncated sequence, an overlong, a surrogate, > U+10FFFF
    const std::string fffd = "\xEF\xBF\xBD";
    EXPECT_EQ(escaped("\x80"), fffd);
    EXPECT_EQ(escaped("a\xC3"), "a" + fffd);
    EXPECT_EQ(escaped("\xC0\xAF"), fffd + fffd);
    EXPECT_EQ(escaped("\xED\xA0\x80"), fffd + fffd + fffd);
    EXPECT_EQ(escaped("\xF4\x90\x80\x80"), fffd + fffd + fffd + fffd);
    EXPECT_EQ(escaped("\xFF"), fffd);
}

/// Byte-at-a-time escaping (what json_escape_bytes did before its 8-byte fast path).
std::string escaped_reference(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        const std::size_t n = c >= 0x80 ? logagg::util::utf8_len(s, i) : 0;
        if (n != 0) {
            out.append(s.substr(i, n));
            i += n;
            continue;
        }
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c < 0x20) {
            char u[7];
            std::snprintf(u, sizeof u, "\\u%04x", c);
            out += u;
        } else if (c >= 0x80) {
            out += "\xEF\xBF\xBD";
        } else {
            out += static_cast<char>(c);
        }
        ++i;
    }
    return out;
}

TEST(Encode, EightBytePlainPrefixAgreesWithTheByteClassesForEveryPairOfBytes) {
    auto plain = [](unsigned char c) { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; };
    // Two bytes of any value at any two positions (the rest 'a'): a borrow from one byte into
    // the next must not hide or invent a special byte.
    for (int p = 0; p < 8; ++p) {
        for (int q = p; q < 8; ++q) {
            for (int b = 0; b < 256; ++b) {
                for (int c = 0; c < 256; ++c) {
                    char w[8] = {'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a'};
                    w[p] = static_cast<char>(b);
                    w[q] = static_cast<char>(c);
                    unsigned want = 0;
                    while (want < 8 && plain(static_cast<unsigned char>(w[want]))) {
                        ++want;
                    }
                    ASSERT_EQ(detail::json_plain8(w), want)
                        << p << " " << q << " " << b << " " << c;
                }
            }
        }
    }
}

TEST(Encode, JsonEscapingMatchesByteAtATimeAtEveryOffset) {
    // Each special byte (and a UTF-8 sequence, and invalid bytes) at every offset of strings of
    // 0..72 bytes: the fast path copies 16 plain bytes at a time, then 8, then the last 1-7 (a
    // UTF-8 sequence may straddle two blocks), and must stop at each of them.
    const std::vector<std::string> specials = {"\"",
                                               "\\",
                                               "\n",
                                               "\r",
                                               "\t",
                                               std::string(1, '\0'),
                                               "\x1f",
                                               "\x7f",
                                               "\xC3\xA9",
                                               "\xE2\x82\xAC",
                                               "\xF0\x9F\x98\x80",
                                               "\x80",
                                               "\xC3",
                                               "\xFF",
                                               " "};
    for (std::size_t len = 0; len <= 72; ++len) {
        for (std::size_t at = 0; at <= len; ++at) {
            for (const std::string& sp : specials) {
                std::string s(len, 'x');
                s.insert(at, sp);
                ASSERT_EQ(escaped(s), escaped_reference(s)) << len << " " << at;
            }
        }
    }
}

// detail::has_byte() at every length to 40 with the byte at every position, and bytes one bit
// away from it (what a word test could confuse), each string in a heap block of its exact size.
TEST(Encode, HasByteAtEveryLengthAndPosition) {
    for (std::size_t len = 0; len <= 40; ++len) {
        for (const char near : {'\x5d', '\xdc', '\0', 'x'}) {
            std::string s(len, near);
            auto block = std::make_unique<char[]>(len);
            std::copy(s.begin(), s.end(), block.get());
            EXPECT_FALSE(detail::has_byte(block.get(), len, '\\')) << len;
            for (std::size_t at = 0; at < len; ++at) {
                std::string t = s;
                t[at] = '\\';
                std::copy(t.begin(), t.end(), block.get());
                EXPECT_TRUE(detail::has_byte(block.get(), len, '\\')) << len << " at " << at;
            }
        }
    }
}

// PARAM-VALUEs with and without RFC 5424 escapes (\" \\ \] and an unknown one) at every position
// of values of 0..40 bytes: the same as decoding them byte by byte, then JSON escaping.
TEST(Encode, SdValueWithAndWithoutEscapesAtEveryOffset) {
    auto reference = [](std::string_view v) {
        std::string dec;
        for (std::size_t i = 0; i < v.size(); ++i) {
            if (v[i] == '\\' && i + 1 < v.size() &&
                (v[i + 1] == ']' || v[i + 1] == '"' || v[i + 1] == '\\')) {
                ++i;
            }
            dec += v[i];
        }
        return escaped_reference(dec);
    };
    for (std::size_t len = 0; len <= 40; ++len) {
        for (std::size_t at = 0; at <= len; ++at) {
            for (const std::string ins : {"", "\\]", "\\\"", "\\\\", "\\x", "\\", "\"", "\n"}) {
                std::string v(len, 'v');
                v.insert(at, ins);
                string_out o;
                json_escape_sd_value(v, o);
                EXPECT_EQ(o.text, reference(v)) << testing::PrintToString(v);
            }
        }
    }
}

TEST(Encode, JsonEscapingCountsEveryInputByteAsCopiedAndReferencesOnlyCleanLongFields) {
    // Written in place, the count of copied bytes is still the field's length (the bytes before
    // the first escape, the escaped ones and the rest), and a long field is referenced only when
    // nothing in it changes: a valid UTF-8 character does not count as a change, an escape does,
    // wherever it is.
    for (const std::string& sp :
         {std::string("\xC3\xA9"), std::string("\""), std::string("\x80")}) {
        for (std::size_t at = 0; at <= 80; at += 7) {
            std::string s(80, 'y');
            s.insert(at, sp);
            string_out o;
            json_escape_bytes(s, o);
            const bool clean = sp == "\xC3\xA9";
            EXPECT_EQ(o.refs.size(), clean ? 1u : 0u) << at;
            EXPECT_EQ(o.n_copied, clean ? 0u : s.size()) << at;
            EXPECT_EQ(o.text, escaped_reference(s)) << at;
        }
    }
}

TEST(Encode, LongCleanFieldsAreReferencedShortOnesCopied) {
    const std::string long_msg(200, 'x');
    string_out o;
    json_escape_bytes(long_msg, o);
    ASSERT_EQ(o.refs.size(), 1u);
    EXPECT_EQ(o.refs[0].data(), long_msg.data());
    EXPECT_EQ(o.n_copied, 0u);
    string_out s;
    json_escape_bytes("short", s);
    EXPECT_TRUE(s.refs.empty());
    EXPECT_EQ(s.n_copied, 5u);
}

TEST(Encode, SdValueEscapes) {
    string_out o;
    json_escape_sd_value(R"(a\]b\"c\\d\e)", o);
    EXPECT_EQ(o.text, R"(a]b\"c\\d\\e)");
}

TEST(Encode, JsonUnescape) {
    string_out o;
    json_unescape(R"(a\nb\"c\u00e9\ud83d\ude00\/\ud800x)", o);
    EXPECT_EQ(o.text, "a\nb\"c\xC3\xA9\xF0\x9F\x98\x80/\xEF\xBF\xBDx");
}

TEST(Encode, Rfc3339) {
    char buf[40];
    EXPECT_EQ(std::string(buf, format_rfc3339(1065910455003000000LL, 9, buf)),
              "2003-10-11T22:14:15.003000000Z");
    EXPECT_EQ(std::string(buf, format_rfc3339(1065910455003000000LL, 6, buf)),
              "2003-10-11T22:14:15.003000Z");
    EXPECT_EQ(std::string(buf, format_rfc3339(0, 6, buf)), "1970-01-01T00:00:00.000000Z");
    EXPECT_EQ(std::string(buf, format_rfc3339(-1, 9, buf)), "1969-12-31T23:59:59.999999999Z");
    EXPECT_EQ(std::string(buf, format_rfc3339(951782400LL * 1000000000, 0, buf)),
              "2000-02-29T00:00:00Z");
}

TEST(Encode, Rfc3339UtcCopyWritesWhatFormattingWrites) {
    // Every fraction length, dates at the ends of months, of leap and common years, and of the
    // range parse_rfc3339 accepts (int64 nanoseconds), midnight and the last second of a day.
    const std::vector<std::string> dates = {
        "2026-11-19T08:00:00", "2000-02-29T23:59:59", "1900-02-28T00:00:00", "1970-01-01T00:00:00",
        "1969-12-31T23:59:59", "2024-12-31T23:59:59", "1677-09-22T00:00:00", "2262-04-10T23:59:59",
        "0000-01-01T00:00:00", "9999-12-31T23:59:59"};
    const std::vector<std::string> fractions = {"",        ".0",       ".5",        ".12",
                                                ".003",    ".0001",    ".99999",    ".000037",
                                                ".999999", ".1234567", ".00000001", ".999999999"};
    for (const std::string& d : dates) {
        for (const std::string& f : fractions) {
            const std::string t = d + f + "Z";
            int64_t ns = 0;
            if (!parse_rfc3339(t, ns, 9)) {
                continue; // outside the int64 span: the parser refuses it, nothing to copy
            }
            char want[40];
            char got[40];
            const std::size_t n = format_rfc3339(ns, 9, want);
            ASSERT_EQ(std::string_view(got, rfc3339_utc_copy(t, got)), std::string_view(want, n))
                << t;
        }
    }
    char buf[40];
    EXPECT_EQ(rfc3339_utc_copy("2026-11-19T08:00:00+01:00", buf), 0u) << "an offset: converted";
    EXPECT_EQ(rfc3339_utc_copy("2026-11-19T08:00:00.5-00:00", buf), 0u);
    EXPECT_EQ(rfc3339_utc_copy("", buf), 0u);
    EXPECT_EQ(rfc3339_utc_copy("Nov 19 08:00:00", buf), 0u) << "not RFC 3339";
}

TEST(Encode, NdjsonTsOfAnRfc5424RecordIsTheFormattedTime) {
    // Copied (UTC) or formatted (an offset): the same text format_rfc3339 writes for the time.
    for (const char* ts : {"2003-10-11T22:14:15.003Z", "2003-10-11T22:14:15Z",
                           "2003-10-11T23:14:15.003+01:00", "2003-10-11T22:14:15.000001Z"}) {
        const std::string msg = std::string("<165>1 ") + ts + " host app - - - m";
        log_record r;
        ASSERT_EQ(parse_rfc5424(msg, r), rfc5424_status::ok) << ts;
        string_out o;
        encode_ndjson(r, encode_context{msg, "", 0, "R"}, o);
        char want[40];
        const std::string ts_member =
            "{\"ts\":\"" + std::string(want, format_rfc3339(r.timestamp_ns, 9, want)) + "\",";
        EXPECT_EQ(o.text.substr(0, ts_member.size()), ts_member) << o.text;
    }
}

/// Encoders produce the record only (sinks add the LF): it must be one line of JSON.
simdjson::dom::element parse_json_line(simdjson::dom::parser& p, const std::string& line) {
    EXPECT_FALSE(line.empty());
    EXPECT_EQ(line.back(), '}');
    EXPECT_EQ(line.find('\n'), std::string::npos) << "one line per record";
    simdjson::dom::element e;
    const auto err = p.parse(line).get(e);
    EXPECT_EQ(err, simdjson::SUCCESS) << line;
    return e;
}

TEST(Encode, NdjsonFromRfc5424) {
    const std::string msg =
        "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 "
        "iut=\"3\" eventSource=\"Appli\\\"cation\\]\"][examplePriority@32473 class=\"high\"] "
        "An application \"event\"\tlog entry \xff";
    log_record r;
    ASSERT_EQ(parse_rfc5424(msg, r), rfc5424_status::ok);
    string_out o;
    encode_ndjson(r, encode_context{msg, "198.18.0.1:40000", 1065910455003000000LL}, o);
    simdjson::dom::parser p;
    const auto e = parse_json_line(p, o.text);
    EXPECT_EQ(std::string_view(e["ts"]), "2003-10-11T22:14:15.003000000Z");
    EXPECT_EQ(std::string_view(e["host"]), "mymachine.example.com");
    EXPECT_EQ(std::string_view(e["app"]), "evntslog");
    EXPECT_EQ(int64_t(e["severity"]), 5);
    EXPECT_EQ(int64_t(e["facility"]), 20);
    EXPECT_EQ(std::string_view(e["msgid"]), "ID47");
    EXPECT_TRUE(e["procid"].error() == simdjson::NO_SUCH_FIELD);
    EXPECT_EQ(std::string_view(e["source"]), "198.18.0.1:40000");
    EXPECT_EQ(std::string_view(e["format"]), "rfc5424");
    EXPECT_EQ(std::string_view(e["message"]), "An application \"event\"\tlog entry \xEF\xBF\xBD");
    EXPECT_EQ(std::string_view(e["sd"]["exampleSDID@32473"]["iut"]), "3");
    EXPECT_EQ(std::string_view(e["sd"]["exampleSDID@32473"]["eventSource"]), "Appli\"cation]");
    EXPECT_EQ(std::string_view(e["sd"]["examplePriority@32473"]["class"]), "high");
}

TEST(Encode, NdjsonReceivedStampFormattedByTheCallerIsTheSame) {
    const std::string msg = "<165>1 2003-10-11T22:14:15.003Z host app - ID47 - text";
    log_record r;
    ASSERT_EQ(parse_rfc5424(msg, r), rfc5424_status::ok);
    const int64_t received = 1065910455003123456LL;
    string_out here;
    encode_ndjson(r, encode_context{msg, "198.18.0.1:40000", received}, here);
    char buf[40];
    const std::string_view text(buf, format_rfc3339(received, 9, buf));
    EXPECT_EQ(text, "2003-10-11T22:14:15.003123456Z");
    string_out given;
    encode_ndjson(r, encode_context{msg, "198.18.0.1:40000", received, text}, given);
    EXPECT_EQ(given.text, here.text);
    EXPECT_NE(here.text.find("\"received\":\"2003-10-11T22:14:15.003123456Z\""), std::string::npos);
}

TEST(Encode, NdjsonFromJsonEmbedsTheObjectByReference) {
    const std::string line =
        R"({"level":"warning","msg":"disk \"full\"\n","time":"2024-03-01T10:00:00Z","nested":{"a":[1,2]}})";
    std::vector<char> buf(line.begin(), line.end());
    buf.resize(line.size() + json_padding);
    json_field_map fields;
    const auto x_owner = json_extractor::create(fields, 4096).value();
    json_extractor& x = *x_owner;
    log_record r;
    ASSERT_EQ(x.parse(buf.data(), line.size(), buf.size(), true, r), json_status::ok);
    const std::string_view orig(buf.data(), line.size());
    string_out o;
    encode_ndjson(r, encode_context{orig, "", 0}, o);
    simdjson::dom::parser p;
    const auto e = parse_json_line(p, o.text);
    EXPECT_EQ(std::string_view(e["message"]), "disk \"full\"\n");
    EXPECT_EQ(int64_t(e["severity"]), 4);
    EXPECT_EQ(int64_t(e["log"]["nested"]["a"].at(1)), 2);
    EXPECT_EQ(std::string_view(e["format"]), "json");
    ASSERT_FALSE(o.refs.empty());
    EXPECT_EQ(o.refs.back().data(), orig.data()); // the object went by reference
    EXPECT_EQ(o.refs.back().size(), orig.size());
}

// Fuzz finding (fuzz_ndjson): CR and LF are JSON whitespace, so a JSON input object may hold them
// between tokens; embedded verbatim as "log" they broke the line (NDJSON 1.0: "The JSON texts MUST
// NOT contain newlines or carriage returns"; text-mode readers split on a lone CR too).
TEST(Encode, NdjsonLogObjectWithCrLfWhitespaceStaysOneLine) {
    const std::string line = "\r\n {\"msg\":\"x\",\r\n\"level\":\"info\",\r\"a\":[1,\n2]}\r";
    std::vector<char> buf(line.begin(), line.end());
    buf.resize(line.size() + json_padding);
    json_field_map fields;
    const auto x_owner = json_extractor::create(fields, 4096).value();
    json_extractor& x = *x_owner;
    log_record r;
    ASSERT_EQ(x.parse(buf.data(), line.size(), buf.size(), true, r), json_status::ok);
    string_out o;
    encode_ndjson(r, encode_context{std::string_view(buf.data(), line.size()), "", 0}, o);
    EXPECT_EQ(o.text.find('\r'), std::string::npos) << o.text;
    simdjson::dom::parser p;
    const auto e = parse_json_line(p, o.text);
    EXPECT_EQ(simdjson::minify(e["log"]), R"({"msg":"x","level":"info","a":[1,2]})");
    EXPECT_EQ(std::string_view(e["message"]), "x");
}

// Fuzz finding (fuzz_ndjson) in lib/log/json.cpp: with validate_all, top-level keys were compared
// raw and never unescaped, so a bad escape in one was not seen; the object was flagged
// json_valid and "log" embedded invalid JSON, breaking the ndjson line.
TEST(Encode, NdjsonLogStaysValidWhenATopLevelKeyHasABadEscape) {
    json_field_map fields;
    const auto x_owner = json_extractor::create(fields, 4096).value();
    json_extractor& x = *x_owner;
    for (const std::string line : {R"({"msg":"m","\q":2})", R"({"a\u12G4":1})"}) {
        std::vector<char> buf(line.begin(), line.end());
        buf.resize(line.size() + json_padding);
        log_record r;
        const json_status st = x.parse(buf.data(), line.size(), buf.size(), true, r);
        EXPECT_EQ(st, json_status::invalid) << line;
        if (st == json_status::ok) {
            string_out o;
            encode_ndjson(r, encode_context{std::string_view(buf.data(), line.size()), "", 0}, o);
            simdjson::dom::parser p;
            simdjson::dom::element e;
            EXPECT_EQ(p.parse(o.text).get(e), simdjson::SUCCESS) << o.text;
        }
    }
}

// A GELF record holds JSON string content as written (escapes in place), like a JSON one: the
// encoders must decode it. They escaped its backslashes again, so `say \"hi\"` came out as
// `say \\\"hi\\\"` (e2e case gelf).
TEST(Encode, GelfStringFieldsAreDecoded) {
    const std::string line =
        R"({"version":"1.1","host":"gelf\"h","short_message":"say \"hi\" caf\u00e9 \\ \ud83d\ude00\t",)"
        R"("_app":"a\/b","level":3,"timestamp":1})";
    std::vector<char> buf(line.begin(), line.end());
    buf.resize(line.size() + json_padding);
    const json_field_map fields = json_field_map::gelf();
    const auto x_owner = json_extractor::create(fields, 4096).value();
    json_extractor& x = *x_owner;
    log_record r;
    ASSERT_EQ(x.parse(buf.data(), line.size(), buf.size(), true, r), json_status::ok);
    r.format = input_format::gelf; // as the worker sets it
    const std::string_view orig(buf.data(), line.size());
    const std::string text = "say \"hi\" caf\xC3\xA9 \\ \xF0\x9F\x98\x80\t";
    string_out o;
    encode_ndjson(r, encode_context{orig, "", 0}, o);
    simdjson::dom::parser p;
    const auto e = parse_json_line(p, o.text);
    EXPECT_EQ(std::string_view(e["format"]), "gelf");
    EXPECT_EQ(std::string_view(e["message"]), text);
    EXPECT_EQ(std::string_view(e["host"]), "gelf\"h");
    EXPECT_EQ(std::string_view(e["app"]), "a/b");
    EXPECT_EQ(int64_t(e["severity"]), 3);
    string_out b;
    encode_rfc5424(r, encode_context{orig, "", 0}, b);
    EXPECT_TRUE(b.text.ends_with(" " + text)) << b.text;
}

TEST(Encode, NdjsonFlagsAndRawFallback) {
    log_record r;
    r.format = input_format::rfc5424;
    r.flags = parse_flag::parse_error | parse_flag::truncated;
    r.message = "<999>garbage \"here\"\x01";
    string_out o;
    encode_ndjson(r, encode_context{r.message, "[2001:db8::1]:514", 5}, o);
    simdjson::dom::parser p;
    const auto e = parse_json_line(p, o.text);
    EXPECT_TRUE(e["ts"].is_null());
    EXPECT_EQ(std::string_view(e["received"]), "1970-01-01T00:00:00.000000005Z");
    EXPECT_EQ(std::string_view(e["flags"].at(0)), "parse_error");
    EXPECT_EQ(std::string_view(e["flags"].at(1)), "truncated");
    EXPECT_EQ(std::string_view(e["message"]), "<999>garbage \"here\"\x01");
    EXPECT_TRUE(e["log"].error() == simdjson::NO_SUCH_FIELD);
}

/// The keys of object @p o in order, repeated ones included (simdjson DOM keeps them all).
std::vector<std::string> keys_of(simdjson::dom::object o) {
    std::vector<std::string> k;
    for (auto [key, value] : o) {
        k.emplace_back(key);
    }
    return k;
}

/// No object anywhere in @p e has a key twice.
bool no_repeated_keys(simdjson::dom::element e) {
    simdjson::dom::object o;
    simdjson::dom::array a;
    if (e.get(o) == simdjson::SUCCESS) {
        std::vector<std::string> k = keys_of(o);
        std::sort(k.begin(), k.end());
        if (std::adjacent_find(k.begin(), k.end()) != k.end()) {
            return false;
        }
        for (auto [key, value] : o) {
            if (!no_repeated_keys(value)) {
                return false;
            }
        }
    } else if (e.get(a) == simdjson::SUCCESS) {
        for (auto v : a) {
            if (!no_repeated_keys(v)) {
                return false;
            }
        }
    }
    return true;
}

// A PARAM-NAME may repeat in an SD-ELEMENT (RFC 5424 6.3.3) but a JSON object must not repeat a
// key (most readers keep only the last): later occurrences are written NAME#N, the smallest
// N >= 2 the element does not hold yet, even when the sender already used that name.
TEST(Encode, SdNamesAreRenamedOnlyWhenTheyRepeatInTheirObjectWhateverTheirNumber) {
    // Up to 16 names are compared pairwise, more go through the name set: around that bound
    // (7-20 names in all), a PARAM-NAME repeated at every position of the second element must be
    // renamed, the same names in another element must not, and the escapes of SD-IDs, names and
    // values must come out the same either way.
    for (std::size_t k = 1; k <= 14; ++k) {
        for (std::size_t rep = 0; rep <= k; ++rep) { // rep == k: nothing repeats
            std::string sd = R"([a@1 x="v\]1" q="\"")";
            for (std::size_t i = 0; i < 2; ++i) {
                sd += " p" + std::to_string(i) + "=\"" + std::to_string(i) + "\"";
            }
            sd += "][b\\c@2";
            std::vector<std::string> want;
            for (std::size_t i = 0; i < k; ++i) {
                const bool again = rep < k && i == k - 1 && rep != i;
                const std::string name =
                    again ? "p" + std::to_string(rep) : "p" + std::to_string(i);
                sd += " " + name + "=\"" + std::to_string(i) + "\"";
                want.push_back(again ? name + "#2" : name);
            }
            sd += "]";
            const std::string msg = "<34>1 - h a p m " + sd + " m";
            log_record r;
            ASSERT_EQ(parse_rfc5424(msg, r), rfc5424_status::ok) << msg;
            string_out o;
            encode_ndjson(r, encode_context{msg, "", 0}, o);
            simdjson::dom::parser p;
            const auto e = parse_json_line(p, o.text);
            ASSERT_TRUE(no_repeated_keys(e)) << o.text;
            EXPECT_EQ(keys_of(e["sd"]), (std::vector<std::string>{"a@1", "b\\c@2"})) << o.text;
            EXPECT_EQ(keys_of(e["sd"]["a@1"]), (std::vector<std::string>{"x", "q", "p0", "p1"}))
                << o.text;
            EXPECT_EQ(std::string_view(e["sd"]["a@1"]["x"]), "v]1");
            EXPECT_EQ(std::string_view(e["sd"]["a@1"]["q"]), "\"");
            EXPECT_EQ(keys_of(e["sd"]["b\\c@2"]), want) << o.text;
            EXPECT_EQ(std::string_view(e["sd"]["b\\c@2"][want.back()]), std::to_string(k - 1))
                << o.text;
        }
    }
}

TEST(Encode, SdRepeatedIdOfARecordNotFromTheParserIsRenamed) {
    // parse_rfc5424 refuses a repeated SD-ID; a record made otherwise still gets distinct keys.
    log_record r;
    r.format = input_format::rfc5424;
    r.structured_data = R"([a x="1"][a x="2"][b][a])";
    r.message = "m";
    string_out o;
    encode_ndjson(r, encode_context{"", "", 0}, o);
    simdjson::dom::parser p;
    const auto e = parse_json_line(p, o.text);
    EXPECT_TRUE(no_repeated_keys(e)) << o.text;
    EXPECT_EQ(keys_of(e["sd"]), (std::vector<std::string>{"a", "a#2", "b", "a#3"})) << o.text;
    EXPECT_EQ(std::string_view(e["sd"]["a#2"]["x"]), "2");
}

TEST(Encode, NdjsonRenamesRepeatedParamNames) {
    const std::string msg = R"(<34>1 - h a p m [origin ip="192.0.2.1" ip="192.0.2.2" ip#2="x" )"
                            R"(ip="192.0.2.3"][b ip="y" k="1" k="2"] m)";
    log_record r;
    ASSERT_EQ(parse_rfc5424(msg, r), rfc5424_status::ok);
    string_out o;
    encode_ndjson(r, encode_context{msg, "", 0}, o);
    simdjson::dom::parser p;
    const auto e = parse_json_line(p, o.text);
    EXPECT_TRUE(no_repeated_keys(e)) << o.text;
    EXPECT_EQ(keys_of(e["sd"]), (std::vector<std::string>{"origin", "b"}));
    EXPECT_EQ(keys_of(e["sd"]["origin"]),
              (std::vector<std::string>{"ip", "ip#2", "ip#2#2", "ip#3"}))
        << o.text;
    EXPECT_EQ(std::string_view(e["sd"]["origin"]["ip#2"]), "192.0.2.2");
    EXPECT_EQ(std::string_view(e["sd"]["origin"]["ip#2#2"]), "x");
    EXPECT_EQ(std::string_view(e["sd"]["origin"]["ip#3"]), "192.0.2.3");
    EXPECT_EQ(keys_of(e["sd"]["b"]), (std::vector<std::string>{"ip", "k", "k#2"}));
}

// The parser refuses a repeated SD-ID; a record that holds one anyway (made by hand) still gives
// an "sd" object without a repeated key. It came out as {"dupe":{...},"id1":{},"dupe":{...}}.
TEST(Encode, NdjsonNeverRepeatsAnSdId) {
    log_record r;
    r.format = input_format::rfc5424;
    r.structured_data = R"([dupe e="1"][id1][dupe class="l"][dupe#2])";
    r.message = "m";
    string_out o;
    encode_ndjson(r, encode_context{r.message, "", 0}, o);
    simdjson::dom::parser p;
    const auto e = parse_json_line(p, o.text);
    EXPECT_TRUE(no_repeated_keys(e)) << o.text;
    EXPECT_EQ(keys_of(e["sd"]), (std::vector<std::string>{"dupe", "id1", "dupe#2", "dupe#2#2"}));
    EXPECT_EQ(std::string_view(e["sd"]["dupe#2"]["class"]), "l");
}

/// @p line parsed as JSON (validated) into @p r; @return the buffer that holds it (padded).
std::vector<char> parse_json_input(json_extractor& x, const std::string& line, log_record& r) {
    std::vector<char> buf(line.begin(), line.end());
    buf.resize(line.size() + json_padding);
    EXPECT_EQ(x.parse(buf.data(), line.size(), buf.size(), true, r), json_status::ok) << line;
    return buf;
}

// A JSON input object with a repeated key (valid JSON: RFC 8259 says names SHOULD be unique) was
// embedded as "log" as it was, repeated key and all. Keys are compared decoded ("\u0061" is "a").
TEST(Encode, NdjsonLogRenamesRepeatedKeys) {
    const std::string line = "{\"a\":1,\"a\":2,\"\\u0061\":3,\"a#2\":4,\r\n\"n\":{\"x\":1,"
                             "\"x\":[{\"x\":0,\"x\":0}]},\"a\":5,\"msg\":\"m\"}";
    json_field_map fields;
    const auto x_owner = json_extractor::create(fields, 4096).value();
    json_extractor& x = *x_owner;
    log_record r;
    const std::vector<char> buf = parse_json_input(x, line, r);
    string_out o;
    encode_ndjson(r, encode_context{std::string_view(buf.data(), line.size()), "", 0}, o);
    simdjson::dom::parser p;
    const auto e = parse_json_line(p, o.text);
    EXPECT_TRUE(no_repeated_keys(e)) << o.text;
    EXPECT_EQ(keys_of(e["log"]),
              (std::vector<std::string>{"a", "a#2", "a#3", "a#2#2", "n", "a#4", "msg"}))
        << o.text;
    EXPECT_EQ(int64_t(e["log"]["a#3"]), 3);
    EXPECT_EQ(int64_t(e["log"]["a#2#2"]), 4);
    EXPECT_EQ(keys_of(e["log"]["n"]), (std::vector<std::string>{"x", "x#2"}));
    EXPECT_EQ(keys_of(e["log"]["n"]["x#2"].at(0)), (std::vector<std::string>{"x", "x#2"}));
    EXPECT_NE(o.text.find(R"("\u0061#3":3)"), std::string::npos) << "the key as written";
    // Without repeated keys the object still goes by one reference.
    const std::string plain = R"({"a":1,"b":{"a":2},"msg":"m"})";
    const std::vector<char> buf2 = parse_json_input(x, plain, r);
    string_out o2;
    encode_ndjson(r, encode_context{std::string_view(buf2.data(), plain.size()), "", 0}, o2);
    ASSERT_FALSE(o2.refs.empty());
    EXPECT_EQ(o2.refs.back().size(), plain.size());
}

// Fuzz finding (fuzz_ndjson): {"time":<67 digits>} was embedded while the harness's reader
// (simdjson DOM) refused it, and the same number under another key made the line a parse error.
// Numbers go through as written, whatever their size (docs/formats.md#numbers).
TEST(Encode, NdjsonBigNumbersGoThroughAsWritten) {
    const std::string big = "1444" + std::string(63, '4');
    const std::string line =
        R"({"time":)" + big + R"(,"n":[1e400,-)" + big + R"(.5e-999],"msg":"m"})";
    json_field_map fields;
    const auto x_owner = json_extractor::create(fields, 4096).value();
    json_extractor& x = *x_owner;
    log_record r;
    const std::vector<char> buf = parse_json_input(x, line, r);
    string_out o;
    encode_ndjson(r, encode_context{std::string_view(buf.data(), line.size()), "", 0}, o);
    EXPECT_NE(o.text.find(R"("ts":null,)"), std::string::npos) << o.text;
    EXPECT_NE(o.text.find(R"("message":"m")"), std::string::npos) << o.text;
    EXPECT_EQ(o.text.substr(o.text.size() - line.size() - 7), R"("log":)" + line + "}") << o.text;
}

// Bytes that are not UTF-8 become U+FFFD, and the record says so: the flag
// "replaced_invalid_utf8" (the original bytes are not in the output any more).
TEST(Encode, NdjsonFlagsReplacedBytes) {
    simdjson::dom::parser p;
    auto flags_of = [&](const log_record& r) {
        string_out o;
        encode_ndjson(r, encode_context{r.message, "", 0}, o);
        std::vector<std::string> f;
        simdjson::dom::array a;
        if (parse_json_line(p, o.text)["flags"].get(a) == simdjson::SUCCESS) {
            for (auto v : a) {
                f.emplace_back(std::string_view(v));
            }
        }
        return f;
    };
    using flags = std::vector<std::string>;
    log_record r;
    r.format = input_format::rfc3164;
    r.message = "caf\xC3\xA9 \xE2\x82\xAC";
    EXPECT_EQ(flags_of(r), flags{});
    r.message = "caf\xE9";
    EXPECT_EQ(flags_of(r), flags{"replaced_invalid_utf8"});
    r.message = "ok";
    r.hostname = "h\xFF";
    EXPECT_EQ(flags_of(r), flags{"replaced_invalid_utf8"});
    r.hostname = "";
    r.format = input_format::rfc5424;
    r.structured_data = "[id k=\"\xC0\xAF\"]";
    EXPECT_EQ(flags_of(r), flags{"replaced_invalid_utf8"});
    r.structured_data = "[id k=\"\xC3\xA9\"]";
    EXPECT_EQ(flags_of(r), flags{});
    r = log_record{};
    r.format = input_format::rfc5424;
    r.flags = parse_flag::parse_error | parse_flag::truncated;
    r.message = "<34>1 - h a p m - \xEF\xBB\xBF\xC1";
    EXPECT_EQ(flags_of(r), (flags{"parse_error", "truncated", "replaced_invalid_utf8"}));
}

// rfc5424 output: a MSG that starts with a BOM must be UTF-8 after it (6.4). A record whose
// message is not (the raw record of a parse error) goes out without the BOM, as MSG-ANY.
TEST(Encode, Rfc5424OutputNeverHasABomBeforeBytesThatAreNotUtf8) {
    const std::string bom = "\xEF\xBB\xBF";
    for (const std::string& m : {bom + "\xC1", bom + bom + "\xC1x", bom + "ok", bom}) {
        log_record r;
        r.format = input_format::raw;
        r.message = m;
        string_out o;
        encode_rfc5424(r, encode_context{m, "", 0}, o);
        log_record back;
        EXPECT_EQ(parse_rfc5424(o.text, back), rfc5424_status::ok) << o.text;
        const bool utf8 = m.size() == 3 || m == bom + "ok";
        EXPECT_EQ(o.text.find("\xEF\xBB\xBF") != std::string::npos, utf8) << o.text;
    }
}

TEST(Encode, Rfc5424RoundTrip) {
    const std::string msg = "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
                            "'su root' failed for lonvick on /dev/pts/8";
    log_record r;
    ASSERT_EQ(parse_rfc5424(msg, r), rfc5424_status::ok);
    string_out o;
    encode_rfc5424(r, encode_context{msg, "", 0}, o);
    const std::string body = o.text; // no octet count: the sink frames it
    EXPECT_EQ(body, "<34>1 2003-10-11T22:14:15.003000Z mymachine.example.com su - ID47 - "
                    "'su root' failed for lonvick on /dev/pts/8");
    log_record back;
    ASSERT_EQ(parse_rfc5424(body, back), rfc5424_status::ok);
    EXPECT_EQ(back.timestamp_ns, r.timestamp_ns);
    EXPECT_EQ(back.message, r.message);
}

TEST(Encode, Rfc5424FromSparseRecords) {
    log_record r; // nothing known: defaults
    r.hostname = "bad host\x01name";
    r.app_name =
        std::string_view("an-app-name-that-is-far-longer-than-forty-eight-characters-in-all");
    string_out o;
    encode_rfc5424(r, encode_context{}, o);
    const std::string body = o.text;
    EXPECT_EQ(body, "<13>1 - bad_host_name an-app-name-that-is-far-longer-than-forty-eight- - - -");
    log_record back;
    EXPECT_EQ(parse_rfc5424(body, back), rfc5424_status::ok);
}

} // namespace
