// SPDX-License-Identifier: BSD-3-Clause
// JSON lines: field extraction from the shapes real loggers write, severity and epoch mapping,
// --json-fields, every malformed class, and every truncation of every sample (under ASan: the
// buffer ends exactly at the padding simdjson is promised).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "log/json.hpp"
#include "log/record.hpp"

namespace {

using namespace logagg::log;

/// The message in a heap block of exactly len + json_padding bytes.
struct padded {
    explicit padded(std::string_view s) : buf(s.size() + json_padding, 'x') {
        std::copy(s.begin(), s.end(), buf.begin());
        len = s.size();
    }
    std::vector<char> buf;
    std::size_t len;
};

json_status parse(json_extractor& x, std::string_view s, log_record& r, bool validate = true) {
    padded p(s);
    // Views must point into the buffer: keep it alive by parsing a copy owned by the caller.
    static std::vector<padded> keep;
    keep.push_back(std::move(p));
    return x.parse(keep.back().buf.data(), keep.back().len, keep.back().buf.size(), validate, r);
}

constexpr int64_t s_ns = 1'000'000'000;
constexpr int64_t mar1_10h = (days_from_civil(2024, 3, 1) * 86400 + 10 * 3600) * s_ns;

struct sample {
    const char* name;
    std::string line;
    int64_t ts; // -1: none
    int sev;
    std::string_view host, app, procid, msg;
};

const std::vector<sample> samples = {
    {"docker_json_file",
     R"({"log":"GET /healthz 200\n","stream":"stdout","time":"2024-03-01T10:00:00.123456789Z"})",
     mar1_10h + 123456789, -1, "", "", "", R"(GET /healthz 200\n)"},
    {"bunyan",
     R"({"name":"api","hostname":"web-1","pid":4242,"level":30,"msg":"listening","time":"2024-03-01T10:00:00.000Z","v":0})",
     mar1_10h, 6, "web-1", "api", "4242", "listening"},
    {"pino",
     R"({"level":50,"time":1709287200000,"pid":7,"hostname":"node-a","msg":"boom","err":{"type":"Error","stack":"x"}})",
     mar1_10h, 3, "node-a", "", "7", "boom"},
    {"logrus",
     R"({"level":"warning","msg":"disk at 91%","time":"2024-03-01T11:00:00+01:00","component":"db"})",
     mar1_10h, 4, "", "", "", "disk at 91%"},
    {"zap",
     R"({"level":"info","ts":1709287200.5,"caller":"main.go:12","msg":"started","service":"billing"})",
     mar1_10h + 500000000, 6, "", "billing", "", "started"},
    {"ecs",
     R"({"@timestamp":"2024-03-01T10:00:00.000Z","log.level":"ERROR","message":"payment failed","service.name":"pay","host.name":"k8s-node-3","ecs.version":"1.6.0"})",
     mar1_10h, 3, "k8s-node-3", "pay", "", "payment failed"},
    {"klog_json",
     R"({"ts":1709287200000.000,"caller":"x.go:1","msg":"Pod started","v":0,"pod":{"name":"a","namespace":"b"}})",
     mar1_10h, -1, "", "", "", "Pod started"},
    {"serilog_compact",
     R"({"@t":"2024-03-01T10:00:00.0000000Z","@mt":"Hello {User}","@l":"Warning","User":"bob"})",
     mar1_10h, 4, "", "", "", "Hello {User}"},
    {"escapes_kept", R"({"msg":"a \"quoted\" \\ word \u00e9","level":"DEBUG"})", -1, 7, "", "", "",
     R"(a \"quoted\" \\ word \u00e9)"},
    {"priority_order", R"({"msg":"second","message":"first"})", -1, -1, "", "", "", "first"},
    {"number_not_msg", R"({"message":42,"msg":"text"})", -1, -1, "", "", "", "text"},
    {"whitespace", " \t{ \"msg\" : \"x\" , \"level\" : 5 }\r\n ", -1, 5, "", "", "", "x"},
};

