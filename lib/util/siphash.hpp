// SPDX-License-Identifier: BSD-3-Clause
// Side: any (header-only, pure).
//
// SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012): a keyed hash
// whose output an attacker cannot predict or forge without the 128-bit key. Used where senders
// choose the input and must not be able to guess the output (TCP SYN cookies); for hash table
// placement a cheaper seeded mix is enough.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace logagg::util {

/// A 128-bit SipHash key (k0: bytes 0-7, k1: bytes 8-15, little-endian as in the reference).
struct siphash_key {
    uint64_t k0 = 0;
    uint64_t k1 = 0;
};

namespace detail {
[[nodiscard]] constexpr uint64_t rotl64(uint64_t x, unsigned b) noexcept {
    return (x << b) | (x >> (64 - b));
}
constexpr void sipround(uint64_t& v0, uint64_t& v1, uint64_t& v2, uint64_t& v3) noexcept {
    v0 += v1;
    v1 = rotl64(v1, 13);
    v1 ^= v0;
    v0 = rotl64(v0, 32);
    v2 += v3;
    v3 = rotl64(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = rotl64(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = rotl64(v1, 17);
    v1 ^= v2;
    v2 = rotl64(v2, 32);
}
[[nodiscard]] inline uint64_t load_le64(const uint8_t* p) noexcept {
    uint64_t v = 0;
    for (unsigned i = 0; i < 8; ++i) {
        v |= uint64_t{p[i]} << (8 * i);
    }
    return v;
}
} // namespace detail

/// SipHash-2-4 of @p len bytes at @p data under key @p k (the reference algorithm, byte order
/// independent of the host).
[[nodiscard]] inline uint64_t siphash24(const siphash_key& k, const void* data,
                                        std::size_t len) noexcept {
    uint64_t v0 = 0x736f6d6570736575ULL ^ k.k0;
    uint64_t v1 = 0x646f72616e646f6dULL ^ k.k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k.k0;
    uint64_t v3 = 0x7465646279746573ULL ^ k.k1;
    const auto* p = static_cast<const uint8_t*>(data);
    const std::size_t full = len - len % 8;
    for (std::size_t i = 0; i < full; i += 8) {
        const uint64_t m = detail::load_le64(p + i);
        v3 ^= m;
        detail::sipround(v0, v1, v2, v3);
        detail::sipround(v0, v1, v2, v3);
        v0 ^= m;
    }
    uint64_t b = uint64_t{len & 0xff} << 56;
    for (std::size_t i = 0; i < len % 8; ++i) {
        b |= uint64_t{p[full + i]} << (8 * i);
    }
    v3 ^= b;
    detail::sipround(v0, v1, v2, v3);
    detail::sipround(v0, v1, v2, v3);
    v0 ^= b;
    v2 ^= 0xff;
    for (int i = 0; i < 4; ++i) {
        detail::sipround(v0, v1, v2, v3);
    }
    return v0 ^ v1 ^ v2 ^ v3;
}

} // namespace logagg::util
