// SPDX-License-Identifier: BSD-3-Clause
// net_af_packet port facts (no EAL): devargs, the PMD's frame cut, the offload warning.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>

#include "control/af_packet.hpp"
#include "util/unique_fd.hpp"

namespace {

using namespace logagg::control;

TEST(AfPacket, DevargsGiveTheInterfaceAndFrameSize) {
    af_packet_args a = parse_af_packet_args("iface=veth0,qpairs=2");
    EXPECT_EQ(a.iface, "veth0");
    EXPECT_EQ(a.frame_size, 2048u); // the PMD's default
    a = parse_af_packet_args("qpairs=1,framesz=1024,iface=lga42,blocksz=4096");
    EXPECT_EQ(a.iface, "lga42");
    EXPECT_EQ(a.frame_size, 1024u);
    a = parse_af_packet_args("");
    EXPECT_EQ(a.iface, "");
    EXPECT_EQ(parse_af_packet_args("iface=x,framesz=abc").frame_size, 2048u);
    EXPECT_EQ(parse_af_packet_args("iface=x,framesz=0").frame_size, 2048u);
}

TEST(AfPacket, PortsThatReadAKernelInterface) {
    EXPECT_TRUE(reads_kernel_interface("net_af_packet", "iface=veth0"));
    EXPECT_TRUE(reads_kernel_interface("net_pcap", "iface=eth0"));
    EXPECT_TRUE(reads_kernel_interface("net_pcap", "rx_iface=eth0,tx_pcap=/dev/null"));
    EXPECT_TRUE(reads_kernel_interface("net_pcap", "tx_pcap=out.pcap,rx_iface_in=eth1"));
    EXPECT_FALSE(reads_kernel_interface("net_pcap", "rx_pcap=in.pcap,tx_iface=eth0"));
    EXPECT_FALSE(reads_kernel_interface("net_pcap", "rx_pcap=in.pcap,infinite_rx=1"));
    EXPECT_FALSE(reads_kernel_interface("net_pcap", ""));
    EXPECT_FALSE(reads_kernel_interface("net_ring", "iface=eth0"));
}

TEST(AfPacket, SnapLenIsTheFrameLessTheKernelsHeaderRoom) {
    // Measured on a veth with the default 2048-byte frames: a 1942-byte frame arrives whole, a
    // 1992-byte one is cut (TPACKET2_HDRLEN 52 + 16, aligned to 80, less the 14-byte MAC header).
    EXPECT_EQ(af_packet_snap_len(2048), 1982u);
    EXPECT_EQ(af_packet_snap_len(4096), 4030u);
    EXPECT_EQ(af_packet_snap_len(66), 0u);
    EXPECT_EQ(af_packet_snap_len(10), 0u);
}

TEST(AfPacket, WarningNamesEachOffloadAndTheExactCommand) {
    iface_offloads o;
    o.driver = "e1000e";
    o.enabled = {"rx-gro",
                 "rx-lro",
                 "tx-tcp-segmentation",
                 "tx-tcp6-segmentation",
                 "tx-udp-segmentation",
                 "rx-udp-gro-forwarding"};
    const auto lines = offload_warnings("eth1", o, 1982);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NE(lines[0].find("warning: eth1 hands the PMD frames longer than the 1982 bytes"),
              std::string::npos)
        << lines[0];
    EXPECT_NE(lines[0].find("frame_truncated"), std::string::npos);
    EXPECT_NE(lines[0].find("ethtool -K eth1 gro off rx-udp-gro-forwarding off lro off tso off "
                            "tx-udp-segmentation off"),
              std::string::npos)
        << lines[0];
    EXPECT_EQ(lines[0].rfind("tx-udp-segmentation off"), lines[0].size() - 23); // the end
}

TEST(AfPacket, UdpGroFlagsMatterOnlyWithGro) {
    iface_offloads o;
    o.enabled = {"rx-udp-gro-forwarding", "rx-gro-list"};
    EXPECT_TRUE(offload_warnings("eth1", o, 1982).empty());
    o.enabled.push_back("rx-gro");
    const auto lines = offload_warnings("eth1", o, 1982);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NE(lines[0].find("ethtool -K eth1 gro off rx-udp-gro-forwarding off rx-gro-list off"),
              std::string::npos)
        << lines[0];
}

TEST(AfPacket, NothingToSayWithOffloadsOff) {
    iface_offloads o;
    o.driver = "ixgbe";
    EXPECT_TRUE(offload_warnings("eth1", o, 1982).empty());
    o.enabled = {"tx-checksum-ip-generic", "rx-checksum"}; // not ours to worry about
    EXPECT_TRUE(offload_warnings("eth1", o, 1982).empty());
}

TEST(AfPacket, AVethGetsANoteAboutItsPeer) {
    iface_offloads o;
    o.driver = "veth";
    const auto lines = offload_warnings("lga7", o, 1982);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0].rfind("note: lga7 is a veth", 0), 0u) << lines[0];
    EXPECT_NE(lines[0].find("ethtool -K PEER tso off tx-udp-segmentation off"), std::string::npos);
}

