// SPDX-License-Identifier: BSD-3-Clause
// lib/net TCP: option parsing at every length and cut, parse_tcp() on every frame shape, data
// offset, truncation, split and checksum form, and build_tcp() read back by an independent
// parser (tests/common/tcp_frames.hpp). No EAL: mbufs over heap buffers.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <rte_mbuf.h>

#include "common/frames.hpp"
#include "common/tcp_frames.hpp"
#include "net/tcp.hpp"

namespace {

namespace t = logagg::testing;
using logagg::net::parse_tcp;
using logagg::net::parse_tcp_options;
using logagg::net::tcp_locator;
using logagg::net::tcp_opt_status;
using logagg::net::tcp_options;
using logagg::net::tcp_segment;
using logagg::net::tcp_verdict;
using t::bytes;

tcp_opt_status opts_of(const bytes& b, tcp_options* out = nullptr) {
    tcp_options tmp;
    return parse_tcp_options(b.data(), static_cast<uint32_t>(b.size()),
                             out != nullptr ? *out : tmp);
}

bool valid_len(uint8_t kind, unsigned len) {
    switch (kind) {
    case 2:
        return len == 4;
    case 3:
        return len == 3;
    case 4:
        return len == 2;
    case 5:
        return len >= 10 && (len - 2) % 8 == 0;
    case 8:
        return len == 10;
    default:
        return len >= 2;
    }
}

TEST(TcpOptions, EveryKindAtEveryLength) {
    for (uint8_t kind : {2, 3, 4, 5, 8, 30}) {
        for (unsigned len = 0; len <= 40; ++len) {
            bytes b{kind, static_cast<uint8_t>(len)};
            b.resize(std::max(2u, len), 0);
            tcp_options o;
            const auto st = opts_of(b, &o);
            if (len < 2) {
                EXPECT_EQ(st, tcp_opt_status::bad_length) << int{kind} << " len " << len;
            } else {
                EXPECT_EQ(st,
                          valid_len(kind, len) ? tcp_opt_status::ok : tcp_opt_status::bad_length)
                    << int{kind} << " len " << len;
            }
            // The same option with its body one byte short of its length.
            if (len >= 3) {
                bytes shorter(b.begin(), b.end() - 1);
                EXPECT_EQ(opts_of(shorter), tcp_opt_status::truncated)
                    << int{kind} << " len " << len;
            }
        }
    }
    // A kind byte alone at the end has no length byte.
    EXPECT_EQ(opts_of(bytes{1, 1, 1, 2}), tcp_opt_status::truncated);
}

TEST(TcpOptions, CutAtEveryByte) {
    const bytes full =
        t::cat({{2, 4, 0x05, 0xb4}, {4, 2}, {8, 10, 0, 0, 0, 1, 0, 0, 0, 2}, {1}, {3, 3, 7}});
    const std::vector<std::size_t> boundaries{0, 4, 6, 16, 17, 20};
    for (std::size_t cut = 0; cut <= full.size(); ++cut) {
        const bytes b(full.begin(), full.begin() + static_cast<long>(cut));
        const bool at_boundary =
            std::find(boundaries.begin(), boundaries.end(), cut) != boundaries.end();
        EXPECT_EQ(opts_of(b), at_boundary ? tcp_opt_status::ok : tcp_opt_status::truncated)
            << "cut " << cut;
    }
    tcp_options o;
    ASSERT_EQ(opts_of(full, &o), tcp_opt_status::ok);
    EXPECT_TRUE(o.has_mss && o.sack_permitted && o.has_timestamps && o.has_wscale);
    EXPECT_EQ(o.mss, 1460);
    EXPECT_EQ(o.ts_val, 1u);
    EXPECT_EQ(o.ts_ecr, 2u);
    EXPECT_EQ(o.wscale, 7);
}

TEST(TcpOptions, EolEndsTheListUnknownKindsAreSkipped) {
    tcp_options o;
    ASSERT_EQ(opts_of(bytes{1, 30, 4, 0xde, 0xad, 2, 4, 0x05, 0xb4, 0, 0xff, 0xff}, &o),
              tcp_opt_status::ok);
    EXPECT_TRUE(o.has_mss);
    EXPECT_EQ(o.mss, 1460);
    // A window shift above 14 is reported as sent; the engine never uses the peer's shift.
    ASSERT_EQ(opts_of(bytes{3, 3, 15, 0}, &o), tcp_opt_status::ok);
    EXPECT_EQ(o.wscale, 15);
}

TEST(TcpOptions, SackBlocks) {
    for (unsigned n = 1; n <= 4; ++n) {
        bytes b{1, 1, 5, static_cast<uint8_t>(2 + 8 * n)};
        for (unsigned i = 0; i < n; ++i) {
            bytes blk(8);
            t::put32(blk, 0, 1000 * i);
            t::put32(blk, 4, 1000 * i + 500);
            b.insert(b.end(), blk.begin(), blk.end());
        }
        tcp_options o;
        ASSERT_EQ(opts_of(b, &o), tcp_opt_status::ok) << n;
        ASSERT_EQ(o.n_sack, n);
        EXPECT_EQ(o.sack[n - 1].left, 1000 * (n - 1));
        EXPECT_EQ(o.sack[n - 1].right, 1000 * (n - 1) + 500);
    }
}

/// An mbuf over a heap buffer (no mempool) for build_tcp().
struct heap_mbuf {
    std::unique_ptr<rte_mbuf> mb = std::make_unique<rte_mbuf>();
    std::unique_ptr<uint8_t[]> buf;
    rte_mbuf& m = *mb;
    explicit heap_mbuf(uint16_t size = 2048) : buf(new uint8_t[size]) {
        std::memset(&m, 0, sizeof(rte_mbuf));
        m.buf_addr = buf.get();
        m.buf_len = size;
        m.data_off = std::min<uint16_t>(RTE_PKTMBUF_HEADROOM, size);
        m.nb_segs = 1;
        m.refcnt = 1;
    }
};

tcp_locator locator_of(const t::tcp_built& b, int ip) {
    tcp_locator at;
    at.l3_off = b.l3_off;
    at.l4_off = b.l4_off;
    at.l4_len = b.l4_len;
    at.ip_version = static_cast<uint8_t>(ip);
    return at;
}

std::vector<t::tcp_spec> shapes() {
    std::vector<t::tcp_spec> v;
    t::tcp_spec base;
    base.seq = 0x11223344;
    base.ack = 0x55667788;
    base.flags = t::tcpf::ack | t::tcpf::psh;
    base.window = 1234;
    base.payload = "<13>hello over tcp";
    base.options = t::opt_ts(7, 9);
    v.push_back(base);
    auto s = base;
    s.ip_options = 8;
    v.push_back(s);
    s = base;
    s.tags = {0x8100};
    v.push_back(s);
    s = base;
    s.tags = {0x88a8, 0x8100};
    v.push_back(s);
    s = base;
    s.ip = 6;
    v.push_back(s);
    s = base;
    s.ip = 6;
    s.ipv6_ext = 2;
    s.tags = {0x8100};
    v.push_back(s);
    s = base;
    s.payload.clear();
    s.options.clear();
    v.push_back(s);
    s = base;
    s.payload = std::string(1400, 'x');
    v.push_back(s);
    return v;
}

void expect_fields(const tcp_segment& seg, const t::tcp_spec& s, const t::tcp_built& b) {
    EXPECT_EQ(seg.path.local_port, s.dport);
    EXPECT_EQ(seg.path.remote_port, s.sport);
    EXPECT_EQ(seg.seq, s.seq);
    EXPECT_EQ(seg.ack, s.ack);
    EXPECT_EQ(seg.flags, s.flags);
    EXPECT_EQ(seg.window, s.window);
    EXPECT_EQ(seg.payload_off, b.payload_off);
    EXPECT_EQ(seg.payload_len, s.payload.size());
    EXPECT_EQ(seg.path.ip_version, s.ip);
    EXPECT_EQ(seg.path.n_vlan, s.tags.size());
    for (std::size_t i = 0; i < s.tags.size(); ++i) {
        EXPECT_EQ(seg.path.vlan[i], uint32_t{s.tags[i]} << 16 | 42u);
    }
    EXPECT_EQ(std::memcmp(seg.path.local_mac, t::k_our_mac, 6), 0);
    EXPECT_EQ(std::memcmp(seg.path.remote_mac, t::k_client_mac, 6), 0);
    uint8_t ip[16] = {};
    t::our_ip(s.ip, ip);
    EXPECT_EQ(std::memcmp(seg.path.local_ip, ip, 16), 0);
    std::memset(ip, 0, 16);
    t::client_ip(s.ip, s.src_id, ip);
    EXPECT_EQ(std::memcmp(seg.path.remote_ip, ip, 16), 0);
}

TEST(ParseTcp, EveryFrameShapeAndSplit) {
    for (const t::tcp_spec& s : shapes()) {
        const t::tcp_built b = t::build_tcp_frame(s);
        const tcp_locator at = locator_of(b, s.ip);
        {
            t::chain c(b.frame);
            tcp_segment seg;
            ASSERT_EQ(parse_tcp(c.get(), at, seg), tcp_verdict::ok);
            expect_fields(seg, s, b);
            EXPECT_EQ(seg.opts.has_timestamps, !s.options.empty());
        }
        // Headers straddling segments of the chain, at every cut.
        for (uint32_t cut = 1; cut < b.frame.size(); cut += (cut < b.payload_off + 4 ? 1 : 97)) {
            t::chain c(b.frame, {cut});
            tcp_segment seg;
            ASSERT_EQ(parse_tcp(c.get(), at, seg), tcp_verdict::ok) << "cut " << cut;
            expect_fields(seg, s, b);
        }
    }
}

TEST(ParseTcp, EveryDataOffset) {
    t::tcp_spec s;
    // NOPs, in the payload too: whatever the data offset, the option bytes parse.
    s.options = bytes(20, 1);
    s.payload = "\x01\x01\x01\x01";
    for (int doff = 0; doff <= 15; ++doff) {
        s.doff_words = doff;
        const t::tcp_built b = t::build_tcp_frame(s);
        t::chain c(b.frame);
        tcp_segment seg;
        const auto v = parse_tcp(c.get(), locator_of(b, 4), seg);
        if (doff < 5 || doff * 4u > b.l4_len) {
            EXPECT_EQ(v, tcp_verdict::bad_offset) << doff;
        } else {
            ASSERT_EQ(v, tcp_verdict::ok) << doff;
            EXPECT_EQ(seg.payload_len, b.l4_len - doff * 4u);
        }
    }
}

TEST(ParseTcp, EveryTruncation) {
    t::tcp_spec s;
    s.options = t::opt_ts(1, 2);
    s.payload = "payload";
    s.pad = false;
    const t::tcp_built b = t::build_tcp_frame(s);
    for (std::size_t len = 0; len < b.frame.size(); ++len) {
        const bytes cut(b.frame.begin(), b.frame.begin() + static_cast<long>(len));
        t::chain c(cut.empty() ? bytes{0} : cut);
        tcp_segment seg;
        EXPECT_EQ(parse_tcp(c.get(), locator_of(b, 4), seg), tcp_verdict::truncated) << len;
    }
    // A locator that does not describe Ethernet + 0..2 tags + IP is refused, not trusted.
    t::chain c(b.frame);
    tcp_segment seg;
    auto at = locator_of(b, 4);
    at.ip_version = 5;
    EXPECT_EQ(parse_tcp(c.get(), at, seg), tcp_verdict::truncated);
    for (uint32_t l3 : {0u, 13u, 16u, 26u}) {
        at = locator_of(b, 4);
        at.l3_off = l3;
        EXPECT_EQ(parse_tcp(c.get(), at, seg), tcp_verdict::truncated) << l3;
    }
    at = locator_of(b, 4);
    at.l4_off = at.l3_off + 19;
    EXPECT_EQ(parse_tcp(c.get(), at, seg), tcp_verdict::truncated);
    at = locator_of(b, 4);
    at.l4_len = 19;
    EXPECT_EQ(parse_tcp(c.get(), at, seg), tcp_verdict::truncated);
}

TEST(ParseTcp, Checksums) {
    for (int ip : {4, 6}) {
        t::tcp_spec s;
        s.ip = ip;
        s.payload = "some log line";
        s.csum = t::csum_kind::bad;
        const t::tcp_built bad = t::build_tcp_frame(s);
        s.csum = t::csum_kind::partial;
        const t::tcp_built partial = t::build_tcp_frame(s);
        s.csum = t::csum_kind::good;
        const t::tcp_built good = t::build_tcp_frame(s);
        tcp_segment seg;
        auto run = [&](const t::tcp_built& b, uint64_t ol, bool verify, bool partial_ok) {
            t::chain c(b.frame, {}, ol);
            auto at = locator_of(b, ip);
            at.verify_checksum = verify;
            at.accept_partial = partial_ok;
            return parse_tcp(c.get(), at, seg);
        };
        EXPECT_EQ(run(good, 0, true, false), tcp_verdict::ok);
        EXPECT_FALSE(seg.checksum_partial);
        EXPECT_EQ(run(bad, 0, true, false), tcp_verdict::bad_checksum);
        EXPECT_EQ(run(bad, 0, true, true), tcp_verdict::bad_checksum);
        EXPECT_EQ(run(partial, 0, true, false), tcp_verdict::bad_checksum);
        EXPECT_EQ(run(partial, 0, true, true), tcp_verdict::ok);
        EXPECT_TRUE(seg.checksum_partial);
        EXPECT_EQ(run(bad, 0, false, false), tcp_verdict::ok);
        // The NIC's verdict wins over the bytes.
        EXPECT_EQ(run(bad, RTE_MBUF_F_RX_L4_CKSUM_GOOD, true, false), tcp_verdict::ok);
        EXPECT_EQ(run(good, RTE_MBUF_F_RX_L4_CKSUM_BAD, true, false), tcp_verdict::bad_checksum);
    }
}

TEST(ParseTcp, MalformedOptions) {
    t::tcp_spec s;
    s.options = {1, 1, 2, 0}; // MSS with length 0
    const t::tcp_built b = t::build_tcp_frame(s);
    t::chain c(b.frame);
    tcp_segment seg;
    EXPECT_EQ(parse_tcp(c.get(), locator_of(b, 4), seg), tcp_verdict::bad_options);
}

logagg::net::tcp_path path_for(int ip, std::vector<uint16_t> tags) {
    logagg::net::tcp_path p;
    std::memcpy(p.local_mac, t::k_our_mac, 6);
    std::memcpy(p.remote_mac, t::k_client_mac, 6);
    p.n_vlan = static_cast<uint8_t>(tags.size());
    for (std::size_t i = 0; i < tags.size(); ++i) {
        p.vlan[i] = uint32_t{tags[i]} << 16 | 42u;
    }
    p.ip_version = static_cast<uint8_t>(ip);
    t::our_ip(ip, p.local_ip);
    t::client_ip(ip, 0, p.remote_ip);
    p.local_port = 514;
    p.remote_port = 40000;
    return p;
}

TEST(BuildTcp, ReadBackIndependentlyAndByParseTcp) {
    using logagg::net::tcp_out;
    std::vector<tcp_out> outs;
    tcp_out syn_ack;
    syn_ack.flags = 0x12;
    syn_ack.seq = 0xdeadbeef;
    syn_ack.ack = 1001;
    syn_ack.window = 65535;
    syn_ack.mss = 1460;
    syn_ack.wscale = 5;
    syn_ack.sack_permitted = true;
    syn_ack.timestamps = true;
    syn_ack.ts_val = 77;
    syn_ack.ts_ecr = 88;
    outs.push_back(syn_ack);
    tcp_out ack;
    ack.flags = 0x10;
    ack.seq = 5;
    ack.ack = 0xfffffff0;
    ack.window = 300;
    ack.timestamps = true;
    ack.n_sack = 4;
    for (unsigned i = 0; i < 4; ++i) {
        ack.sack[i] = {100u * i, 100u * i + 50};
    }
    outs.push_back(ack);
    tcp_out rst;
    rst.flags = 0x04;
    rst.seq = 9;
    outs.push_back(rst);
    for (int ip : {4, 6}) {
        for (const auto& tags : {std::vector<uint16_t>{}, {0x8100}, {0x88a8, 0x8100}}) {
            for (const tcp_out& o : outs) {
                const auto p = path_for(ip, tags);
                heap_mbuf hm;
                ASSERT_TRUE(
                    logagg::net::build_tcp(&hm.m, p, o, logagg::net::tx_checksum::software));
                EXPECT_EQ(hm.m.pkt_len, logagg::net::tcp_frame_len(p, o));
                const t::reply r = t::read_reply(&hm.m);
                ASSERT_TRUE(r.ok);
                EXPECT_EQ(std::memcmp(r.eth_dst, t::k_client_mac, 6), 0);
                EXPECT_EQ(std::memcmp(r.eth_src, t::k_our_mac, 6), 0);
                ASSERT_EQ(r.tags.size(), tags.size());
                EXPECT_EQ(r.ip, ip);
                EXPECT_EQ(r.ttl, 64);
                EXPECT_EQ(r.sport, 514);
                EXPECT_EQ(r.dport, 40000);
                EXPECT_EQ(r.seq, o.seq);
                EXPECT_EQ(r.ack, o.ack);
                EXPECT_EQ(r.flags, o.flags);
                EXPECT_EQ(r.window, o.window);
                EXPECT_EQ(r.payload_len, 0u);
                EXPECT_EQ(r.mss, o.mss != 0 ? o.mss : -1);
                EXPECT_EQ(r.ws, o.wscale);
                EXPECT_EQ(r.sack_ok, o.sack_permitted);
                EXPECT_EQ(r.has_ts, o.timestamps);
                if (o.timestamps) {
                    EXPECT_EQ(r.ts_val, o.ts_val);
                    EXPECT_EQ(r.ts_ecr, o.ts_ecr);
                }
                // Three blocks fit beside timestamps (RFC 2018 3), the newest first.
                EXPECT_EQ(r.sack.size(), o.n_sack != 0 ? 3u : 0u);
                EXPECT_EQ(hm.m.l2_len, 14u + 4u * tags.size());
                EXPECT_EQ(hm.m.l3_len, ip == 4 ? 20u : 40u);
                // And lib/net's own parser reads the frame back (from our side: local and
                // remote swap, so compare the ports the other way round).
                tcp_locator at;
                at.l3_off = hm.m.l2_len;
                at.l4_off = hm.m.l2_len + hm.m.l3_len;
                at.l4_len = hm.m.pkt_len - at.l4_off;
                at.ip_version = static_cast<uint8_t>(ip);
                tcp_segment seg;
                ASSERT_EQ(parse_tcp(&hm.m, at, seg), tcp_verdict::ok);
                EXPECT_EQ(seg.path.local_port, 40000);
                EXPECT_EQ(seg.seq, o.seq);
                EXPECT_EQ(seg.opts.n_sack, o.n_sack != 0 ? 3 : 0);
            }
        }
    }
}

TEST(BuildTcp, OptionLayouts) {
    using logagg::net::tcp_out;
    uint8_t out[40];
    tcp_out o;
    o.mss = 1460;
    o.sack_permitted = true;
    o.timestamps = true;
    o.ts_val = 0x01020304;
    o.ts_ecr = 0x05060708;
    o.wscale = 7;
    uint32_t n = logagg::net::write_tcp_options(o, out);
    EXPECT_EQ(bytes(out, out + n),
              (bytes{2, 4, 0x05, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 3, 3, 7}));
    o.sack_permitted = false;
    n = logagg::net::write_tcp_options(o, out);
    EXPECT_EQ(bytes(out, out + n),
              (bytes{2, 4, 0x05, 0xb4, 1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 3, 3, 7}));
    o.sack_permitted = true;
    o.timestamps = false;
    o.wscale = -1;
    n = logagg::net::write_tcp_options(o, out);
    EXPECT_EQ(bytes(out, out + n), (bytes{2, 4, 0x05, 0xb4, 1, 1, 4, 2}));
    tcp_out a;
    a.n_sack = 4;
    n = logagg::net::write_tcp_options(a, out);
    EXPECT_EQ(n, 4u + 32u); // four blocks without timestamps
    a.timestamps = true;
    n = logagg::net::write_tcp_options(a, out);
    EXPECT_EQ(n, 12u + 4u + 24u); // three beside them
}

TEST(BuildTcp, ChecksumOffloadAndNoRoom) {
    logagg::net::tcp_out o;
    o.flags = 0x10;
    o.seq = 1;
    o.ack = 2;
    for (int ip : {4, 6}) {
        heap_mbuf hm;
        ASSERT_TRUE(
            logagg::net::build_tcp(&hm.m, path_for(ip, {}), o, logagg::net::tx_checksum::offload));
        EXPECT_TRUE(t::read_reply(&hm.m, true).ok);
        EXPECT_FALSE(t::read_reply(&hm.m, false).ok);
        EXPECT_NE(hm.m.ol_flags & RTE_MBUF_F_TX_TCP_CKSUM, 0u);
        EXPECT_EQ((hm.m.ol_flags & RTE_MBUF_F_TX_IP_CKSUM) != 0, ip == 4);
        EXPECT_EQ(hm.m.l4_len, 20u);
    }
    heap_mbuf small(RTE_PKTMBUF_HEADROOM + 40);
    EXPECT_FALSE(
        logagg::net::build_tcp(&small.m, path_for(4, {}), o, logagg::net::tx_checksum::software));
    EXPECT_EQ(small.m.pkt_len, 0u);
}

} // namespace
