// SPDX-License-Identifier: BSD-3-Clause
// SipHash-2-4 against the reference: the paper's worked example and the reference
// implementation's vectors for every message length 0..15 (key 00..0f, message 00..len-1).
// SipHash-1-3 against Linux's hsiphash vectors (lib/siphash_kunit.c, 64-bit: SipHash-1-3 with
// the same key and messages, the low 32 bits kept) for lengths 0..39, which covers the 12 and
// 36 bytes the TCP connection index hashes.
#include <gtest/gtest.h>

#include <cstdint>

#include "util/siphash.hpp"

namespace {

logagg::util::siphash_key reference_key() {
    // Key bytes 00 01 .. 0f, read little-endian as in the reference.
    return {0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};
}

TEST(SipHash, PaperExample) {
    uint8_t msg[15];
    for (uint8_t i = 0; i < 15; ++i) {
        msg[i] = i;
    }
    EXPECT_EQ(logagg::util::siphash24(reference_key(), msg, sizeof msg), 0xa129ca6149be45e5ULL);
}

TEST(SipHash, ReferenceVectors) {
    // vectors.h of the reference implementation (github.com/veorq/SipHash), first 16 entries,
    // as little-endian 64-bit values.
    static constexpr uint64_t want[16] = {
        0x726fdb47dd0e0e31ULL, 0x74f839c593dc67fdULL, 0x0d6c8009d9a94f5aULL, 0x85676696d7fb7e2dULL,
        0xcf2794e0277187b7ULL, 0x18765564cd99a68dULL, 0xcbc9466e58fee3ceULL, 0xab0200f58b01d137ULL,
        0x93f5f5799a932462ULL, 0x9e0082df0ba9e4b0ULL, 0x7a5dbbc594ddb9f3ULL, 0xf4b32f46226bada7ULL,
        0x751e8fbc860ee5fbULL, 0x14ea5627c0843d90ULL, 0xf723ca908e7af2eeULL, 0xa129ca6149be45e5ULL,
    };
    uint8_t msg[16];
    for (uint8_t i = 0; i < 16; ++i) {
        msg[i] = i;
    }
    for (unsigned len = 0; len < 16; ++len) {
        EXPECT_EQ(logagg::util::siphash24(reference_key(), msg, len), want[len]) << len;
    }
}

TEST(SipHash, OneThreeVectors) {
    static constexpr uint32_t want[40] = {
        0x050fc4dcU, 0x7d57ca93U, 0x4dc7d44dU, 0xe7ddf7fbU, 0x88d38328U, 0x49533b67U, 0xc59f22a7U,
        0x9bb11140U, 0x8d299a8eU, 0x6c063de4U, 0x92ff097fU, 0xf94dc352U, 0x57b4d9a2U, 0x1229ffa7U,
        0xc0f95d34U, 0x2a519956U, 0x7d908b66U, 0x63dbd80cU, 0xb473e63eU, 0x8d297d1cU, 0xa6cce040U,
        0x2b45f844U, 0xa320872eU, 0xdae6c123U, 0x67349c8cU, 0x705b0979U, 0xca9913a5U, 0x4ade3b35U,
        0xef6cd00dU, 0x4ab1e1f4U, 0x43c5e663U, 0x8c21d1bcU, 0x16a7b60dU, 0x7a8ff9bfU, 0x1f2a753eU,
        0xbf186b91U, 0xada26206U, 0xa3c33057U, 0xae3a36a1U, 0x7b108392U,
    };
    uint8_t msg[40];
    for (uint8_t i = 0; i < 40; ++i) {
        msg[i] = i;
    }
    for (unsigned len = 0; len < 40; ++len) {
        EXPECT_EQ(static_cast<uint32_t>(logagg::util::siphash13(reference_key(), msg, len)),
                  want[len])
            << len;
    }
}

} // namespace
