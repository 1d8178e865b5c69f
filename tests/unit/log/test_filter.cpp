// SPDX-License-Identifier: BSD-3-Clause
// Record filters (--filter, --route): the grammar (every field and alias, every operator, &&
// chains, quoting and escapes, blanks), every error message and what it names, matching of every
// field (syslog severity counts downwards, absent fields only match !=), STRUCTURED-DATA values
// through their escapes, and json.KEY captures end to end through the JSON extractor.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "log/filter.hpp"
#include "log/json.hpp"
#include "log/record.hpp"
#include "log/rfc5424.hpp"

namespace {

using namespace logagg::log;

/// Parses @p text, failing the test on error.
filter parsed(std::string_view text, std::vector<std::string>* names = nullptr) {
    std::vector<std::string> local;
    auto f = parse_filter(text, names != nullptr ? *names : local);
    EXPECT_TRUE(f.ok()) << text << ": " << (f ? "" : f.error().text);
    return f ? std::move(f).value() : filter{};
}

/// The error of parsing @p text (empty when it parsed).
std::string error_of(std::string_view text) {
    std::vector<std::string> names;
    const auto f = parse_filter(text, names);
    return f ? std::string() : f.error().text;
}

bool matches(std::string_view text, const log_record& r, const filter_context& c = {}) {
    return filter_matches(parsed(text), r, c);
}

struct term_case {
    std::string text;
    filter_field field;
    filter_op op;
    int number;
    std::string value;
};

TEST(FilterParse, EveryFieldAndAlias) {
    const std::vector<term_case> cases = {
        {"sev==3", filter_field::severity, filter_op::eq, 3, ""},
        {"severity==warning", filter_field::severity, filter_op::eq, 4, ""},
        {"sev==EMERG", filter_field::severity, filter_op::eq, 0, ""},
        {"sev==debug", filter_field::severity, filter_op::eq, 7, ""},
        {"sev==0", filter_field::severity, filter_op::eq, 0, ""},
        {"sev==7", filter_field::severity, filter_op::eq, 7, ""},
        {"facility==kern", filter_field::facility, filter_op::eq, 0, ""},
        {"facility==authpriv", filter_field::facility, filter_op::eq, 10, ""},
        {"facility==local0", filter_field::facility, filter_op::eq, 16, ""},
        {"facility==local7", filter_field::facility, filter_op::eq, 23, ""},
        {"facility==23", filter_field::facility, filter_op::eq, 23, ""},
        {"host==web-1", filter_field::host, filter_op::eq, -1, "web-1"},
        {"hostname==web-1", filter_field::host, filter_op::eq, -1, "web-1"},
        {"app==nginx", filter_field::app, filter_op::eq, -1, "nginx"},
        {"app_name==nginx", filter_field::app, filter_op::eq, -1, "nginx"},
        {"procid==4242", filter_field::procid, filter_op::eq, -1, "4242"},
        {"msgid==ID47", filter_field::msgid, filter_op::eq, -1, "ID47"},
        {"msg==boom", filter_field::message, filter_op::eq, -1, "boom"},
        {"message==boom", filter_field::message, filter_op::eq, -1, "boom"},
        {"format==raw", filter_field::format, filter_op::eq, 0, ""},
        {"format==rfc5424", filter_field::format, filter_op::eq, 1, ""},
        {"format==rfc3164", filter_field::format, filter_op::eq, 2, ""},
        {"format==json", filter_field::format, filter_op::eq, 3, ""},
        {"format!=gelf", filter_field::format, filter_op::ne, 4, ""},
        {"source==198.18.0.1:514", filter_field::source, filter_op::eq, -1, "198.18.0.1:514"},
        {"json.kubernetes_ns==prod", filter_field::json, filter_op::eq, -1, "prod"},
    };
    for (const term_case& c : cases) {
        SCOPED_TRACE(c.text);
        const filter f = parsed(c.text);
        EXPECT_EQ(f.text, c.text);
        ASSERT_EQ(f.terms.size(), 1u);
        EXPECT_EQ(f.terms[0].field, c.field);
        EXPECT_EQ(f.terms[0].op, c.op);
        if (c.number >= 0) {
            EXPECT_EQ(f.terms[0].number, c.number);
        }
        EXPECT_EQ(f.terms[0].value, c.value);
    }
    const filter sd = parsed("sd.exampleSDID@32473.eventSource==Application");
    ASSERT_EQ(sd.terms.size(), 1u);
    EXPECT_EQ(sd.terms[0].field, filter_field::sd);
    EXPECT_EQ(sd.terms[0].sd_id, "exampleSDID@32473");
    EXPECT_EQ(sd.terms[0].sd_param, "eventSource");
    EXPECT_EQ(sd.terms[0].value, "Application");
    // The PARAM is after the last dot: an SD-ID may hold dots.
    const filter dotted = parsed("sd.origin.x@1.ip==10.0.0.1");
    EXPECT_EQ(dotted.terms[0].sd_id, "origin.x@1");
    EXPECT_EQ(dotted.terms[0].sd_param, "ip");
    EXPECT_EQ(dotted.terms[0].value, "10.0.0.1");
}

TEST(FilterParse, EveryOperator) {
    const std::vector<std::pair<std::string, filter_op>> sev_ops = {
        {"sev==4", filter_op::eq}, {"sev!=4", filter_op::ne}, {"sev<4", filter_op::lt},
        {"sev<=4", filter_op::le}, {"sev>4", filter_op::gt},  {"sev>=4", filter_op::ge},
    };
    for (const auto& [text, op] : sev_ops) {
        SCOPED_TRACE(text);
        const filter f = parsed(text);
        ASSERT_EQ(f.terms.size(), 1u);
        EXPECT_EQ(f.terms[0].op, op);
        EXPECT_EQ(f.terms[0].number, 4);
    }
    const std::vector<std::pair<std::string, filter_op>> text_ops = {
        {"host==web", filter_op::eq},
        {"host!=web", filter_op::ne},
        {"host^=web", filter_op::prefix},
        {"host*=web", filter_op::contains},
    };
    for (const auto& [text, op] : text_ops) {
        SCOPED_TRACE(text);
        const filter f = parsed(text);
        ASSERT_EQ(f.terms.size(), 1u);
        EXPECT_EQ(f.terms[0].op, op);
        EXPECT_EQ(f.terms[0].value, "web");
    }
    // facility takes the ordering operators too.
    const filter fac = parsed("facility>=local0");
    EXPECT_EQ(fac.terms[0].op, filter_op::ge);
    EXPECT_EQ(fac.terms[0].number, 16);
    // The operator is the first one in the term: the value may hold operator characters.
    const filter eq_in_value = parsed("msg==a==b<c");
    EXPECT_EQ(eq_in_value.terms[0].op, filter_op::eq);
    EXPECT_EQ(eq_in_value.terms[0].value, "a==b<c");
}

TEST(FilterParse, ChainsAndBlanks) {
    const filter f = parsed("sev<=warning && host^=web- &&app==nginx&&msg*=timeout");
    ASSERT_EQ(f.terms.size(), 4u);
    EXPECT_EQ(f.terms[0].field, filter_field::severity);
    EXPECT_EQ(f.terms[0].op, filter_op::le);
    EXPECT_EQ(f.terms[0].number, 4);
    EXPECT_EQ(f.terms[1].field, filter_field::host);
    EXPECT_EQ(f.terms[1].op, filter_op::prefix);
    EXPECT_EQ(f.terms[1].value, "web-");
    EXPECT_EQ(f.terms[2].field, filter_field::app);
    EXPECT_EQ(f.terms[2].value, "nginx");
    EXPECT_EQ(f.terms[3].field, filter_field::message);
    EXPECT_EQ(f.terms[3].op, filter_op::contains);
    EXPECT_EQ(f.terms[3].value, "timeout");
    // Blanks (spaces and tabs) around fields, operators and values.
    const filter b = parsed(" \tsev <= 3\t&&  host ==  web-1 ");
    ASSERT_EQ(b.terms.size(), 2u);
    EXPECT_EQ(b.terms[0].number, 3);
    EXPECT_EQ(b.terms[1].field, filter_field::host);
    EXPECT_EQ(b.terms[1].value, "web-1");
}

TEST(FilterParse, QuotedValues) {
    EXPECT_EQ(parsed(R"(msg=="disk full")").terms[0].value, "disk full");
    EXPECT_EQ(parsed(R"(msg=="say \"hi\"")").terms[0].value, R"(say "hi")");
    EXPECT_EQ(parsed(R"(msg=="C:\\dir")").terms[0].value, R"(C:\dir)");
    EXPECT_EQ(parsed(R"(msg=="a\nb")").terms[0].value, R"(a\nb)"); // other escapes stay
    EXPECT_EQ(parsed(R"(msg=="")").terms[0].value, "");
    EXPECT_EQ(parsed(R"(msg==  "  padded  "  )").terms[0].value, "  padded  ");
    // "&&" inside quotes does not split, an escaped quote does not end the quoting.
    const filter f = parsed(R"(msg=="a && b" && app=="x\"&&y" && sev<3)");
    ASSERT_EQ(f.terms.size(), 3u);
    EXPECT_EQ(f.terms[0].value, "a && b");
    EXPECT_EQ(f.terms[1].value, R"(x"&&y)");
    EXPECT_EQ(f.terms[2].number, 3);
    // A value ending in an escaped backslash.
    const filter g = parsed(R"(msg=="end\\" && sev==1)");
    ASSERT_EQ(g.terms.size(), 2u);
    EXPECT_EQ(g.terms[0].value, R"(end\)");
}

TEST(FilterParse, ErrorsNameTheBadPart) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"level==3", "unknown field 'level'"},
        {"json.==x", "unknown field 'json.'"},
        {"sev 3", "'sev 3' has no operator"},
        {"sev=3", "'sev=3' has no operator"},
        {"host<web", "'host<web'"},
        {"app>=x", "'app>=x'"},
        {"msg<=x", "'msg<=x'"},
        {"source>x", "'source>x'"},
        {"json.a<1", "'json.a<1'"},
        {"sd.a@1.b<1", "'sd.a@1.b<1'"},
        {"sev^=3", "'sev^=3'"},
        {"sev*=3", "'sev*=3'"},
        {"facility^=local0", "'facility^=local0'"},
        {"sev==loud", "'loud' is not a severity"},
        {"sev==8", "'8' is not a severity"},
        {"sev==-1", "'-1' is not a severity"},
        {"sev<=3x", "'3x' is not a severity"},
        {"facility==local8", "'local8' is not a facility"},
        {"facility==24", "'24' is not a facility"},
        {"facility==Kern", "'Kern' is not a facility"},
        {"format==xml", "'xml' is not a format"},
        {"format^=json", "format compares with == or != only"},
        {"format<json", "format compares with == or != only"},
        {"sd.x==1", "'sd.x' is not sd.SDID.PARAM"},
        {"sd.x.==1", "'sd.x.' is not sd.SDID.PARAM"},
        {"sd..p==1", "'sd..p' is not sd.SDID.PARAM"},
        {"sd.==1", "'sd.' is not sd.SDID.PARAM"},
        {"msg==two words", "'msg==two words': the value must be one word"},
        {"msg==", "'msg==': the value must be one word"},
        {R"(msg=="open)", R"('msg=="open': the value must be one word)"},
        {R"(msg=="a"b)", R"('msg=="a"b': the value must be one word)"},
        {R"(msg==a"b)", R"('msg==a"b': the value must be one word)"},
        {"", "empty term in ''"},
        {"sev<3 &&", "empty term in 'sev<3 &&'"},
        {"&& sev<3", "empty term in '&& sev<3'"},
        {"sev<3 && && host==a", "empty term in 'sev<3 && && host==a'"},
    };
    for (const auto& [text, want] : cases) {
        const std::string e = error_of(text);
        EXPECT_NE(e.find(want), std::string::npos)
            << "'" << text << "' gave '" << e << "', expected it to contain '" << want << "'";
    }
    // The ordering and text-operator errors say what the operators apply to.
    EXPECT_NE(error_of("host<web").find("sev and facility only"), std::string::npos);
    EXPECT_NE(error_of("sev^=3").find("text fields only"), std::string::npos);
}