TEST(Json, RealWorldShapes) {
    json_field_map fields;
    const auto x_owner = json_extractor::create(fields, 65536).value();
    json_extractor& x = *x_owner;
    for (const sample& s : samples) {
        SCOPED_TRACE(s.name);
        log_record r;
        ASSERT_EQ(parse(x, s.line, r), json_status::ok);
        EXPECT_EQ(r.format, input_format::json);
        EXPECT_EQ(r.has_timestamp, s.ts >= 0);
        if (s.ts >= 0) {
            EXPECT_EQ(r.timestamp_ns, s.ts);
        }
        EXPECT_EQ(r.severity, s.sev);
        EXPECT_EQ(r.hostname, s.host);
        EXPECT_EQ(r.app_name, s.app);
        EXPECT_EQ(r.procid, s.procid);
        EXPECT_EQ(r.message, s.msg);
        EXPECT_NE(r.flags & parse_flag::json_valid, 0);
    }
}

TEST(Json, MalformedClasses) {
    json_field_map fields;
    const auto x_owner = json_extractor::create(fields, 65536).value();
    json_extractor& x = *x_owner;
    const std::vector<std::pair<std::string, json_status>> cases = {
        {"[1,2]", json_status::not_object},
        {"\"str\"", json_status::not_object},
        {"", json_status::not_object},
        {"   ", json_status::not_object},
        {"{\"msg\":\"\xff\"}", json_status::bad_utf8},
        {"{\"msg\":\"x\"", json_status::invalid},
        {"{\"msg\" \"x\"}", json_status::invalid},
        {"{\"a\":tru}", json_status::invalid},
        {"{\"a\":[1,nul]}", json_status::invalid},
        {"{\"a\":\"bad \\q escape\"}", json_status::invalid},
        {"{\"msg\":\"x\"} {\"msg\":\"y\"}", json_status::trailing},
        {"{\"msg\":\"x\"} garbage", json_status::invalid}, // not even a token
    };
    for (const auto& [line, want] : cases) {
        SCOPED_TRACE(line);
        log_record r;
        EXPECT_EQ(parse(x, line, r), want);
    }
}

TEST(Json, DeepNestingIsRefusedNotFollowed) {
    // Fuzz finding: 1,100 nested arrays under a key made the validating walk recurse past
    // simdjson's depth limit. Beyond 64 levels a document is invalid; without validation the
    // deep value is skipped.
    json_field_map fields;
    const auto x_owner = json_extractor::create(fields, 65536).value();
    json_extractor& x = *x_owner;
    const std::string deep =
        "{\"msg\":\"m\",\"a\":" + std::string(1100, '[') + std::string(1100, ']') + "}";
    log_record r;
    EXPECT_EQ(parse(x, deep, r, true), json_status::invalid);
    const std::string ok63 = "{\"a\":" + std::string(63, '[') + std::string(63, ']') + "}";
    EXPECT_EQ(parse(x, ok63, r, true), json_status::ok);
    EXPECT_EQ(parse(x, std::string_view(deep), r, false),
              parse(x, std::string_view(deep), r, false));
}

TEST(Json, WithoutValidationSkippedValuesAreNotChecked) {
    json_field_map fields;
    const auto x_owner = json_extractor::create(fields, 65536).value();
    json_extractor& x = *x_owner;
    log_record r;
    // The extraction-only path (no encoder embeds the object) does not walk unused values...
    ASSERT_EQ(parse(x, R"({"msg":"ok","a":[tru]})", r, false), json_status::ok);
    EXPECT_EQ(r.message, "ok");
    EXPECT_EQ(r.flags & parse_flag::json_valid, 0);
    // ...and the validating path refuses the same line.
    EXPECT_EQ(parse(x, R"({"msg":"ok","a":[tru]})", r, true), json_status::invalid);
}

TEST(Json, FieldSpec) {
    json_field_map fields;
    EXPECT_TRUE(fields.apply("msg=text|body,sev=prio,host=node").ok());
    const auto x_owner = json_extractor::create(fields, 65536).value();
    json_extractor& x = *x_owner;
    log_record r;
    ASSERT_EQ(
        parse(
            x,
            R"({"message":"ignored now","body":"b","text":"t","prio":"crit","node":"n1","host":"h"})",
            r),
        json_status::ok);
    EXPECT_EQ(r.message, "t");
    EXPECT_EQ(r.severity, 2);
    EXPECT_EQ(r.hostname, "n1");
    // Bad specs leave the map as it was.
    json_field_map f2;
    EXPECT_FALSE(f2.apply("nope=x").ok());
    EXPECT_FALSE(f2.apply("msg").ok());
    EXPECT_FALSE(f2.apply("msg=").ok());
    EXPECT_FALSE(f2.apply("msg=a,msg=b").ok());
    EXPECT_FALSE(f2.apply("msg=a|b|c|d|e|f|g|h|i").ok());
    EXPECT_FALSE(f2.apply("msg=a\"b").ok());
    EXPECT_NE(f2.find("message"), nullptr);
}

