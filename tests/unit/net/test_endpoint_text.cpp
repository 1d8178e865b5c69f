// SPDX-License-Identifier: BSD-3-Clause
// endpoint_text() against the text inet_ntop() and snprintf() give ("a.b.c.d:PORT",
// "[v6]:PORT"): every value of every IPv4 octet, port extremes, IPv6 with and without zero runs
// and with an embedded IPv4 address.
#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "net/endpoint_text.hpp"

namespace {

std::string reference(const uint8_t* addr, bool v4, uint16_t port) {
    char a[INET6_ADDRSTRLEN];
    EXPECT_NE(inet_ntop(v4 ? AF_INET : AF_INET6, addr, a, sizeof a), nullptr);
    char buf[80];
    const int n = std::snprintf(buf, sizeof buf, v4 ? "%s:%u" : "[%s]:%u", a, unsigned{port});
    return std::string(buf, static_cast<std::size_t>(n));
}

std::string text(const uint8_t* addr, bool v4, uint16_t port) {
    char buf[logagg::net::endpoint_text_max + 8];
    std::memset(buf, 'x', sizeof buf);
    const std::size_t n = logagg::net::endpoint_text(addr, v4, port, buf);
    EXPECT_LE(n, logagg::net::endpoint_text_max);
    return std::string(buf, n);
}

TEST(EndpointText, EveryIpv4OctetValueInEveryPosition) {
    for (int pos = 0; pos < 4; ++pos) {
        for (int v = 0; v < 256; ++v) {
            uint8_t a[4] = {198, 18, 0, 7};
            a[pos] = static_cast<uint8_t>(v);
            for (const uint16_t port : {uint16_t{0}, uint16_t{9}, uint16_t{514}, uint16_t{65535}}) {
                ASSERT_EQ(text(a, true, port), reference(a, true, port)) << pos << " " << v;
            }
        }
    }
}

TEST(EndpointText, LongestIpv4) {
    const uint8_t a[4] = {255, 255, 255, 255};
    EXPECT_EQ(text(a, true, 65535), "255.255.255.255:65535");
}

TEST(EndpointText, Ipv6AsInetNtopWritesIt) {
    const uint8_t samples[][16] = {
        {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
        {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
        {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 7}, // IPv4-mapped
        {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55},
        {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
         0xff},
    };
    for (const auto& a : samples) {
        for (const uint16_t port : {uint16_t{0}, uint16_t{40000}, uint16_t{65535}}) {
            EXPECT_EQ(text(a, false, port), reference(a, false, port));
        }
    }
}

} // namespace