TEST(AfPacket, UnreadableOffloadsAreSaid) {
    const logagg::util::failure unread("cannot read the offloads of tun0: ETHTOOL_GFEATURES: "
                                       "Operation not supported");
    const auto lines = offload_warnings("tun0", unread, 1982);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0].rfind("note: cannot read the offloads of tun0: ETHTOOL_GFEATURES: "
                             "Operation not supported; ",
                             0),
              0u)
        << lines[0];
    EXPECT_NE(lines[0].find("1982 bytes"), std::string::npos) << lines[0];
}

TEST(AfPacket, ReadsARealInterface) {
    // Loopback exists everywhere; its features are the kernel's, so only their shape is checked.
    const auto lo = read_offloads("lo");
    ASSERT_TRUE(lo.ok()) << lo.error().text;
    for (const std::string& f : lo.value().enabled) {
        EXPECT_TRUE(f.rfind("rx-", 0) == 0 || f.rfind("tx-", 0) == 0) << f;
    }
    const auto none = read_offloads("nosuchif9");
    ASSERT_FALSE(none.ok());
    EXPECT_NE(none.error().text.find("nosuchif9"), std::string::npos) << none.error().text;
}

/// An AF_PACKET raw socket; bound to @p ifindex when it is not 0, with PACKET_VERSION @p version
/// when it is not -1. Fails the test when the socket cannot be made (the suite runs as root).
logagg::util::unique_fd packet_socket(unsigned ifindex, int version) {
    logagg::util::unique_fd s(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL)));
    EXPECT_TRUE(s.valid()) << "socket(AF_PACKET): " << errno << " (the unit suite runs as root)";
    if (version >= 0) {
        EXPECT_EQ(setsockopt(s.get(), SOL_PACKET, PACKET_VERSION, &version, sizeof version), 0);
    }
    if (ifindex != 0) {
        sockaddr_ll sll{};
        sll.sll_family = AF_PACKET;
        sll.sll_protocol = htons(ETH_P_ALL);
        sll.sll_ifindex = static_cast<int>(ifindex);
        EXPECT_EQ(bind(s.get(), reinterpret_cast<sockaddr*>(&sll), sizeof sll), 0) << errno;
    }
    return s;
}

TEST(AfPacket, FindsTheRingSocketsOfAnInterface) {
    const unsigned lo = if_nametoindex("lo");
    ASSERT_NE(lo, 0u);
    // What net_af_packet opens (TPACKET_V2, bound to the interface), twice; and sockets that
    // must not be taken for its: unbound, another packet version, another family.
    const auto a = packet_socket(lo, TPACKET_V2);
    const auto b = packet_socket(lo, TPACKET_V2);
    const auto unbound = packet_socket(0, TPACKET_V2);
    const auto v3 = packet_socket(lo, TPACKET_V3);
    const auto v1 = packet_socket(lo, -1);
    const logagg::util::unique_fd udp(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(a.valid() && b.valid() && unbound.valid() && v3.valid() && v1.valid());
    std::vector<int> want{a.get(), b.get()};
    std::sort(want.begin(), want.end());
    EXPECT_EQ(af_packet_sockets(lo), want);
    EXPECT_TRUE(af_packet_sockets(lo + 1000).empty());
}

} // namespace