TEST(Json, SeverityAndEpochMapping) {
    EXPECT_EQ(severity_from_name("EMERG"), 0);
    EXPECT_EQ(severity_from_name("Warning"), 4);
    EXPECT_EQ(severity_from_name("informational"), 6);
    EXPECT_EQ(severity_from_name("trace"), 7);
    EXPECT_EQ(severity_from_name("loud"), -1);
    EXPECT_EQ(severity_from_number(0), 0);
    EXPECT_EQ(severity_from_number(7), 7);
    EXPECT_EQ(severity_from_number(8), -1);
    EXPECT_EQ(severity_from_number(10), 7);
    EXPECT_EQ(severity_from_number(40), 4);
    EXPECT_EQ(severity_from_number(60), 2);
    EXPECT_EQ(severity_from_number(-1), -1);
    int64_t ns = 0;
    ASSERT_TRUE(epoch_to_ns(1709287200.0, ns));
    EXPECT_EQ(ns, mar1_10h);
    ASSERT_TRUE(epoch_to_ns(1709287200123.0, ns));
    EXPECT_EQ(ns, mar1_10h + 123000000);
    ASSERT_TRUE(epoch_to_ns(1709287200123456.0, ns));
    EXPECT_EQ(ns / 1000, (mar1_10h + 123456000) / 1000);
    EXPECT_FALSE(epoch_to_ns(-1, ns));
    EXPECT_FALSE(epoch_to_ns(1e300, ns));
}

// Epoch numbers are read from their decimal digits, exactly: GELF's "timestamp" is seconds with
// decimals for the milliseconds, and 1709287200.123 as a double is 1709287200.1229999 (it came
// out as .122999906). The magnitude rule is unchanged; exponents fall back to the double.
TEST(Json, EpochDecimalsAreExact) {
    json_field_map fields;
    const auto x_owner = json_extractor::create(fields, 4096).value();
    json_extractor& x = *x_owner;
    const std::pair<const char*, int64_t> cases[] = {
        {"1709287200.123", mar1_10h + 123'000'000},
        {"1709287200.001", mar1_10h + 1'000'000},
        {"1709287200.999", mar1_10h + 999'000'000},
        {"1709287200.123456789", mar1_10h + 123'456'789},
        {"1709287200.1234567895", mar1_10h + 123'456'790}, // rounded to the nanosecond
        {"1709287200", mar1_10h},
        {"1709287200123.25", mar1_10h + 123'250'000},    // milliseconds
        {"1709287200123456.5", mar1_10h + 123'456'500},  // microseconds
        {"1709287200123456789", mar1_10h + 123'456'789}, // nanoseconds
        {"1.7092872e9", mar1_10h},                       // exponent: via the double
    };
    for (const auto& [num, ns] : cases) {
        log_record r;
        const std::string line = std::string(R"({"msg":"m","time":)") + num + "}";
        ASSERT_EQ(parse(x, line, r), json_status::ok) << line;
        EXPECT_TRUE(r.has_timestamp) << line;
        EXPECT_EQ(r.timestamp_ns, ns) << line;
    }
    for (const char* num : {"-1.5", "99999999999999999999", "9300000000000000000"}) {
        log_record r;
        const std::string line = std::string(R"({"msg":"m","time":)") + num + "}";
        ASSERT_EQ(parse(x, line, r), json_status::ok) << line;
        EXPECT_FALSE(r.has_timestamp) << line;
    }
}

