// SPDX-License-Identifier: BSD-3-Clause
// frame_payload(): datagram, octet-counting (RFC 6587 3.4.1), auto and --max-msg handling, over
// payloads split into pieces at every position.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "log/framing.hpp"

namespace {

using logagg::log::frame_payload;
using logagg::log::frame_result;
using logagg::log::framing_mode;
using logagg::log::framing_options;
using logagg::log::piece;

struct outcome {
    std::vector<std::string> messages;
    std::vector<bool> truncated;
    frame_result res;
};

/// Frames @p payload (at packet offset 100) cut into pieces at @p cuts.
outcome run(const std::string& payload, const framing_options& opts,
            std::vector<uint32_t> cuts = {}) {
    std::vector<piece> pieces;
    uint32_t prev = 0;
    cuts.push_back(static_cast<uint32_t>(payload.size()));
    for (uint32_t c : cuts) {
        if (c > prev || payload.empty()) {
            pieces.push_back(piece{payload.data() + prev, 100 + prev, c - prev});
        }
        prev = c;
    }
    outcome o;
    o.res = frame_payload(std::span<const piece>(pieces), opts,
                          [&](uint32_t off, uint32_t len, bool, bool truncated) noexcept {
                              o.messages.push_back(payload.substr(off - 100, len));
                              o.truncated.push_back(truncated);
                          });
    return o;
}

framing_options mode(framing_mode m, uint32_t max = 65536, bool drop = false) {
    framing_options o;
    o.mode = m;
    o.max_msg = max;
    o.drop_oversize = drop;
    return o;
}

/// Every 2-piece split of @p payload gives the same outcome as the whole.
void expect_split_invariant(const std::string& payload, const framing_options& opts) {
    const outcome whole = run(payload, opts);
    for (uint32_t cut = 1; cut < payload.size(); ++cut) {
        const outcome split = run(payload, opts, {cut});
        EXPECT_EQ(split.messages, whole.messages) << "cut at " << cut;
        EXPECT_EQ(split.res.empty, whole.res.empty) << "cut at " << cut;
        EXPECT_EQ(split.res.framing_errors, whole.res.framing_errors) << "cut at " << cut;
    }
}

TEST(FramePayload, DatagramModeKeepsEmbeddedLinesAndStripsTheEnd) {
    const outcome o = run("first\nsecond\r\n\0\0", mode(framing_mode::datagram));
    ASSERT_EQ(o.messages, (std::vector<std::string>{"first\nsecond"}));
    EXPECT_EQ(o.res.messages, 1u);
    EXPECT_EQ(run("\r\n", mode(framing_mode::datagram)).res.empty, 1u);
    EXPECT_EQ(run("", mode(framing_mode::datagram)).res.empty, 1u);
    expect_split_invariant(std::string("first\nsecond\r\n\0", 16), mode(framing_mode::datagram));
}

TEST(FramePayload, OctetCountingFramesBackToBack) {
    const outcome o = run("5 hello11 hello world3 abc", mode(framing_mode::octet));
    EXPECT_EQ(o.messages, (std::vector<std::string>{"hello", "hello world", "abc"}));
    EXPECT_EQ(o.res.framing_errors, 0u);
    expect_split_invariant("5 hello11 hello world3 abc", mode(framing_mode::octet));
}

TEST(FramePayload, OctetCountingToleratesLineEndsBetweenFramesAndStripsThemInside) {
    const outcome o = run("6 hello\n\r\n4 abc\n", mode(framing_mode::octet));
    EXPECT_EQ(o.messages, (std::vector<std::string>{"hello", "abc"}));
    EXPECT_EQ(o.res.framing_errors, 0u);
}

TEST(FramePayload, OctetCountingErrorsStopTheDatagram) {
    struct tc {
        const char* payload;
        std::vector<std::string> before;
    };
    const tc cases[] = {
        {"5 hello6 abc", {"hello"}},  // frame longer than what is left
        {"05 hello", {}},             // leading zero (RFC 6587: NONZERO-DIGIT)
        {"x5 hello", {}},             // not a digit
        {"5hello", {}},               // no SP
        {"5 hello 3 abc", {"hello"}}, // SP where a length should start
        {"1234567890 a", {}},         // more than nine digits
        {"12", {}},                   // digits and nothing else
    };
    for (const tc& t : cases) {
        const outcome o = run(t.payload, mode(framing_mode::octet));
        EXPECT_EQ(o.messages, t.before) << t.payload;
        EXPECT_EQ(o.res.framing_errors, 1u) << t.payload;
        expect_split_invariant(t.payload, mode(framing_mode::octet));
    }
}

TEST(FramePayload, AutoDetectsOctetCountingOnlyWhenTheFirstFrameIsValid) {
    EXPECT_EQ(run("5 hello", mode(framing_mode::auto_detect)).messages,
              (std::vector<std::string>{"hello"}));
    // Syslog starts with '<': lines.
    EXPECT_EQ(run("<13>a\n<13>b", mode(framing_mode::auto_detect)).messages,
              (std::vector<std::string>{"<13>a", "<13>b"}));
    // Digits but a length beyond the datagram: lines, not an error.
    const outcome o = run("99 bottles\nof beer", mode(framing_mode::auto_detect));
    EXPECT_EQ(o.messages, (std::vector<std::string>{"99 bottles", "of beer"}));
    EXPECT_EQ(o.res.framing_errors, 0u);
}

TEST(FramePayload, OversizeMessagesAreTruncatedAndFlaggedOrDropped) {
    const std::string big(40, 'x');
    const outcome t = run("ok\n" + big + "\nend", mode(framing_mode::lf, 16));
    ASSERT_EQ(t.messages, (std::vector<std::string>{"ok", std::string(16, 'x'), "end"}));
    EXPECT_EQ(t.truncated, (std::vector<bool>{false, true, false}));
    EXPECT_EQ(t.res.truncated, 1u);
    EXPECT_EQ(t.res.messages, 3u);
    const outcome d = run("ok\n" + big + "\nend", mode(framing_mode::lf, 16, true));
    EXPECT_EQ(d.messages, (std::vector<std::string>{"ok", "end"}));
    EXPECT_EQ(d.res.oversize_dropped, 1u);
    EXPECT_EQ(d.res.messages, 2u);
    // Exactly max_msg is not oversize.
    EXPECT_EQ(run(std::string(16, 'y'), mode(framing_mode::datagram, 16)).res.truncated, 0u);
    EXPECT_EQ(run("20 " + std::string(20, 'z'), mode(framing_mode::octet, 16)).res.truncated, 1u);
}

TEST(FramePayload, LfModeMatchesSplitLines) {
    const std::string p("a\r\n\nb\0\nc", 8);
    const outcome o = run(p, mode(framing_mode::lf));
    EXPECT_EQ(o.messages, (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(o.res.empty, 1u);
    expect_split_invariant(p, mode(framing_mode::lf));
}

} // namespace
