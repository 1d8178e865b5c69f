// SPDX-License-Identifier: BSD-3-Clause
// Test helpers for TCP: frames built and replies read independently of lib/net (own byte
// layout, own checksums), so a mistake there cannot hide itself.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <rte_mbuf.h>

#include "common/frames.hpp"

namespace logagg::testing {

namespace tcpf {
inline constexpr uint8_t fin = 0x01, syn = 0x02, rst = 0x04, psh = 0x08, ack = 0x10;
} // namespace tcpf

inline void put32(bytes& b, std::size_t at, uint32_t v) {
    b[at] = static_cast<uint8_t>(v >> 24);
    b[at + 1] = static_cast<uint8_t>(v >> 16);
    b[at + 2] = static_cast<uint8_t>(v >> 8);
    b[at + 3] = static_cast<uint8_t>(v);
}

inline uint32_t get32(const uint8_t* p) {
    return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
inline uint16_t get16(const uint8_t* p) {
    return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

/// Option bytes, for tcp_spec::options.
inline bytes opt_mss(uint16_t v) {
    return {2, 4, static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
}
inline bytes opt_ws(uint8_t s) {
    return {1, 3, 3, s};
}
inline bytes opt_sack_ok() {
    return {1, 1, 4, 2};
}
inline bytes opt_ts(uint32_t val, uint32_t ecr) {
    bytes b{1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0};
    put32(b, 4, val);
    put32(b, 8, ecr);
    return b;
}
inline bytes cat(std::initializer_list<bytes> parts) {
    bytes out;
    for (const bytes& p : parts) {
        out.insert(out.end(), p.begin(), p.end());
    }
    return out;
}

enum class csum_kind { good, bad, partial };

/// A TCP segment from a client 198.18.1.(2 + src_id) / 2001:db8::(7 + src_id) to logagg at
/// 198.18.0.1 / 2001:db8::1.
struct tcp_spec {
    int ip = 4;
    std::vector<uint16_t> tags; ///< TPIDs, outermost first (TCI 42 each)
    unsigned ip_options = 0;    ///< IPv4 option bytes (NOPs, multiple of 4)
    unsigned ipv6_ext = 0;      ///< IPv6 destination options headers of 8 bytes before TCP
    uint16_t src_id = 0;
    uint16_t sport = 40000;
    uint16_t dport = 514;
    uint32_t seq = 0;
    uint32_t ack = 0;
    uint8_t flags = tcpf::ack;
    uint16_t window = 65535;
    bytes options; ///< raw option bytes, padded here with EOL to a multiple of 4
    std::string payload;
    csum_kind csum = csum_kind::good;
    int doff_words = -1; ///< override the data offset field (words)
    bool pad = true;     ///< pad the frame to 60 bytes (Ethernet minimum)
};

struct tcp_built {
    bytes frame;
    uint32_t l3_off = 0;
    uint32_t l4_off = 0;
    uint32_t l4_len = 0;
    uint32_t payload_off = 0;
};

inline const uint8_t k_client_mac[6] = {2, 0, 0, 0, 0, 2};
inline const uint8_t k_our_mac[6] = {2, 0, 0, 0, 0, 1};

inline void client_ip(int ip, uint16_t src_id, uint8_t* out) {
    if (ip == 4) {
        const uint8_t a[4] = {198, 18, static_cast<uint8_t>(1 + (src_id >> 8)),
                              static_cast<uint8_t>(2 + (src_id & 0xff))};
        std::memcpy(out, a, 4);
    } else {
        const uint8_t a[16] = {0x20,
                               0x01,
                               0x0d,
                               0xb8,
                               0,
                               0,
                               0,
                               0,
                               0,
                               0,
                               0,
                               0,
                               0,
                               0,
                               static_cast<uint8_t>(src_id >> 8),
                               static_cast<uint8_t>(7 + (src_id & 0xff))};
        std::memcpy(out, a, 16);
    }
}

inline void our_ip(int ip, uint8_t* out) {
    if (ip == 4) {
        const uint8_t a[4] = {198, 18, 0, 1};
        std::memcpy(out, a, 4);
    } else {
        const uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        std::memcpy(out, a, 16);
    }
}

/// RFC 1071 sum (not complemented, not folded beyond 16 bits) of @p b starting at an even
/// position.
inline uint32_t sum16(const uint8_t* p, std::size_t n, uint32_t sum = 0) {
    for (std::size_t i = 0; i + 1 < n; i += 2) {
        sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
    }
    if (n % 2) {
        sum += static_cast<uint32_t>(p[n - 1] << 8);
    }
    return sum;
}
inline uint16_t fold16(uint32_t sum) {
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return static_cast<uint16_t>(sum);
}

/// Pseudo-header sum (host order words) for TCP over @p ip with @p len bytes of segment.
inline uint32_t tcp_pseudo(int ip, const uint8_t* src, const uint8_t* dst, uint32_t len) {
    const unsigned al = ip == 4 ? 4 : 16;
    uint32_t s = sum16(src, al) + sum16(dst, al);
    s += 6;
    s += (len >> 16) + (len & 0xffff);
    return s;
}

inline tcp_built build_tcp_frame(const tcp_spec& s) {
    tcp_built out;
    bytes& f = out.frame;
    f.assign(12, 0);
    std::memcpy(f.data(), k_our_mac, 6);
    std::memcpy(f.data() + 6, k_client_mac, 6);
    for (uint16_t tpid : s.tags) {
        f.push_back(static_cast<uint8_t>(tpid >> 8));
        f.push_back(static_cast<uint8_t>(tpid));
        f.push_back(0);
        f.push_back(42);
    }
    f.push_back(s.ip == 4 ? 0x08 : 0x86);
    f.push_back(s.ip == 4 ? 0x00 : 0xdd);
    out.l3_off = static_cast<uint32_t>(f.size());
    bytes opts = s.options;
    while (opts.size() % 4 != 0) {
        opts.push_back(0);
    }
    bytes tcp(20, 0);
    put16(tcp, 0, s.sport);
    put16(tcp, 2, s.dport);
    put32(tcp, 4, s.seq);
    put32(tcp, 8, s.ack);
    const unsigned doff = s.doff_words >= 0 ? static_cast<unsigned>(s.doff_words)
                                            : static_cast<unsigned>(5 + opts.size() / 4);
    tcp[12] = static_cast<uint8_t>(doff << 4);
    tcp[13] = s.flags;
    put16(tcp, 14, s.window);
    tcp.insert(tcp.end(), opts.begin(), opts.end());
    tcp.insert(tcp.end(), s.payload.begin(), s.payload.end());
    const auto l4 = static_cast<uint32_t>(tcp.size());
    uint8_t src[16] = {};
    uint8_t dst[16] = {};
    client_ip(s.ip, s.src_id, src);
    our_ip(s.ip, dst);
    const uint32_t pseudo = tcp_pseudo(s.ip, src, dst, l4);
    const uint16_t good = static_cast<uint16_t>(~fold16(sum16(tcp.data(), tcp.size(), pseudo)));
    const uint16_t c = s.csum == csum_kind::good      ? good
                       : s.csum == csum_kind::partial ? fold16(pseudo)
                                                      : static_cast<uint16_t>(good ^ 0x0101);
    put16(tcp, 16, c);
    if (s.ip == 4) {
        const unsigned hl = 20 + s.ip_options;
        bytes ip(hl, 0);
        ip[0] = static_cast<uint8_t>(0x40 | hl / 4);
        put16(ip, 2, static_cast<uint16_t>(hl + l4));
        ip[6] = 0x40;
        ip[8] = 64;
        ip[9] = 6;
        std::memcpy(&ip[12], src, 4);
        std::memcpy(&ip[16], dst, 4);
        for (unsigned i = 20; i < hl; ++i) {
            ip[i] = 1;
        }
        put16(ip, 10, cksum(ip));
        f.insert(f.end(), ip.begin(), ip.end());
    } else {
        bytes ip(40, 0);
        ip[0] = 0x60;
        put16(ip, 4, static_cast<uint16_t>(8 * s.ipv6_ext + l4));
        ip[6] = s.ipv6_ext != 0 ? 60 : 6;
        ip[7] = 64;
        std::memcpy(&ip[8], src, 16);
        std::memcpy(&ip[24], dst, 16);
        f.insert(f.end(), ip.begin(), ip.end());
        for (unsigned i = 0; i < s.ipv6_ext; ++i) {
            bytes h(8, 0);
            h[0] = i + 1 < s.ipv6_ext ? 60 : 6;
            h[2] = 1; // PadN
            h[3] = 4;
            f.insert(f.end(), h.begin(), h.end());
        }
    }
    out.l4_off = static_cast<uint32_t>(f.size());
    out.l4_len = l4;
    out.payload_off = out.l4_off + 20 + static_cast<uint32_t>(opts.size());
    f.insert(f.end(), tcp.begin(), tcp.end());
    while (s.pad && f.size() < 60) {
        f.push_back(0);
    }
    return out;
}

/// A segment logagg sent, read back byte by byte.
struct reply {
    bool ok = false; ///< parsed, and both checksums verify (or the offload form is right)
    uint8_t eth_dst[6] = {};
    uint8_t eth_src[6] = {};
    std::vector<uint32_t> tags; ///< TPID << 16 | TCI
    int ip = 0;
    uint8_t ttl = 0;
    uint8_t src[16] = {};
    uint8_t dst[16] = {};
    uint16_t sport = 0, dport = 0;
    uint32_t seq = 0, ack = 0;
    uint8_t flags = 0;
    uint16_t window = 0;
    bytes options;
    uint32_t payload_len = 0;
    uint16_t port = 0; ///< mbuf->port
    // decoded options
    int mss = -1;
    int ws = -1;
    bool sack_ok = false;
    bool has_ts = false;
    uint32_t ts_val = 0, ts_ecr = 0;
    std::vector<std::pair<uint32_t, uint32_t>> sack;
};

/// Reads a built reply. With @p offload the TCP field must hold the pseudo-header sum and the
/// IPv4 header checksum 0, and the mbuf must ask for both.
inline reply read_reply(const rte_mbuf* m, bool offload = false) {
    reply r;
    if (m->nb_segs != 1) {
        return r;
    }
    const auto* f = rte_pktmbuf_mtod(m, const uint8_t*);
    const uint32_t n = m->data_len;
    r.port = m->port;
    if (n < 14) {
        return r;
    }
    std::memcpy(r.eth_dst, f, 6);
    std::memcpy(r.eth_src, f + 6, 6);
    uint32_t off = 12;
    while (get16(f + off) == 0x8100 || get16(f + off) == 0x88a8) {
        r.tags.push_back(get32(f + off));
        off += 4;
    }
    const uint16_t et = get16(f + off);
    off += 2;
    uint32_t l4 = 0;
    uint32_t pseudo = 0;
    if (et == 0x0800) {
        r.ip = 4;
        const uint8_t* ip = f + off;
        if ((ip[0] >> 4) != 4 || (ip[0] & 15) != 5 || ip[9] != 6 || (ip[6] & 0x40) == 0) {
            return r;
        }
        const uint32_t tl = get16(ip + 2);
        if (off + tl != n) {
            return r;
        }
        if (offload ? get16(ip + 10) != 0 : fold16(sum16(ip, 20)) != 0xffff) {
            return r;
        }
        r.ttl = ip[8];
        std::memcpy(r.src, ip + 12, 4);
        std::memcpy(r.dst, ip + 16, 4);
        l4 = tl - 20;
        off += 20;
    } else if (et == 0x86dd) {
        r.ip = 6;
        const uint8_t* ip = f + off;
        if ((ip[0] >> 4) != 6 || ip[6] != 6) {
            return r;
        }
        l4 = get16(ip + 4);
        if (off + 40 + l4 != n) {
            return r;
        }
        r.ttl = ip[7];
        std::memcpy(r.src, ip + 8, 16);
        std::memcpy(r.dst, ip + 24, 16);
        off += 40;
    } else {
        return r;
    }
    pseudo = tcp_pseudo(r.ip, r.src, r.dst, l4);
    const uint8_t* t = f + off;
    r.sport = get16(t);
    r.dport = get16(t + 2);
    r.seq = get32(t + 4);
    r.ack = get32(t + 8);
    const uint32_t hl = (t[12] >> 4) * 4u;
    r.flags = t[13];
    r.window = get16(t + 14);
    if (hl < 20 || hl > l4) {
        return r;
    }
    if (offload) {
        if (get16(t + 16) != fold16(pseudo) || (m->ol_flags & RTE_MBUF_F_TX_TCP_CKSUM) == 0) {
            return r;
        }
    } else if (fold16(sum16(t, l4, pseudo)) != 0xffff) {
        return r;
    }
    r.options.assign(t + 20, t + hl);
    r.payload_len = l4 - hl;
    for (std::size_t i = 0; i < r.options.size();) {
        const uint8_t k = r.options[i];
        if (k == 0) {
            break;
        }
        if (k == 1) {
            ++i;
            continue;
        }
        if (i + 1 >= r.options.size() || r.options[i + 1] < 2 ||
            i + r.options[i + 1] > r.options.size()) {
            return r;
        }
        const uint8_t len = r.options[i + 1];
        const uint8_t* b = r.options.data() + i + 2;
        if (k == 2 && len == 4) {
            r.mss = get16(b);
        } else if (k == 3 && len == 3) {
            r.ws = b[0];
        } else if (k == 4 && len == 2) {
            r.sack_ok = true;
        } else if (k == 8 && len == 10) {
            r.has_ts = true;
            r.ts_val = get32(b);
            r.ts_ecr = get32(b + 4);
        } else if (k == 5 && (len - 2) % 8 == 0) {
            for (unsigned j = 0; j < (len - 2u) / 8u; ++j) {
                r.sack.emplace_back(get32(b + 8 * j), get32(b + 8 * j + 4));
            }
        } else {
            return r;
        }
        i += len;
    }
    r.ok = true;
    return r;
}

} // namespace logagg::testing
