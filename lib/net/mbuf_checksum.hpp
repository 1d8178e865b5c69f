// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath (header-only, no allocation).
//
// Checksums over mbuf chains.
#pragma once

#include <algorithm>
#include <cstdint>

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "net/checksum.hpp"

namespace logagg::net {

/// One's-complement sum (folded, not complemented) of [off, off + len) of chain @p m.
/// DPDK 22.11's rte_raw_cksum_mbuf() truncates a segment's 32-bit partial sum to 16 bits before
/// byte-swapping segments that start at an odd offset, losing carries; here each segment's sum
/// is folded first. @return false when the chain is shorter than off + len.
[[nodiscard]] inline bool sum_chain(const rte_mbuf* m, uint32_t off, uint32_t len,
                                    uint16_t& out) noexcept {
    if (off + len <= m->data_len) { // one segment: the common case
        out = raw_sum(rte_pktmbuf_mtod_offset(m, const char*, off), len);
        return true;
    }
    if (len > rte_pktmbuf_pkt_len(m) || off > rte_pktmbuf_pkt_len(m) - len) {
        return false;
    }
    const rte_mbuf* seg = m;
    while (seg != nullptr && off >= seg->data_len) {
        off -= seg->data_len;
        seg = seg->next;
    }
    uint32_t sum = 0;
    uint32_t done = 0;
    while (done < len) {
        if (seg == nullptr) {
            return false;
        }
        const uint32_t take =
            std::min<uint32_t>(len - done, static_cast<uint32_t>(seg->data_len) - off);
        uint16_t part = raw_sum(rte_pktmbuf_mtod_offset(seg, const char*, off), take);
        if ((done & 1u) != 0) {
            part = rte_bswap16(part); // this segment's bytes sit at odd positions of the sum
        }
        sum += part;
        done += take;
        off = 0;
        seg = seg->next;
    }
    out = fold_checksum(sum);
    return true;
}

/// Verdict on a UDP or TCP checksum.
enum class l4_checksum : uint8_t {
    good,    ///< the segment and its pseudo-header sum to 0xffff
    partial, ///< wrong, but the field holds the pseudo-header sum (is_partial_checksum())
    bad,     ///< wrong (or the chain is shorter than the segment)
};

/// Checks the transport checksum of the @p len bytes at @p off of chain @p m (header included).
/// @param pseudo_sum     pseudo_header_sum() of the packet (its protocol and length).
/// @param field_raw      the checksum field as stored.
/// @param accept_partial report a field holding only the pseudo-header sum as `partial` rather
///                       than `bad` (only where the frames may come from a local sender).
/// Protocol-neutral: UDP now; TCP passes its own protocol number and field.
[[nodiscard]] inline l4_checksum check_l4(const rte_mbuf* m, uint32_t off, uint32_t len,
                                          uint32_t pseudo_sum, uint16_t field_raw,
                                          bool accept_partial) noexcept {
    uint16_t data_sum = 0;
    if (!sum_chain(m, off, len, data_sum)) {
        return l4_checksum::bad;
    }
    if (fold_checksum(pseudo_sum + data_sum) == 0xffff) {
        return l4_checksum::good;
    }
    return accept_partial && is_partial_checksum(field_raw, pseudo_sum) ? l4_checksum::partial
                                                                        : l4_checksum::bad;
}

/// Internet checksum of @p len bytes plus @p seed (a partial sum), complemented, as stored.
[[nodiscard]] inline uint16_t inet_checksum(const void* p, uint32_t len,
                                            uint32_t seed = 0) noexcept {
    const uint16_t s = fold_checksum(seed + rte_raw_cksum(p, len));
    return static_cast<uint16_t>(~s);
}

/// ICMPv6 checksum (RFC 8200 8.1 pseudo-header) of the message at @p icmp for IPv6 header @p ip6.
[[nodiscard]] inline uint16_t icmpv6_checksum(const uint8_t* ip6, const uint8_t* icmp,
                                              uint32_t len) noexcept {
    uint32_t sum = rte_raw_cksum(ip6 + 8, 32); // source and destination
    const uint32_t be_len = rte_cpu_to_be_32(len);
    const uint32_t be_nh = rte_cpu_to_be_32(58);
    sum += rte_raw_cksum(&be_len, 4) + rte_raw_cksum(&be_nh, 4);
    return inet_checksum(icmp, len, sum);
}

/// NIC checksum verdicts from the mbuf's RX offload flags, when the PMD gives one (UDP and TCP
/// share them).
enum class nic_verdict : uint8_t { unknown, good, bad };

[[nodiscard]] inline nic_verdict ip_verdict(const rte_mbuf* m) noexcept {
    switch (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) {
    case RTE_MBUF_F_RX_IP_CKSUM_GOOD:
        return nic_verdict::good;
    case RTE_MBUF_F_RX_IP_CKSUM_BAD:
        return nic_verdict::bad;
    default:
        return nic_verdict::unknown;
    }
}

[[nodiscard]] inline nic_verdict l4_verdict(const rte_mbuf* m) noexcept {
    switch (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) {
    case RTE_MBUF_F_RX_L4_CKSUM_GOOD:
    case RTE_MBUF_F_RX_L4_CKSUM_NONE: // "not correct in packet, but data integrity is valid"
        return nic_verdict::good;
    case RTE_MBUF_F_RX_L4_CKSUM_BAD:
        return nic_verdict::bad;
    default:
        return nic_verdict::unknown;
    }
}

} // namespace logagg::net
