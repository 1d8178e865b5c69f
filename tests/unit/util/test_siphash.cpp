// SPDX-License-Identifier: BSD-3-Clause
// SipHash-2-4 against the reference: the paper's worked example and the reference
// implementation's vectors for every message length 0..15 (key 00..0f, message 00..len-1).
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

} // namespace