TEST(FilterParse, JsonCaptureSlotsAreSharedAndBounded) {
    std::vector<std::string> names;
    const filter a = parsed("json.a==1 && json.b==2", &names);
    const filter b = parsed("json.b!=3 && json.c^=x", &names);
    EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(a.terms[0].capture, 0);
    EXPECT_EQ(a.terms[1].capture, 1);
    EXPECT_EQ(b.terms[0].capture, 1);
    EXPECT_EQ(b.terms[1].capture, 2);
    // Sixteen distinct keys fit; the seventeenth is refused, by name.
    std::vector<std::string> many;
    for (std::size_t i = 0; i < max_json_captures; ++i) {
        const auto f = parse_filter("json.k" + std::to_string(i) + "==v", many);
        ASSERT_TRUE(f.ok());
        EXPECT_EQ(f.value().terms[0].capture, i);
    }
    const auto again = parse_filter("json.k15==w", many);
    ASSERT_TRUE(again.ok()) << "a known key takes no new slot";
    EXPECT_EQ(again.value().terms[0].capture, 15);
    const auto over = parse_filter("sev<3 && json.extra==v", many);
    ASSERT_FALSE(over.ok());
    EXPECT_TRUE(over.error().usage);
    const std::string& e = over.error().text;
    EXPECT_NE(e.find("more than 16"), std::string::npos) << e;
    EXPECT_NE(e.find("json.extra"), std::string::npos) << e;
    EXPECT_EQ(many.size(), max_json_captures);
}

