// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane.
#include "control/metrics.hpp"

#include <algorithm>
#include <initializer_list>
#include <numeric>
#include <string_view>
#include <utility>

#include <fmt/core.h>

#include "log/encode.hpp"
#include "pipeline/responder.hpp"
#include "util/json_text.hpp"

namespace logagg::control {
namespace {

using label = std::pair<std::string_view, std::string_view>;

/// Label values escape backslash, double quote and line feed (text format 0.0.4).
void append_escaped(std::string& o, std::string_view v) {
    for (const char c : v) {
        switch (c) {
        case '\\':
            o += "\\\\";
            break;
        case '"':
            o += "\\\"";
            break;
        case '\n':
            o += "\\n";
            break;
        default:
            o += c;
        }
    }
}

/// Appends families to one exposition: # HELP and # TYPE once per family, then its samples.
class exposition {
public:
    explicit exposition(std::string& out) : o_(out) {}

    void family(std::string_view name, std::string_view type, std::string_view help) {
        o_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    }

    void sample(std::string_view name, std::initializer_list<label> labels, uint64_t v) {
        head(name, labels);
        o_ += fmt::format(" {}\n", v);
    }

    void sample(std::string_view name, std::initializer_list<label> labels, double v) {
        head(name, labels);
        o_ += fmt::format(" {}\n", v);
    }

    /// A family with a single unlabelled sample.
    void single(std::string_view name, std::string_view type, std::string_view help, uint64_t v) {
        family(name, type, help);
        sample(name, {}, v);
    }

private:
    void head(std::string_view name, std::initializer_list<label> labels) {
        o_ += name;
        if (labels.size() == 0) {
            return;
        }
        o_ += '{';
        bool first = true;
        for (const label& l : labels) {
            o_ += first ? "" : ",";
            first = false;
            o_ += l.first;
            o_ += "=\"";
            append_escaped(o_, l.second);
            o_ += '"';
        }
        o_ += '}';
    }

