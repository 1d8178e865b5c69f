// SPDX-License-Identifier: BSD-3-Clause
// classify() over in-memory mbuf chains (no EAL): every frame kind, every truncation length,
// every drop reason, and every way of splitting a frame into segments.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <rte_mbuf.h>

#include "common/frames.hpp"
#include "net/classify.hpp"

namespace {

using logagg::net::classify;
using logagg::net::classify_options;
using logagg::net::drop_reason;
using logagg::net::listen_ports;
using logagg::net::packet_info;
using logagg::testing::build;
using logagg::testing::built;
using logagg::testing::bytes;
using logagg::testing::chain;
using logagg::testing::cksum;
using logagg::testing::put16;
using logagg::testing::spec;

listen_ports ports514() {
    listen_ports p;
    p.add(514);
    return p;
}

drop_reason run(const bytes& f, packet_info* info = nullptr, std::vector<uint32_t> cuts = {},
                uint64_t ol = 0, classify_options opts = {}) {
    static const listen_ports ports = ports514();
    chain c(f, std::move(cuts), ol);
    packet_info tmp;
    return classify(c.get(), ports, opts, info != nullptr ? *info : tmp);
}

std::vector<spec> valid_specs() {
    std::vector<spec> v;
    v.push_back({}); // IPv4
    spec opt;
    opt.ip_options = 8;
    v.push_back(opt); // IPv4 + options
    spec one;
    one.tags = {0x8100};
    v.push_back(one); // 802.1Q
    spec two;
    two.tags = {0x88a8, 0x8100};
    v.push_back(two); // QinQ
    spec six;
    six.ip = 6;
    v.push_back(six); // IPv6
    spec chain6;
    chain6.ip = 6;
    chain6.ext = {0, 43, 60};
    chain6.tags = {0x8100};
    v.push_back(chain6); // IPv6 + hop-by-hop, routing, dest opts
    spec big;
    big.payload = std::string(1400, 'x');
    v.push_back(big);
    spec tiny;
    tiny.payload = "";
    v.push_back(tiny); // empty datagram is still accepted
    return v;
}

TEST(Classify, ValidFramesOfEveryKind) {
    for (const spec& s : valid_specs()) {
        const built b = build(s);
        packet_info info;
        ASSERT_EQ(run(b.frame, &info), drop_reason::none)
            << "tags " << s.tags.size() << " ip " << s.ip;
        EXPECT_EQ(info.l2_len, b.l2);
        EXPECT_EQ(info.l3_len, b.l3);
        EXPECT_EQ(info.payload_off, b.payload_off);
        EXPECT_EQ(info.payload_len, s.payload.size());
        EXPECT_EQ(info.src_port, s.sport);
        EXPECT_EQ(info.dst_port, s.dport);
        EXPECT_EQ(info.ip_version, s.ip);
        EXPECT_EQ(info.vlan_tags, s.tags.size());
        EXPECT_EQ(std::string(reinterpret_cast<const char*>(&b.frame[info.payload_off]),
                              info.payload_len),
                  s.payload);
    }
}

/// What a frame of @p b cut to @p len bytes must be classified as.
drop_reason truncated_reason(const spec& s, const built& b, uint32_t len) {
    if (len < 14) {
        return drop_reason::eth_truncated;
    }
    if (len < b.l2) {
        return drop_reason::vlan_truncated;
    }
    const uint32_t ip_fixed = s.ip == 4 ? 20 : 40;
    if (len < b.l2 + ip_fixed) {
        return s.ip == 4 ? drop_reason::ipv4_truncated : drop_reason::ipv6_truncated;
    }
    if (s.ip == 4 && len < b.l2 + b.l3) {
        return drop_reason::ipv4_truncated; // IHL covers options that are cut
    }
    if (len < b.l2 + b.ip_total) {
        return s.ip == 4 ? drop_reason::ipv4_bad_length : drop_reason::ipv6_bad_length;
    }
    return drop_reason::none; // only Ethernet padding was cut
}

TEST(Classify, EveryTruncationLengthHasTheRightReason) {
    for (const spec& s : valid_specs()) {
        const built b = build(s);
        for (uint32_t len = 0; len < b.frame.size(); ++len) {
            const bytes cut(b.frame.begin(), b.frame.begin() + len);
            EXPECT_EQ(run(cut), truncated_reason(s, b, len))
                << "ip " << s.ip << " tags " << s.tags.size() << " cut to " << len;
        }
    }
}

TEST(Classify, EverySplitIntoSegmentsGivesTheSameResult) {
    for (const spec& s : valid_specs()) {
        const built b = build(s);
        packet_info whole;
        ASSERT_EQ(run(b.frame, &whole), drop_reason::none);
        const auto n = static_cast<uint32_t>(b.frame.size());
        for (uint32_t cut = 1; cut < n; ++cut) {
            packet_info split;
            ASSERT_EQ(run(b.frame, &split, {cut}), drop_reason::none) << "split at " << cut;
            EXPECT_EQ(split.payload_off, whole.payload_off);
            EXPECT_EQ(split.payload_len, whole.payload_len);
            EXPECT_EQ(split.flow_hash, whole.flow_hash);
            EXPECT_EQ(split.l3_len, whole.l3_len);
        }
        for (uint32_t a = 1; a + 2 < n; a += 3) { // three and four segments, headers straddling
            packet_info split;
            ASSERT_EQ(run(b.frame, &split, {a, a + 1}), drop_reason::none);
            ASSERT_EQ(run(b.frame, &split, {a, a + 1, a + 2}), drop_reason::none);
            EXPECT_EQ(split.payload_off, whole.payload_off);
        }
        // Truncations split into segments agree with the contiguous ones.
        for (uint32_t len = 15; len < n; len += 7) {
            const bytes cut(b.frame.begin(), b.frame.begin() + len);
            EXPECT_EQ(run(cut, nullptr, {len / 2}), truncated_reason(s, b, len));
        }
    }
}

// ---- each drop reason on purpose ----

built v4(const spec& s = {}) {
    return build(s);
}
built v6(std::vector<uint8_t> ext = {}) {
    spec s;
    s.ip = 6;
    s.ext = std::move(ext);
    return build(s);
}

TEST(Classify, EthernetAndVlanReasons) {
    EXPECT_EQ(run(bytes(13, 0)), drop_reason::eth_truncated);
    spec three;
    three.tags = {0x88a8, 0x8100, 0x8100};
    EXPECT_EQ(run(build(three).frame), drop_reason::vlan_too_many);
    built arp = v4();
    arp.frame[12] = 0x08;
    arp.frame[13] = 0x06;
    EXPECT_EQ(run(arp.frame), drop_reason::not_ip);
    built lldp = v4();
    lldp.frame[12] = 0x88;
    lldp.frame[13] = 0xcc;
    EXPECT_EQ(run(lldp.frame), drop_reason::not_ip);
}

TEST(Classify, Ipv4Reasons) {
    auto mutate = [](auto fn, bool fix_csum = true) {
        built b = v4();
        fn(b.frame);
        if (fix_csum) {
            b.frame[24] = b.frame[25] = 0;
            bytes hdr(b.frame.begin() + 14, b.frame.begin() + 14 + (b.frame[14] & 0xf) * 4);
            put16(b.frame, 24, cksum(hdr));
        }
        return run(b.frame);
    };
    EXPECT_EQ(mutate([](bytes& f) { f[14] = 0x65; }), drop_reason::ipv4_bad_version);
    EXPECT_EQ(mutate([](bytes& f) { f[14] = 0x44; }, false), drop_reason::ipv4_bad_ihl);
    EXPECT_EQ(mutate([](bytes& f) { f[14] = 0x4f; }, false),
              drop_reason::ipv4_truncated); // 60-byte header, 46 bytes there
    EXPECT_EQ(mutate([](bytes& f) { put16(f, 16, 19); }), drop_reason::ipv4_bad_length);
    EXPECT_EQ(mutate([](bytes& f) { put16(f, 16, 1500); }), drop_reason::ipv4_bad_length);
    EXPECT_EQ(mutate([](bytes& f) { f[22] = 63; }, false), drop_reason::ipv4_bad_checksum);
    EXPECT_EQ(mutate([](bytes& f) { put16(f, 20, 0x2000); }), drop_reason::ipv4_fragment);
    EXPECT_EQ(mutate([](bytes& f) { put16(f, 20, 0x0001); }), drop_reason::ipv4_fragment);
    EXPECT_EQ(mutate([](bytes& f) { put16(f, 20, 0x4000); }), drop_reason::none); // DF is fine
    EXPECT_EQ(mutate([](bytes& f) { f[23] = 6; }), drop_reason::not_udp);
    // UDP header cut by the IP total length.
    EXPECT_EQ(mutate([](bytes& f) { put16(f, 16, 24); }), drop_reason::udp_truncated);
    // UDP length beyond the IP payload, and below 8.
    EXPECT_EQ(mutate([](bytes& f) { put16(f, 38, 400); }, true), drop_reason::udp_bad_length);
    EXPECT_EQ(mutate([](bytes& f) { put16(f, 38, 7); }, true), drop_reason::udp_bad_length);
}

TEST(Classify, UdpPortAndChecksumReasons) {
    built b = v4();
    b.frame[40]++; // UDP checksum
    EXPECT_EQ(run(b.frame), drop_reason::udp_bad_checksum);
    b.frame[37] = 53; // also to port 53: the port is checked first
    EXPECT_EQ(run(b.frame), drop_reason::port_not_listened);
    built z = v4();
    z.frame[40] = z.frame[41] = 0; // IPv4: zero means no checksum
    EXPECT_EQ(run(z.frame), drop_reason::none);
    built p = v4();
    p.frame[b.payload_off] ^= 1; // payload corrupted
    EXPECT_EQ(run(p.frame), drop_reason::udp_bad_checksum);
    classify_options off{false, false};
    EXPECT_EQ(run(p.frame, nullptr, {}, 0, off), drop_reason::none);
    built h = v4();
    h.frame[22] = 1; // TTL changed, header checksum now wrong
    EXPECT_EQ(run(h.frame, nullptr, {}, 0, off), drop_reason::none);
}

TEST(Classify, NicChecksumVerdictsWin) {
    const built good = v4();
    EXPECT_EQ(run(good.frame, nullptr, {}, RTE_MBUF_F_RX_IP_CKSUM_BAD),
              drop_reason::ipv4_bad_checksum);
    EXPECT_EQ(run(good.frame, nullptr, {}, RTE_MBUF_F_RX_L4_CKSUM_BAD),
              drop_reason::udp_bad_checksum);
    built bad = v4();
    bad.frame[bad.payload_off] ^= 1;
    bad.frame[22] = 1;
    EXPECT_EQ(
        run(bad.frame, nullptr, {}, RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD),
        drop_reason::none);
}

// ---- partial checksums (CHECKSUM_PARTIAL from a local sender, seen through net_af_packet) ----

classify_options af_packet_opts() {
    classify_options o;
    o.accept_partial_checksum = true;
    return o;
}

std::vector<spec> partial_specs() {
    std::vector<spec> v;
    for (spec s : valid_specs()) {
        s.partial_checksum = true;
        v.push_back(s);
    }
    return v;
}

TEST(Classify, PartialChecksumIsAcceptedAndReportedOnAfPacketPorts) {
    for (const spec& s : partial_specs()) {
        const built b = build(s);
        packet_info info;
        ASSERT_EQ(run(b.frame, &info, {}, 0, af_packet_opts()), drop_reason::none)
            << "ip " << s.ip << " tags " << s.tags.size() << " ext " << s.ext.size();
        EXPECT_TRUE(info.checksum_partial);
        EXPECT_EQ(info.payload_off, b.payload_off);
        EXPECT_EQ(info.payload_len, s.payload.size());
        // Split anywhere: the same verdict.
        for (uint32_t cut = 1; cut < b.frame.size(); cut += 5) {
            packet_info split;
            ASSERT_EQ(run(b.frame, &split, {cut}, 0, af_packet_opts()), drop_reason::none);
            EXPECT_TRUE(split.checksum_partial);
        }
    }
}

TEST(Classify, PartialChecksumIsBadElsewhere) {
    for (const spec& s : partial_specs()) {
        packet_info info;
        EXPECT_EQ(run(build(s).frame, &info), drop_reason::udp_bad_checksum)
            << "ip " << s.ip << " tags " << s.tags.size();
    }
}

TEST(Classify, CompleteChecksumsAreNotCountedAsPartial) {
    for (const spec& s : valid_specs()) {
        packet_info info;
        ASSERT_EQ(run(build(s).frame, &info, {}, 0, af_packet_opts()), drop_reason::none);
        EXPECT_FALSE(info.checksum_partial);
    }
}

TEST(Classify, PartialChecksumMustMatchThisPacketsPseudoHeader) {
    // The field of another pseudo-header (source address changed after the sum; the IPv4 header
    // checksum fixed) is simply wrong.
    spec s;
    s.partial_checksum = true;
    built b = build(s);
    b.frame[29] ^= 1; // last byte of the IPv4 source
    b.frame[24] = b.frame[25] = 0;
    put16(b.frame, 24, cksum(bytes(b.frame.begin() + 14, b.frame.begin() + 34)));
    EXPECT_EQ(run(b.frame, nullptr, {}, 0, af_packet_opts()), drop_reason::udp_bad_checksum);
    // Off by one in the field.
    built c = build(s);
    c.frame[41] ^= 1;
    EXPECT_EQ(run(c.frame, nullptr, {}, 0, af_packet_opts()), drop_reason::udp_bad_checksum);
    // IPv6 with a zero field stays invalid (RFC 8200 8.1), partial or not.
    spec six;
    six.ip = 6;
    six.partial_checksum = true;
    built z = build(six);
    z.frame[60] = z.frame[61] = 0;
    EXPECT_EQ(run(z.frame, nullptr, {}, 0, af_packet_opts()), drop_reason::udp_bad_checksum);
    // A NIC's bad verdict wins over the partial form.
    EXPECT_EQ(run(build(s).frame, nullptr, {}, RTE_MBUF_F_RX_L4_CKSUM_BAD, af_packet_opts()),
              drop_reason::udp_bad_checksum);
    // With --no-checksum nothing is verified, so nothing is reported as partial.
    classify_options off = af_packet_opts();
    off.verify_udp_checksum = false;
    packet_info info;
    EXPECT_EQ(run(build(s).frame, &info, {}, 0, off), drop_reason::none);
    EXPECT_FALSE(info.checksum_partial);
}

TEST(Classify, FramesCutByThePmdAreFrameTruncated) {
    // net_af_packet keeps the first snap_len bytes of a longer frame (a GRO/GSO frame, or an IPv4
    // datagram the kernel reassembled); its IP length then runs past the frame.
    for (int ip : {4, 6}) {
        for (std::vector<uint16_t> tags :
             {std::vector<uint16_t>{}, std::vector<uint16_t>{0x8100}}) {
            spec s;
            s.ip = ip;
            s.tags = tags;
            s.payload = std::string(3000, 'g');
            const built b = build(s);
            const bytes cut(b.frame.begin(), b.frame.begin() + 1982);
            classify_options o = af_packet_opts();
            o.snap_len = 1982;
            EXPECT_EQ(run(cut, nullptr, {}, 0, o), drop_reason::frame_truncated) << ip;
            EXPECT_EQ(run(cut, nullptr, {1000}, 0, o), drop_reason::frame_truncated) << ip;
            // A shorter frame with the same lie is malformed, and so is any frame elsewhere.
            const bytes shorter(b.frame.begin(), b.frame.begin() + 1981);
            const drop_reason bad =
                ip == 4 ? drop_reason::ipv4_bad_length : drop_reason::ipv6_bad_length;
            EXPECT_EQ(run(shorter, nullptr, {}, 0, o), bad) << ip;
            EXPECT_EQ(run(cut), bad) << ip;
        }
    }
    // A frame that fits is not affected by snap_len.
    classify_options o;
    o.snap_len = 60;
    EXPECT_EQ(run(v4().frame, nullptr, {}, 0, o), drop_reason::none);
}

TEST(Classify, Ipv6Reasons) {
    built b = v6();
    b.frame[14] = 0x40;
    EXPECT_EQ(run(b.frame), drop_reason::ipv6_bad_version);
    b = v6();
    put16(b.frame, 18, 0);
    EXPECT_EQ(run(b.frame), drop_reason::ipv6_bad_length);
    b = v6();
    put16(b.frame, 18, 1000);
    EXPECT_EQ(run(b.frame), drop_reason::ipv6_bad_length);
    b = v6({60});
    b.frame[54 + 1] = 200; // dest-opts length beyond the payload
    EXPECT_EQ(run(b.frame), drop_reason::ipv6_ext_truncated);
    EXPECT_EQ(run(v6({60, 60, 60, 60, 60, 60, 60, 60}).frame), drop_reason::none);
    EXPECT_EQ(run(v6({60, 60, 60, 60, 60, 60, 60, 60, 60}).frame), drop_reason::ipv6_ext_too_many);
    EXPECT_EQ(run(v6({60, 0}).frame), drop_reason::ipv6_ext_bad_order);
    b = v6({60});
    b.frame[54] = 44; // dest-opts -> fragment header
    EXPECT_EQ(run(b.frame), drop_reason::ipv6_fragment);
    b = v6();
    b.frame[20] = 58; // ICMPv6
    EXPECT_EQ(run(b.frame), drop_reason::not_udp);
    b = v6();
    b.frame[61]++; // UDP checksum
    EXPECT_EQ(run(b.frame), drop_reason::udp_bad_checksum);
    b = v6();
    b.frame[60] = b.frame[61] = 0; // zero is invalid over IPv6 (RFC 8200 8.1)
    EXPECT_EQ(run(b.frame), drop_reason::udp_bad_checksum);
    b = v6();
    put16(b.frame, 18, 4); // UDP header cut by the payload length
    b.frame.resize(14 + 44);
    EXPECT_EQ(run(b.frame), drop_reason::udp_truncated);
}

TEST(Classify, PaddingAfterTheDatagramIsIgnored) {
    built b = v4();
    b.frame.insert(b.frame.end(), 30, 0xee);
    packet_info info;
    EXPECT_EQ(run(b.frame, &info), drop_reason::none);
    EXPECT_EQ(info.payload_len, spec{}.payload.size());
}

TEST(Classify, FlowHashFollowsTheFlow) {
    spec a;
    spec b;
    b.payload = "<13>other message";
    spec c;
    c.sport = 40001;
    packet_info ia, ib, ic;
    ASSERT_EQ(run(build(a).frame, &ia), drop_reason::none);
    ASSERT_EQ(run(build(b).frame, &ib), drop_reason::none);
    ASSERT_EQ(run(build(c).frame, &ic), drop_reason::none);
    EXPECT_EQ(ia.flow_hash, ib.flow_hash);
    EXPECT_NE(ia.flow_hash, ic.flow_hash);
}

TEST(Classify, NamesAreUniqueAndStable) {
    for (std::size_t i = 0; i < logagg::net::drop_reason_count; ++i) {
        for (std::size_t j = i + 1; j < logagg::net::drop_reason_count; ++j) {
            EXPECT_NE(logagg::net::drop_reason_names[i], logagg::net::drop_reason_names[j]);
        }
    }
    EXPECT_EQ(logagg::net::name(drop_reason::udp_bad_checksum), "udp_bad_checksum");
    EXPECT_EQ(logagg::net::name(drop_reason::worker_ring_full), "worker_ring_full");
    EXPECT_EQ(logagg::net::name(drop_reason::frame_truncated), "frame_truncated");
}

} // namespace