TEST(FilterParse, FacilityNames) {
    const std::vector<std::pair<std::string, int>> names = {
        {"kern", 0},          {"user", 1},    {"mail", 2},    {"daemon", 3},    {"auth", 4},
        {"syslog", 5},        {"lpr", 6},     {"news", 7},    {"uucp", 8},      {"cron", 9},
        {"authpriv", 10},     {"ftp", 11},    {"ntp", 12},    {"security", 13}, {"console", 14},
        {"solaris-cron", 15}, {"local0", 16}, {"local1", 17}, {"local2", 18},   {"local3", 19},
        {"local4", 20},       {"local5", 21}, {"local6", 22}, {"local7", 23},
    };
    for (const auto& [n, v] : names) {
        EXPECT_EQ(facility_from_name(n), v) << n;
    }
    EXPECT_EQ(facility_from_name("local8"), -1);
    EXPECT_EQ(facility_from_name("local"), -1);
    EXPECT_EQ(facility_from_name("local00"), -1);
    EXPECT_EQ(facility_from_name(""), -1);
}

log_record with_severity(int sev) {
    log_record r;
    r.severity = static_cast<int8_t>(sev);
    return r;
}

TEST(FilterMatch, SeverityCountsDownwards) {
    // Which severities 0..7 each comparison keeps.
    const std::vector<std::pair<std::string, std::vector<int>>> cases = {
        {"sev<=warning", {0, 1, 2, 3, 4}},
        {"sev<warning", {0, 1, 2, 3}},
        {"sev>=warning", {4, 5, 6, 7}},
        {"sev>warning", {5, 6, 7}},
        {"sev==warning", {4}},
        {"sev!=warning", {0, 1, 2, 3, 5, 6, 7}},
        {"sev<=err", {0, 1, 2, 3}},
        {"sev>info", {7}},
        {"sev<1", {0}},
        {"sev>=0", {0, 1, 2, 3, 4, 5, 6, 7}},
        {"sev>7", {}},
    };
    for (const auto& [text, keep] : cases) {
        const filter f = parsed(text);
        std::vector<int> got;
        for (int s = 0; s <= 7; ++s) {
            if (filter_matches(f, with_severity(s), {})) {
                got.push_back(s);
            }
        }
        EXPECT_EQ(got, keep) << text;
    }
}

