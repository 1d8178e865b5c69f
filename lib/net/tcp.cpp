// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath. No allocation, no locks, no syscalls; reads only within the mbuf chain.
#include "net/tcp.hpp"

#include <cstring>

#include <rte_ip.h>
#include <rte_mbuf.h>

#include "net/checksum.hpp"
#include "net/mbuf_access.hpp"
#include "net/mbuf_checksum.hpp"

namespace logagg::net {
namespace {

[[nodiscard]] inline uint32_t load_be32(const uint8_t* p) noexcept {
    return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}

inline void store_be32(uint8_t* p, uint32_t v) noexcept {
    p[0] = static_cast<uint8_t>(v >> 24);
    p[1] = static_cast<uint8_t>(v >> 16);
    p[2] = static_cast<uint8_t>(v >> 8);
    p[3] = static_cast<uint8_t>(v);
}

inline void store_be16(uint8_t* p, uint16_t v) noexcept {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}

} // namespace

tcp_opt_status parse_tcp_options(const uint8_t* p, uint32_t len, tcp_options& out) noexcept {
    out = tcp_options{};
    if (len > max_tcp_options_len) {
        len = max_tcp_options_len;
    }
    uint32_t i = 0;
    while (i < len) {
        const uint8_t kind = p[i];
        if (kind == tcp_opt::eol) {
            break;
        }
        if (kind == tcp_opt::nop) {
            ++i;
            continue;
        }
        if (len - i < 2) {
            return tcp_opt_status::truncated;
        }
        const uint8_t olen = p[i + 1];
        if (olen < 2) {
            // RFC 9293 3.1 (MUST-7): a zero length would loop forever; it is malformed.
            return tcp_opt_status::bad_length;
        }
        if (olen > len - i) {
            return tcp_opt_status::truncated;
        }
        const uint8_t* body = p + i + 2;
        switch (kind) {
        case tcp_opt::mss:
            if (olen != 4) {
                return tcp_opt_status::bad_length;
            }
            out.has_mss = true;
            out.mss = static_cast<uint16_t>(body[0] << 8 | body[1]);
            break;
        case tcp_opt::wscale:
            if (olen != 3) {
                return tcp_opt_status::bad_length;
            }
            out.has_wscale = true;
            out.wscale = body[0];
            break;
        case tcp_opt::sack_permitted:
            if (olen != 2) {
                return tcp_opt_status::bad_length;
            }
            out.sack_permitted = true;
            break;
        case tcp_opt::sack: {
            const unsigned n = (olen - 2u) / 8u;
            if ((olen - 2u) % 8u != 0 || n == 0) {
                return tcp_opt_status::bad_length;
            }
            out.n_sack = static_cast<uint8_t>(n); // olen <= 40 - i, so n <= 4
            for (unsigned b = 0; b < n; ++b) {
                out.sack[b].left = load_be32(body + 8 * b);
                out.sack[b].right = load_be32(body + 8 * b + 4);
            }
            break;
        }
        case tcp_opt::timestamps:
            if (olen != 10) {
                return tcp_opt_status::bad_length;
            }
            out.has_timestamps = true;
            out.ts_val = load_be32(body);
            out.ts_ecr = load_be32(body + 4);
            break;
        default: // unknown kinds are skipped by their length (RFC 9293 3.2, MUST-6)
            break;
        }
        i += olen;
    }
    return tcp_opt_status::ok;
}

tcp_verdict parse_tcp(const rte_mbuf* m, const tcp_locator& at, tcp_segment& out) noexcept {
    const uint32_t pkt_len = rte_pktmbuf_pkt_len(m);
    const uint32_t tags = at.l3_off >= sizeof(ether_hdr) ? (at.l3_off - 14u) / 4u : 3u;
    const uint32_t addr_len = at.ip_version == 4 ? 4u : 16u;
    const uint32_t ip_hdr = at.ip_version == 4 ? 20u : 40u;
    if ((at.ip_version != 4 && at.ip_version != 6) || tags > 2 ||
        sizeof(ether_hdr) + 4 * tags != at.l3_off || at.l4_off < at.l3_off + ip_hdr ||
        at.l4_off > pkt_len || at.l4_len > pkt_len - at.l4_off || at.l4_len < sizeof(tcp_hdr)) {
        return tcp_verdict::truncated;
    }
    // L2 as received: the reply goes back the same way, MACs swapped.
    alignas(4) uint8_t l2_scratch[22];
    const auto* l2 = static_cast<const uint8_t*>(bytes_at(m, 0, at.l3_off, l2_scratch));
    alignas(8) uint8_t ip_scratch[40];
    const auto* ip = static_cast<const uint8_t*>(bytes_at(m, at.l3_off, ip_hdr, ip_scratch));
    tcp_hdr th_scratch;
    const tcp_hdr* th = header_at(m, at.l4_off, th_scratch);
    if (l2 == nullptr || ip == nullptr || th == nullptr) {
        return tcp_verdict::truncated;
    }
    const uint32_t hlen = th->header_len();
    if (hlen < sizeof(tcp_hdr) || hlen > at.l4_len) {
        return tcp_verdict::bad_offset;
    }
    uint8_t opt_scratch[max_tcp_options_len];
    const uint32_t opt_len = hlen - static_cast<uint32_t>(sizeof(tcp_hdr));
    const auto* opts =
        opt_len == 0
            ? opt_scratch
            : static_cast<const uint8_t*>(bytes_at(
                  m, at.l4_off + static_cast<uint32_t>(sizeof(tcp_hdr)), opt_len, opt_scratch));
    if (opts == nullptr) {
        return tcp_verdict::truncated;
    }
    // Addresses: IPv4 12/16, IPv6 8/24 into the header.
    const uint8_t* src = ip + (at.ip_version == 4 ? 12 : 8);
    const uint8_t* dst = ip + (at.ip_version == 4 ? 16 : 24);
    out.checksum_partial = false;
    const nic_verdict v = l4_verdict(m);
    if (v == nic_verdict::bad) {
        return tcp_verdict::bad_checksum;
    }
    if (v == nic_verdict::unknown && at.verify_checksum) {
        // RFC 9293 3.1: the segment and its pseudo-header sum to 0xffff (no "no checksum" value).
        const uint32_t pseudo = pseudo_header_sum(src, dst, addr_len, ipproto::tcp, at.l4_len);
        switch (check_l4(m, at.l4_off, at.l4_len, pseudo, th->checksum.raw, at.accept_partial)) {
        case l4_checksum::good:
            break;
        case l4_checksum::partial:
            out.checksum_partial = true;
            break;
        case l4_checksum::bad:
            return tcp_verdict::bad_checksum;
        }
    }
    if (parse_tcp_options(opts, opt_len, out.opts) != tcp_opt_status::ok) {
        return tcp_verdict::bad_options;
    }
    tcp_path& p = out.path;
    std::memcpy(p.local_mac, l2, 6);
    std::memcpy(p.remote_mac, l2 + 6, 6);
    p.n_vlan = static_cast<uint8_t>(tags);
    for (uint32_t t = 0; t < 2; ++t) {
        p.vlan[t] = t < tags ? load_be32(l2 + 12 + 4 * t) : 0;
    }
    p.ip_version = at.ip_version;
    std::memset(p.local_ip, 0, sizeof p.local_ip);
    std::memset(p.remote_ip, 0, sizeof p.remote_ip);
    std::memcpy(p.local_ip, dst, addr_len);
    std::memcpy(p.remote_ip, src, addr_len);
    p.local_port = th->dst_port.value();
    p.remote_port = th->src_port.value();
    out.seq = th->seq.value();
    out.ack = th->ack.value();
    out.window = th->window.value();
    out.flags = th->flags;
    out.payload_off = at.l4_off + hlen;
    out.payload_len = at.l4_len - hlen;
    return tcp_verdict::ok;
}

uint32_t write_tcp_options(const tcp_out& s, uint8_t* out) noexcept {
    uint32_t n = 0;
    auto put = [&](uint8_t b) { out[n++] = b; };
    auto put_ts = [&] {
        put(tcp_opt::timestamps);
        put(10);
        store_be32(out + n, s.ts_val);
        store_be32(out + n + 4, s.ts_ecr);
        n += 8;
    };
    if (s.mss != 0) {
        put(tcp_opt::mss);
        put(4);
        store_be16(out + n, s.mss);
        n += 2;
    }
    if (s.sack_permitted && s.timestamps) {
        put(tcp_opt::sack_permitted);
        put(2);
        put_ts();
    } else if (s.timestamps) {
        put(tcp_opt::nop);
        put(tcp_opt::nop);
        put_ts();
    } else if (s.sack_permitted) {
        put(tcp_opt::nop);
        put(tcp_opt::nop);
        put(tcp_opt::sack_permitted);
        put(2);
    }
    if (s.wscale >= 0) {
        put(tcp_opt::nop);
        put(tcp_opt::wscale);
        put(3);
        put(static_cast<uint8_t>(s.wscale > max_wscale ? max_wscale : s.wscale));
    }
    // What is left (a SYN-ACK with every option uses 20 of the 40 bytes) takes SACK blocks.
    if (s.n_sack != 0 && max_tcp_options_len - n >= 4 + 8) {
        const uint32_t fit = (max_tcp_options_len - n - 4) / 8;
        const uint32_t blocks = s.n_sack < fit ? s.n_sack : fit;
        put(tcp_opt::nop);
        put(tcp_opt::nop);
        put(tcp_opt::sack);
        put(static_cast<uint8_t>(2 + 8 * blocks));
        for (uint32_t b = 0; b < blocks; ++b) {
            store_be32(out + n, s.sack[b].left);
            store_be32(out + n + 4, s.sack[b].right);
            n += 8;
        }
    }
    return n; // every group above is a multiple of 4 bytes
}

uint32_t tcp_frame_len(const tcp_path& p, const tcp_out& s) noexcept {
    uint8_t opts[max_tcp_options_len];
    return 14u + 4u * p.n_vlan + (p.ip_version == 4 ? 20u : 40u) + 20u + write_tcp_options(s, opts);
}

bool build_tcp(rte_mbuf* m, const tcp_path& p, const tcp_out& s, tx_checksum mode) noexcept {
    uint8_t opts[max_tcp_options_len];
    const uint32_t opt_len = write_tcp_options(s, opts);
    const uint32_t l2 = 14u + 4u * p.n_vlan;
    const uint32_t l3 = p.ip_version == 4 ? 20u : 40u;
    const uint32_t l4 = 20u + opt_len;
    auto* f =
        reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(l2 + l3 + l4)));
    if (f == nullptr) {
        return false;
    }
    std::memcpy(f, p.remote_mac, 6);
    std::memcpy(f + 6, p.local_mac, 6);
    for (uint32_t t = 0; t < p.n_vlan; ++t) {
        store_be32(f + 12 + 4 * t, p.vlan[t]);
    }
    store_be16(f + l2 - 2, p.ip_version == 4 ? static_cast<uint16_t>(ether_type::ipv4)
                                             : static_cast<uint16_t>(ether_type::ipv6));
    uint8_t* ip = f + l2;
    const uint32_t addr_len = p.ip_version == 4 ? 4u : 16u;
    if (p.ip_version == 4) {
        ip[0] = 0x45;
        ip[1] = 0;
        store_be16(ip + 2, static_cast<uint16_t>(l3 + l4));
        ip[4] = ip[5] = 0; // id 0 with DF: an atomic datagram (RFC 6864 4.1)
        ip[6] = 0x40;      // DF
        ip[7] = 0;
        ip[8] = 64; // TTL
        ip[9] = ipproto::tcp;
        ip[10] = ip[11] = 0;
        std::memcpy(ip + 12, p.local_ip, 4);
        std::memcpy(ip + 16, p.remote_ip, 4);
    } else {
        ip[0] = 0x60;
        ip[1] = ip[2] = ip[3] = 0;
        store_be16(ip + 4, static_cast<uint16_t>(l4));
        ip[6] = ipproto::tcp;
        ip[7] = 64; // hop limit
        std::memcpy(ip + 8, p.local_ip, 16);
        std::memcpy(ip + 24, p.remote_ip, 16);
    }
    uint8_t* th = ip + l3;
    store_be16(th, p.local_port);
    store_be16(th + 2, p.remote_port);
    store_be32(th + 4, s.seq);
    store_be32(th + 8, s.ack);
    th[12] = static_cast<uint8_t>((l4 / 4) << 4);
    th[13] = s.flags;
    store_be16(th + 14, s.window);
    th[16] = th[17] = 0;
    th[18] = th[19] = 0;
    std::memcpy(th + 20, opts, opt_len);
    const uint32_t pseudo = pseudo_header_sum(p.local_ip, p.remote_ip, addr_len, ipproto::tcp, l4);
    m->l2_len = l2 & 0x7f;
    m->l3_len = l3 & 0x1ff;
    m->l4_len = l4 & 0xff;
    if (mode == tx_checksum::offload) {
        const uint16_t phdr = fold_checksum(pseudo);
        std::memcpy(th + 16, &phdr, 2);
        m->ol_flags = p.ip_version == 4
                          ? RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM
                          : RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_TCP_CKSUM;
        return true;
    }
    if (p.ip_version == 4) {
        const auto hc = static_cast<uint16_t>(~fold_checksum(rte_raw_cksum(ip, 20)));
        std::memcpy(ip + 10, &hc, 2);
    }
    const auto tc = static_cast<uint16_t>(~fold_checksum(pseudo + rte_raw_cksum(th, l4)));
    std::memcpy(th + 16, &tc, 2);
    m->ol_flags = 0;
    return true;
}

} // namespace logagg::net
