// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane (port set-up).
#include "control/af_packet.hpp"
#include "util/unique_fd.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>

#include <dirent.h>
#include <linux/ethtool.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/core.h>

namespace logagg::control {

af_packet_args parse_af_packet_args(std::string_view devargs) {
    af_packet_args out;
    while (!devargs.empty()) {
        const std::size_t comma = devargs.find(',');
        const std::string_view kv = devargs.substr(0, comma);
        devargs = comma == std::string_view::npos ? std::string_view{} : devargs.substr(comma + 1);
        const std::size_t eq = kv.find('=');
        if (eq == std::string_view::npos) {
            continue;
        }
        const std::string_view key = kv.substr(0, eq);
        const std::string_view value = kv.substr(eq + 1);
        if (key == "iface") {
            out.iface = std::string(value);
        } else if (key == "framesz") {
            uint32_t v = 0;
            const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
            if (ec == std::errc{} && end == value.data() + value.size() && v != 0) {
                out.frame_size = v;
            }
        }
    }
    return out;
}

bool reads_kernel_interface(std::string_view driver, std::string_view devargs) {
    if (driver == "net_af_packet") {
        return true;
    }
    if (driver != "net_pcap") {
        return false;
    }
    while (!devargs.empty()) {
        const std::size_t comma = devargs.find(',');
        const std::string_view kv = devargs.substr(0, comma);
        devargs = comma == std::string_view::npos ? std::string_view{} : devargs.substr(comma + 1);
        const std::string_view key = kv.substr(0, kv.find('='));
        if (key == "iface" || key == "rx_iface" || key == "rx_iface_in") {
            return true;
        }
    }
    return false;
}

uint32_t af_packet_snap_len(uint32_t frame_size) noexcept {
    // tpacket_rcv() for a SOCK_RAW TPACKET_V2 socket without tp_reserve or a vnet header:
    // netoff = TPACKET_ALIGN(tp_hdrlen + max(maclen, 16)), macoff = netoff - maclen, and a frame
    // longer than frame_size - macoff is cut to that (PACKET_COPY_THRESH is not used by the PMD).
    constexpr uint32_t maclen = 14;
    constexpr uint32_t macoff = TPACKET_ALIGN(TPACKET2_HDRLEN + 16) - maclen;
    return frame_size > macoff ? frame_size - macoff : 0;
}

std::vector<int> af_packet_sockets(unsigned ifindex) {
    std::vector<int> out;
    DIR* d = opendir("/proc/self/fd");
    if (d == nullptr) {
        return out;
    }
    const int own = dirfd(d);
    while (const dirent* e = readdir(d)) {
        int fd = -1;
        const std::string_view name(e->d_name);
        const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), fd);
        if (ec != std::errc{} || end != name.data() + name.size() || fd == own) {
            continue;
        }
        int v = 0;
        socklen_t len = sizeof v;
        if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) != 0 || v != AF_PACKET) {
            continue; // not a socket, or not AF_PACKET
        }
        len = sizeof v;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) != 0 || v != SOCK_RAW) {
            continue;
        }
        sockaddr_ll sll{};
        len = sizeof sll;
        if (getsockname(fd, reinterpret_cast<sockaddr*>(&sll), &len) != 0 ||
            sll.sll_family != AF_PACKET || static_cast<unsigned>(sll.sll_ifindex) != ifindex) {
            continue;
        }
        len = sizeof v;
        if (getsockopt(fd, SOL_PACKET, PACKET_VERSION, &v, &len) != 0 || v != TPACKET_V2) {
            continue;
        }
        out.push_back(fd);
    }
    closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

namespace {

[[nodiscard]] int ethtool(int fd, const std::string& iface, void* cmd) {
    ifreq ifr{};
    std::memcpy(ifr.ifr_name, iface.data(), std::min(iface.size(), sizeof(ifr.ifr_name) - 1));
    ifr.ifr_data = static_cast<char*>(cmd);
    return ioctl(fd, SIOCETHTOOL, &ifr) == 0 ? 0 : errno;
}

/// Kernel feature names (net/ethtool/common.c netdev_features_strings) that make an AF_PACKET
/// socket see frames longer than the wire's MTU, the `ethtool -K` word that turns each off, and
/// what it does. Measured on a veth (docs/architecture.md, "net_af_packet"): GRO coalesces
/// received TCP, and received UDP as well with rx-udp-gro-forwarding or rx-gro-list; TSO and
/// tx-udp-segmentation hand the socket the host's own sends unsegmented (software GSO alone
/// segments before the tap and does not).
struct feature {
    std::string_view name;
    std::string_view word;
    std::string_view effect;
    bool needs_gro; ///< has an effect only while rx-gro is on
};
constexpr feature features[] = {
    {"rx-gro", "gro", "received TCP coalesced", false},
    {"rx-udp-gro-forwarding", "rx-udp-gro-forwarding", "received UDP coalesced", true},
    {"rx-gro-list", "rx-gro-list", "received UDP coalesced", true},
    {"rx-lro", "lro", "received TCP coalesced by the NIC", false},
    {"rx-gro-hw", "rx-gro-hw", "received TCP coalesced by the NIC", false},
    {"tx-tcp-segmentation", "tso", "the host's own TCP sends on it", false},
    {"tx-tcp6-segmentation", "tso", "the host's own TCP sends on it", false},
    {"tx-udp-segmentation", "tx-udp-segmentation", "the host's own UDP_SEGMENT sends on it", false},
};

} // namespace