TEST(FilterMatch, AbsentSeverityAndFacilityOnlyMatchNotEqual) {
    const log_record none; // severity and facility -1
    for (const char* t : {"sev==0", "sev<7", "sev<=7", "sev>0", "sev>=0", "facility==0",
                          "facility<23", "facility<=23", "facility>0", "facility>=0"}) {
        EXPECT_FALSE(matches(t, none)) << t;
    }
    EXPECT_TRUE(matches("sev!=0", none));
    EXPECT_TRUE(matches("sev!=7", none));
    EXPECT_TRUE(matches("facility!=local0", none));
}

TEST(FilterMatch, Facility) {
    log_record r;
    r.facility = 16; // local0
    EXPECT_TRUE(matches("facility==local0", r));
    EXPECT_TRUE(matches("facility==16", r));
    EXPECT_FALSE(matches("facility==local1", r));
    EXPECT_TRUE(matches("facility!=local1", r));
    EXPECT_TRUE(matches("facility>=local0", r));
    EXPECT_FALSE(matches("facility>local0", r));
    EXPECT_TRUE(matches("facility<local1", r));
    EXPECT_TRUE(matches("facility>authpriv", r));
    r.facility = 10;
    EXPECT_TRUE(matches("facility==authpriv", r));
    EXPECT_TRUE(matches("facility<=authpriv", r));
    EXPECT_FALSE(matches("facility<authpriv", r));
    r.facility = 23;
    EXPECT_TRUE(matches("facility==local7", r));
    r.facility = 0;
    EXPECT_TRUE(matches("facility==kern", r));
    EXPECT_FALSE(matches("facility!=kern", r));
}