    std::string& o_;
};

/// The histogram's upper bounds: 1 and 2 us, then every fourth latency bucket's floor (one per
/// octave: 4, 8, 16, ... us), exact because they are bucket boundaries. Why not all 128: one per
/// octave keeps the shape at a quarter of the series.
constexpr std::size_t latency_le_step = 4;

/// The bucket's midpoint in microseconds, to estimate the histogram's _sum (the datapath keeps
/// no sum: adding one would be another store per released record).
[[nodiscard]] double latency_midpoint_us(std::size_t i) {
    const auto lo = static_cast<double>(pipeline::latency_bucket_floor(i));
    if (i + 1 >= pipeline::latency_buckets) {
        return lo * 1.125;
    }
    return (lo + static_cast<double>(pipeline::latency_bucket_floor(i + 1))) / 2.0;
}

void sink_latency(exposition& e, const sink_snapshot& k) {
    constexpr std::string_view name = "logagg_sink_latency_seconds_bucket";
    uint64_t below = 0; // records in buckets [0, i)
    double sum_us = 0;
    for (std::size_t i = 0; i < pipeline::latency_buckets; ++i) {
        if (i == 1 || i == 2 || (i % latency_le_step == 0 && i != 0)) {
            const std::string le =
                fmt::format("{}", static_cast<double>(pipeline::latency_bucket_floor(i)) / 1e6);
            e.sample(name, {{"sink", k.name}, {"type", k.type}, {"le", le}}, below);
        }
        below += k.latency_us[i];
        sum_us += static_cast<double>(k.latency_us[i]) * latency_midpoint_us(i);
    }
    e.sample(name, {{"sink", k.name}, {"type", k.type}, {"le", "+Inf"}}, below);
    e.sample("logagg_sink_latency_seconds_sum", {{"sink", k.name}, {"type", k.type}}, sum_us / 1e6);
    e.sample("logagg_sink_latency_seconds_count", {{"sink", k.name}, {"type", k.type}}, below);
}

void packets(exposition& e, const snapshot& s) {
    e.family("logagg_packets_total", "counter",
             "Frames by pipeline stage: received from the ports, handed to workers, framed by "
             "workers, rebuilt from fragments, fragments merged, answered, neighbour replies "
             "learnt, accepted with a partial checksum, TCP segments to ports without a listener");
    const std::pair<const char*, uint64_t> stages[] = {
        {"received", s.received},
        {"to_workers", s.to_workers},
        {"framed_by_workers", s.worker_packets},
        {"reassembled", s.reassembled},
        {"fragments_merged", s.fragments_merged},
        {"answered", s.answered},
        {"neighbour", s.neighbour},
        {"checksum_partial", s.checksum_partial},
        {"tcp_no_listener", s.tcp_no_listener},
    };
    for (const auto& [stage, v] : stages) {
        e.sample("logagg_packets_total", {{"stage", stage}}, v);
    }
    e.single("logagg_received_bytes_total", "counter", "Bytes of the frames received", s.rx_bytes);
    e.family("logagg_packets_dropped_total", "counter", "Frames dropped, by reason");
    for (std::size_t i = 1; i < net::drop_reason_count; ++i) {
        e.sample("logagg_packets_dropped_total", {{"reason", net::drop_reason_names[i]}},
                 s.pkt_drops[i]);
    }
    e.family("logagg_replies_total", "counter", "ARP, ICMP and NDP requests answered, by kind");
    for (std::size_t i = 0; i < s.replies.size(); ++i) {
        e.sample("logagg_replies_total", {{"kind", pipeline::reply_kind_names[i]}}, s.replies[i]);
    }
}

void messages(exposition& e, const snapshot& s) {
    e.family("logagg_messages_total", "counter",
             "Messages by pipeline stage: framed, routed to at least one sink, delivered (over "
             "all sinks), empty ones skipped, truncated to --max-msg, datagrams with octet-framing "
             "errors");
    const std::pair<const char*, uint64_t> stages[] = {
        {"framed", s.framed},         {"routed", s.routed},
        {"delivered", s.delivered()}, {"empty_skipped", s.empty_skipped},
        {"truncated", s.truncated},   {"framing_errors", s.framing_errors},
    };
    for (const auto& [stage, v] : stages) {
        e.sample("logagg_messages_total", {{"stage", stage}}, v);
    }
    e.family("logagg_messages_dropped_total", "counter",
             "Messages not handed to any sink, by reason");
    for (std::size_t i = 0; i < pipeline::msg_drop_count; ++i) {
        e.sample("logagg_messages_dropped_total", {{"reason", pipeline::msg_drop_names[i]}},
                 s.msg_drops[i]);
    }
    e.family("logagg_records_parsed_total", "counter", "Records by input format");
    for (std::size_t i = 0; i < s.parsed.size(); ++i) {
        e.sample("logagg_records_parsed_total", {{"format", log::input_format_names[i]}},
                 s.parsed[i]);
    }
    e.family("logagg_parse_errors_total", "counter",
             "Messages that did not parse as their listener's format, by format and reason");
    for (std::size_t i = 1; i < s.rfc5424_errors.size(); ++i) {
        e.sample("logagg_parse_errors_total",
                 {{"format", "rfc5424"}, {"reason", log::rfc5424_status_names[i]}},
                 s.rfc5424_errors[i]);
    }
    for (std::size_t i = 1; i < s.rfc3164_errors.size(); ++i) {
        e.sample("logagg_parse_errors_total",
                 {{"format", "rfc3164"}, {"reason", log::rfc3164_status_names[i]}},
                 s.rfc3164_errors[i]);
    }
    for (std::size_t i = 1; i < s.json_errors.size(); ++i) {
        e.sample("logagg_parse_errors_total",
                 {{"format", "json"}, {"reason", log::json_status_names[i]}}, s.json_errors[i]);
        e.sample("logagg_parse_errors_total",
                 {{"format", "gelf"}, {"reason", log::json_status_names[i]}}, s.gelf_errors[i]);
    }
    if (!s.filters.empty()) {
        e.family("logagg_filter_records_total", "counter",
                 "Records each --filter let through (kept) or dropped");
        for (const filter_snapshot& f : s.filters) {
            e.sample("logagg_filter_records_total", {{"filter", f.text}, {"outcome", "kept"}},
                     f.kept);
            e.sample("logagg_filter_records_total", {{"filter", f.text}, {"outcome", "dropped"}},
                     f.dropped);
        }
    }
    if (!s.routes.empty()) {
        e.family("logagg_route_records_total", "counter", "Records each --route matched");
        for (const route_snapshot& r : s.routes) {
            e.sample("logagg_route_records_total", {{"route", r.text}}, r.hits);
        }
    }
    e.family("logagg_gelf_chunks_total", "counter", "GELF chunks, by outcome");
    for (std::size_t i = 0; i < s.gelf_chunks.size(); ++i) {
        e.sample("logagg_gelf_chunks_total", {{"outcome", log::gelf::chunk_status_names[i]}},
                 s.gelf_chunks[i]);
    }
    e.single("logagg_gelf_expired_messages_total", "counter",
             "Incomplete chunked GELF messages dropped after the timeout", s.gelf_expired_messages);
    e.single("logagg_gelf_expired_chunks_total", "counter", "Chunks the expired GELF messages held",
             s.gelf_expired_chunks);
    e.single("logagg_gelf_bad_compression_total", "counter",
             "GELF zlib/gzip payloads that did not inflate", s.gelf_bad_compression);
    e.single("logagg_copied_bytes_total", "counter",
             "Payload bytes copied on the datapath (linearising, escaping, short fields)",
             s.bytes_copied);
    e.family("logagg_copied_bytes_by_reason_total", "counter",
             "Payload bytes copied on the datapath, by reason (their sum is "
             "logagg_copied_bytes_total)");
    for (std::size_t i = 0; i < pipeline::copy_reason_count; ++i) {
        e.sample("logagg_copied_bytes_by_reason_total",
                 {{"reason", pipeline::copy_reason_names[i]}}, s.copied_by[i]);
    }
}

void listeners(exposition& e, const snapshot& s) {
    struct col {
        const char* name;
        const char* help;
        uint64_t (*get)(const listener_snapshot&);
    };
    constexpr col cols[] = {
        {"logagg_listener_packets_total",
         "Frames the workers framed for this --listen (TCP: segments to its port)",
         [](const listener_snapshot& l) { return l.packets; }},
        {"logagg_listener_payload_bytes_total",
         "UDP payload bytes of those frames (TCP: in-order stream bytes delivered)",
         [](const listener_snapshot& l) { return l.bytes; }},
        {"logagg_listener_messages_total", "Messages framed from this listener's frames",
         [](const listener_snapshot& l) { return l.messages; }},
        {"logagg_listener_messages_dropped_total",
         "This listener's messages not handed to any sink (oversize, parse_error, filtered, "
         "unrouted)",
         [](const listener_snapshot& l) { return l.dropped; }},
    };
    for (const col& c : cols) {
        e.family(c.name, "counter", c.help);
        for (const listener_snapshot& l : s.listeners) {
            e.sample(c.name, {{"listener", l.name}, {"format", l.format}}, c.get(l));
        }
    }
    if (std::none_of(s.listeners.begin(), s.listeners.end(),
                     [](const listener_snapshot& l) { return l.tcp; })) {
        return;
    }
    e.family("logagg_listener_connections_total", "counter",
             "TCP connections this --listen tcp: accepted (handshake completed)");
    for (const listener_snapshot& l : s.listeners) {
        if (l.tcp) {
            e.sample("logagg_listener_connections_total",
                     {{"listener", l.name}, {"format", l.format}}, l.connections);
        }
    }
    e.family("logagg_listener_open_connections", "gauge",
             "TCP connections of this --listen tcp: whose stream has not ended");
    for (const listener_snapshot& l : s.listeners) {
        if (l.tcp) {
            e.sample("logagg_listener_open_connections",
                     {{"listener", l.name}, {"format", l.format}}, l.open);
        }
    }
}

/// TCP (--listen tcp:): the engines' counters summed over the workers (docs/tcp.md#counters).
void tcp_families(exposition& e, const snapshot& s) {
    if (s.tcp.empty()) {
        return;
    }
    struct fam {
        std::string_view group, name, type, label, help;
    };
    static constexpr fam fams[] = {
        {"segments", "logagg_tcp_segments_total", "counter", "outcome",
         "TCP segments handed to the workers' engines, by outcome (total: all of them; "
         "checksum_partial: accepted with a pseudo-header-only checksum, not an outcome)"},
        {"conns", "logagg_tcp_connections_total", "counter", "event",
         "TCP connections accepted, refused (table full), reset by the peer (reset_in) or by "
         "logagg (reset_out), timed out, closed"},
        {"cookies", "logagg_tcp_syn_cookies_total", "counter", "result",
         "SYN cookies sent, validated by a handshake's last ACK, validated with the ISN memo "
         "(by_memo), failed"},
        {"window", "logagg_tcp_window_events_total", "counter", "event",
         "Receive windows that went to zero, and window updates sent when they reopened"},
        {"acks", "logagg_tcp_acks_total", "counter", "kind",
         "ACKs: challenge ACKs (RFC 5961) sent and suppressed, delayed ACKs"},
        {"bytes", "logagg_tcp_payload_bytes_total", "counter", "kind",
         "TCP payload bytes delivered in order, received again, beyond the window"},
        {"tx", "logagg_tcp_tx_segments_total", "counter", "kind",
         "Segments logagg sent, by kind (failed: refused by the NIC, freed)"},
    };
    for (const fam& f : fams) {
        e.family(f.name, f.type, f.help);
        for (const snapshot::tcp_counter& c : s.tcp) {
            if (c.group == f.group && !(c.group == "conns" && c.name == "open")) {
                e.sample(f.name, {{std::string(f.label), c.name}}, c.value);
            }
        }
        if (f.group == "tx") {
            e.sample(f.name, {{std::string(f.label), "failed"}}, s.tcp_tx_failed);
        }
    }
    e.single("logagg_tcp_connections_open", "gauge",
             "TCP connections in the engines' tables now (TIME-WAIT included)",
             s.tcp_value("conns", "open"));
    e.single("logagg_tcp_ooo_held_mbufs", "gauge",
             "Out-of-order TCP segments (mbufs) the engines hold now",
             s.tcp_value("mbufs", "ooo_held"));
}

void lcores(exposition& e, const snapshot& s) {
    struct col {
        const char* name;
        const char* help;
        uint64_t lcore_snapshot::*field;
    };
    constexpr col cols[] = {
        {"logagg_lcore_rx_packets_total", "Frames this lcore took from NIC queues",
         &lcore_snapshot::rx_packets},
        {"logagg_lcore_worker_packets_total", "Frames this lcore framed",
         &lcore_snapshot::worker_packets},
        {"logagg_lcore_messages_framed_total", "Messages this lcore framed",
         &lcore_snapshot::messages_framed},
        {"logagg_lcore_copied_bytes_total", "Payload bytes this lcore copied",
         &lcore_snapshot::bytes_copied},
    };
    for (const col& c : cols) {
        e.family(c.name, "counter", c.help);
        for (const lcore_snapshot& l : s.lcores) {
            const std::string id = fmt::format("{}", l.lcore_id);
            e.sample(c.name, {{"lcore", id}, {"roles", l.roles}}, l.*c.field);
        }
    }
    // The busy fraction as Prometheus computes ratios: rate(busy_seconds_total) over an interval.
    e.family(
        "logagg_lcore_busy_seconds_total", "counter",
        "Time this lcore spent in loop passes that did work (rate() of it: the busy fraction)");
    for (const lcore_snapshot& l : s.lcores) {
        e.sample("logagg_lcore_busy_seconds_total",
                 {{"lcore", fmt::format("{}", l.lcore_id)}, {"roles", l.roles}}, l.busy_s);
    }
    e.family("logagg_lcore_sleeps_total", "counter",
             "Times this lcore slept for want of work (--poll adaptive)");
    for (const lcore_snapshot& l : s.lcores) {
        e.sample("logagg_lcore_sleeps_total",
                 {{"lcore", fmt::format("{}", l.lcore_id)}, {"roles", l.roles}}, l.sleeps);
    }
}

void ports(exposition& e, const snapshot& s) {
    struct col {
        const char* name;
        const char* type;
        const char* help;
        uint64_t (*get)(const port_snapshot&);
    };
    constexpr col cols[] = {
        {"logagg_port_received_packets_total", "counter", "Frames the port received (ipackets)",
         [](const port_snapshot& p) { return p.ipackets; }},
        {"logagg_port_received_bytes_total", "counter", "Bytes the port received (ibytes)",
         [](const port_snapshot& p) { return p.ibytes; }},
        {"logagg_port_missed_packets_total", "counter",
         "Frames the NIC dropped because its RX queues were full (imissed)",
         [](const port_snapshot& p) { return p.imissed; }},
        {"logagg_port_rx_nombuf_total", "counter",
         "RX mbuf allocation failures: frames lost for want of an mbuf (rx_nombuf)",
         [](const port_snapshot& p) { return p.rx_nombuf; }},
        {"logagg_port_receive_errors_total", "counter", "Erroneous frames received (ierrors)",
         [](const port_snapshot& p) { return p.ierrors; }},
        {"logagg_port_sent_packets_total", "counter", "Frames the port sent (opackets)",
         [](const port_snapshot& p) { return p.opackets; }},
        {"logagg_port_sent_bytes_total", "counter", "Bytes the port sent (obytes)",
         [](const port_snapshot& p) { return p.obytes; }},
        {"logagg_port_send_errors_total", "counter", "Frames the port failed to send (oerrors)",
         [](const port_snapshot& p) { return p.oerrors; }},
        {"logagg_port_link_up", "gauge", "1 while the port's link is up, else 0",
         [](const port_snapshot& p) { return uint64_t{p.link_up ? 1u : 0u}; }},
        {"logagg_port_link_speed_bytes_per_second", "gauge",
         "The link's speed (0 when the driver does not know it)",
         [](const port_snapshot& p) { return uint64_t{p.link_speed_mbps} * 125'000; }},
        {"logagg_port_link_flaps_total", "counter", "Link state changes seen while running",
         [](const port_snapshot& p) { return p.link_flaps; }},
        {"logagg_port_rx_queues", "gauge", "RX queues configured (all polled)",
         [](const port_snapshot& p) { return uint64_t{p.rx_queues}; }},
    };
    for (const col& c : cols) {
        e.family(c.name, c.type, c.help);
        for (const port_snapshot& p : s.ports) {
            const std::string id = fmt::format("{}", p.port_id);
            e.sample(c.name, {{"port", id}, {"name", p.name}}, c.get(p));
        }
    }
}

void sinks(exposition& e, const snapshot& s) {
    struct col {
        const char* name;
        const char* type;
        const char* help;
        uint64_t (*get)(const sink_snapshot&);
    };
    constexpr col cols[] = {
        {"logagg_sink_in_records_total", "counter", "Records the workers handed the sink",
         [](const sink_snapshot& k) { return k.in; }},
        {"logagg_sink_in_bytes_total", "counter", "Output bytes of those records (no framing)",
         [](const sink_snapshot& k) { return k.in_bytes; }},
        {"logagg_sink_delivered_records_total", "counter",
         "Records the backend confirmed (written, acknowledged, sent)",
         [](const sink_snapshot& k) { return k.delivered; }},
        {"logagg_sink_delivered_bytes_total", "counter", "Bytes delivered, framing included",
         [](const sink_snapshot& k) { return k.bytes; }},
        {"logagg_sink_dropped_bytes_total", "counter", "Bytes of the records the sink dropped",
         [](const sink_snapshot& k) { return k.dropped_bytes; }},
        {"logagg_sink_in_flight_records", "gauge",
         "Records handed to the sink and neither delivered nor dropped yet",
         [](const sink_snapshot& k) { return k.in_flight(); }},
        {"logagg_sink_queued_records", "gauge", "Records the sink holds now",
         [](const sink_snapshot& k) { return k.queued; }},
        {"logagg_sink_pinned_bytes", "gauge", "Packet memory the held records pin",
         [](const sink_snapshot& k) { return k.pinned; }},
        {"logagg_sink_buffer_bytes", "gauge", "The sink's buffer= bound",
         [](const sink_snapshot& k) { return k.buffer_bytes; }},
        {"logagg_sink_batches_total", "counter", "Writes, sends or produce rounds",
         [](const sink_snapshot& k) { return k.batches; }},
        {"logagg_sink_reconnects_total", "counter", "Connections re-established after the first",
         [](const sink_snapshot& k) { return k.reconnects; }},
        {"logagg_sink_connect_failures_total", "counter", "Connection attempts that failed",
         [](const sink_snapshot& k) { return k.connect_failures; }},
        {"logagg_sink_retries_total", "counter",
         "Records sent again (TCP: after a reconnect; Kafka: retried)",
         [](const sink_snapshot& k) { return k.retries; }},
        {"logagg_sink_errors_total", "counter", "Transient backend errors (each is retried)",
         [](const sink_snapshot& k) { return k.errors; }},
        {"logagg_sink_copied_bytes_total", "counter", "Payload bytes the sink copied",
         [](const sink_snapshot& k) { return k.bytes_copied; }},
    };
    for (const col& c : cols) {
        e.family(c.name, c.type, c.help);
        for (const sink_snapshot& k : s.sinks) {
            e.sample(c.name, {{"sink", k.name}, {"type", k.type}}, c.get(k));
        }
    }
    e.family("logagg_sink_dropped_records_total", "counter",
             "Records routed to the sink and not delivered, by reason");
    for (const sink_snapshot& k : s.sinks) {
        for (std::size_t d = 0; d < pipeline::sink_drop_count; ++d) {
            e.sample("logagg_sink_dropped_records_total",
                     {{"sink", k.name}, {"type", k.type}, {"reason", pipeline::sink_drop_names[d]}},
                     k.drops[d]);
        }
    }
    if (std::any_of(s.sinks.begin(), s.sinks.end(),
                    [](const sink_snapshot& k) { return k.connected >= 0; })) {
        e.family("logagg_sink_connected", "gauge",
                 "1 while the sink's connection is up, else 0 (TCP: to its collector; Kafka: a "
                 "broker of the producer is up)");
        for (const sink_snapshot& k : s.sinks) {
            if (k.connected >= 0) {
                e.sample("logagg_sink_connected", {{"sink", k.name}, {"type", k.type}},
                         static_cast<uint64_t>(k.connected));
            }
        }
    }
    e.family("logagg_sink_latency_seconds", "histogram",
             "Time from a record's frame arriving (RX) to its delivery being confirmed; _sum is "
             "estimated from the bucket midpoints");
    for (const sink_snapshot& k : s.sinks) {
        sink_latency(e, k);
    }
}

} // namespace

std::string prometheus_text(const snapshot& s) {
    std::string o;
    o.reserve(64 * 1024);
    exposition e(o);
    e.family("logagg_build_info", "gauge",
             "Always 1; the version of the running logagg and of the DPDK it was built with");
    // rte_build_config.h (with every DPDK header): the DPDK release of the build.
    const std::string dpdk = fmt::format("{}.{:02}.{}", RTE_VER_YEAR, RTE_VER_MONTH, RTE_VER_MINOR);
    e.sample("logagg_build_info", {{"version", LOGAGG_VERSION}, {"dpdk", dpdk}}, uint64_t{1});
    e.family("logagg_uptime_seconds", "gauge", "Time since the lcores started");
    e.sample("logagg_uptime_seconds", {}, s.uptime_s);
    packets(e, s);
    messages(e, s);
    listeners(e, s);
    tcp_families(e, s);
    e.single("logagg_mempool_mbufs", "gauge", "mbufs in the packet pool", s.mbufs_total);
    e.single("logagg_mempool_mbufs_in_use", "gauge",
             "mbufs out of the pools now: in NIC RX rings, rings, held by sinks, lcore caches",
             s.mbufs_in_use);
    lcores(e, s);
    ports(e, s);
    sinks(e, s);
    return o;
}

void health_tracker::observe(const snapshot& s, uint64_t now_ms) {
    down_since_ms_.resize(s.sinks.size(), 0);
    for (std::size_t i = 0; i < s.sinks.size(); ++i) {
        if (s.sinks[i].connected != 0) {
            down_since_ms_[i] = 0;
        } else if (down_since_ms_[i] == 0) {
            down_since_ms_[i] = now_ms == 0 ? 1 : now_ms;
        }
    }
}

std::vector<std::string> health_tracker::problems(const snapshot& s, uint64_t now_ms) const {
    std::vector<std::string> out;
    for (const port_snapshot& p : s.ports) {
        if (!p.link_up) {
            out.push_back(fmt::format("port {} ({}): link down", p.port_id, p.name));
        }
    }
    for (std::size_t i = 0; i < s.sinks.size() && i < down_since_ms_.size(); ++i) {
        const sink_snapshot& k = s.sinks[i];
        if (k.connected != 0 || down_since_ms_[i] == 0) {
            continue;
        }
        const uint64_t down_ms = now_ms - std::min(now_ms, down_since_ms_[i]);
        if (down_ms <= k.reconnect_max_ms) {
            continue;
        }
        if (k.type == "kafka") {
            // The target is BROKERS/TOPIC[,params]: broker addresses have no '/'.
            out.push_back(fmt::format("sink {}: no Kafka broker of {} up for {} ms (longer than "
                                      "librdkafka's reconnect.backoff.max.ms {})",
                                      k.name, k.target.substr(0, k.target.find('/')), down_ms,
                                      k.reconnect_max_ms));
        } else {
            out.push_back(fmt::format("sink {}: not connected to {} for {} ms (longer than its "
                                      "reconnect-max-ms {})",
                                      k.name, k.target, down_ms, k.reconnect_max_ms));
        }
    }
    return out;
}

std::string health_json(const std::vector<std::string>& problems) {
    if (problems.empty()) {
        return "{\"status\": \"ok\"}\n";
    }
    std::string o = "{\"status\": \"unhealthy\", \"reasons\": [";
    for (std::size_t i = 0; i < problems.size(); ++i) {
        o += (i == 0 ? "" : ", ") + util::json_quote(problems[i]);
    }
    return o + "]}\n";
}

} // namespace logagg::control
