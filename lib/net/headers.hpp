// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath and control plane (pure overlays, no state).
//
// Wire overlays for the protocols logagg parses. Every struct is trivially copyable, standard
// layout and exactly the size of its header on the wire. They are only ever read through
// header_at() (mbuf_access.hpp), which guarantees the bytes exist; multi-byte fields are be16/be32
// so a forgotten byte swap does not compile. Alignment: overlays have at most 2-byte alignment
// (no be32 inside: Ethernet puts IP at offset 14, so IP headers are only 2-byte aligned), and
// header_at() copies to an aligned scratch when the packet bytes are not suitably aligned. The
// one exception is tcp_hdr, whose sequence numbers are be32: it usually sits at a 2-mod-4
// address, where header_at() copies its 20 bytes (the TCP parser reads the options anyway).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "net/byteorder.hpp"

namespace logagg::net {

/// EtherType values we act on (IEEE 802.3 / IANA).
enum class ether_type : uint16_t {
    ipv4 = 0x0800,
    arp = 0x0806,
    vlan = 0x8100, ///< IEEE 802.1Q customer tag
    qinq = 0x88a8, ///< IEEE 802.1ad service tag
    ipv6 = 0x86dd,
};

/// Ethernet II header (IEEE 802.3 clause 3.1.1).
struct ether_hdr {
    uint8_t dst[6];
    uint8_t src[6];
    be16 type;
};

/// 802.1Q / 802.1ad tag as it follows the source MAC: TCI then the inner EtherType.
struct vlan_tag {
    be16 tci;
    be16 type;
};

/// IPv4 header without options (RFC 791 section 3.1). Addresses are kept as byte arrays so the
/// struct has 2-byte alignment and can overlay offset 14 of a frame.
struct ipv4_hdr {
    uint8_t version_ihl;
    uint8_t tos;
    be16 total_length;
    be16 id;
    be16 frag; ///< flags (3 bits) and fragment offset (13 bits, 8-byte units)
    uint8_t ttl;
    uint8_t protocol;
    be16 checksum;
    uint8_t src[4];
    uint8_t dst[4];

    [[nodiscard]] constexpr unsigned version() const noexcept { return version_ihl >> 4; }
    /// @return the header length in bytes (IHL * 4), options included.
    [[nodiscard]] constexpr unsigned header_len() const noexcept {
        return (version_ihl & 0x0fu) * 4u;
    }
    [[nodiscard]] constexpr bool more_fragments() const noexcept {
        return (frag.value() & 0x2000u) != 0;
    }
    [[nodiscard]] constexpr unsigned frag_offset() const noexcept { return frag.value() & 0x1fffu; }
};

/// IPv6 fixed header (RFC 8200 section 3).
struct ipv6_hdr {
    be16 vtc_flow_hi; ///< version (4), traffic class (8), flow label high 4 bits
    be16 vtc_flow_lo; ///< flow label low 16 bits (split so the struct stays 2-byte aligned)
    be16 payload_length;
    uint8_t next_header;
    uint8_t hop_limit;
    uint8_t src[16];
    uint8_t dst[16];

    [[nodiscard]] constexpr unsigned version() const noexcept { return vtc_flow_hi.value() >> 12; }
};

/// Common prefix of the hop-by-hop, routing and destination options headers (RFC 8200 4.3-4.6):
/// next header, then length in 8-octet units not counting the first 8 octets.
struct ipv6_ext_hdr {
    uint8_t next_header;
    uint8_t length;

    [[nodiscard]] constexpr unsigned byte_len() const noexcept { return (length + 1u) * 8u; }
};

/// IPv6 fragment header (RFC 8200 4.5): next header, reserved, then the fragment offset (13
/// bits, 8-byte units) with the M flag in the low bit, and the identification (split in two
/// halves so the struct stays 2-byte aligned).
struct ipv6_frag_hdr {
    uint8_t next_header;
    uint8_t reserved;
    be16 offset_flags;
    be16 id_hi;
    be16 id_lo;

