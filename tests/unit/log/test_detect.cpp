// SPDX-License-Identifier: BSD-3-Clause
// detect_format(): the rules the worker's auto mode used (json after blanks, the RFC 5424
// "<PRI>VERSION SP" shape, everything else rfc3164; Cisco message counters are not VERSIONs) and
// the GELF extension (chunk magic, gzip, zlib without a preset dictionary).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "log/detect.hpp"

namespace {

using logagg::log::detect_format;
using logagg::log::input_format;

TEST(Detect, Json) {
    EXPECT_EQ(detect_format("{}"), input_format::json);
    EXPECT_EQ(detect_format(R"({"msg":"x"})"), input_format::json);
    EXPECT_EQ(detect_format(" \t {\"msg\":\"x\"}"), input_format::json);
    // Only SP and TAB are blanks; "[" is not an object.
    EXPECT_EQ(detect_format("\n{}"), input_format::rfc3164);
    EXPECT_EQ(detect_format("[1]"), input_format::rfc3164);
}

TEST(Detect, Rfc5424) {
    for (const char* m : {"<34>1 2003-10-11T22:14:15.003Z h a - - - x", "<0>1 - - - - - -",
                          "<191>1 -", "<1>12 x", "<999>9 x", "<34>100 x"}) {
        EXPECT_EQ(detect_format(m), input_format::rfc5424) << m;
    }
}

TEST(Detect, Rfc3164IsTheRest) {
    for (const char* m :
         {"", "x", "<34>Oct 11 22:14:15 h su: x", "<34>", "<34>1", "<34>0 x", "<34>1x", "<>1 x",
          "<1234>1 x", " <34>1 x", "<a>1 x", "Use the BFG!", "x ", "Hj", "\x1e", "\x1f",
          // Cisco IOS message counters (the worker's former rule took these for rfc5424), a
          // 4-digit VERSION, a VERSION not followed by SP.
          "<189>1234: *Mar  1 18:46:11.123: %SYS-5-CONFIG_I: x", "<189>52: router1: x",
          "<189>12: x", "<34>1000 x", "<34>10", "<34>1-"}) {
        EXPECT_EQ(detect_format(m), input_format::rfc3164) << m;
    }
}

TEST(Detect, Gelf) {
    const std::vector<std::string> gelf = {
        std::string("\x1e\x0f") + std::string(10, '\0'), // chunk header
        "\x1f\x8b\x08",                                  // gzip
        "\x78\x9c",                                      // zlib, default level
        "\x78\x01",                                      // zlib, fastest
        "\x78\xda",                                      // zlib, best
        "\x78\x5e", // zlib, level 2-5: text starting "x^" is taken for it too
    };
    for (const std::string& m : gelf) {
        EXPECT_EQ(detect_format(m), input_format::gelf) << static_cast<int>(m[1]);
    }
    // A zlib header with FDICT set (0x78 0xbb) is not GELF; nor is half a magic.
    EXPECT_EQ(detect_format("\x78\xbb"), input_format::rfc3164);
    EXPECT_EQ(detect_format(std::string("\x1e\x0e", 2)), input_format::rfc3164);
}

} // namespace
