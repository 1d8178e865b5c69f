// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath (pure).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace logagg::net {

/// Folds a 32-bit one's-complement sum to 16 bits (RFC 1071), not complemented.
[[nodiscard]] constexpr uint16_t fold_checksum(uint32_t sum) noexcept {
    sum = (sum & 0xffffu) + (sum >> 16);
    sum = (sum & 0xffffu) + (sum >> 16);
    return static_cast<uint16_t>(sum);
}

static_assert(fold_checksum(0x0001fffe) == 0xffff);
static_assert(fold_checksum(0xffffffff) == 0xffff);

/// One's-complement sum of the 16-bit words of @p len bytes at @p data (an odd last byte padded
/// with a zero byte), folded to 16 bits, not complemented: what DPDK's rte_raw_cksum() returns.
/// Taken over 64-bit words with end-around carry (RFC 1071 2.(B): the sum may be taken over
/// wider words and folded), where rte_raw_cksum() adds 16-bit words one by one: on x86-64 an
/// add-with-carry chain over 32 bytes per loop, elsewhere two 32-bit halves per word.
[[nodiscard]] inline uint16_t raw_sum(const void* data, std::size_t len) noexcept {
    const auto* p = static_cast<const uint8_t*>(data);
    uint64_t s = 0;
#if defined(__x86_64__)
    if (std::size_t blocks = len / 32; blocks != 0) {
        // CF carries from one add into the next; lea and dec leave it alone.
        asm("clc\n"
            "1:\n\t"
            "adcq 0(%[p]), %[s]\n\t"
            "adcq 8(%[p]), %[s]\n\t"
            "adcq 16(%[p]), %[s]\n\t"
            "adcq 24(%[p]), %[s]\n\t"
            "leaq 32(%[p]), %[p]\n\t"
            "decq %[n]\n\t"
            "jnz 1b\n\t"
            "adcq $0, %[s]"
            : [s] "+r"(s), [p] "+r"(p), [n] "+r"(blocks)
            : "m"(*static_cast<const uint8_t(*)[1]>(data))
            : "cc", "memory");
        len %= 32;
    }
    auto add = [&s](uint64_t w) {
        s += w;
        s += s < w ? 1 : 0; // end-around carry
    };
#else
    auto add = [&s](uint64_t w) { s += (w & 0xffffffffu) + (w >> 32); };
#endif
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t w;
        std::memcpy(&w, p, sizeof w);
        add(w);
    }
    if (len != 0) {
        uint64_t w = 0;
        std::memcpy(&w, p, len); // the bytes keep their positions; the rest is zero
        add(w);
    }
    // 2^64 = 2^32 = 2^16 = 1 (mod 0xffff): fold the carries back in until 16 bits are left.
    while ((s >> 16) != 0) {
        s = (s & 0xffffu) + (s >> 16);
    }
    return static_cast<uint16_t>(s);
}

/// One's-complement sum (not folded) of the pseudo-header that UDP and TCP checksums cover
/// (RFC 768, RFC 9293 3.1, RFC 8200 8.1): source and destination addresses of @p addr_len bytes
/// each (4 or 16), a zero byte and protocol @p proto, and the upper-layer length @p len (32 bits
/// for IPv6; its high half is 0 below 64 KiB, so one formula serves both). Words are taken in
/// memory order, like a checksum field read without a byte swap.
[[nodiscard]] inline uint32_t pseudo_header_sum(const uint8_t* src, const uint8_t* dst,
                                                unsigned addr_len, uint8_t proto,
                                                uint32_t len) noexcept {
    // 32-bit loads, each split into its two 16-bit words (addr_len is a multiple of 4).
    uint32_t sum = 0;
    for (unsigned i = 0; i < addr_len; i += 4) {
        uint32_t s;
        uint32_t d;
        std::memcpy(&s, src + i, 4);
        std::memcpy(&d, dst + i, 4);
        sum += (s & 0xffffu) + (s >> 16) + (d & 0xffffu) + (d >> 16);
    }
    const uint8_t tail[6] = {0,
                             proto,
                             static_cast<uint8_t>(len >> 24),
                             static_cast<uint8_t>(len >> 16),
                             static_cast<uint8_t>(len >> 8),
                             static_cast<uint8_t>(len)};
    for (unsigned i = 0; i < sizeof tail; i += 2) {
        uint16_t w;
        std::memcpy(&w, tail + i, 2);
        sum += w;
    }
    return sum;
}

/// Whether a UDP or TCP checksum field holds only the pseudo-header sum: what a Linux sender
/// leaves in a CHECKSUM_PARTIAL packet for the NIC to finish (udp4_hwcsum(), udp6_set_csum(),
/// tcp_v4_send_check(): the field is ~csum_tcpudp_magic(src, dst, len, proto, 0), i.e. the folded
/// pseudo-header sum, not complemented). Over a veth, or to an AF_PACKET tap on the sending
/// host, nobody finishes it. @p field_raw is the field as stored (memory order) and
/// @p pseudo_sum is pseudo_header_sum() of the packet.
[[nodiscard]] constexpr bool is_partial_checksum(uint16_t field_raw, uint32_t pseudo_sum) noexcept {
    return field_raw == fold_checksum(pseudo_sum);
}

} // namespace logagg::net
