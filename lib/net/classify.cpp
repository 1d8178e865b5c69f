// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath. No allocation, no locks, no syscalls; reads only within the mbuf chain.
#include "net/classify.hpp"

#include <algorithm>
#include <cstring>

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mbuf_ptype.h>

#include "net/checksum.hpp"
#include "net/mbuf_access.hpp"
#include "net/mbuf_checksum.hpp"

namespace logagg::net {
namespace {

/// Mixes a 64-bit word into a running hash (splitmix64 finaliser): cheap and well spread.
[[nodiscard]] inline uint64_t mix(uint64_t h, uint64_t v) noexcept {
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

[[nodiscard]] inline uint64_t load64(const uint8_t* p) noexcept {
    uint64_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

[[nodiscard]] inline uint32_t load32(const uint8_t* p) noexcept {
    uint32_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

/// Why an IP length beyond the frame is wrong: the PMD cut a long frame (@p pkt_len at least
/// classify_options::snap_len), or the header lies (@p malformed).
[[nodiscard]] inline drop_reason beyond_frame(const classify_options& opts, uint32_t pkt_len,
                                              drop_reason malformed) noexcept {
    return opts.snap_len != 0 && pkt_len >= opts.snap_len ? drop_reason::frame_truncated
                                                          : malformed;
}

/// UDP header checks shared by IPv4 and IPv6. @p ip_payload is the bytes the IP layer says follow
/// the UDP header's start; @p src and @p dst (@p addr_len bytes each) feed the pseudo-header when
/// the checksum is verified in software.
[[nodiscard]] drop_reason finish_udp(const rte_mbuf* m, uint32_t l4_off, uint32_t ip_payload,
                                     const listen_ports& ports, bool checksum_required,
                                     const classify_options& opts, const uint8_t* src,
                                     const uint8_t* dst, unsigned addr_len,
                                     packet_info& out) noexcept {
    // RFC 768: the header is 8 bytes; length covers header and data.
    udp_hdr scratch;
    const udp_hdr* udp = ip_payload >= sizeof(udp_hdr) ? header_at(m, l4_off, scratch) : nullptr;
    if (udp == nullptr) {
        return drop_reason::udp_truncated;
    }
    const uint32_t udp_len = udp->length.value();
    if (udp_len < sizeof(udp_hdr) || udp_len > ip_payload) {
        return drop_reason::udp_bad_length;
    }
    const uint16_t dport = udp->dst_port.value();
    if (!ports.contains(dport)) {
        return drop_reason::port_not_listened;
    }
    const nic_verdict v = l4_verdict(m);
    if (v == nic_verdict::bad) {
        return drop_reason::udp_bad_checksum;
    }
    if (udp->checksum.raw == 0) {
        if (checksum_required) { // IPv6 (RFC 8200 8.1): zero is not "no checksum"
            return drop_reason::udp_bad_checksum;
        }
    } else if (v == nic_verdict::unknown && opts.verify_udp_checksum) {
        // RFC 768 / RFC 8200 8.1: the datagram and its pseudo-header sum to 0xffff.
        const uint32_t pseudo = pseudo_header_sum(src, dst, addr_len, ipproto::udp, udp_len);
        switch (
            check_l4(m, l4_off, udp_len, pseudo, udp->checksum.raw, opts.accept_partial_checksum)) {
        case l4_checksum::good:
            break;
        case l4_checksum::partial:
            out.checksum_partial = true;
            break;
        case l4_checksum::bad:
            return drop_reason::udp_bad_checksum;
        }
    }
    out.src_port = udp->src_port.value();
    out.dst_port = dport;
    out.payload_off = l4_off + static_cast<uint32_t>(sizeof(udp_hdr));
    out.payload_len = static_cast<uint16_t>(udp_len - sizeof(udp_hdr));
    out.packet_type |= RTE_PTYPE_L4_UDP;
    return drop_reason::none;
}

/// A TCP segment to one of our addresses: where it is, and the flow hash of its 4-tuple (the
/// ports when the first 4 header bytes are there; the engine checks the rest and counts it).
[[nodiscard]] drop_reason finish_tcp(const rte_mbuf* m, uint32_t l4_off, uint32_t l4_len,
                                     packet_info& out) noexcept {
    out.kind = packet_kind::tcp;
    out.l4_off = l4_off;
    out.l4_len = l4_len;
    out.packet_type |= RTE_PTYPE_L4_TCP;
    uint8_t scratch[4];
    const auto* p =
        l4_len >= 4 ? static_cast<const uint8_t*>(bytes_at(m, l4_off, 4, scratch)) : nullptr;
    if (p != nullptr) {
        out.src_port = static_cast<uint16_t>((p[0] << 8) | p[1]);
        out.dst_port = static_cast<uint16_t>((p[2] << 8) | p[3]);
    }
    return drop_reason::none;
}

/// ICMPv6 to a port with own addresses: neighbour solicitations for one of them (RFC 4861 7.1.1
/// validity checks) and echo requests to one of them are answered; anything else is not ours.
[[nodiscard]] drop_reason classify_icmpv6(const rte_mbuf* m, const ipv6_hdr& ip, bool to_us,
                                          uint32_t off, uint32_t len, const local_addrs& local,
                                          packet_info& out) noexcept {
    icmpv6_hdr scratch;
    const icmpv6_hdr* h = len >= sizeof(icmpv6_hdr) ? header_at(m, off, scratch) : nullptr;
    if (h == nullptr) {
        return drop_reason::not_udp;
    }
    out.ip_version = 6;
    out.l4_off = off;
    out.l4_len = len;
    if (h->type == icmpv6_type::neighbour_solicitation ||
        h->type == icmpv6_type::neighbour_advertisement) {
        if (ip.hop_limit != 255 || h->code != 0 || len < sizeof(nd_msg)) {
            return drop_reason::nd_invalid;
        }
        nd_msg nd_scratch;
        const nd_msg* nd = header_at(m, off, nd_scratch);
        if (nd == nullptr) {
            return drop_reason::not_udp;
        }
        if (nd->target[0] == 0xff) { // a multicast target (RFC 4861 7.1.1, 7.1.2)
            return drop_reason::nd_invalid;
        }
        if (h->type == icmpv6_type::neighbour_solicitation) {
            if (!local.has_v6(nd->target) || !(to_us || local.is_our_solicited_node(ip.dst))) {
                return drop_reason::not_for_us;
            }
            out.kind = packet_kind::nd_solicit;
            return drop_reason::none;
        }
        // An advertisement (RFC 4861 7.1.2): to us, or unsolicited to all nodes.
        static constexpr uint8_t all_nodes[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0,
                                                  0,    0,    0, 0, 0, 0, 0, 1};
        if (!to_us && std::memcmp(ip.dst, all_nodes, 16) != 0) {
            return drop_reason::not_for_us;
        }
        out.kind = packet_kind::nd_advert;
        return drop_reason::none;
    }
    if (!to_us) {
        return drop_reason::not_for_us;
    }
    if (h->type == icmpv6_type::echo_request && h->code == 0 && len >= 8) {
        out.kind = packet_kind::icmpv6_echo;
        return drop_reason::none;
    }
    return drop_reason::not_udp;
}

/// ARP (RFC 826) on a port with own addresses: requests for one of them are answered.
[[nodiscard]] drop_reason classify_arp(const rte_mbuf* m, uint32_t off, const local_addrs& local,
                                       packet_info& out) noexcept {
    arp_ipv4 scratch;
    const arp_ipv4* a = header_at(m, off, scratch);
    if (a == nullptr || a->htype.value() != 1 || a->ptype.value() != 0x0800 || a->hlen != 6 ||
        a->plen != 4) {
        return drop_reason::arp_malformed;
    }
    if (a->oper.value() != arp_op::request && a->oper.value() != arp_op::reply) {
        return drop_reason::arp_not_request;
    }
    if (!local.has_v4(a->tpa)) {
        return drop_reason::not_for_us;
    }
    out.kind =
        a->oper.value() == arp_op::request ? packet_kind::arp_request : packet_kind::arp_reply;
    out.l4_off = off;
    out.l4_len = sizeof(arp_ipv4);
    return drop_reason::none;
}

[[nodiscard]] drop_reason classify_ipv4(const rte_mbuf* m, uint32_t l3_off,
                                        const listen_ports& ports, const classify_options& opts,
                                        packet_info& out) noexcept {
    // RFC 791 3.1: fixed 20 bytes first, then IHL tells how much header there is.
    ipv4_hdr scratch;
    const ipv4_hdr* ip = header_at(m, l3_off, scratch);
    if (ip == nullptr) {
        return drop_reason::ipv4_truncated;
    }
    if (ip->version() != 4) {
        return drop_reason::ipv4_bad_version;
    }
    const uint32_t hlen = ip->header_len();
    if (hlen < sizeof(ipv4_hdr)) {
        return drop_reason::ipv4_bad_ihl;
    }
    alignas(8) uint8_t hdr_scratch[60];
    const void* hdr_bytes = bytes_at(m, l3_off, hlen, hdr_scratch);
    if (hdr_bytes == nullptr) {
        return drop_reason::ipv4_truncated;
    }
    const uint32_t total = ip->total_length.value();
    if (total < hlen) {
        return drop_reason::ipv4_bad_length;
    }
    if (total > rte_pktmbuf_pkt_len(m) - l3_off) {
        return beyond_frame(opts, rte_pktmbuf_pkt_len(m), drop_reason::ipv4_bad_length);
    }
    // RFC 791 3.1 / RFC 1071: the header sums to 0xffff, options included.
    const nic_verdict v = ip_verdict(m);
    if (v == nic_verdict::bad || (v == nic_verdict::unknown && opts.verify_ipv4_checksum &&
                                  raw_sum(hdr_bytes, hlen) != 0xffff)) {
        return drop_reason::ipv4_bad_checksum;
    }
    const bool own = opts.local != nullptr && opts.local->any();
    if (ip->more_fragments() || ip->frag_offset() != 0) {
        if (!opts.reassemble) {
            return drop_reason::ipv4_fragment;
        }
        if (own && !opts.local->has_v4(ip->dst)) {
            return drop_reason::not_for_us;
        }
        // RFC 791 3.2: offset in 8-byte units; every fragment but the last carries a multiple of 8.
        fragment_info& f = out.frag;
        f.len = static_cast<uint16_t>(total - hlen);
        f.offset = static_cast<uint16_t>(ip->frag_offset() * 8u);
        f.more = ip->more_fragments();
        if (f.len == 0 || (f.more && f.len % 8 != 0) ||
            uint32_t{f.offset} + f.len > 65535u - hlen) {
            return drop_reason::frag_invalid;
        }
        f.id = ip->id.value();
        f.data_off = l3_off + hlen;
        f.proto = ip->protocol;
        std::memcpy(f.src, ip->src, 4);
        std::memcpy(f.dst, ip->dst, 4);
        out.kind = packet_kind::fragment;
        out.ip_version = 4;
        out.l3_len = static_cast<uint16_t>(hlen);
        return drop_reason::none;
    }
    if (own && !opts.local->has_v4(ip->dst)) {
        return drop_reason::not_for_us;
    }
    if (own && ip->protocol == ipproto::icmp) {
        // RFC 792: echo request is type 8, code 0, with an 8-byte header.
        uint8_t icmp[2];
        const auto* t = static_cast<const uint8_t*>(bytes_at(m, l3_off + hlen, 2, icmp));
        if (total - hlen >= 8 && t != nullptr && t[0] == 8 && t[1] == 0) {
            out.kind = packet_kind::icmp_echo;
            out.ip_version = 4;
            out.l3_len = static_cast<uint16_t>(hlen);
            out.l4_off = l3_off + hlen;
            out.l4_len = total - hlen;
            return drop_reason::none;
        }
        return drop_reason::not_udp;
    }
    const bool tcp = own && opts.tcp && ip->protocol == ipproto::tcp;
    if (ip->protocol != ipproto::udp && !tcp) {
        return drop_reason::not_udp;
    }
    out.ip_version = 4;
    out.l3_len = static_cast<uint16_t>(hlen);
    out.packet_type |= hlen == sizeof(ipv4_hdr) ? RTE_PTYPE_L3_IPV4 : RTE_PTYPE_L3_IPV4_EXT;
    const drop_reason r = tcp ? finish_tcp(m, l3_off + hlen, total - hlen, out)
                              : finish_udp(m, l3_off + hlen, total - hlen, ports, false, opts,
                                           ip->src, ip->dst, 4, out);
    if (r == drop_reason::none) {
        const uint32_t src = load32(ip->src);
        const uint32_t dst = load32(ip->dst);
        out.flow_hash = static_cast<uint32_t>(mix(mix(0, (uint64_t{src} << 32) | dst),
                                                  (uint64_t{out.src_port} << 16) | out.dst_port));
    }
    return r;
}

// Why whole (~100 lines): walks the IPv6 header chain once (fixed header, extension headers,
// fragment header, then ICMPv6 or UDP) with the offset in a register; the walk's state would
// have to be passed between helpers on every frame.
[[nodiscard]] drop_reason classify_ipv6(const rte_mbuf* m, uint32_t l3_off,
                                        const listen_ports& ports, const classify_options& opts,
                                        packet_info& out) noexcept {
    ipv6_hdr scratch;
    const ipv6_hdr* ip = header_at(m, l3_off, scratch);
    if (ip == nullptr) {
        return drop_reason::ipv6_truncated;
    }
    if (ip->version() != 6) {
        return drop_reason::ipv6_bad_version;
    }
    // RFC 8200 3: payload length counts extension headers; 0 means a jumbogram (RFC 2675), which
    // Ethernet cannot carry.
    const uint32_t plen = ip->payload_length.value();
    const uint32_t pkt_len = rte_pktmbuf_pkt_len(m);
    if (plen == 0) {
        return drop_reason::ipv6_bad_length;
    }
    if (plen > pkt_len - l3_off - sizeof(ipv6_hdr)) {
        return beyond_frame(opts, pkt_len, drop_reason::ipv6_bad_length);
    }
    const uint32_t end = l3_off + static_cast<uint32_t>(sizeof(ipv6_hdr)) + plen;
    uint32_t off = l3_off + static_cast<uint32_t>(sizeof(ipv6_hdr));
    uint8_t nh = ip->next_header;
    uint32_t nh_at = l3_off + 6; // the byte holding nh
    unsigned n_ext = 0;
    // RFC 8200 4.1: walk hop-by-hop (first only), routing and destination options headers.
    while (nh == ipproto::hop_by_hop || nh == ipproto::routing || nh == ipproto::dest_opts) {
        if (nh == ipproto::hop_by_hop && n_ext != 0) {
            return drop_reason::ipv6_ext_bad_order;
        }
        if (++n_ext > max_ipv6_ext_headers) {
            return drop_reason::ipv6_ext_too_many;
        }
        ipv6_ext_hdr ext_scratch;
        const ipv6_ext_hdr* ext =
            end - off >= sizeof(ipv6_ext_hdr) ? header_at(m, off, ext_scratch) : nullptr;
        if (ext == nullptr || ext->byte_len() > end - off) {
            return drop_reason::ipv6_ext_truncated;
        }
        nh_at = off;
        off += ext->byte_len();
        nh = ext->next_header;
    }
    if (nh == ipproto::fragment) {
        if (!opts.reassemble) {
            return drop_reason::ipv6_fragment;
        }
        if (opts.local != nullptr && opts.local->any() && !opts.local->has_v6(ip->dst)) {
            return drop_reason::not_for_us;
        }
        ipv6_frag_hdr fh_scratch;
        const ipv6_frag_hdr* fh =
            end - off >= sizeof(ipv6_frag_hdr) ? header_at(m, off, fh_scratch) : nullptr;
        if (fh == nullptr) {
            return drop_reason::ipv6_ext_truncated;
        }
        fragment_info& f = out.frag;
        f.len = static_cast<uint16_t>(end - off - sizeof(ipv6_frag_hdr));
        f.offset = static_cast<uint16_t>(fh->offset());
        f.more = fh->more();
        const uint32_t unfrag = off - l3_off - static_cast<uint32_t>(sizeof(ipv6_hdr));
        if (f.len == 0 || (f.more && f.len % 8 != 0) || unfrag + f.offset + f.len > 65535u) {
            return drop_reason::frag_invalid;
        }
        f.id = fh->id();
        f.data_off = off + static_cast<uint32_t>(sizeof(ipv6_frag_hdr));
        f.prev_nh_off = static_cast<uint16_t>(nh_at);
        f.proto = fh->next_header;
        std::memcpy(f.src, ip->src, 16);
        std::memcpy(f.dst, ip->dst, 16);
        out.kind = packet_kind::fragment;
        out.ip_version = 6;
        out.l3_len = static_cast<uint16_t>(off + sizeof(ipv6_frag_hdr) - l3_off);
        return drop_reason::none;
    }
    const bool own = opts.local != nullptr && opts.local->any();
    if (own) {
        const bool to_us = opts.local->has_v6(ip->dst);
        if (nh == ipproto::icmpv6) {
            return classify_icmpv6(m, *ip, to_us, off, end - off, *opts.local, out);
        }
        if (!to_us) {
            return drop_reason::not_for_us;
        }
    }
    const bool tcp = own && opts.tcp && nh == ipproto::tcp;
    if (nh != ipproto::udp && !tcp) {
        return drop_reason::not_udp;
    }
    out.ip_version = 6;
    out.l3_len = static_cast<uint16_t>(off - l3_off);
    out.packet_type |= n_ext == 0 ? RTE_PTYPE_L3_IPV6 : RTE_PTYPE_L3_IPV6_EXT;
    const drop_reason r =
        tcp ? finish_tcp(m, off, end - off, out)
            : finish_udp(m, off, end - off, ports, true, opts, ip->src, ip->dst, 16, out);
    if (r == drop_reason::none) {
        uint64_t h = mix(mix(0, load64(ip->src)), load64(ip->src + 8));
        h = mix(mix(h, load64(ip->dst)), load64(ip->dst + 8));
        out.flow_hash =
            static_cast<uint32_t>(mix(h, (uint64_t{out.src_port} << 16) | out.dst_port));
    }
    return r;
}

} // namespace

drop_reason classify(const rte_mbuf* m, const listen_ports& ports, const classify_options& opts,
                     packet_info& out) noexcept {
    // Reset what every verdict relies on. `frag` (48 bytes) is filled, and read, only for
    // fragments: zeroing it for every frame would be waste on the hot path.
    out.kind = packet_kind::log;
    out.l4_off = out.l4_len = 0;
    out.payload_off = 0;
    out.payload_len = out.l2_len = out.l3_len = out.src_port = out.dst_port = 0;
    out.ip_version = out.vlan_tags = 0;
    out.flow_hash = out.packet_type = 0;
    out.checksum_partial = false;
    ether_hdr eth_scratch;
    const ether_hdr* eth = header_at(m, 0, eth_scratch);
    if (eth == nullptr) {
        return drop_reason::eth_truncated;
    }
    uint32_t off = sizeof(ether_hdr);
    uint16_t type = eth->type.value();
    uint8_t tags = 0;
    // IEEE 802.1Q / 802.1ad: up to two tags (service tag then customer tag).
    while (type == static_cast<uint16_t>(ether_type::vlan) ||
           type == static_cast<uint16_t>(ether_type::qinq)) {
        if (++tags > max_vlan_tags) {
            return drop_reason::vlan_too_many;
        }
        vlan_tag tag_scratch;
        const vlan_tag* tag = header_at(m, off, tag_scratch);
        if (tag == nullptr) {
            return drop_reason::vlan_truncated;
        }
        type = tag->type.value();
        off += sizeof(vlan_tag);
    }
    out.l2_len = static_cast<uint16_t>(off);
    out.vlan_tags = tags;
    out.packet_type = tags == 0   ? RTE_PTYPE_L2_ETHER
                      : tags == 1 ? RTE_PTYPE_L2_ETHER_VLAN
                                  : RTE_PTYPE_L2_ETHER_QINQ;
    if (type == static_cast<uint16_t>(ether_type::ipv4)) {
        return classify_ipv4(m, off, ports, opts, out);
    }
    if (type == static_cast<uint16_t>(ether_type::ipv6)) {
        return classify_ipv6(m, off, ports, opts, out);
    }
    if (type == static_cast<uint16_t>(ether_type::arp) && opts.local != nullptr &&
        opts.local->any()) {
        return classify_arp(m, off, *opts.local, out);
    }
    return drop_reason::not_ip;
}

} // namespace logagg::net