TEST(FilterMatch, Format) {
    log_record r;
    r.format = input_format::json;
    EXPECT_TRUE(matches("format==json", r));
    EXPECT_FALSE(matches("format!=json", r));
    EXPECT_FALSE(matches("format==rfc5424", r));
    EXPECT_TRUE(matches("format!=rfc5424", r));
    r.format = input_format::raw;
    EXPECT_TRUE(matches("format==raw", r));
    EXPECT_FALSE(matches("format==json", r));
    r.format = input_format::gelf;
    EXPECT_TRUE(matches("format==gelf", r));
    r.format = input_format::rfc3164;
    EXPECT_TRUE(matches("format==rfc3164", r));
}

TEST(FilterMatch, TextFieldsPresentAndAbsent) {
    struct field {
        const char* name;
        std::string_view log_record::*member;
    };
    const std::vector<field> fields = {{"host", &log_record::hostname},
                                       {"app", &log_record::app_name},
                                       {"procid", &log_record::procid},
                                       {"msgid", &log_record::msgid}};
    for (const field& f : fields) {
        SCOPED_TRACE(f.name);
        const std::string n = f.name;
        log_record r;
        r.*f.member = "web-17";
        EXPECT_TRUE(matches(n + "==web-17", r));
        EXPECT_FALSE(matches(n + "==web-1", r));
        EXPECT_FALSE(matches(n + "==web-170", r));
        EXPECT_TRUE(matches(n + "!=web-1", r));
        EXPECT_FALSE(matches(n + "!=web-17", r));
        EXPECT_TRUE(matches(n + "^=web-", r));
        EXPECT_TRUE(matches(n + "^=web-17", r));
        EXPECT_FALSE(matches(n + "^=web-170", r));
        EXPECT_FALSE(matches(n + "^=eb", r));
        EXPECT_TRUE(matches(n + "*=b-1", r));
        EXPECT_TRUE(matches(n + "*=17", r));
        EXPECT_FALSE(matches(n + "*=18", r));
        EXPECT_TRUE(matches(n + "^=\"\"", r));
        EXPECT_TRUE(matches(n + "*=\"\"", r));
        EXPECT_FALSE(matches(n + "==\"\"", r));
        // Absent (empty): nothing equals, starts or contains, not even the empty string.
        const log_record absent;
        EXPECT_FALSE(matches(n + "==web-17", absent));
        EXPECT_FALSE(matches(n + "==\"\"", absent));
        EXPECT_FALSE(matches(n + "^=\"\"", absent));
        EXPECT_FALSE(matches(n + "*=\"\"", absent));
        EXPECT_FALSE(matches(n + "^=w", absent));
        EXPECT_FALSE(matches(n + "*=w", absent));
        EXPECT_TRUE(matches(n + "!=web-17", absent));
        EXPECT_TRUE(matches(n + "!=\"\"", absent));
    }
}

