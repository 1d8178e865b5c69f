// SPDX-License-Identifier: BSD-3-Clause
// Side: any (header-only, pure, no allocation): UTF-8 as RFC 3629 defines it, shared by the
// RFC 5424 parser (MSG after a BOM) and the encoders (what becomes U+FFFD).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace logagg::util {

/// Length of the valid UTF-8 sequence at s[i] (i < s.size()), or 0 (RFC 3629: no overlongs, no
/// surrogates, nothing above U+10FFFF, no sequence cut by the end of @p s).
[[nodiscard]] inline std::size_t utf8_len(std::string_view s, std::size_t i) noexcept {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
    const unsigned char c = b(0);
    const std::size_t left = s.size() - i;
    auto cont = [&](std::size_t k) { return k < left && (b(k) & 0xC0) == 0x80; };
    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        return cont(1) ? 2 : 0;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (!cont(1) || !cont(2)) {
            return 0;
        }
        if ((c == 0xE0 && b(1) < 0xA0) || (c == 0xED && b(1) > 0x9F)) {
            return 0; // overlong, surrogate
        }
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (!cont(1) || !cont(2) || !cont(3)) {
            return 0;
        }
        if ((c == 0xF0 && b(1) < 0x90) || (c == 0xF4 && b(1) > 0x8F)) {
            return 0; // overlong, above U+10FFFF
        }
        return 4;
    }
    return 0;
}

/// Are all @p n bytes at @p p ASCII (below 0x80)? Never reads outside them: 16 bytes at a time
/// (SSE2), the last block overlapping the one before; under 16 bytes, two overlapping loads of
/// 8, 4 or 2 bytes.
///
/// Why: the ndjson encoder asks whether each field of every record is UTF-8 (to list
/// replaced_invalid_utf8 before the fields), and nearly all are short and ASCII: a word loop
/// with a byte-by-byte tail cost about 450 instructions a message (docs/performance.md).
[[nodiscard]] inline bool all_ascii(const char* p, std::size_t n) noexcept {
    if (n >= 16) {
#if defined(__SSE2__)
        for (std::size_t i = 0; i + 16 <= n; i += 16) {
            if (_mm_movemask_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i))) != 0) {
                return false;
            }
        }
        return _mm_movemask_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + n - 16))) ==
               0;
#else
        uint64_t w = 0;
        for (std::size_t i = 0; i + 8 <= n; i += 8) {
            uint64_t x;
            std::memcpy(&x, p + i, 8);
            w |= x;
        }
        uint64_t last;
        std::memcpy(&last, p + n - 8, 8);
        return ((w | last) & 0x8080808080808080ULL) == 0;
#endif
    }
    uint64_t a = 0;
    uint64_t b = 0;
    if (n >= 8) {
        std::memcpy(&a, p, 8);
        std::memcpy(&b, p + n - 8, 8);
    } else if (n >= 4) {
        uint32_t x;
        uint32_t y;
        std::memcpy(&x, p, 4);
        std::memcpy(&y, p + n - 4, 4);
        a = x | y;
    } else if (n >= 2) {
        uint16_t x;
        uint16_t y;
        std::memcpy(&x, p, 2);
        std::memcpy(&y, p + n - 2, 2);
        a = x | y;
    } else if (n == 1) {
        a = static_cast<unsigned char>(p[0]);
    }
    return ((a | b) & 0x8080808080808080ULL) == 0;
}

/// Offset of the first byte of @p s that starts no valid UTF-8 sequence, or s.size() when all of
/// @p s is UTF-8. All-ASCII @p s is found in one pass (all_ascii()); otherwise ASCII is skipped
/// eight bytes at a time.
[[nodiscard]] inline std::size_t utf8_error_at(std::string_view s) noexcept {
    if (all_ascii(s.data(), s.size())) {
        return s.size();
    }
    std::size_t i = 0;
    while (i < s.size()) {
        if (s.size() - i >= 8) {
            uint64_t w = 0;
            std::memcpy(&w, s.data() + i, 8);
            if ((w & 0x8080808080808080ULL) == 0) {
                i += 8;
                continue;
            }
        }
        const std::size_t n = utf8_len(s, i);
        if (n == 0) {
            return i;
        }
        i += n;
    }
    return s.size();
}

/// Is all of @p s UTF-8 (RFC 3629)?
[[nodiscard]] inline bool valid_utf8(std::string_view s) noexcept {
    return utf8_error_at(s) == s.size();
}

/// Is @p s UTF-8 except, possibly, for the beginning of one character cut by its end (what
/// cutting valid UTF-8 at an arbitrary byte leaves)?
[[nodiscard]] inline bool valid_utf8_cut(std::string_view s) noexcept {
    const std::size_t bad = utf8_error_at(s);
    if (bad == s.size()) {
        return true;
    }
    // The tail must be a lead byte and fewer continuation bytes than it asks for, and a longer
    // string would have to be able to complete it: check by completing it with the smallest
    // continuation bytes the lead allows.
    const std::string_view tail = s.substr(bad);
    if (tail.size() >= 4) {
        return false;
    }
    char buf[4];
    std::memcpy(buf, tail.data(), tail.size());
    const auto lead = static_cast<unsigned char>(tail[0]);
    const std::size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
    if (tail.size() >= want) {
        return false;
    }
    for (std::size_t k = tail.size(); k < want; ++k) {
        buf[k] = static_cast<char>(0x80);
    }
    // E0 needs A0.., F0 needs 90..: the smallest valid second byte when it is missing.
    if (tail.size() == 1 && (lead == 0xE0 || lead == 0xF0)) {
        buf[1] = static_cast<char>(lead == 0xE0 ? 0xA0 : 0x90);
    }
    return utf8_len(std::string_view(buf, want), 0) == want;
}

} // namespace logagg::util
