// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane (port set-up). No EAL calls: unit-tested on its own.
//
// What logagg must know about a net_af_packet port (DPDK 22.11): the kernel interface behind it,
// how long a frame the PMD keeps, and the interface's offloads that hand AF_PACKET frames longer
// than that (docs/architecture.md, "net_af_packet").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace logagg::control {

/// The net_af_packet devargs logagg reads.
struct af_packet_args {
    std::string iface;          ///< `iface=`: the kernel interface ("" when absent)
    uint32_t frame_size = 2048; ///< `framesz=`: the PMD's ring frame size (its default 2048)
};

/// Parses the PMD's devargs ("iface=veth0,qpairs=2,framesz=2048"). Unknown keys are ignored (the
/// PMD itself validated them at probe).
[[nodiscard]] af_packet_args parse_af_packet_args(std::string_view devargs);

/// True when a port of driver @p driver with @p devargs reads a kernel interface through an
/// AF_PACKET socket: net_af_packet, or net_pcap with `iface=`, `rx_iface=` or `rx_iface_in=`
/// (libpcap reads live interfaces that way). Such a port sees the partial checksums local senders
/// leave (CHECKSUM_PARTIAL): they are accepted there and counted (packets.checksum_partial).
[[nodiscard]] bool reads_kernel_interface(std::string_view driver, std::string_view devargs);

/// Bytes of a frame the PMD keeps with ring frames of @p frame_size bytes: the kernel's
/// tpacket_rcv() puts a TPACKET_V2 frame's Ethernet header at TPACKET_ALIGN(TPACKET2_HDRLEN + 16)
/// - 14 and cuts the rest of a longer frame (tp_snaplen); the PMD copies tp_snaplen bytes and
/// ignores tp_len. 1982 for the default 2048. 0 when @p frame_size leaves no room.
[[nodiscard]] uint32_t af_packet_snap_len(uint32_t frame_size) noexcept;

/// The AF_PACKET sockets of this process that read interface @p ifindex through a TPACKET_V2 ring
/// (what net_af_packet opens, one per queue pair, at probe), in ascending fd order. The PMD has no
/// RX interrupts and keeps its sockets to itself; the kernel, though, says when a ring holds a
/// frame (poll() on the socket is readable while the frame before the ring's head is the
/// reader's), so an RX lcore can sleep on them until a frame comes (docs/architecture.md
/// #polling). Found by walking /proc/self/fd: sockets of the AF_PACKET family and SOCK_RAW type,
/// bound (getsockname()) to @p ifindex, with PACKET_VERSION TPACKET_V2. Empty when /proc cannot
/// be read.
[[nodiscard]] std::vector<int> af_packet_sockets(unsigned ifindex);

/// An interface's offload features that matter to an AF_PACKET reader.
struct iface_offloads {
    std::string driver;               ///< ETHTOOL_GDRVINFO driver ("veth", "e1000e", ...)
    std::vector<std::string> enabled; ///< kernel feature names on and changeable ("rx-gro", ...)
};

/// Reads @p iface's features with the SIOCETHTOOL ioctl (ETHTOOL_GSSET_INFO, ETHTOOL_GSTRINGS
/// and ETHTOOL_GFEATURES for the names and states, ETHTOOL_GDRVINFO for the driver). Only the
/// features that can deliver frames longer than a ring frame are kept (see offload_warnings()).
/// @return them, or a runtime failure naming the interface and the request that failed.
[[nodiscard]] util::result<iface_offloads> read_offloads(const std::string& iface);

/// The start-up lines (without the "port N (name): " prefix) for an af_packet interface with
/// offloads @p o (as read_offloads() returned them), whose PMD keeps @p snap_len bytes of a frame:
/// a warning naming each enabled offload that hands the socket longer frames, with the exact
/// `ethtool -K` command that turns them off, and for a veth a note about its peer end; when they
/// could not be read, a note saying so. Empty when nothing needs saying.
[[nodiscard]] std::vector<std::string> offload_warnings(const std::string& iface,
                                                        const util::result<iface_offloads>& o,
                                                        uint32_t snap_len);

} // namespace logagg::control
