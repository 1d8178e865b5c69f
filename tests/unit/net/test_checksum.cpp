// SPDX-License-Identifier: BSD-3-Clause
// raw_sum() (eight bytes at a time) against DPDK's rte_raw_cksum() (16-bit words one by one):
// every length up to 600 bytes at every start offset modulo 8, random and all-0xff bytes (the
// most carries), long buffers, all zeros (0, not 0xffff), and sums that fold to 0xffff.
#include <gtest/gtest.h>

#include <rte_ip.h>

#include <cstdint>
#include <random>
#include <vector>

#include "net/checksum.hpp"

namespace {

using logagg::net::raw_sum;

TEST(RawSum, MatchesRteRawCksumForEveryLengthAndOffset) {
    std::mt19937 rng(42);
    std::vector<uint8_t> buf(600 + 8);
    for (auto& b : buf) {
        b = static_cast<uint8_t>(rng());
    }
    for (std::size_t off = 0; off < 8; ++off) {
        for (std::size_t len = 0; len + off <= buf.size() && len <= 600; ++len) {
            ASSERT_EQ(raw_sum(buf.data() + off, len), rte_raw_cksum(buf.data() + off, len))
                << off << " " << len;
        }
    }
}

TEST(RawSum, MostCarries) {
    std::vector<uint8_t> ones(65535, 0xff);
    for (const std::size_t len : {1u, 2u, 7u, 8u, 9u, 31u, 32u, 33u, 1473u, 9000u, 65535u}) {
        EXPECT_EQ(raw_sum(ones.data(), len), rte_raw_cksum(ones.data(), len)) << len;
    }
}

TEST(RawSum, ZeroesSumToZeroAndComplementsToFfff) {
    const std::vector<uint8_t> zeros(100, 0);
    EXPECT_EQ(raw_sum(zeros.data(), zeros.size()), 0u);
    EXPECT_EQ(raw_sum(zeros.data(), 0), 0u);
    // A word and its complement: the sum folds to 0xffff, as rte_raw_cksum() says.
    const uint8_t pair[4] = {0x12, 0x34, 0xed, 0xcb};
    EXPECT_EQ(raw_sum(pair, 4), rte_raw_cksum(pair, 4));
    EXPECT_EQ(raw_sum(pair, 4), 0xffffu);
}

} // namespace
