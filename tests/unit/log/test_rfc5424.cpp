// SPDX-License-Identifier: BSD-3-Clause
// RFC 5424: the section 6.5 examples field by field, timestamps against epoch values computed
// independently, every malformed class, every truncation of every example, and the header fields'
// quick pass (SP and PRINTUSASCII in one SSE2 pass) against the byte-by-byte rules at every
// boundary it has.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "log/record.hpp"
#include "log/rfc5424.hpp"
#include "util/chars.hpp"

namespace {

using logagg::log::log_record;
using logagg::log::parse_rfc5424;
using logagg::log::rfc5424_status;

const std::string bom = "\xEF\xBB\xBF";
const std::string ex1 = "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - " + bom +
                        "'su root' failed for lonvick on /dev/pts/8";
const std::string ex2 =
    "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the "
    "do-nothing.";
const std::string ex3 =
    "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 "
    "iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] " +
    bom + "An application event log entry...";
const std::string ex4 =
    "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 "
    "iut=\"3\" eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 class=\"high\"]";

TEST(Rfc5424, Example1) {
    log_record r;
    ASSERT_EQ(parse_rfc5424(ex1, r), rfc5424_status::ok);
    EXPECT_EQ(r.facility, 4);
    EXPECT_EQ(r.severity, 2);
    EXPECT_TRUE(r.has_timestamp);
    EXPECT_EQ(r.timestamp_ns, 1065910455003000000LL);
    EXPECT_EQ(r.hostname, "mymachine.example.com");
    EXPECT_EQ(r.app_name, "su");
    EXPECT_EQ(r.procid, "");
    EXPECT_EQ(r.msgid, "ID47");
    EXPECT_EQ(r.structured_data, "");
    EXPECT_EQ(r.message, "'su root' failed for lonvick on /dev/pts/8");
    EXPECT_TRUE(r.flags & logagg::log::parse_flag::bom);
}

TEST(Rfc5424, Example2OffsetAndMicroseconds) {
    log_record r;
    ASSERT_EQ(parse_rfc5424(ex2, r), rfc5424_status::ok);
    EXPECT_EQ(r.facility, 20);
    EXPECT_EQ(r.severity, 5);
    EXPECT_EQ(r.timestamp_ns, 1061727255000003000LL);
    EXPECT_EQ(r.hostname, "192.0.2.1");
    EXPECT_EQ(r.app_name, "myproc");
    EXPECT_EQ(r.procid, "8710");
    EXPECT_EQ(r.msgid, "");
    EXPECT_EQ(r.message, "%% It's time to make the do-nothing.");
    EXPECT_FALSE(r.flags & logagg::log::parse_flag::bom);
}

TEST(Rfc5424, Example3And4StructuredData) {
    log_record r;
    ASSERT_EQ(parse_rfc5424(ex3, r), rfc5424_status::ok);
    EXPECT_EQ(r.structured_data,
              "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]");
    EXPECT_EQ(r.message, "An application event log entry...");
    ASSERT_EQ(parse_rfc5424(ex4, r), rfc5424_status::ok);
    EXPECT_EQ(r.structured_data, ex4.substr(ex4.find('[')));
    EXPECT_EQ(r.message, "");
}

TEST(Rfc5424, NilValuesAndEscapes) {
    log_record r;
    ASSERT_EQ(parse_rfc5424("<0>1 - - - - - -", r), rfc5424_status::ok);
    EXPECT_FALSE(r.has_timestamp);
    EXPECT_EQ(r.facility, 0);
    EXPECT_EQ(r.severity, 0);
    ASSERT_EQ(parse_rfc5424(R"(<191>12 - h a p m [id@1 k="a \"quoted\" \] \\ value"] msg)", r),
              rfc5424_status::ok);
    EXPECT_EQ(r.facility, 23);
    EXPECT_EQ(r.severity, 7);
    EXPECT_EQ(r.message, "msg");
}

