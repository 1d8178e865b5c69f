// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane (reads the datapath's counters; allocates freely).
//
// A point-in-time view of every counter, the periodic one-line print, the exit summary table and
// the --stats-json document (schema: docs/stats.md).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "net/classify.hpp"
#include "pipeline/counters.hpp"

namespace logagg::dpdk {

struct port_snapshot {
    uint16_t port_id = 0;
    std::string name;
    uint16_t rx_queues = 0;
    uint64_t ipackets = 0, ibytes = 0, imissed = 0, ierrors = 0, rx_nombuf = 0;
    uint64_t opackets = 0, obytes = 0, oerrors = 0;
    bool link_up = false;
    uint32_t link_speed_mbps = 0;
    uint64_t link_flaps = 0; ///< link state changes seen while running
};

struct lcore_snapshot {
    unsigned lcore_id = 0;
    std::string roles; ///< e.g. "rx+worker"
    uint64_t rx_packets = 0, worker_packets = 0, messages_framed = 0, messages_written = 0,
             bytes_copied = 0;
};

struct sink_snapshot {
    std::string type = "file";
    std::string dir;
    uint64_t messages = 0, bytes = 0, segments = 0, write_errors = 0;
};

/// Sums over all lcores plus per-port and per-lcore detail.
struct snapshot {
    double uptime_s = 0;
    std::vector<port_snapshot> ports;
    std::vector<lcore_snapshot> lcores;
    sink_snapshot sink;
    uint64_t received = 0, rx_bytes = 0, to_workers = 0, worker_packets = 0, answered = 0,
             reassembled = 0, fragments_merged = 0;
    std::array<uint64_t, 4>
        replies{}; ///< answered, by kind (arp, icmp_echo, nd_advert, icmpv6_echo)
    std::array<uint64_t, net::drop_reason_count> pkt_drops{};
    uint64_t framed = 0, written = 0, empty_skipped = 0, bytes_written = 0, truncated = 0,
             framing_errors = 0;
    std::array<uint64_t, pipeline::msg_drop_count> msg_drops{};
    std::array<uint64_t, 5> parsed{}; ///< records by input format (log::input_format_names)
    std::array<uint64_t, static_cast<std::size_t>(log::rfc5424_status::count_)> rfc5424_errors{};
    std::array<uint64_t, static_cast<std::size_t>(log::json_status::count_)> json_errors{};
    uint64_t bytes_copied = 0;
    uint64_t mbufs_total = 0;
    /// mbufs not back in the pool after the ports stopped; -1 while running. Non-zero = a leak.
    int64_t mbufs_in_use_at_exit = -1;

    [[nodiscard]] uint64_t packets_dropped() const noexcept;
    [[nodiscard]] uint64_t messages_dropped() const noexcept;
    /// Messages that did not parse as their listener's format (forwarded or dropped).
    [[nodiscard]] uint64_t messages_parse_failed() const noexcept;
    /// received + reassembled == to_workers + answered + dropped + fragments_merged, and every
    /// frame handed to a worker was framed.
    [[nodiscard]] bool packets_balanced() const noexcept;
    /// framed == written + dropped.
    [[nodiscard]] bool messages_balanced() const noexcept;
};

/// Adds one lcore's counters into @p s (and a per-lcore row).
void accumulate(snapshot& s, unsigned lcore_id, const std::string& roles,
                const pipeline::lcore_stats& st);

/// One line for the periodic print; rates against @p prev over @p dt seconds.
[[nodiscard]] std::string stats_line(const snapshot& now, const snapshot& prev, double dt);

/// The multi-line exit summary.
[[nodiscard]] std::string summary_table(const snapshot& s);

/// The --stats-json document.
[[nodiscard]] std::string to_json(const snapshot& s);

} // namespace logagg::dpdk