TEST(FilterMatch, MessageIsAlwaysPresent) {
    log_record r;
    r.message = "disk /var is 91% full";
    EXPECT_TRUE(matches(R"(msg=="disk /var is 91% full")", r));
    EXPECT_TRUE(matches("msg^=disk", r));
    EXPECT_TRUE(matches("msg*=91%", r));
    EXPECT_FALSE(matches("msg*=92%", r));
    EXPECT_TRUE(matches("msg!=disk", r));
    EXPECT_FALSE(matches("msg==disk", r));
    const log_record empty;
    EXPECT_TRUE(matches(R"(msg=="")", empty));
    EXPECT_FALSE(matches(R"(msg!="")", empty));
    EXPECT_FALSE(matches("msg*=x", empty));
    EXPECT_TRUE(matches("msg!=x", empty));
}

TEST(FilterMatch, SourceReadsTheContext) {
    const log_record r;
    const filter_context c{"198.18.0.7:40000", nullptr};
    EXPECT_TRUE(matches("source==198.18.0.7:40000", r, c));
    EXPECT_TRUE(matches("source^=198.18.", r, c));
    EXPECT_TRUE(matches("source*=:40000", r, c));
    EXPECT_FALSE(matches("source^=10.", r, c));
    EXPECT_TRUE(matches("source!=10.0.0.1:514", r, c));
    // Without a source (not computed, or unknown): absent.
    EXPECT_FALSE(matches("source^=198.18.", r));
    EXPECT_TRUE(matches("source!=198.18.0.7:40000", r));
    const filter_context v6{"[2001:db8::1]:514", nullptr};
    EXPECT_TRUE(matches("source^=[2001:db8::", r, v6));
}

TEST(FilterMatch, NeedsSource) {
    EXPECT_TRUE(filter_needs_source(parsed("source==1.2.3.4:5")));
    EXPECT_TRUE(filter_needs_source(parsed("sev<3 && source^=10.")));
    EXPECT_FALSE(filter_needs_source(parsed("sev<3 && host==a")));
    EXPECT_FALSE(filter_needs_source(parsed(R"(msg=="source==x")")));
    EXPECT_FALSE(filter_needs_source(filter{}));
}

TEST(FilterMatch, JsonCaptures) {
    std::vector<std::string> names;
    const filter ns = parsed("json.ns==prod", &names);
    const filter ns_ne = parsed("json.ns!=prod", &names);
    const filter code = parsed("json.code^=5", &names);
    ASSERT_EQ(names, (std::vector<std::string>{"ns", "code"}));
    const log_record r;
    json_captures c;
    c.raw[0] = "prod";
    c.raw[1] = "503";
    c.found = 0b11;
    const filter_context ctx{{}, &c};
    EXPECT_TRUE(filter_matches(ns, r, ctx));
    EXPECT_FALSE(filter_matches(ns_ne, r, ctx));
    EXPECT_TRUE(filter_matches(code, r, ctx));
    // A slot not found reads as absent whatever its stale view says.
    c.found = 0b10;
    EXPECT_FALSE(filter_matches(ns, r, ctx));
    EXPECT_TRUE(filter_matches(ns_ne, r, ctx));
    EXPECT_TRUE(filter_matches(code, r, ctx));
    c.clear();
    EXPECT_FALSE(filter_matches(code, r, ctx));
    // No captures at all (not a JSON record).
    EXPECT_FALSE(filter_matches(ns, r, {}));
    EXPECT_TRUE(filter_matches(ns_ne, r, {}));
}

TEST(FilterMatch, ConjunctionNeedsEveryTerm) {
    log_record r;
    r.severity = 3;
    r.hostname = "web-1";
    r.app_name = "nginx";
    EXPECT_TRUE(matches("sev<=err && host^=web- && app==nginx", r));
    EXPECT_FALSE(matches("sev<=err && host^=web- && app==apache", r));
    EXPECT_FALSE(matches("sev<err && host^=web- && app==nginx", r));
    EXPECT_TRUE(matches("sev==3 && sev!=4 && sev>=3 && sev<=3", r));
    // The empty filter (no terms) keeps everything.
    EXPECT_TRUE(filter_matches(filter{}, r, {}));
}

