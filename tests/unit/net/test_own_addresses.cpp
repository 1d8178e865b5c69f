// SPDX-License-Identifier: BSD-3-Clause
// --ip: classify() recognising requests to our addresses, and the responder's replies, byte for
// byte with checksums verified independently (RFC 1071). No EAL: in-memory mbufs.
#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <cstring>

#include "common/frames.hpp"
#include "net/classify.hpp"
#include "net/local.hpp"
#include "pipeline/responder.hpp"

namespace {

using logagg::net::drop_reason;
using logagg::net::packet_info;
using logagg::net::packet_kind;
using logagg::testing::bytes;
using logagg::testing::cksum;

const uint8_t our_mac[6] = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};
const uint8_t peer_mac[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};

logagg::net::local_addrs local() {
    logagg::net::local_addrs l;
    std::memcpy(l.mac, our_mac, 6);
    inet_pton(AF_INET, "198.18.5.1", l.v4[0].data());
    l.n_v4 = 1;
    inet_pton(AF_INET6, "2001:db8:5::1", l.v6[0].data());
    l.n_v6 = 1;
    return l;
}

bytes eth(const uint8_t* dst, uint16_t type) {
    bytes f(dst, dst + 6);
    f.insert(f.end(), peer_mac, peer_mac + 6);
    f.push_back(static_cast<uint8_t>(type >> 8));
    f.push_back(static_cast<uint8_t>(type));
    return f;
}

bytes arp_request(const char* target) {
    const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    bytes f = eth(bcast, 0x0806);
    const uint8_t hdr[8] = {0, 1, 8, 0, 6, 4, 0, 1};
    f.insert(f.end(), hdr, hdr + 8);
    f.insert(f.end(), peer_mac, peer_mac + 6);
    uint8_t ip[4];
    inet_pton(AF_INET, "198.18.5.2", ip);
    f.insert(f.end(), ip, ip + 4);
    f.insert(f.end(), 6, 0);
    inet_pton(AF_INET, target, ip);
    f.insert(f.end(), ip, ip + 4);
    f.resize(60, 0);
    return f;
}

bytes icmp_echo(const char* dst) {
    bytes f = eth(our_mac, 0x0800);
    bytes ip(20, 0);
    ip[0] = 0x45;
    bytes icmp = {8, 0, 0, 0, 0x12, 0x34, 0, 1, 'p', 'i', 'n', 'g'};
    logagg::testing::put16(icmp, 2, cksum(icmp));
    logagg::testing::put16(ip, 2, static_cast<uint16_t>(20 + icmp.size()));
    ip[8] = 64;
    ip[9] = 1;
    inet_pton(AF_INET, "198.18.5.2", &ip[12]);
    inet_pton(AF_INET, dst, &ip[16]);
    logagg::testing::put16(ip, 10, cksum(ip));
    f.insert(f.end(), ip.begin(), ip.end());
    f.insert(f.end(), icmp.begin(), icmp.end());
    f.resize(60, 0);
    return f;
}

uint16_t icmpv6_sum(const uint8_t* ip6, const uint8_t* icmp, uint32_t len) {
    bytes b(ip6 + 8, ip6 + 40);
    b.push_back(static_cast<uint8_t>(len >> 24));
    b.push_back(static_cast<uint8_t>(len >> 16));
    b.push_back(static_cast<uint8_t>(len >> 8));
    b.push_back(static_cast<uint8_t>(len));
    b.insert(b.end(), {0, 0, 0, 58});
    b.insert(b.end(), icmp, icmp + len);
    return cksum(b); // 0 when the stored checksum is right
}

/// A neighbour solicitation for @p target from @p src (":: " for DAD) to @p dst.
bytes ns(const char* src, const char* dst, const char* target, uint8_t hop_limit = 255) {
    const uint8_t mcast[6] = {0x33, 0x33, 0xff, 0, 0, 1};
    bytes f = eth(mcast, 0x86dd);
    bytes ip(40, 0);
    ip[0] = 0x60;
    ip[6] = 58;
    ip[7] = hop_limit;
    inet_pton(AF_INET6, src, &ip[8]);
    inet_pton(AF_INET6, dst, &ip[24]);
    bytes icmp(24, 0);
    icmp[0] = 135;
    inet_pton(AF_INET6, target, &icmp[8]);
    if (std::strcmp(src, "::") != 0) { // source link-layer address option
        icmp.insert(icmp.end(), {1, 1});
        icmp.insert(icmp.end(), peer_mac, peer_mac + 6);
    }
    logagg::testing::put16(ip, 4, static_cast<uint16_t>(icmp.size()));
    ip.insert(ip.end(), icmp.begin(), icmp.end());
    const uint16_t c = icmpv6_sum(ip.data(), ip.data() + 40, static_cast<uint32_t>(icmp.size()));
    logagg::testing::put16(ip, 42, c);
    f.insert(f.end(), ip.begin(), ip.end());
    return f;
}

