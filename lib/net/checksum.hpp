// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath (pure).
#pragma once

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
