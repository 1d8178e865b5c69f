// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath (header-only, pure: no allocation, no locks, no system calls).
//
// "ADDR:PORT" text of a sender, as records carry it ("source"). Formatted per message that a
// sink encodes, so IPv4 (nearly every sender) is written digit by digit: inet_ntop() and
// snprintf() cost ~2,900 instructions a message there, this ~100.
#pragma once

#include <arpa/inet.h>

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace logagg::net {

/// Longest text endpoint_text() writes: "[" IPv6 (INET6_ADDRSTRLEN less its NUL) "]:" 5 digits.
inline constexpr std::size_t endpoint_text_max = 1 + (INET6_ADDRSTRLEN - 1) + 2 + 5;

/// Writes "a.b.c.d:PORT" (IPv4, @p addr 4 bytes in network order) or "[IPv6]:PORT" (@p addr 16
/// bytes, RFC 5952 text as inet_ntop() writes it) into @p out (at least endpoint_text_max bytes,
/// not NUL-terminated). @return the length, or 0 when the address cannot be written.
[[nodiscard]] inline std::size_t endpoint_text(const uint8_t* addr, bool v4, uint16_t port,
                                               char* out) noexcept {
    char* p = out;
    if (v4) {
        for (int i = 0; i < 4; ++i) {
            const unsigned b = addr[i];
            if (b >= 100) {
                *p++ = static_cast<char>('0' + b / 100);
            }
            if (b >= 10) {
                *p++ = static_cast<char>('0' + b / 10 % 10);
            }
            *p++ = static_cast<char>('0' + b % 10);
            *p++ = i < 3 ? '.' : ':';
        }
    } else {
        char a[INET6_ADDRSTRLEN];
        if (inet_ntop(AF_INET6, addr, a, sizeof a) == nullptr) {
            return 0;
        }
        const std::size_t n = std::strlen(a);
        *p++ = '[';
        std::memcpy(p, a, n);
        p += n;
        *p++ = ']';
        *p++ = ':';
    }
    p = std::to_chars(p, out + endpoint_text_max, port).ptr;
    return static_cast<std::size_t>(p - out);
}

} // namespace logagg::net