struct classified {
    drop_reason r;
    packet_info info;
};

classified classify(const bytes& f, bool with_local = true) {
    static const auto l = local();
    logagg::net::listen_ports ports;
    ports.add(514);
    logagg::net::classify_options o;
    o.local = with_local ? &l : nullptr;
    logagg::testing::chain c(f);
    classified out{};
    out.r = logagg::net::classify(c.get(), ports, o, out.info);
    return out;
}

/// Runs the responder on @p f in place and returns the reply bytes.
bytes reply(bytes f) {
    static const auto l = local();
    const classified c = classify(f);
    EXPECT_EQ(c.r, drop_reason::none);
    // A real mbuf layout with room to grow (a neighbour advert may be longer than the request).
    alignas(64) static uint8_t storage[sizeof(rte_mbuf) + 2048];
    auto* m = reinterpret_cast<rte_mbuf*>(storage);
    std::memset(storage, 0, sizeof storage);
    m->buf_addr = storage + sizeof(rte_mbuf);
    m->buf_len = 2048;
    m->data_off = 128;
    m->nb_segs = 1;
    m->refcnt = 1;
    std::memcpy(rte_pktmbuf_mtod(m, uint8_t*), f.data(), f.size());
    m->data_len = static_cast<uint16_t>(f.size());
    m->pkt_len = static_cast<uint32_t>(f.size());
    logagg::pipeline::responder r;
    r.local = &l;
    r.tsc_hz = 1;
    EXPECT_EQ(logagg::pipeline::answer(r, m, c.info, 0), logagg::pipeline::answer_status::queued);
    const auto* p = rte_pktmbuf_mtod(m, const uint8_t*);
    return bytes(p, p + m->pkt_len);
}

TEST(OwnAddresses, WithoutIpNothingIsAnswered) {
    EXPECT_EQ(classify(arp_request("198.18.5.1"), false).r, drop_reason::not_ip);
    EXPECT_EQ(classify(icmp_echo("198.18.5.1"), false).r, drop_reason::not_udp);
}

TEST(OwnAddresses, RequestsAreRecognisedAndOthersNamed) {
    EXPECT_EQ(classify(arp_request("198.18.5.1")).info.kind, packet_kind::arp_request);
    EXPECT_EQ(classify(arp_request("198.18.5.7")).r, drop_reason::not_for_us);
    bytes arp_reply = arp_request("198.18.5.1");
    arp_reply[21] = 2; // a reply to us: reported, so RX can learn a next hop's MAC from it
    EXPECT_EQ(classify(arp_reply).info.kind, packet_kind::arp_reply);
    bytes arp_other = arp_request("198.18.5.1");
    arp_other[21] = 3; // RARP request: neither request nor reply
    EXPECT_EQ(classify(arp_other).r, drop_reason::arp_not_request);
    bytes short_arp = arp_request("198.18.5.1");
    short_arp.resize(30);
    EXPECT_EQ(classify(short_arp).r, drop_reason::arp_malformed);
    EXPECT_EQ(classify(icmp_echo("198.18.5.1")).info.kind, packet_kind::icmp_echo);
    EXPECT_EQ(classify(icmp_echo("198.18.5.9")).r, drop_reason::not_for_us);
    EXPECT_EQ(classify(ns("2001:db8:5::2", "ff02::1:ff00:1", "2001:db8:5::1")).info.kind,
              packet_kind::nd_solicit);
    EXPECT_EQ(classify(ns("2001:db8:5::2", "ff02::1:ff00:1", "2001:db8:5::1", 64)).r,
              drop_reason::nd_invalid);
    EXPECT_EQ(classify(ns("2001:db8:5::2", "ff02::1:ff00:7", "2001:db8:5::7")).r,
              drop_reason::not_for_us);
}

TEST(OwnAddresses, ArpReply) {
    const bytes r = reply(arp_request("198.18.5.1"));
    EXPECT_EQ(bytes(r.begin(), r.begin() + 6), bytes(peer_mac, peer_mac + 6));
    EXPECT_EQ(bytes(r.begin() + 6, r.begin() + 12), bytes(our_mac, our_mac + 6));
    EXPECT_EQ(r[21], 2); // reply
    EXPECT_EQ(bytes(r.begin() + 22, r.begin() + 28), bytes(our_mac, our_mac + 6));
    EXPECT_EQ(bytes(r.begin() + 28, r.begin() + 32), (bytes{198, 18, 5, 1}));
    EXPECT_EQ(bytes(r.begin() + 32, r.begin() + 38), bytes(peer_mac, peer_mac + 6));
    EXPECT_EQ(bytes(r.begin() + 38, r.begin() + 42), (bytes{198, 18, 5, 2}));
}