util::result<iface_offloads> read_offloads(const std::string& iface) {
    const auto fail = [&](std::string_view request, std::string_view why) {
        return util::failure(
            fmt::format("cannot read the offloads of {}: {}: {}", iface, request, why));
    };
    iface_offloads out;
    const util::unique_fd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (s.get() < 0) {
        return fail("socket", std::strerror(errno));
    }
    ethtool_drvinfo drv{};
    drv.cmd = ETHTOOL_GDRVINFO;
    if (ethtool(s.get(), iface, &drv) == 0) {
        out.driver.assign(drv.driver, strnlen(drv.driver, sizeof drv.driver));
    }
    // How many feature names there are, then the names, then their states.
    uint64_t sset_buf[(sizeof(ethtool_sset_info) + sizeof(uint32_t)) / 8 + 1] = {};
    auto* sset = reinterpret_cast<ethtool_sset_info*>(sset_buf);
    sset->cmd = ETHTOOL_GSSET_INFO;
    sset->sset_mask = 1ULL << ETH_SS_FEATURES;
    if (int e = ethtool(s.get(), iface, sset); e != 0 || sset->sset_mask == 0) {
        return fail("ETHTOOL_GSSET_INFO", e != 0 ? std::strerror(e) : "no feature names");
    }
    const uint32_t n = sset->data[0];
    const std::size_t strings_size = sizeof(ethtool_gstrings) + std::size_t{n} * ETH_GSTRING_LEN;
    auto strings_buf = std::make_unique<uint64_t[]>(strings_size / 8 + 1);
    auto* strings = reinterpret_cast<ethtool_gstrings*>(strings_buf.get());
    strings->cmd = ETHTOOL_GSTRINGS;
    strings->string_set = ETH_SS_FEATURES;
    strings->len = n;
    if (int e = ethtool(s.get(), iface, strings); e != 0) {
        return fail("ETHTOOL_GSTRINGS", std::strerror(e));
    }
    const uint32_t blocks = (n + 31) / 32;
    const std::size_t feat_size =
        sizeof(ethtool_gfeatures) + std::size_t{blocks} * sizeof(ethtool_get_features_block);
    auto feat_buf = std::make_unique<uint64_t[]>(feat_size / 8 + 1);
    auto* feats = reinterpret_cast<ethtool_gfeatures*>(feat_buf.get());
    feats->cmd = ETHTOOL_GFEATURES;
    feats->size = blocks;
    if (int e = ethtool(s.get(), iface, feats); e != 0) {
        return fail("ETHTOOL_GFEATURES", std::strerror(e));
    }
    for (uint32_t i = 0; i < n; ++i) {
        const char* raw =
            reinterpret_cast<const char*>(strings->data) + std::size_t{i} * ETH_GSTRING_LEN;
        const std::string_view name(raw, strnlen(raw, ETH_GSTRING_LEN));
        const bool wanted = std::any_of(std::begin(features), std::end(features),
                                        [&](const feature& f) { return f.name == name; });
        if (!wanted) {
            continue;
        }
        const ethtool_get_features_block& b = feats->features[i / 32];
        const uint32_t bit = 1u << (i % 32);
        const bool active = (b.active & bit) != 0;
        const bool changeable = (b.available & bit) != 0 && (b.never_changed & bit) == 0;
        if (active && changeable) {
            out.enabled.emplace_back(name);
        }
    }
    return out;
}

std::vector<std::string> offload_warnings(const std::string& iface,
                                          const util::result<iface_offloads>& read,
                                          uint32_t snap_len) {
    std::vector<std::string> lines;
    if (!read) {
        lines.push_back(fmt::format(
            "note: {}; GRO, LRO, TSO or UDP segmentation on it hand the PMD frames longer than "
            "the {} bytes it keeps (dropped as frame_truncated)",
            read.error().text, snap_len));
        return lines;
    }
    const iface_offloads& o = read.value();
    const auto on = [&](std::string_view name) {
        return std::find(o.enabled.begin(), o.enabled.end(), name) != o.enabled.end();
    };
    std::string why;
    std::string cmd;
    for (const feature& f : features) {
        if (!on(f.name) || (f.needs_gro && !on("rx-gro"))) {
            continue;
        }
        const std::string off = fmt::format(" {} off", f.word);
        if (cmd.find(off) != std::string::npos) {
            continue; // tso covers both TCP segmentation features
        }
        cmd += off;
        why += fmt::format("{}{} ({})", why.empty() ? "" : ", ", f.word, f.effect);
    }
    if (!cmd.empty()) {
        lines.push_back(fmt::format(
            "warning: {} hands the PMD frames longer than the {} bytes it keeps, which are cut "
            "and dropped as frame_truncated: {}; turn them off with: ethtool -K {}{}",
            iface, snap_len, why, iface, cmd));
    }
    if (o.driver == "veth") {
        lines.push_back(fmt::format(
            "note: {} is a veth: with TSO or UDP segmentation on its peer end, a sender there "
            "passes TCP and UDP_SEGMENT sends through unsegmented (frame_truncated); turn them "
            "off there with: ethtool -K PEER tso off tx-udp-segmentation off",
            iface));
    }
    return lines;
}

} // namespace logagg::control
