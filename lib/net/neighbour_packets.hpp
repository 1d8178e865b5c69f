// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane and sinks build requests (arp_request, neighbour_solicitation); datapath
// RX reads replies (neighbour_of). No allocation except the one mbuf a builder returns.
//
// Address resolution on the wire: the ARP request and IPv6 neighbour solicitation a port sink
// sends for its next hop (and the gratuitous ARP announced at start), and what an ARP packet or
// neighbour advertisement teaches. Beside the overlays in net/headers.hpp and the classifier
// that recognises these packets; the responder (lib/pipeline) answers requests for our own
// addresses.
#pragma once

#include <cstdint>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "net/classify.hpp"

namespace logagg::net {

/// Builds an ARP request "who has @p target, tell @p sender" from @p mac (broadcast) into a new
/// mbuf from @p pool; with target == sender it is a gratuitous ARP (RFC 5227 announcement).
/// @return nullptr when the pool is empty.
[[nodiscard]] rte_mbuf* arp_request(rte_mempool* pool, const uint8_t mac[6],
                                    const uint8_t sender[4], const uint8_t target[4]) noexcept;

/// Builds an IPv6 neighbour solicitation for @p target from @p src / @p mac to target's
/// solicited-node multicast group, with our link-layer address option (RFC 4861 4.3).
/// @return nullptr when the pool is empty.
[[nodiscard]] rte_mbuf* neighbour_solicitation(rte_mempool* pool, const uint8_t mac[6],
                                               const uint8_t src[16],
                                               const uint8_t target[16]) noexcept;

/// What an ARP packet (at @p info.l4_off) or neighbour advertisement teaches: the sender's
/// address into @p addr (4 or 16 bytes) and its MAC into @p mac. @return false when the frame
/// carries no usable link-layer address (an advertisement without a target link-layer option).
[[nodiscard]] bool neighbour_of(const rte_mbuf* m, const packet_info& info, uint8_t* addr,
                                uint8_t (&mac)[6]) noexcept;

} // namespace logagg::net