TEST(OwnAddresses, IcmpEchoReply) {
    const bytes r = reply(icmp_echo("198.18.5.1"));
    EXPECT_EQ(bytes(r.begin(), r.begin() + 6), bytes(peer_mac, peer_mac + 6));
    EXPECT_EQ(cksum(bytes(r.begin() + 14, r.begin() + 34)), 0); // IPv4 header checksum verifies
    EXPECT_EQ(bytes(r.begin() + 26, r.begin() + 30), (bytes{198, 18, 5, 1}));
    EXPECT_EQ(bytes(r.begin() + 30, r.begin() + 34), (bytes{198, 18, 5, 2}));
    EXPECT_EQ(r[34], 0); // echo reply
    EXPECT_EQ(cksum(bytes(r.begin() + 34, r.begin() + 46)), 0);
    EXPECT_EQ(bytes(r.begin() + 38, r.begin() + 46), (bytes{0x12, 0x34, 0, 1, 'p', 'i', 'n', 'g'}));
}

TEST(OwnAddresses, NeighbourAdvertisement) {
    const bytes r = reply(ns("2001:db8:5::2", "ff02::1:ff00:1", "2001:db8:5::1"));
    ASSERT_EQ(r.size(), 14u + 40 + 32);
    EXPECT_EQ(bytes(r.begin(), r.begin() + 6), bytes(peer_mac, peer_mac + 6));
    const uint8_t* ip6 = r.data() + 14;
    const uint8_t* icmp = ip6 + 40;
    EXPECT_EQ(ip6[7], 255);
    uint8_t ours[16];
    uint8_t peer[16];
    inet_pton(AF_INET6, "2001:db8:5::1", ours);
    inet_pton(AF_INET6, "2001:db8:5::2", peer);
    EXPECT_EQ(std::memcmp(ip6 + 8, ours, 16), 0);
    EXPECT_EQ(std::memcmp(ip6 + 24, peer, 16), 0);
    EXPECT_EQ(icmp[0], 136);
    EXPECT_EQ(icmp[4], 0x60); // solicited + override
    EXPECT_EQ(std::memcmp(icmp + 8, ours, 16), 0);
    EXPECT_EQ(icmp[24], 2);
    EXPECT_EQ(std::memcmp(icmp + 26, our_mac, 6), 0);
    EXPECT_EQ(icmpv6_sum(ip6, icmp, 32), 0);
}

TEST(OwnAddresses, DuplicateAddressDetectionIsDefended) {
    // Someone probing our address (source ::) gets an unsolicited advert to all nodes.
    const bytes r = reply(ns("::", "ff02::1:ff00:1", "2001:db8:5::1"));
    ASSERT_EQ(r.size(), 14u + 40 + 32); // grew by the option the DAD probe lacked
    EXPECT_EQ(bytes(r.begin(), r.begin() + 6), (bytes{0x33, 0x33, 0, 0, 0, 1}));
    const uint8_t* ip6 = r.data() + 14;
    uint8_t all_nodes[16];
    inet_pton(AF_INET6, "ff02::1", all_nodes);
    EXPECT_EQ(std::memcmp(ip6 + 24, all_nodes, 16), 0);
    EXPECT_EQ(ip6[54 - 14 + 4], 0x20); // override only, not solicited
    EXPECT_EQ(icmpv6_sum(ip6, ip6 + 40, 32), 0);
}

TEST(OwnAddresses, RateLimitPerSecond) {
    const auto l = local();
    logagg::pipeline::responder r;
    r.local = &l;
    r.rate = 2;
    r.tsc_hz = 1000;
    const classified c = classify(icmp_echo("198.18.5.1"));
    bytes f = icmp_echo("198.18.5.1");
    logagg::testing::chain m(f);
    // The limiter decides before touching the packet; the third request in a window is refused.
    r.in_window = 2;
    r.window_tsc = 0;
    EXPECT_EQ(logagg::pipeline::answer(r, const_cast<rte_mbuf*>(m.get()), c.info, 999),
              logagg::pipeline::answer_status::rate_limited);
    r.n_out = 0;
    EXPECT_EQ(logagg::pipeline::answer(r, const_cast<rte_mbuf*>(m.get()), c.info, 1000),
              logagg::pipeline::answer_status::queued); // a new second
}

} // namespace
