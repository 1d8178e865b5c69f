// SPDX-License-Identifier: BSD-3-Clause
// Side: any (header-only, pure).
//
// SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012): a keyed hash
// whose output an attacker cannot predict or forge without the 128-bit key. Used where senders
// choose the input and must not be able to guess the output: TCP SYN cookies (SipHash-2-4, the
// PRF) and the TCP connection index (SipHash-1-3, the reduced-round variant Linux's hsiphash and
// Rust's HashMap use for hash tables: flooding one bucket needs collisions an attacker cannot
// compute without the key).
#pragma once

#include <bit>
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
    if constexpr (std::endian::native == std::endian::little) {
        uint64_t v; // one load: the byte loop below is not always merged into one
        std::memcpy(&v, p, 8);
        return v;
    } else {
        uint64_t v = 0;
        for (unsigned i = 0; i < 8; ++i) {
            v |= uint64_t{p[i]} << (8 * i);
        }
        return v;
    }
}
/// The last 0-7 bytes at @p p, little-endian, zero above.
[[nodiscard]] inline uint64_t load_le_tail(const uint8_t* p, std::size_t n) noexcept {
    uint64_t v = 0;
    if constexpr (std::endian::native == std::endian::little) {
        std::memcpy(&v, p, n);
    } else {
        for (std::size_t i = 0; i < n; ++i) {
            v |= uint64_t{p[i]} << (8 * i);
        }
    }
    return v;
}
} // namespace detail

/// SipHash-c-d of @p len bytes at @p data under key @p k: @p C compression rounds per 8-byte
/// block, @p D finalization rounds (the reference algorithm, byte order independent of the host).
/// Inlined with a constant @p len, the block loop unrolls and the loads become plain loads.
template <unsigned C, unsigned D>
[[nodiscard]] inline uint64_t siphash(const siphash_key& k, const void* data,
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
        for (unsigned r = 0; r < C; ++r) {
            detail::sipround(v0, v1, v2, v3);
        }
        v0 ^= m;
    }
    const uint64_t b = uint64_t{len & 0xff} << 56 | detail::load_le_tail(p + full, len % 8);
    v3 ^= b;
    for (unsigned r = 0; r < C; ++r) {
        detail::sipround(v0, v1, v2, v3);
    }
    v0 ^= b;
    v2 ^= 0xff;
    for (unsigned r = 0; r < D; ++r) {
        detail::sipround(v0, v1, v2, v3);
    }
    return v0 ^ v1 ^ v2 ^ v3;
}

/// SipHash-2-4: the PRF of the paper (SYN cookies).
[[nodiscard]] inline uint64_t siphash24(const siphash_key& k, const void* data,
                                        std::size_t len) noexcept {
    return siphash<2, 4>(k, data, len);
}

/// SipHash-1-3: fewer rounds for hash-table placement, where the output is never shown to the
/// sender (Linux's hsiphash on 64-bit machines, Rust's default hasher).
[[nodiscard]] inline uint64_t siphash13(const siphash_key& k, const void* data,
                                        std::size_t len) noexcept {
    return siphash<1, 3>(k, data, len);
}

} // namespace logagg::util
