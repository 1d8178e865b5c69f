// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane (reads the datapath's counters; allocates freely).
//
// A point-in-time view of every counter, the periodic one-line print, the exit summary table and
// the --stats-json document (schema: docs/stats.md).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "net/classify.hpp"
#include "pipeline/counters.hpp"

namespace logagg::control {

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
    uint64_t rx_packets = 0, worker_packets = 0, messages_framed = 0, bytes_copied = 0;
    double busy_s = 0;          ///< time in loop passes that did work (busy fraction: over uptime)
    uint64_t sleeps = 0;        ///< times the lcore slept (--poll adaptive)
    uint64_t rx_interrupts = 0; ///< sleeps an RX queue interrupt (or an af_packet frame) ended
    uint64_t affinity_changes = 0; ///< --lcore-affinity shared: moves to its own CPU and back
    /// Sleeps of an RX lcore on net_af_packet sockets that did not listen to them.
    uint64_t rx_bounded_sleeps = 0;
};

/// One sink: what workers handed it, what it delivered and dropped.
struct sink_snapshot {
    std::string name, type, target, format;
    uint64_t in = 0, in_bytes = 0;     ///< records (and output bytes) workers handed it
    uint64_t delivered = 0, bytes = 0; ///< confirmed by its backend (bytes with framing)
    std::array<uint64_t, pipeline::sink_drop_count> drops{}; ///< sink_full from the workers
    uint64_t dropped_bytes = 0;
    uint64_t queued = 0, pinned = 0; ///< records held and the memory they pin, now
    uint64_t buffer_bytes = 0;       ///< its bound
    uint64_t batches = 0;
    std::array<uint64_t, pipeline::batch_buckets> batch_records{};
    uint64_t reconnects = 0, connect_failures = 0, retries = 0, errors = 0, bytes_copied = 0;
    uint64_t connections = 0, disconnects = 0; ///< established, and established then lost
    /// Sinks with a connection: 1 while it is up (TCP: connected; Kafka: a broker is up), 0
    /// while down; -1 for the others.
    int connected = -1;
    uint32_t reconnect_max_ms = 0; ///< its backoff ceiling (the health check's grace)
    std::array<uint64_t, pipeline::latency_buckets> latency_us{}; ///< RX-to-delivery histogram
    std::string extra_json;                                       ///< type-specific members
    std::string extra_text;

    [[nodiscard]] uint64_t dropped() const noexcept;
    /// Records handed to the sink and neither delivered nor dropped yet (0 after a clean exit).
    [[nodiscard]] uint64_t in_flight() const noexcept;
    /// The latency below which fraction @p q of the timed records were released (the floor of
    /// the histogram bucket holding that quantile), in microseconds; 0 with no samples.
    [[nodiscard]] uint64_t latency_quantile(double q) const noexcept;
};

/// One listener (--listen): the frames and messages the workers framed for it.
struct listener_snapshot {
    std::string name;   ///< "udp:PORT" or "tcp:PORT"
    std::string format; ///< its :FORMAT ("auto", "rfc5424", ...)
    bool tcp = false;   ///< a TCP listener (its counters are lcore_stats::tcp_listeners)
    uint8_t slot = 0;   ///< its pipeline::listener_table slot (the counters' index)
    /// UDP: frames framed for it and their UDP payload bytes. TCP: segments to its port handed
    /// to the engines (control segments too) and the in-order stream bytes they delivered.
    uint64_t packets = 0, bytes = 0;
    uint64_t messages = 0; ///< messages framed from them
    /// ... not handed to any sink (oversize, parse_error, filtered, unrouted, tcp_*)
    uint64_t dropped = 0;
    /// TCP only: connections opened, and those whose stream has not ended yet.
    uint64_t connections = 0, open = 0;
};

struct filter_snapshot {
    std::string text;
    uint64_t kept = 0, dropped = 0; ///< --filter: records it let through and dropped
};

struct route_snapshot {
    std::string text;
    std::vector<std::string> sinks;
    uint64_t hits = 0;
};