/// RFC 5424 messages whose STRUCTURED-DATA exercises every PARAM-VALUE escape.
constexpr std::string_view sd_msg =
    R"(<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 )"
    R"([exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"])"
    R"([quote@1 q="say \"hi\"" b="C:\\dir" c="x\]y" q="second" e=""])"
    R"([other@1 q="other" iut="4"] An application event)";

TEST(FilterMatch, StructuredDataValues) {
    log_record r;
    ASSERT_EQ(parse_rfc5424(sd_msg, r), rfc5424_status::ok);
    ASSERT_FALSE(r.structured_data.empty());
    const std::vector<std::pair<std::string, bool>> cases = {
        {"sd.exampleSDID@32473.eventID==1011", true},
        {"sd.exampleSDID@32473.eventID==101", false},
        {"sd.exampleSDID@32473.eventID!=1011", false},
        {"sd.exampleSDID@32473.eventID!=1012", true},
        {"sd.exampleSDID@32473.eventSource^=App", true},
        {"sd.exampleSDID@32473.eventSource*=cat", true},
        {"sd.exampleSDID@32473.eventSource*=dog", false},
        // Escapes are decoded before comparing: \" \\ \].
        {R"(sd.quote@1.q=="say \"hi\"")", true},
        {R"(sd.quote@1.q=="say \\\"hi\\\"")", false},
        {R"(sd.quote@1.q=="say")", false},
        {R"(sd.quote@1.q^="say \"")", true},
        {R"(sd.quote@1.q*="\"hi\"")", true},
        {R"(sd.quote@1.q*=\)", false},
        {R"(sd.quote@1.b=="C:\\dir")", true},
        {R"(sd.quote@1.b*="\\d")", true},
        {R"(sd.quote@1.b=="C:\\\\dir")", false},
        {"sd.quote@1.c==x]y", true},
        {"sd.quote@1.c*=]", true},
        {R"(sd.quote@1.c*=\)", false},
        {"sd.quote@1.c^=x]", true},
        {R"(sd.quote@1.e=="")", true},
        {R"(sd.quote@1.e!="")", false},
        {R"(sd.quote@1.e^="")", true},
        {"sd.quote@1.e*=x", false},
        // The first PARAM of that name in the element.
        {"sd.quote@1.q==second", false},
        // The same PARAM name in two elements: each element's own value.
        {"sd.exampleSDID@32473.iut==3", true},
        {"sd.other@1.iut==4", true},
        {"sd.other@1.iut==3", false},
        {"sd.other@1.q==other", true},
        // Absent PARAM or element: only != matches.
        {"sd.other@1.nope==x", false},
        {"sd.other@1.nope!=x", true},
        {"sd.other@1.nope^=\"\"", false},
        {"sd.missing@1.q!=x", true},
        {"sd.missing@1.q==other", false},
        {"sd.exampleSDID.iut==3", false}, // SD-IDs compare whole
    };
    for (const auto& [text, want] : cases) {
        EXPECT_EQ(matches(text, r), want) << text;
    }
    std::string_view raw;
    ASSERT_TRUE(sd_find(r.structured_data, "quote@1", "q", raw));
    EXPECT_EQ(raw, R"(say \"hi\")");
    ASSERT_TRUE(sd_find(r.structured_data, "quote@1", "c", raw));
    EXPECT_EQ(raw, R"(x\]y)");
    EXPECT_FALSE(sd_find(r.structured_data, "quote@1", "nope", raw));
}

TEST(FilterMatch, StructuredDataOnlyOfRfc5424Records) {
    log_record r;
    ASSERT_EQ(parse_rfc5424(sd_msg, r), rfc5424_status::ok);
    EXPECT_TRUE(matches("sd.other@1.q==other", r));
    r.format = input_format::json; // a view that merely looks like SD
    EXPECT_FALSE(matches("sd.other@1.q==other", r));
    EXPECT_TRUE(matches("sd.other@1.q!=other", r));
    log_record nil;
    ASSERT_EQ(parse_rfc5424("<13>1 - host app - - - no sd", nil), rfc5424_status::ok);
    EXPECT_TRUE(nil.structured_data.empty());
    EXPECT_FALSE(matches("sd.a@1.b==c", nil));
    EXPECT_TRUE(matches("sd.a@1.b!=c", nil));
}