// Fuzz finding (fuzz_ndjson, once the parsers were instrumented): a 67-digit integer under a
// time key was accepted (read through a double) and embedded in "log", while the same number
// under any other key made the document invalid (simdjson's number parser refuses integers
// beyond 64 bits and doubles beyond range). RFC 8259 limits neither: the validator checks the
// number grammar, every valid number is accepted wherever it is, and a time or level that no
// double holds is simply not used (docs/formats.md#numbers).
TEST(Json, BigNumbersAreValidJsonWhereverTheyAre) {
    json_field_map fields;
    const auto x_owner = json_extractor::create(fields, 4096).value();
    json_extractor& x = *x_owner;
    const std::string big67(67, '4');
    for (const std::string& num : std::vector<std::string>{
             "1" + big67.substr(1), "-" + big67, "18446744073709551616", "-9223372036854775809",
             "1e400", "-1.5E+999", "1e-400", "123456789012345678901234567890.5", "-0", "0.0e0"}) {
        for (const char* key : {"time", "level", "pid", "other"}) {
            SCOPED_TRACE(std::string(key) + "=" + num);
            log_record r;
            const std::string line =
                std::string(R"({"msg":"m",")") + key + "\":" + num + R"(,"a":[)" + num + "]}";
            ASSERT_EQ(parse(x, line, r, true), json_status::ok);
            EXPECT_NE(r.flags & parse_flag::json_valid, 0);
            EXPECT_EQ(r.message, "m");
            ASSERT_EQ(parse(x, line, r, false), json_status::ok);
        }
    }
    log_record r;
    ASSERT_EQ(parse(x, R"({"time":1)" + big67.substr(1) + R"(,"level":1e400})", r),
              json_status::ok);
    EXPECT_FALSE(r.has_timestamp);
    EXPECT_EQ(r.timestamp_text, "1" + big67.substr(1)); // as written
    EXPECT_EQ(r.severity, -1);
    ASSERT_EQ(parse(x, R"({"pid":1e400})", r), json_status::ok);
    EXPECT_EQ(r.procid, "1e400");
}

// The grammar is still checked, for every number (validated) and for the ones read (always).
TEST(Json, NumberGrammar) {
    json_field_map fields;
    const auto x_owner = json_extractor::create(fields, 4096).value();
    json_extractor& x = *x_owner;
    for (const char* num : {"01", "-", "1.", ".5", "1e", "1e+", "+1", "0x10", "1.2.3", "--1",
                            "1e5e5", "Infinity", "NaN", "-01", "00"}) {
        for (const char* key : {"time", "level", "other"}) {
            SCOPED_TRACE(std::string(key) + "=" + num);
            log_record r;
            const std::string line = std::string(R"({"msg":"m",")") + key + "\":" + num + "}";
            EXPECT_NE(parse(x, line, r, true), json_status::ok);
            if (std::string_view(key) != "other") {
                EXPECT_NE(parse(x, line, r, false), json_status::ok);
            }
        }
    }
}

// Repeated keys (RFC 8259: names SHOULD be unique; zap, for one, writes repeated fields): the
// validating parse lists every key that repeats an earlier one of its object, and the name it
// is to be written as (KEY#N, the smallest N >= 2 the object does not hold yet).
TEST(Json, RepeatedKeysAreListedWithTheirNewNames) {
    json_field_map fields;
    const auto x_owner = json_extractor::create(fields, 4096).value();
    json_extractor& x = *x_owner;
    const std::string line =
        R"({"a":1,"a":2,"\u0061":3,"a#2":4,"n":{"x":1,"x":[{"x":0,"x":0}]},"a":5,"msg":"m"})";
    log_record r;
    ASSERT_EQ(parse(x, line, r, true), json_status::ok);
    std::vector<std::pair<std::string, uint32_t>> got;
    const char* base = r.message.data() - line.find(R"("m"})") - 1;
    for (uint32_t i = 0; i < r.n_renames; ++i) {
        const std::string_view before(base, r.renames[i].at);
        got.emplace_back(std::string(before.substr(before.rfind('"') + 1)), r.renames[i].suffix);
    }
    const std::vector<std::pair<std::string, uint32_t>> want = {
        {"a", 2}, {"\\u0061", 3}, {"a#2", 2}, {"x", 2}, {"x", 2}, {"a", 4}};
    EXPECT_EQ(got, want);
    // Not validated: not looked for.
    ASSERT_EQ(parse(x, line, r, false), json_status::ok);
    EXPECT_EQ(r.n_renames, 0u);
}

TEST(Json, EveryTruncationIsDefined) {
    json_field_map fields;
    const auto x_owner = json_extractor::create(fields, 65536).value();
    json_extractor& x = *x_owner;
    for (const sample& s : samples) {
        for (std::size_t n = 0; n < s.line.size(); ++n) {
            log_record r;
            const json_status st = parse(x, std::string_view(s.line).substr(0, n), r);
            EXPECT_LT(static_cast<int>(st), static_cast<int>(json_status::count_));
            if (st == json_status::ok) { // only a prefix that is itself a whole object
                EXPECT_EQ(std::string_view(s.line).substr(0, n).find_last_not_of(" \t\r\n"),
                          std::string_view(s.line).substr(0, n).rfind('}'));
            }
        }
    }
}

} // namespace