/// Sums over all lcores plus per-port, per-lcore and per-sink detail.
struct snapshot {
    double uptime_s = 0;
    bool final = false; ///< taken after every lcore stopped (in-flight counts must be 0)
    std::vector<port_snapshot> ports;
    std::vector<lcore_snapshot> lcores;
    std::vector<sink_snapshot> sinks;
    /// Every --listen in the order given; named by the runtime before accumulate() adds to them.
    std::vector<listener_snapshot> listeners;
    std::vector<filter_snapshot> filters;
    std::vector<route_snapshot> routes;
    uint64_t received = 0, rx_bytes = 0, to_workers = 0, worker_packets = 0, answered = 0,
             reassembled = 0, fragments_merged = 0, neighbour = 0;
    /// Frames accepted with a partial UDP checksum (net_af_packet; not in the invariant).
    uint64_t checksum_partial = 0;
    std::array<uint64_t, 4>
        replies{}; ///< answered, by kind (arp, icmp_echo, nd_advert, icmpv6_echo)
    std::array<uint64_t, net::drop_reason_count> pkt_drops{};
    uint64_t framed = 0, routed = 0, empty_skipped = 0, truncated = 0, framing_errors = 0;
    std::array<uint64_t, pipeline::msg_drop_count> msg_drops{};
    std::array<uint64_t, 5> parsed{}; ///< records by input format (log::input_format_names)
    std::array<uint64_t, static_cast<std::size_t>(log::rfc5424_status::count_)> rfc5424_errors{};
    std::array<uint64_t, static_cast<std::size_t>(log::rfc3164_status::count_)> rfc3164_errors{};
    std::array<uint64_t, static_cast<std::size_t>(log::json_status::count_)> json_errors{};
    std::array<uint64_t, static_cast<std::size_t>(log::json_status::count_)> gelf_errors{};
    std::array<uint64_t, log::gelf::chunk_status_count> gelf_chunks{};
    uint64_t gelf_expired_messages = 0, gelf_expired_chunks = 0, gelf_bad_compression = 0;
    /// Worker-side per-sink counters, summed over lcores (folded into sinks[] by the runtime).
    std::array<uint64_t, pipeline::max_sinks> sink_in{}, sink_in_bytes{}, sink_full{};
    std::array<uint64_t, pipeline::max_filters> filter_kept{}, filter_dropped{};
    std::array<uint64_t, pipeline::max_routes> route_hits{};
    uint64_t bytes_copied = 0;
    std::array<uint64_t, pipeline::copy_reason_count> copied_by{}; ///< bytes_copied by reason
    uint64_t mbufs_total = 0;
    uint64_t mbufs_in_use = 0; ///< out of the pools now (RX rings, rings, sinks, lcore caches)
    /// mbufs not back in the pool after the ports stopped; -1 while running. Non-zero = a leak.
    int64_t mbufs_in_use_at_exit = -1;
    /// TCP (--listen tcp:, docs/tcp.md): each engine counter summed over the workers, in
    /// tcp::for_each_counter() order, as {group, name, value}; empty without TCP listeners.
    struct tcp_counter {
        std::string group, name;
        uint64_t value = 0;
    };
    std::vector<tcp_counter> tcp;
    uint64_t tcp_tx_failed = 0; ///< replies the NIC refused (freed)
    /// TCP segments to a port without a TCP listener (slot 0 of the TCP listener counters): with
    /// listeners[].packets they sum to the segments handed to the engines.
    uint64_t tcp_no_listener = 0;

    /// The value of TCP counter @p group.@p name (0 when absent).
    [[nodiscard]] uint64_t tcp_value(std::string_view group, std::string_view name) const noexcept;
    /// Every segment under one outcome, and conns.accepted = open + closed + reset_in +
    /// reset_out (true without TCP).
    [[nodiscard]] bool tcp_balanced() const noexcept;

    [[nodiscard]] uint64_t packets_dropped() const noexcept;
    [[nodiscard]] uint64_t messages_dropped() const noexcept;
    [[nodiscard]] uint64_t delivered() const noexcept; ///< over all sinks
    /// Messages that did not parse as their listener's format (forwarded or dropped).
    [[nodiscard]] uint64_t messages_parse_failed() const noexcept;
    /// received + reassembled == to_workers + answered + neighbour + dropped + fragments_merged,
    /// and every
    /// frame handed to a worker was framed.
    [[nodiscard]] bool packets_balanced() const noexcept;
    /// framed == routed + dropped (before any sink).
    [[nodiscard]] bool messages_balanced() const noexcept;
    /// Every sink: in == delivered + dropped (+ in flight while running: checked only if final).
    [[nodiscard]] bool sinks_balanced() const noexcept;
};

/// Adds one lcore's counters into @p s (and a per-lcore row, and its per-listener counters into
/// @p s.listeners by slot); @p tsc_hz converts its busy cycles to seconds.
void accumulate(snapshot& s, unsigned lcore_id, const std::string& roles,
                const pipeline::lcore_stats& st, double tsc_hz);

/// Adds sink @p index to @p s: @p k carries its identity and current queue figures, @p st its
/// own counters; the workers' per-sink counters come from @p s (after accumulate()).
void add_sink(snapshot& s, std::size_t index, sink_snapshot k, const pipeline::sink_stats& st);

/// One line for the periodic print; rates against @p prev over @p dt seconds.
[[nodiscard]] std::string stats_line(const snapshot& now, const snapshot& prev, double dt);

/// The multi-line exit summary.
[[nodiscard]] std::string summary_table(const snapshot& s);

/// The --stats-json document.
[[nodiscard]] std::string to_json(const snapshot& s);

} // namespace logagg::control
