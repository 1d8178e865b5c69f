// SPDX-License-Identifier: BSD-3-Clause
// Real-world corpus (tests/data/realworld.jsonl): lines as Linux hosts (rsyslog, journald,
// sshd, sudo, cron, kernel, postfix), network devices (Cisco IOS/NX-OS/ASA/FTD, Junos), proxies
// (nginx, HAProxy) and JSON loggers (Docker/Kubernetes, Bunyan, pino, logrus, zap, ECS, Serilog)
// send them, each with the record expected from reading it. Each line is read with simdjson's
// DOM; detect_format() must give its "format", and the matching parser must give every expected
// field (a key left out means the field is absent). The path comes from the build
// (LOGAGG_REALWORLD_JSONL), so the test runs from any directory.
//
// JSON string fields stay JSON-escaped in the record, exactly as received: the expected text of
// a JSON line's fields is the raw escaped text ("\n" as a backslash and an "n").
#include <gtest/gtest.h>

#include <simdjson.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "log/detect.hpp"
#include "log/json.hpp"
#include "log/rfc3164.hpp"
#include "log/rfc5424.hpp"

namespace {

using namespace logagg::log;

/// The receive time given to parse_rfc3164 (years of stamps without one): 2023-10-12T00:00:00Z.
constexpr int64_t now_ns = 1697068800LL * 1'000'000'000;

[[nodiscard]] std::string_view format_name(input_format f) {
    switch (f) {
    case input_format::raw:
        return "raw";
    case input_format::rfc5424:
        return "rfc5424";
    case input_format::rfc3164:
        return "rfc3164";
    case input_format::json:
        return "json";
    case input_format::gelf:
        return "gelf";
    }
    return "?";
}

/// Reports "realworld.jsonl:N: FIELD: got ..., want ..." on a mismatch.
struct line_checker {
    std::size_t n;
    std::string_view line;

    void fail(std::string_view field, std::string_view got, std::string_view want) const {
        ADD_FAILURE() << "realworld.jsonl:" << n << ": " << field << ": got '" << got << "', want '"
                      << want << "'\n  line: " << line;
    }
    void str(simdjson::dom::object e, const char* key, std::string_view got) const {
        std::string_view want;
        if (e[key].get(want) != simdjson::SUCCESS) {
            want = {}; // absent
        }
        if (got != want) {
            fail(key, got, want);
        }
    }
    void num(simdjson::dom::object e, const char* key, int got) const {
        int64_t want = -1;
        if (e[key].get(want) != simdjson::SUCCESS) {
            want = -1;
        }
        if (got != want) {
            fail(key, std::to_string(got), std::to_string(want));
        }
    }
    void ts(simdjson::dom::object e, const log_record& r) const {
        std::string_view want;
        if (e["ts"].get(want) != simdjson::SUCCESS) { // absent or null
            if (r.has_timestamp) {
                fail("ts", std::to_string(r.timestamp_ns), "none");
            }
            return;
        }
        int64_t want_ns = 0;
        if (!parse_rfc3339(want, want_ns, 9)) {
            fail("ts", "", std::string(want) + " (not RFC 3339 in the corpus)");
            return;
        }
        if (!r.has_timestamp || r.timestamp_ns != want_ns) {
            fail("ts", r.has_timestamp ? std::to_string(r.timestamp_ns) : "none",
                 std::to_string(want_ns) + " (" + std::string(want) + ")");
        }
    }
};

[[nodiscard]] bool inside(std::string_view in, std::string_view v) {
    return v.empty() || (v.data() >= in.data() && v.data() + v.size() <= in.data() + in.size());
}

TEST(RealWorld, EveryLineDetectsAndParsesAsExpected) {
    std::ifstream file(LOGAGG_REALWORLD_JSONL);
    ASSERT_TRUE(file) << "cannot open " << LOGAGG_REALWORLD_JSONL;
    const json_field_map fields;
    const auto extractor_owner = json_extractor::create(fields, 1 << 16).value();
    json_extractor& extractor = *extractor_owner;
    simdjson::dom::parser dom;
    std::string text;
    std::size_t n = 0;
    std::size_t per_format[3] = {};
    while (std::getline(file, text)) {
        ++n;
        simdjson::dom::object entry;
        ASSERT_EQ(dom.parse(text).get(entry), simdjson::SUCCESS) << "realworld.jsonl:" << n;
        std::string_view line_view;
        std::string_view format;
        simdjson::dom::object expect;
        ASSERT_EQ(entry["line"].get(line_view), simdjson::SUCCESS) << "realworld.jsonl:" << n;
        ASSERT_EQ(entry["format"].get(format), simdjson::SUCCESS) << "realworld.jsonl:" << n;
        ASSERT_EQ(entry["expect"].get(expect), simdjson::SUCCESS) << "realworld.jsonl:" << n;
        const std::string line(line_view); // the DOM's views die with the next parse
        const line_checker c{n, line};

        const input_format detected = detect_format(line);
        if (format_name(detected) != format) {
            c.fail("format (detect_format)", format_name(detected), format);
            continue;
        }
        log_record r;
        // JSON is parsed from a copy with simdjson's padding behind it; views point there.
        std::vector<char> padded(line.size() + json_padding, ' ');
        std::copy(line.begin(), line.end(), padded.begin());
        std::string_view input = line;
        bool ok = false;
        if (format == "rfc3164") {
            ++per_format[0];
            const rfc3164_status s = parse_rfc3164(line, now_ns, r);
            ok = s == rfc3164_status::ok;
            if (!ok) {
                c.fail("status", rfc3164_status_names[static_cast<std::size_t>(s)], "ok");
            }
        } else if (format == "rfc5424") {
            ++per_format[1];
            const rfc5424_status s = parse_rfc5424(line, r);
            ok = s == rfc5424_status::ok;
            if (!ok) {
                c.fail("status", rfc5424_status_names[static_cast<std::size_t>(s)], "ok");
            }
        } else {
            ++per_format[2];
            input = std::string_view(padded.data(), line.size());
            const json_status s =
                extractor.parse(padded.data(), line.size(), padded.size(), true, r);
            ok = s == json_status::ok;
            if (!ok) {
                c.fail("status", json_status_names[static_cast<std::size_t>(s)], "ok");
            }
        }
        if (!ok) {
            continue;
        }
        EXPECT_EQ(r.format, detected) << "realworld.jsonl:" << n;
        c.num(expect, "severity", r.severity);
        c.num(expect, "facility", r.facility);
        c.str(expect, "host", r.hostname);
        c.str(expect, "app", r.app_name);
        c.str(expect, "procid", r.procid);
        c.str(expect, "msgid", r.msgid);
        c.str(expect, "message", r.message);
        c.str(expect, "sd", r.structured_data);
        c.ts(expect, r);
        for (std::string_view v : {r.timestamp_text, r.hostname, r.app_name, r.procid, r.msgid,
                                   r.structured_data, r.message}) {
            EXPECT_TRUE(inside(input, v)) << "realworld.jsonl:" << n << ": a view outside the line";
        }
    }
    EXPECT_GE(n, 70u) << "the corpus should keep at least 70 lines";
    EXPECT_GT(per_format[0], 0u);
    EXPECT_GT(per_format[1], 0u);
    EXPECT_GT(per_format[2], 0u);
}

} // namespace
