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

#include "net/local.hpp"
#include "util/enum_names.hpp"

struct rte_mbuf;

namespace logagg::net {

/// Why a frame is not handed to a worker. Order matters only for names(); the checks run in the
/// order documented in docs/architecture.md ("Classification").
enum class drop_reason : uint8_t {
    none = 0,           ///< accepted: not a drop
    eth_truncated,      ///< fewer than 14 bytes
    frame_truncated,    ///< cut by the PMD at its frame size (classify_options::snap_len)
    vlan_truncated,     ///< a VLAN tag runs past the frame
    vlan_too_many,      ///< more than two VLAN tags
    not_ip,             ///< EtherType other than IPv4/IPv6 (ARP, LLDP, ...)
    ipv4_truncated,     ///< fewer than 20 bytes, or fewer than IHL*4
    ipv4_bad_version,   ///< EtherType IPv4 but version != 4
    ipv4_bad_ihl,       ///< IHL < 5 (RFC 791 3.1)
    ipv4_bad_length,    ///< total length < IHL*4 or beyond the frame
    ipv4_bad_checksum,  ///< header checksum wrong (software or NIC verdict)
    ipv4_fragment,      ///< MF set or offset != 0, with --reassembly off
    ipv6_truncated,     ///< fewer than 40 bytes
    ipv6_bad_version,   ///< EtherType IPv6 but version != 6
    ipv6_bad_length,    ///< payload length 0 (jumbogram) or beyond the frame
    ipv6_ext_truncated, ///< an extension header runs past the payload
    ipv6_ext_too_many,  ///< more than max_ipv6_ext_headers extension headers
    ipv6_ext_bad_order, ///< hop-by-hop not first (RFC 8200 4.1)
    ipv6_fragment,      ///< fragment header present, with --reassembly off
    not_udp,            ///< final protocol is not UDP
    udp_truncated,      ///< fewer than 8 bytes of UDP header
    udp_bad_length,     ///< UDP length < 8 or beyond the IP payload
    port_not_listened,  ///< UDP destination port not in --listen
    udp_bad_checksum,   ///< UDP checksum wrong (IPv6: zero is wrong too, RFC 8200 8.1)
    too_many_segments,  ///< set by the RX stage: chain longer than the worker walks (max_segments)
    not_for_us,         ///< with --ip: IP destination (or ARP target) is not one of ours
    arp_not_request,    ///< with --ip: an ARP operation other than request or reply, or a reply
                        ///< nobody asked for (no port sink resolves its sender)
    arp_malformed,      ///< with --ip: ARP shorter than 28 bytes or not Ethernet/IPv4
    nd_invalid,         ///< with --ip: neighbour solicitation failing RFC 4861 7.1.1 checks
    reply_rate_limited, ///< set by the RX stage: an answer over --reply-rate
    reply_failed,       ///< set by the RX stage: an answer that could not be built or sent
    frag_invalid, ///< fragment with no data, a non-final length not a multiple of 8, or past 65,535
    frag_overlap, ///< fragments overlapping: the whole datagram is discarded (RFC 5722)
    frag_duplicate,    ///< a fragment received twice (the copy is dropped)
    frag_too_many,     ///< a datagram in more fragments than the reassembler keeps (64)
    frag_evicted,      ///< held by the oldest incomplete datagram, evicted for a newer one when
                       ///< the reassembler's table or fragment memory was full
    frag_source_limit, ///< held by the oldest incomplete datagram of a source that reached its
                       ///< own bound (datagrams or fragments per source address)
    frag_timeout,      ///< the datagram was not complete within the timeout
    frag_incomplete,   ///< still incomplete at shutdown
    worker_ring_full,  ///< set by the RX stage, not by classify(): the worker's ring was full
    count_
};

inline constexpr std::size_t drop_reason_count = static_cast<std::size_t>(drop_reason::count_);

/// Stable name of a reason, used in stats output (JSON keys, summary table). An exhaustive switch:
/// -Wswitch (on with -Wall) reports a reason added without a name.
[[nodiscard]] constexpr std::string_view name(drop_reason r) noexcept {
    switch (r) {
    case drop_reason::none:
        return "none";
    case drop_reason::eth_truncated:
        return "eth_truncated";
    case drop_reason::frame_truncated:
        return "frame_truncated";
    case drop_reason::vlan_truncated:
        return "vlan_truncated";
    case drop_reason::vlan_too_many:
        return "vlan_too_many";
    case drop_reason::not_ip:
        return "not_ip";
    case drop_reason::ipv4_truncated:
        return "ipv4_truncated";
    case drop_reason::ipv4_bad_version:
        return "ipv4_bad_version";
    case drop_reason::ipv4_bad_ihl:
        return "ipv4_bad_ihl";
    case drop_reason::ipv4_bad_length:
        return "ipv4_bad_length";
    case drop_reason::ipv4_bad_checksum:
        return "ipv4_bad_checksum";
    case drop_reason::ipv4_fragment:
        return "ipv4_fragment";
    case drop_reason::ipv6_truncated:
        return "ipv6_truncated";
    case drop_reason::ipv6_bad_version:
        return "ipv6_bad_version";
    case drop_reason::ipv6_bad_length:
        return "ipv6_bad_length";
    case drop_reason::ipv6_ext_truncated:
        return "ipv6_ext_truncated";
    case drop_reason::ipv6_ext_too_many:
        return "ipv6_ext_too_many";
    case drop_reason::ipv6_ext_bad_order:
        return "ipv6_ext_bad_order";
    case drop_reason::ipv6_fragment:
        return "ipv6_fragment";
    case drop_reason::not_udp:
        return "not_udp";
    case drop_reason::udp_truncated:
        return "udp_truncated";
    case drop_reason::udp_bad_length:
        return "udp_bad_length";
    case drop_reason::port_not_listened:
        return "port_not_listened";
    case drop_reason::udp_bad_checksum:
        return "udp_bad_checksum";
    case drop_reason::too_many_segments:
        return "too_many_segments";
    case drop_reason::not_for_us:
        return "not_for_us";
    case drop_reason::arp_not_request:
        return "arp_not_request";
    case drop_reason::arp_malformed:
        return "arp_malformed";
    case drop_reason::nd_invalid:
        return "nd_invalid";
    case drop_reason::reply_rate_limited:
        return "reply_rate_limited";
    case drop_reason::reply_failed:
        return "reply_failed";
    case drop_reason::frag_invalid:
        return "frag_invalid";
    case drop_reason::frag_overlap:
        return "frag_overlap";
    case drop_reason::frag_duplicate:
        return "frag_duplicate";
    case drop_reason::frag_too_many:
        return "frag_too_many";
    case drop_reason::frag_evicted:
        return "frag_evicted";
    case drop_reason::frag_source_limit:
        return "frag_source_limit";
    case drop_reason::frag_timeout:
        return "frag_timeout";
    case drop_reason::frag_incomplete:
        return "frag_incomplete";
    case drop_reason::worker_ring_full:
        return "worker_ring_full";
    case drop_reason::count_:
        break;
    }
    return "";
}

/// The names in enum order.
inline constexpr auto drop_reason_names = util::enum_names<drop_reason, drop_reason_count>();

static_assert(
    [] {
        for (std::string_view n : drop_reason_names) {
            if (n.empty()) {
                return false;
            }
        }
        return true;
    }(),
    "every drop_reason needs a name");

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

/// What an accepted frame is for.
enum class packet_kind : uint8_t {
    log,         ///< a UDP datagram to a --listen port: goes to a worker
    arp_request, ///< ARP who-has one of our IPv4 addresses
    icmp_echo,   ///< ICMP echo request to one of our IPv4 addresses
    nd_solicit,  ///< IPv6 neighbour solicitation for one of our addresses
    icmpv6_echo, ///< ICMPv6 echo request to one of our IPv6 addresses
    fragment,    ///< an IPv4 or IPv6 fragment (only with classify_options::reassemble)
    arp_reply,   ///< an ARP reply to one of our IPv4 addresses (teaches a next hop's MAC)
    nd_advert,   ///< an IPv6 neighbour advertisement to us or all nodes (RFC 4861 7.1.2 valid)
    tcp, ///< a TCP segment to one of our addresses (classify_options::tcp): for the TCP engine,
         ///< which checks its header and checksum and answers closed ports with RST
};

/// What a fragment carries (packet_kind::fragment). Offsets are from the start of the frame.
struct fragment_info {
    uint32_t id = 0;          ///< IPv4 identification (16 bits) or IPv6 identification (32 bits)
    uint32_t data_off = 0;    ///< first byte of fragment data
    uint16_t offset = 0;      ///< position of the data in the datagram, in bytes
    uint16_t len = 0;         ///< bytes of fragment data
    uint16_t prev_nh_off = 0; ///< IPv6: the byte holding the next-header value 44 (fragment)
    bool more = false;        ///< more fragments follow (MF / M flag)
    uint8_t proto = 0;        ///< IPv4 protocol / IPv6 next header after the fragment header
    uint8_t src[16] = {};     ///< source address (IPv4 in the first 4 bytes)
    uint8_t dst[16] = {};
};

/// What classify() learned about an accepted frame. Offsets are from the start of the frame.
struct packet_info {
    packet_kind kind = packet_kind::log;
    uint32_t l4_off = 0;      ///< ARP header, ICMP/ICMPv6 header, UDP or TCP header
    uint32_t l4_len = 0;      ///< bytes from l4_off to the end of the IP datagram (28 for ARP)
    fragment_info frag;       ///< for packet_kind::fragment
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
    /// The UDP checksum field held only the pseudo-header sum and was accepted for it
    /// (classify_options::accept_partial_checksum).
    bool checksum_partial = false;
};

/// Checksum policy. NIC verdicts in ol_flags (GOOD/BAD) always win; `software` decides what to do
/// when the NIC says nothing.
struct classify_options {
    bool verify_ipv4_checksum = true;
    bool verify_udp_checksum = true;
    /// Own addresses of the port (--ip); nullptr or empty: accept any destination, answer nothing.
    const local_addrs* local = nullptr;
    /// Report fragments as packet_kind::fragment (the caller reassembles) instead of dropping them.
    bool reassemble = false;
    /// Accept a UDP checksum field that holds only the pseudo-header sum (is_partial_checksum()),
    /// reported in packet_info::checksum_partial. For net_af_packet ports: a local sender's
    /// CHECKSUM_PARTIAL packets reach an AF_PACKET socket unfinished, and the PMD drops the
    /// kernel's TP_STATUS_CSUMNOTREADY that says so. Anywhere else such a field is wrong.
    bool accept_partial_checksum = false;
    /// Frames of at least this many bytes may have been cut by the PMD (net_af_packet keeps the
    /// first tp_snaplen bytes of what the kernel hands it); an IP length beyond such a frame is
    /// frame_truncated, not a malformed header. 0: the port never cuts frames.
    uint32_t snap_len = 0;
    /// TCP segments to one of the port's own addresses are packet_kind::tcp (a TCP engine runs:
    /// --listen tcp:), not not_udp. Only with own addresses (local): TCP needs an address to
    /// answer as. The header is not checked here: the engine does it (and counts it).
    bool tcp = false;
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