/// The message in a heap block of exactly len + json_padding bytes.
struct padded {
    explicit padded(std::string_view s) : buf(s.size() + json_padding, 'x'), len(s.size()) {
        std::copy(s.begin(), s.end(), buf.begin());
    }
    std::vector<char> buf;
    std::size_t len;
};

TEST(FilterJson, CapturesEndToEnd) {
    // The capture names come from the filters, as the runtime wires them.
    std::vector<std::string> names;
    const filter prod = parsed("json.kubernetes_ns==prod && sev<=warning", &names);
    const filter lvl = parsed("json.level==warn", &names);
    ASSERT_EQ(names, (std::vector<std::string>{"kubernetes_ns", "level"}));
    json_field_map fields;
    fields.set_captures(names);
    const auto x_owner = json_extractor::create(fields, 4096).value();
    json_extractor& x = *x_owner;

    struct sample {
        std::string line;
        uint16_t found;
        std::string_view ns, level;
        int sev;
    };
    const std::vector<sample> samples = {
        // Strings: raw content (escapes in place); level is also the severity role.
        {R"({"level":"warn","kubernetes_ns":"prod","msg":"m"})", 0b11, "prod", "warn", 4},
        {R"({"kubernetes_ns":"a\"b\\c","level":"error"})", 0b11, R"(a\"b\\c)", "error", 3},
        {R"({"kubernetes_ns":""})", 0b01, "", "", -1},
        // Numbers, booleans and null: their token (blanks around it are not part of it).
        {R"({"kubernetes_ns" : 42 , "level" : 30 })", 0b11, "42", "30", 6},
        {R"({"kubernetes_ns":-1.5e3,"level":true})", 0b11, "-1.5e3", "true", -1},
        {R"({"kubernetes_ns":null,"level":false})", 0b11, "null", "false", -1},
        // Objects and arrays are not captured.
        {R"({"kubernetes_ns":{"name":"prod"},"level":["warn"]})", 0b00, "", "", -1},
        // The first occurrence wins (for the capture and for the role).
        {R"({"level":"warn","kubernetes_ns":"prod","kubernetes_ns":"dev","level":"debug"})", 0b11,
         "prod", "warn", 4},
        // Absent.
        {R"({"msg":"no captures"})", 0b00, "", "", -1},
    };
    for (const sample& s : samples) {
        SCOPED_TRACE(s.line);
        const padded p(s.line);
        log_record r;
        json_captures c;
        c.found = 0xffff; // parse() clears it
        ASSERT_EQ(x.parse(p.buf.data(), p.len, p.buf.size(), true, r, &c), json_status::ok);
        EXPECT_EQ(c.found, s.found);
        if ((s.found & 1u) != 0) {
            EXPECT_EQ(c.raw[0], s.ns);
            // A view into the message, not a copy.
            EXPECT_GE(c.raw[0].data(), p.buf.data());
            EXPECT_LE(c.raw[0].data() + c.raw[0].size(), p.buf.data() + p.len);
        }
        if ((s.found & 2u) != 0) {
            EXPECT_EQ(c.raw[1], s.level);
        }
        EXPECT_EQ(r.severity, s.sev);
    }

    // And the filters read them.
    const auto run = [&](const filter& f, std::string_view line) {
        const padded p(line);
        log_record r;
        json_captures c;
        EXPECT_EQ(x.parse(p.buf.data(), p.len, p.buf.size(), true, r, &c), json_status::ok);
        return filter_matches(f, r, filter_context{{}, &c});
    };
    EXPECT_TRUE(run(prod, R"({"kubernetes_ns":"prod","level":"error"})"));
    EXPECT_FALSE(run(prod, R"({"kubernetes_ns":"prod","level":"info"})"));
    EXPECT_FALSE(run(prod, R"({"kubernetes_ns":"dev","level":"error"})"));
    EXPECT_FALSE(run(prod, R"({"level":"error"})"));
    EXPECT_TRUE(run(lvl, R"({"level":"warn"})"));
    EXPECT_FALSE(run(lvl, R"({"level":"WARN"})"));
}

} // namespace