TEST(Rfc5424, Timestamps) {
    int64_t ns = 0;
    ASSERT_TRUE(logagg::log::parse_rfc3339("2000-02-29T00:00:00Z", ns));
    EXPECT_EQ(ns, 951782400LL * 1'000'000'000);
    ASSERT_TRUE(logagg::log::parse_rfc3339("1969-12-31T23:59:59Z", ns));
    EXPECT_EQ(ns, -1'000'000'000LL);
    ASSERT_TRUE(logagg::log::parse_rfc3339("2262-04-11T00:00:00Z", ns)); // near the int64 limit
    ASSERT_TRUE(logagg::log::parse_rfc3339("2000-01-01T01:00:00+01:00", ns));
    EXPECT_EQ(ns, 946684800LL * 1'000'000'000);
    for (const char* bad : {"2001-02-29T00:00:00Z", "2000-13-01T00:00:00Z", "2000-01-01T24:00:00Z",
                            "2000-01-01T00:00:60Z", "2000-01-01T00:00:00", "2000-01-01T00:00:00.Z",
                            "2000-01-01T00:00:00.1234567Z", "2000-01-01 00:00:00Z",
                            "2000-01-01T00:00:00+1:00", "2000-01-01T00:00:00Zjunk"}) {
        EXPECT_FALSE(logagg::log::parse_rfc3339(bad, ns)) << bad;
    }
}

TEST(Rfc5424, EveryMalformedClass) {
    const std::vector<std::pair<std::string, rfc5424_status>> cases = {
        {"34>1 - - - - - -", rfc5424_status::bad_pri},
        {"<192>1 - - - - - -", rfc5424_status::bad_pri},
        {"<034>1 - - - - - -", rfc5424_status::bad_pri},
        {"<1234>1 - - - - - -", rfc5424_status::bad_pri},
        {"<34>0 - - - - - -", rfc5424_status::bad_version},
        {"<34>1000 - - - - - -", rfc5424_status::bad_version},
        {"<34>1  - - - - -", rfc5424_status::missing_space},
        {"<34>1 2003-10-11 - - - - -", rfc5424_status::bad_timestamp},
        {"<34>1 - " + std::string(256, 'h') + " - - - -", rfc5424_status::bad_hostname},
        {"<34>1 - h " + std::string(49, 'a') + " - - -", rfc5424_status::bad_app_name},
        {"<34>1 - h a " + std::string(129, 'p') + " - -", rfc5424_status::bad_procid},
        {"<34>1 - h a p " + std::string(33, 'm') + " -", rfc5424_status::bad_msgid},
        {"<34>1 - h a p m [id", rfc5424_status::bad_structured_data},
        {"<34>1 - h a p m [id k=\"v]", rfc5424_status::bad_structured_data},
        {"<34>1 - h a p m [id k=v]", rfc5424_status::bad_structured_data},
        {"<34>1 - h a p m [] msg", rfc5424_status::bad_structured_data},
        {"<34>1 - h a p m [id]msg", rfc5424_status::bad_structured_data},
        {"<34>1 - h a p m " + std::string("[") + std::string(33, 'x') + "]",
         rfc5424_status::bad_structured_data},
        {"<34>1 - h a p m x", rfc5424_status::bad_structured_data},
        {"<34>1 - h\x01 a p m -", rfc5424_status::bad_hostname},
    };
    for (const auto& [msg, want] : cases) {
        log_record r;
        EXPECT_EQ(parse_rfc5424(msg, r), want) << msg;
    }
}

// Section 6.3.2: "The same SD-ID MUST NOT exist more than once in a message." Cases from a public
// conformance table that were accepted without a flag.
TEST(Rfc5424, RepeatedSdIdIsMalformed) {
    for (const char* sd : {"[id1][id1]", R"([dupe e="1"][id1][dupe class="l"])",
                           R"([a][b][c][d][e][f][g][h][i][j][k][l][m][n][o][p][q][r][s][t][a])",
                           R"([x@1 k="\]\\" j="[x@1\]"][x@1])"}) {
        log_record r;
        EXPECT_EQ(parse_rfc5424(std::string("<34>1 - h a p m ") + sd + " msg", r),
                  rfc5424_status::repeated_sd_id)
            << sd;
    }
    // Distinct SD-IDs, one that is a prefix of another, and a PARAM-NAME that repeats inside an
    // element (6.3.3: "An SD-PARAM MAY be repeated multiple times inside an SD-ELEMENT") are fine.
    for (const char* sd : {R"([id1][id2][id10][i])", R"([origin ip="192.0.2.1" ip="192.0.2.2"])",
                           R"([a k="1"][b k="1"][a@1 k="1"])"}) {
        log_record r;
        EXPECT_EQ(parse_rfc5424(std::string("<34>1 - h a p m ") + sd + " msg", r),
                  rfc5424_status::ok)
            << sd;
    }
}

// logagg's bound on the names of one STRUCTURED-DATA (max_sd_names): at it a message parses, one
// more makes it a parse error of its own class (forwarded raw, never truncated or dropped).
TEST(Rfc5424, SdNameLimit) {
    auto with = [](std::size_t n_elements, std::size_t params_each) {
        std::string m = "<34>1 - h a p m ";
        for (std::size_t e = 0; e < n_elements; ++e) {
            m += "[e" + std::to_string(e);
            for (std::size_t p = 0; p < params_each; ++p) {
                m += " k=\"v\"";
            }
            m += "]";
        }
        return m + " msg";
    };
    log_record r;
    EXPECT_EQ(parse_rfc5424(with(logagg::log::max_sd_names, 0), r), rfc5424_status::ok);
    EXPECT_EQ(parse_rfc5424(with(logagg::log::max_sd_names + 1, 0), r),
              rfc5424_status::too_many_sd_names);
    EXPECT_EQ(parse_rfc5424(with(1, logagg::log::max_sd_names - 1), r), rfc5424_status::ok);
    EXPECT_EQ(parse_rfc5424(with(1, logagg::log::max_sd_names), r),
              rfc5424_status::too_many_sd_names);
    EXPECT_EQ(parse_rfc5424(with(16, 31), r), rfc5424_status::ok); // 16 * 32 names
}

// Section 6.4: MSG-UTF8 = BOM UTF-8-STRING, "a UTF-8 string as specified in RFC 3629". A BOM
// followed by anything else was accepted and its bytes later replaced by U+FFFD, without a flag.
TEST(Rfc5424, BomMustBeFollowedByUtf8) {
    const std::string head = "<34>1 - h a p m - " + bom;
    for (const std::string& bad : std::vector<std::string>{
             "\xC1", "\xC0\xAF", "\xED\xA0\x80", "ok \xE2\x82", "\xE2\x82 x", "\xF4\x90\x80\x80",
             "\xF5\x80\x80\x80", "\x80", "\xFF", "caf\xE9", bom + "\xC1"}) {
        log_record r;
        EXPECT_EQ(parse_rfc5424(head + bad, r), rfc5424_status::bad_utf8) << bad;
        // Without the BOM the same bytes are MSG-ANY: any octets.
        EXPECT_EQ(parse_rfc5424("<34>1 - h a p m - " + bad, r),
                  bad.starts_with(bom) ? rfc5424_status::bad_utf8 : rfc5424_status::ok)
            << bad;
    }
    for (const std::string& good :
         std::vector<std::string>{"", "plain", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80",
                                  "\xF4\x8F\xBF\xBF", "\xED\x9F\xBF", bom}) {
        log_record r;
        const std::string msg = head + good; // the record's views point into it
        EXPECT_EQ(parse_rfc5424(msg, r), rfc5424_status::ok) << good;
        EXPECT_NE(r.flags & logagg::log::parse_flag::bom, 0);
        EXPECT_EQ(r.message, good);
    }
    // A message cut to --max-msg may end inside a character: that cut is not the sender's.
    log_record r;
    const std::string cut = head + "caf\xC3\xA9 \xE2\x82";
    EXPECT_EQ(parse_rfc5424(cut, r), rfc5424_status::bad_utf8);
    EXPECT_EQ(parse_rfc5424(cut, r, true), rfc5424_status::ok);
    for (const std::string& bad :
         std::vector<std::string>{"\xC1", "\xE2\x82 x", "\xED\xA0", "\xF4\x90", "\x80"}) {
        EXPECT_EQ(parse_rfc5424(head + bad, r, true), rfc5424_status::bad_utf8) << bad;
    }
    for (const std::string& cut_ok :
         std::vector<std::string>{"\xE0", "\xF0", "\xF0\x9F", "\xF0\x9F\x98", "\xC3"}) {
        EXPECT_EQ(parse_rfc5424(head + cut_ok, r, true), rfc5424_status::ok) << cut_ok;
    }
}

// Section 6.3.3: a backslash before anything but '"', '\' and ']' is an invalid escape and
// "MUST be treated as a regular backslash and the following character as well": accepted, kept.
TEST(Rfc5424, InvalidEscapeInParamValueIsAPlainBackslash) {
    log_record r;
    ASSERT_EQ(parse_rfc5424(R"(<34>1 - h a p m [id k="C:\new\dir" c="\x"] msg)", r),
              rfc5424_status::ok);
    EXPECT_EQ(r.structured_data, R"([id k="C:\new\dir" c="\x"])");
    EXPECT_EQ(r.message, "msg");
}

TEST(Rfc5424, EveryTruncationParsesToSomeStatus) {
    // Under ASan this also proves no read beyond the view: each prefix is its own allocation.
    for (const std::string* ex : {&ex1, &ex2, &ex3, &ex4}) {
        for (std::size_t n = 0; n <= ex->size(); ++n) {
            const std::string prefix = ex->substr(0, n);
            log_record r;
            const rfc5424_status s = parse_rfc5424(prefix, r);
            if (s == rfc5424_status::ok) {
                EXPECT_LE(r.message.data() + r.message.size(), prefix.data() + prefix.size());
            }
        }
    }
}

/// The header as RFC 5424 reads it, byte by byte (find the SP, then the length and the class of
/// each byte): TIMESTAMP, HOSTNAME, APP-NAME, PROCID, MSGID of @p rest (the message after
/// "<PRI>VERSION "), into @p f. @return the status the parser must give, ok when the header is
/// well formed.
rfc5424_status reference_header(std::string_view rest, std::array<std::string_view, 5>& f) {
    constexpr std::size_t max[] = {0, 255, 48, 128, 32};
    constexpr rfc5424_status bad[] = {rfc5424_status::bad_timestamp, rfc5424_status::bad_hostname,
                                      rfc5424_status::bad_app_name, rfc5424_status::bad_procid,
                                      rfc5424_status::bad_msgid};
    for (std::size_t i = 0; i < 5; ++i) {
        const std::size_t sp = rest.find(' ');
        if (sp == std::string_view::npos || sp == 0) {
            return rfc5424_status::missing_space;
        }
        f[i] = rest.substr(0, sp);
        rest.remove_prefix(sp + 1);
        if (i == 0) {
            int64_t ns = 0;
            if (f[0] != "-" && !logagg::log::parse_rfc3339(f[0], ns)) {
                return bad[0];
            }
            continue;
        }
        bool print = f[i].size() <= max[i];
        for (const char c : f[i]) {
            print = print && c >= 0x21 && c <= 0x7E;
        }
        if (!print) {
            return bad[i];
        }
    }
    return rfc5424_status::ok;
}

/// Parses @p msg from a heap block of exactly its size (so ASan sees a read past its end) and
/// checks the status and header fields against reference_header(). @return the message parsed.
bool expect_like_reference(const std::string& msg) {
    const auto block = std::make_unique<char[]>(msg.size());
    std::copy(msg.begin(), msg.end(), block.get());
    const std::string_view m(block.get(), msg.size());
    std::array<std::string_view, 5> f;
    const std::size_t hdr = m.find(' ') + 1; // tests build "<34>1 " first
    const rfc5424_status want = reference_header(m.substr(hdr), f);
    log_record r;
    const rfc5424_status got = parse_rfc5424(m, r);
    if (want != rfc5424_status::ok) {
        EXPECT_EQ(got, want) << testing::PrintToString(msg);
        return false;
    }
    // A well-formed header: only what follows it (STRUCTURED-DATA, MSG) can be wrong.
    if (got != rfc5424_status::ok) {
        EXPECT_TRUE(got == rfc5424_status::bad_structured_data ||
                    got == rfc5424_status::repeated_sd_id ||
                    got == rfc5424_status::too_many_sd_names || got == rfc5424_status::bad_utf8)
            << testing::PrintToString(msg);
        return false;
    }
    auto nil = [](std::string_view v) { return v == "-" ? std::string_view{} : v; };
    EXPECT_EQ(r.timestamp_text, f[0]);
    EXPECT_EQ(r.hostname, nil(f[1]));
    EXPECT_EQ(r.app_name, nil(f[2]));
    EXPECT_EQ(r.procid, nil(f[3]));
    EXPECT_EQ(r.msgid, nil(f[4]));
    return true;
}

// Each header field at lengths around the quick pass's 16-byte blocks and its limit, with a
// byte outside PRINTUSASCII at each block boundary, followed by messages that end right after
// it, a few bytes later (the last block overlaps), or much later.
TEST(Rfc5424, HeaderFieldsAtEveryBoundary) {
    constexpr std::size_t limits[] = {40, 255, 48, 128, 32}; // TIMESTAMP: no limit of its own
    const std::string tails[] = {"", " -", " - x", " - 0123456789abcdef",
                                 " - " + std::string(200, 'm')};
    std::size_t parsed = 0; // messages the parser took whole: their fields were compared
    for (std::size_t fi = 0; fi < 5; ++fi) {
        std::vector<std::size_t> lens = {1, 2, 7, 8, 14, 15, 16, 17, 18, 31, 32, 33, 47, 48, 49};
        for (std::size_t d = 0; d <= 2; ++d) {
            lens.push_back(limits[fi] + 1 - d);
            lens.push_back(limits[fi] + 15 + d);
        }
        lens.push_back(300);
        for (const std::size_t len : lens) {
            std::vector<std::string> values = {std::string(len, fi == 0 ? '9' : 'v')};
            for (const char bad : {'\x00', '\x01', '\t', '\x7f', '\x80', '\xc3', '\xff'}) {
                for (const std::size_t at : {std::size_t{0}, std::size_t{1}, std::size_t{15},
                                             std::size_t{16}, std::size_t{17}, len - 1}) {
                    if (at < len) {
                        values.push_back(values[0]);
                        values.back()[at] = bad;
                    }
                }
            }
            for (const std::string& v : values) {
                std::array<std::string, 5> f = {"2003-10-11T22:14:15.003Z", "h", "a", "p", "m"};
                f[fi] = v;
                std::string head = "<34>1 " + f[0];
                for (std::size_t i = 1; i < 5; ++i) {
                    head += ' ' + f[i];
                }
                for (const std::string& t : tails) {
                    parsed += expect_like_reference(head + t) ? 1 : 0;
                }
                // The message ends right at the field, or right after its SP.
                std::string upto = "<34>1 " + f[0];
                for (std::size_t i = 1; i <= fi; ++i) {
                    upto += ' ' + f[i];
                }
                expect_like_reference(upto);
                expect_like_reference(upto + ' ');
            }
        }
    }
    EXPECT_GT(parsed, 200U);
}

TEST(Rfc5424, HeaderFieldsAtMaxLength) {
    const std::string host(255, 'h');
    const std::string app(48, 'a');
    const std::string proc(128, 'p');
    const std::string id(32, 'm');
    log_record r;
    const std::string m = "<34>1 - " + host + ' ' + app + ' ' + proc + ' ' + id + " - hello";
    ASSERT_EQ(parse_rfc5424(m, r), rfc5424_status::ok);
    EXPECT_EQ(r.hostname, host);
    EXPECT_EQ(r.app_name, app);
    EXPECT_EQ(r.procid, proc);
    EXPECT_EQ(r.msgid, id);
    EXPECT_EQ(r.message, "hello");
    EXPECT_EQ(parse_rfc5424("<34>1 - " + host + "h " + app + ' ' + proc + ' ' + id + " - hello", r),
              rfc5424_status::bad_hostname);
    EXPECT_EQ(parse_rfc5424("<34>1 - " + host + ' ' + app + "a " + proc + ' ' + id + " - hello", r),
              rfc5424_status::bad_app_name);
    EXPECT_EQ(parse_rfc5424("<34>1 - " + host + ' ' + app + ' ' + proc + "p " + id + " - hello", r),
              rfc5424_status::bad_procid);
    EXPECT_EQ(parse_rfc5424("<34>1 - " + host + ' ' + app + ' ' + proc + ' ' + id + "m - hello", r),
              rfc5424_status::bad_msgid);
}

// Random headers from a small alphabet heavy in the bytes that matter (SP, DEL, 0x80, NUL, '-'),
// fixed seed: whatever the quick pass accepts or leaves to the byte-by-byte path, the status and
// the fields are the reference's.
TEST(Rfc5424, RandomHeadersLikeReference) {
    std::mt19937 rng(5424);
    const std::string alphabet = std::string("aZ9-.:") + ' ' + '\x7f' + '\x80' + '\0' + '\t';
    const std::string ts = "2003-10-11T22:14:15.003Z ";
    for (int n = 0; n < 20000; ++n) {
        std::string m = "<34>1 " + (n % 2 == 0 ? ts : std::string());
        const std::size_t len = std::uniform_int_distribution<std::size_t>(0, 400)(rng);
        for (std::size_t i = 0; i < len; ++i) {
            // Mostly letters, so fields grow past the 16-byte blocks.
            const std::size_t k = std::uniform_int_distribution<std::size_t>(0, 60)(rng);
            m += k < alphabet.size() ? alphabet[k] : 'a';
        }
        expect_like_reference(m);
    }
}

/// RFC 3339 as parse_rfc3339() read it before its fixed-width date and time were tested in one
/// SSE2 compare: field by field with digits(), the fraction digit by digit. The reference for
/// the tests below.
bool reference_rfc3339(std::string_view t, int64_t& ns, int max_frac) {
    using logagg::util::digits;
    using logagg::util::is_digit;
    const int y = digits(t, 0, 4);
    const int mo = digits(t, 5, 2);
    const int d = digits(t, 8, 2);
    const int h = digits(t, 11, 2);
    const int mi = digits(t, 14, 2);
    const int s = digits(t, 17, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 ||
        s > 59 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' || t[16] != ':') {
        return false;
    }
    const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    constexpr int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (d > mdays[mo - 1] + (mo == 2 && leap ? 1 : 0)) {
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
        for (int i = n; i < 9; ++i) {
            frac_ns *= 10;
        }
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
        logagg::log::days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) *
            86400 +
        h * 3600 + mi * 60 + s - offset_s;
    constexpr int64_t max_secs = INT64_MAX / 1'000'000'000 - 1;
    if (secs > max_secs || secs < -max_secs) {
        return false;
    }
    ns = secs * 1'000'000'000 + frac_ns;
    return true;
}

/// parse_rfc3339() of @p t, from a heap block of exactly its size, against reference_rfc3339().
void expect_rfc3339_like_reference(const std::string& t, int max_frac) {
    const auto block = std::make_unique<char[]>(t.size());
    std::copy(t.begin(), t.end(), block.get());
    int64_t want = -1;
    int64_t got = -1;
    const bool ok = reference_rfc3339(t, want, max_frac);
    EXPECT_EQ(logagg::log::parse_rfc3339(std::string_view(block.get(), t.size()), got, max_frac),
              ok)
        << testing::PrintToString(t) << " max_frac " << max_frac;
    if (ok) {
        EXPECT_EQ(got, want) << t;
    }
}

TEST(Rfc5424, TimestampEdges) {
    int64_t ns = 0;
    // Fractions of 1 and 9 digits (9 only where allowed), offsets either way.
    ASSERT_TRUE(logagg::log::parse_rfc3339("2003-10-11T22:14:15.3Z", ns));
    EXPECT_EQ(ns, 1065910455300000000LL);
    EXPECT_FALSE(logagg::log::parse_rfc3339("2003-10-11T22:14:15.123456789Z", ns));
    ASSERT_TRUE(logagg::log::parse_rfc3339("2003-10-11T22:14:15.123456789Z", ns, 9));
    EXPECT_EQ(ns, 1065910455123456789LL);
    ASSERT_TRUE(logagg::log::parse_rfc3339("2003-10-11T22:14:15.000001-23:59", ns));
    EXPECT_EQ(ns, (1065910455LL + 23 * 3600 + 59 * 60) * 1'000'000'000 + 1000);
    ASSERT_TRUE(logagg::log::parse_rfc3339("2003-10-11T22:14:15+00:00", ns));
    EXPECT_EQ(ns, 1065910455LL * 1'000'000'000);
    // Refused, as they always were: a leap second, lowercase t and z, impossible dates, short
    // and long stamps, offsets out of range.
    for (const char* bad :
         {"2016-12-31T23:59:60Z", "2003-10-11t22:14:15Z", "2003-10-11T22:14:15z",
          "2003-04-31T00:00:00Z", "1900-02-29T00:00:00Z", "2003-00-11T00:00:00Z",
          "2003-10-00T00:00:00Z", "2003-10-11T22:14:1Z", "2003-10-11T22:14:15", "2003-10-11T22:14",
          "", "2003-10-11T22:14:15+24:00", "2003-10-11T22:14:15+01:60", "2003-10-11T22:14:15+0100",
          "2003-10-11T22:14:15.Z", "+003-10-11T22:14:15Z", "2003-10-11T22:14:15.1234567Z"}) {
        EXPECT_FALSE(logagg::log::parse_rfc3339(bad, ns)) << bad;
    }
    ASSERT_TRUE(logagg::log::parse_rfc3339("2000-02-29T23:59:59.999999Z", ns));
}

// Every byte of a few stamps replaced by each byte that matters (digits at their limits,
// separators, the lowercase letters, bytes the SSE2 compare could mistake: '0' - 1, '9' + 1,
// 0x80, 0xB0 ('0' + 0x80)), then every truncation: the same answer as field by field.
TEST(Rfc5424, TimestampsLikeReference) {
    std::vector<std::string> stamps = {
        "2003-10-11T22:14:15.003Z",      "2003-08-24T05:14:15.000003-07:00",
        "2000-02-29T23:59:59Z",          "1970-01-01T00:00:00.123456789+14:00",
        "9999-12-31T23:59:59.9Z",        "2262-04-11T23:47:16.854775807Z",
        "1677-09-21T00:12:43.145224192Z"};
    for (std::size_t k = 1; k <= 10; ++k) { // every fraction length, either side of the limits
        stamps.push_back("2003-10-11T22:14:15." + std::string("9876543210").substr(0, k) + "Z");
        stamps.push_back("2003-10-11T22:14:15." + std::string("0123456789").substr(0, k) +
                         "+01:30");
    }
    const std::string subst = std::string("0123459:-+.TZtz/ ") + '\0' + '\x80' + '\xb0' + '\xff';
    for (const int max_frac : {6, 9}) {
        for (const std::string& st : stamps) {
            expect_rfc3339_like_reference(st, max_frac);
            for (std::size_t i = 0; i < st.size(); ++i) {
                for (const char c : subst) {
                    std::string t = st;
                    t[i] = c;
                    expect_rfc3339_like_reference(t, max_frac);
                }
            }
            for (std::size_t n = 0; n < st.size(); ++n) {
                expect_rfc3339_like_reference(st.substr(0, n), max_frac);
            }
        }
    }
}

/// Length of the STRUCTURED-DATA at the front of @p s as RFC 5424 reads it byte by byte (the
/// parser before its names and values were scanned 16 bytes at a time), or 0.
std::size_t reference_sd(std::string_view s) {
    auto name = [](std::string_view t) {
        std::size_t n = 0;
        while (n < t.size() && n <= 32 && t[n] >= 33 && t[n] <= 126 && t[n] != '=' && t[n] != ']' &&
               t[n] != '"') {
            ++n;
        }
        return n >= 1 && n <= 32 ? n : 0;
    };
    std::size_t p = 0;
    while (p < s.size() && s[p] == '[') {
        ++p;
        const std::size_t id = name(s.substr(p));
        if (id == 0) {
            return 0;
        }
        p += id;
        while (p < s.size() && s[p] == ' ') {
            ++p;
            const std::size_t n = name(s.substr(p));
            if (n == 0 || p + n + 1 >= s.size() || s[p + n] != '=' || s[p + n + 1] != '"') {
                return 0;
            }
            p += n + 2;
            for (;;) {
                if (p >= s.size()) {
                    return 0;
                }
                if (s[p] == '\\') {
                    p += 2;
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

/// parse_rfc5424() of "<34>1 - h a p m " + @p rest (one SD-ELEMENT, or several with distinct
/// SD-IDs, and at most a few names), from a heap block of its exact size, against reference_sd().
void expect_sd_like_reference(const std::string& rest) {
    const std::string msg = "<34>1 - h a p m " + rest;
    const auto block = std::make_unique<char[]>(msg.size());
    std::copy(msg.begin(), msg.end(), block.get());
    log_record r;
    const rfc5424_status got = parse_rfc5424(std::string_view(block.get(), msg.size()), r);
    if (!rest.empty() && rest[0] == '-') {
        return; // NILVALUE: not what these tests look at
    }
    const std::size_t len = reference_sd(rest);
    if (len == 0 || (len < rest.size() && rest[len] != ' ')) {
        EXPECT_EQ(got, rfc5424_status::bad_structured_data) << testing::PrintToString(rest);
        return;
    }
    EXPECT_EQ(got, rfc5424_status::ok) << testing::PrintToString(rest);
    EXPECT_EQ(r.structured_data, rest.substr(0, len)) << testing::PrintToString(rest);
}

// SD-IDs and PARAM-NAMEs of every length to 40 and PARAM-VALUEs to 40 bytes, with each byte the
// scans stop at ('=', ']', '"', '\\', SP, DEL, 0x80, NUL) at each position, the message ending
// inside the element, right after it, or with a MSG after it.
TEST(Rfc5424, StructuredDataAtEveryBoundary) {
    const std::string tails[] = {"", " m", " " + std::string(100, 'x')};
    const char stops[] = {'=', ']', '"', '\\', ' ', '\x7f', '\x80', '\0'};
    for (std::size_t len = 0; len <= 40; ++len) {
        std::vector<std::string> variants = {std::string(len, 'n')};
        for (std::size_t at = 0; at < len; ++at) {
            for (const char c : stops) {
                variants.push_back(variants[0]);
                variants.back()[at] = c;
            }
        }
        for (const std::string& v : variants) {
            for (const std::string& t : tails) {
                expect_sd_like_reference("[" + v + "]" + t);          // SD-ID
                expect_sd_like_reference("[id " + v + "=\"1\"]" + t); // PARAM-NAME
                expect_sd_like_reference("[id k=\"" + v + "\"]" + t); // PARAM-VALUE
                expect_sd_like_reference("[id k=\"" + v + "\"][b x=\"" + v + "\"]" + t);
                expect_sd_like_reference("[id k=\"" + v); // cut in the value
            }
        }
    }
}

TEST(Rfc5424, RandomStructuredDataLikeReference) {
    std::mt19937 rng(3);
    const std::string alphabet = std::string("[]=\"\\ ab") + '\x7f' + '\x80' + '\0';
    for (int n = 0; n < 20000; ++n) {
        // A well-formed start, then random bytes heavy in letters.
        std::string rest = n % 2 == 0 ? "[id k=\"" : "[";
        const std::size_t len = std::uniform_int_distribution<std::size_t>(0, 120)(rng);
        for (std::size_t i = 0; i < len; ++i) {
            const std::size_t k = std::uniform_int_distribution<std::size_t>(0, 40)(rng);
            rest += k < alphabet.size() ? alphabet[k] : 'z';
        }
        expect_sd_like_reference(rest);
    }
}

} // namespace