    /// @return the fragment offset in bytes.
    [[nodiscard]] constexpr unsigned offset() const noexcept {
        return offset_flags.value() & 0xfff8u;
    }
    [[nodiscard]] constexpr bool more() const noexcept { return (offset_flags.value() & 1u) != 0; }
    [[nodiscard]] constexpr uint32_t id() const noexcept {
        return uint32_t{id_hi.value()} << 16 | id_lo.value();
    }
};

/// ARP packet for Ethernet and IPv4 (RFC 826): 28 bytes after the Ethernet header.
struct arp_ipv4 {
    be16 htype;     ///< hardware type: 1 (Ethernet)
    be16 ptype;     ///< protocol type: 0x0800 (IPv4)
    uint8_t hlen;   ///< hardware address length: 6
    uint8_t plen;   ///< protocol address length: 4
    be16 oper;      ///< arp_op
    uint8_t sha[6]; ///< sender hardware address
    uint8_t spa[4]; ///< sender protocol address
    uint8_t tha[6]; ///< target hardware address
    uint8_t tpa[4]; ///< target protocol address
};

/// ARP operations (RFC 826).
namespace arp_op {
inline constexpr uint16_t request = 1;
inline constexpr uint16_t reply = 2;
} // namespace arp_op

/// ICMPv6 header (RFC 4443 2.1); the message body follows.
struct icmpv6_hdr {
    uint8_t type;
    uint8_t code;
    be16 checksum;
};

/// Neighbour solicitation and advertisement (RFC 4861 4.3, 4.4) up to the target address;
/// options follow.
struct nd_msg {
    icmpv6_hdr icmp;
    uint8_t flags; ///< advertisement: R, S, O in the high bits; solicitation: reserved
    uint8_t reserved[3];
    uint8_t target[16];
};

/// ICMPv6 message types logagg acts on (RFC 4443, RFC 4861).
namespace icmpv6_type {
inline constexpr uint8_t echo_request = 128;
inline constexpr uint8_t echo_reply = 129;
inline constexpr uint8_t neighbour_solicitation = 135;
inline constexpr uint8_t neighbour_advertisement = 136;
} // namespace icmpv6_type

/// UDP header (RFC 768).
struct udp_hdr {
    be16 src_port;
    be16 dst_port;
    be16 length; ///< header plus payload, in bytes
    be16 checksum;
};

/// TCP header without options (RFC 9293 section 3.1).
struct tcp_hdr {
    be16 src_port;
    be16 dst_port;
    be32 seq;
    be32 ack;
    uint8_t data_off; ///< data offset in 32-bit words (high 4 bits), reserved / AE (low 4 bits)
    uint8_t flags;    ///< CWR ECE URG ACK PSH RST SYN FIN (tcp_flag in net/tcp.hpp)
    be16 window;
    be16 checksum;
    be16 urgent;

    /// @return the header length in bytes (data offset * 4), options included.
    [[nodiscard]] constexpr unsigned header_len() const noexcept { return (data_off >> 4) * 4u; }
};

/// IP protocol / IPv6 next-header numbers (IANA).
namespace ipproto {
inline constexpr uint8_t hop_by_hop = 0;
inline constexpr uint8_t icmp = 1;
inline constexpr uint8_t tcp = 6;
inline constexpr uint8_t udp = 17;
inline constexpr uint8_t routing = 43;
inline constexpr uint8_t fragment = 44;
inline constexpr uint8_t esp = 50;
inline constexpr uint8_t ah = 51;
inline constexpr uint8_t icmpv6 = 58;
inline constexpr uint8_t no_next = 59;
inline constexpr uint8_t dest_opts = 60;
} // namespace ipproto

template <typename H>
inline constexpr bool is_overlay_v = std::is_trivially_copyable_v<H>&& std::is_standard_layout_v<H>;

static_assert(sizeof(ether_hdr) == 14 && is_overlay_v<ether_hdr>);
static_assert(sizeof(vlan_tag) == 4 && is_overlay_v<vlan_tag>);
static_assert(sizeof(ipv4_hdr) == 20 && is_overlay_v<ipv4_hdr>);
static_assert(sizeof(ipv6_hdr) == 40 && is_overlay_v<ipv6_hdr>);
static_assert(sizeof(ipv6_ext_hdr) == 2 && is_overlay_v<ipv6_ext_hdr>);
static_assert(sizeof(udp_hdr) == 8 && is_overlay_v<udp_hdr>);
static_assert(sizeof(tcp_hdr) == 20 && is_overlay_v<tcp_hdr>);
static_assert(sizeof(ipv6_frag_hdr) == 8 && is_overlay_v<ipv6_frag_hdr>);
static_assert(sizeof(arp_ipv4) == 28 && is_overlay_v<arp_ipv4>);
static_assert(sizeof(icmpv6_hdr) == 4 && is_overlay_v<icmpv6_hdr>);
static_assert(sizeof(nd_msg) == 24 && is_overlay_v<nd_msg>);
static_assert(alignof(ether_hdr) <= 2 && alignof(ipv4_hdr) <= 2 && alignof(ipv6_hdr) <= 2 &&
              alignof(udp_hdr) <= 2 && alignof(ipv6_frag_hdr) <= 2 && alignof(arp_ipv4) <= 2 &&
              alignof(nd_msg) <= 2);

} // namespace logagg::net
