// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath (classify) and control plane (listen_ports set-up, reason names).
//
// classify() walks Ethernet / 802.1Q / 802.1ad / IPv4 / IPv6 (+ extension headers) / UDP over an
// mbuf chain and either describes where the UDP payload is or names why the frame is dropped.
#pragma once

#include <array>
#include <bitset>
#include <cstdint>
#include <string_view>

struct rte_mbuf;

namespace logagg::net {

/// Why a frame is not handed to a worker. Order matters only for names(); the checks run in the
/// order documented in docs/architecture.md ("Classification").
enum class drop_reason : uint8_t {
    none = 0,           ///< accepted: not a drop
    eth_truncated,      ///< fewer than 14 bytes
    vlan_truncated,     ///< a VLAN tag runs past the frame
    vlan_too_many,      ///< more than two VLAN tags
    not_ip,             ///< EtherType other than IPv4/IPv6 (ARP, LLDP, ...)
    ipv4_truncated,     ///< fewer than 20 bytes, or fewer than IHL*4
    ipv4_bad_version,   ///< EtherType IPv4 but version != 4
    ipv4_bad_ihl,       ///< IHL < 5 (RFC 791 3.1)
    ipv4_bad_length,    ///< total length < IHL*4 or beyond the frame
    ipv4_bad_checksum,  ///< header checksum wrong (software or NIC verdict)
    ipv4_fragment,      ///< MF set or offset != 0 (reassembly: not yet)
    ipv6_truncated,     ///< fewer than 40 bytes
    ipv6_bad_version,   ///< EtherType IPv6 but version != 6
    ipv6_bad_length,    ///< payload length 0 (jumbogram) or beyond the frame
    ipv6_ext_truncated, ///< an extension header runs past the payload
    ipv6_ext_too_many,  ///< more than max_ipv6_ext_headers extension headers
    ipv6_ext_bad_order, ///< hop-by-hop not first (RFC 8200 4.1)
    ipv6_fragment,      ///< fragment header present (reassembly: not yet)
    not_udp,            ///< final protocol is not UDP
    udp_truncated,      ///< fewer than 8 bytes of UDP header
    udp_bad_length,     ///< UDP length < 8 or beyond the IP payload
    port_not_listened,  ///< UDP destination port not in --listen
    udp_bad_checksum,   ///< UDP checksum wrong (IPv6: zero is wrong too, RFC 8200 8.1)
    too_many_segments,  ///< set by the RX stage: chain longer than the worker walks (max_segments)
    worker_ring_full,   ///< set by the RX stage, not by classify(): the worker's ring was full
    count_
};

inline constexpr std::size_t drop_reason_count = static_cast<std::size_t>(drop_reason::count_);

/// Stable names used in stats output (JSON keys, summary table).
inline constexpr std::array<std::string_view, drop_reason_count> drop_reason_names{
    "none",
    "eth_truncated",
    "vlan_truncated",
    "vlan_too_many",
    "not_ip",
    "ipv4_truncated",
    "ipv4_bad_version",
    "ipv4_bad_ihl",
    "ipv4_bad_length",
    "ipv4_bad_checksum",
    "ipv4_fragment",
    "ipv6_truncated",
    "ipv6_bad_version",
    "ipv6_bad_length",
    "ipv6_ext_truncated",
    "ipv6_ext_too_many",
    "ipv6_ext_bad_order",
    "ipv6_fragment",
    "not_udp",
    "udp_truncated",
    "udp_bad_length",
    "port_not_listened",
    "udp_bad_checksum",
    "too_many_segments",
    "worker_ring_full",
};

[[nodiscard]] constexpr std::string_view name(drop_reason r) noexcept {
    return drop_reason_names[static_cast<std::size_t>(r)];
}

/// Bound on the IPv6 extension header walk; real traffic carries one or two.
inline constexpr unsigned max_ipv6_ext_headers = 8;
/// Longest mbuf chain a worker frames (a 65,535-byte datagram in 2 KiB segments is 33).
inline constexpr unsigned max_segments = 64;
/// Most VLAN tags accepted (802.1ad service tag + 802.1Q customer tag).
inline constexpr unsigned max_vlan_tags = 2;

/// The set of UDP destination ports that carry logs: one bit per port (8 KiB), so the datapath
/// test is a single load. Built by the control plane, read-only afterwards.
class listen_ports {
public:
    void add(uint16_t port) noexcept { bits_.set(port); }
    [[nodiscard]] bool contains(uint16_t port) const noexcept { return bits_.test(port); }
    [[nodiscard]] bool empty() const noexcept { return bits_.none(); }

private:
    std::bitset<65536> bits_;
};

/// What classify() learned about an accepted frame. Offsets are from the start of the frame.
struct packet_info {
    uint32_t payload_off = 0; ///< first byte of the UDP payload
    uint16_t payload_len = 0; ///< UDP length - 8
    uint16_t l2_len = 0;      ///< Ethernet header and VLAN tags
    uint16_t l3_len = 0;      ///< IP header with options or extension headers
    uint16_t src_port = 0;
    uint16_t dst_port = 0;
    uint8_t ip_version = 0; ///< 4 or 6
    uint8_t vlan_tags = 0;
    uint32_t flow_hash = 0;   ///< software hash of (addresses, ports): same flow, same value
    uint32_t packet_type = 0; ///< RTE_PTYPE_* bits describing what was parsed
};

/// Checksum policy. NIC verdicts in ol_flags (GOOD/BAD) always win; `software` decides what to do
/// when the NIC says nothing.
struct classify_options {
    bool verify_ipv4_checksum = true;
    bool verify_udp_checksum = true;
};

/// Classifies one frame (burst callers loop; this is per packet so it stays branch-predictable).
/// @param m     the frame; may be a multi-segment chain; headers may straddle segments.
/// @param ports UDP destination ports to accept.
/// @param opts  checksum policy.
/// @param out   filled on acceptance; unspecified on a drop.
/// @return drop_reason::none when the frame carries a log datagram for us, else why not.
/// Never reads beyond the chain's pkt_len; never allocates; noexcept.
/// Thread-safety: pure; the caller owns @p m.
[[nodiscard]] drop_reason classify(const rte_mbuf* m, const listen_ports& ports,
                                   const classify_options& opts, packet_info& out) noexcept;

} // namespace logagg::net
