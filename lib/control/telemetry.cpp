// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane (DPDK's telemetry thread).
#include "control/telemetry.hpp"

#include <cerrno>
#include <mutex>
#include <optional>

#include <rte_telemetry.h>

#include <fmt/core.h>

#include "log/encode.hpp"

namespace logagg::control {
namespace {

std::mutex source_mu; ///< held while a command uses source
snapshot_source source;

/// A snapshot, or nullopt before telemetry_serve() and after the runtime went away.
[[nodiscard]] std::optional<snapshot> current() {
    const std::lock_guard<std::mutex> lock(source_mu);
    if (!source) {
        return std::nullopt;
    }
    return source();
}

/// Telemetry names allow letters, digits, '_' and '/' only: anything else becomes '_'.
[[nodiscard]] std::string tel_name(std::string_view s) {
    std::string o(s.substr(0, RTE_TEL_MAX_STRING_LEN - 1));
    for (char& c : o) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!ok && c != '_' && c != '/') {
            c = '_';
        }
    }
    return o;
}

void put(rte_tel_data* d, std::string_view name, uint64_t v) {
    (void)rte_tel_data_add_dict_u64(d, tel_name(name).c_str(), v);
}

/// Adds @p child (a dict) to @p d under @p name; @p d owns it from then on.
void nest(rte_tel_data* d, std::string_view name, rte_tel_data* child) {
    if (rte_tel_data_add_dict_container(d, tel_name(name).c_str(), child, 0) != 0) {
        rte_tel_data_free(child);
    }
}

[[nodiscard]] rte_tel_data* new_dict() {
    rte_tel_data* d = rte_tel_data_alloc();
    if (d != nullptr) {
        rte_tel_data_start_dict(d);
    }
    return d;
}

/// /logagg/stats: the pipeline's totals, grouped as in --stats-json (packets, messages, their
/// drops by reason, mbufs). Names as in /metrics' stage and reason labels.
int cmd_stats(const char* /*cmd*/, const char* /*params*/, rte_tel_data* d) {
    const std::optional<snapshot> s = current();
    if (!s) {
        return -EAGAIN;
    }
    rte_tel_data_start_dict(d);
    (void)rte_tel_data_add_dict_string(d, "version", LOGAGG_VERSION);
    put(d, "uptime_ms", static_cast<uint64_t>(s->uptime_s * 1000.0));
    if (rte_tel_data* p = new_dict()) {
        put(p, "received", s->received);
        put(p, "received_bytes", s->rx_bytes);
        put(p, "to_workers", s->to_workers);
        put(p, "framed_by_workers", s->worker_packets);
        put(p, "reassembled", s->reassembled);
        put(p, "fragments_merged", s->fragments_merged);
        put(p, "answered", s->answered);
        put(p, "neighbour", s->neighbour);
        put(p, "checksum_partial", s->checksum_partial);
        put(p, "tcp_no_listener", s->tcp_no_listener);
        put(p, "dropped_total", s->packets_dropped());
        nest(d, "packets", p);
    }
    if (rte_tel_data* p = new_dict()) {
        for (std::size_t i = 1; i < net::drop_reason_count; ++i) {
            put(p, net::drop_reason_names[i], s->pkt_drops[i]);
        }
        nest(d, "packets_dropped", p);
    }
    if (rte_tel_data* m = new_dict()) {
        put(m, "framed", s->framed);
        put(m, "routed", s->routed);
        put(m, "delivered", s->delivered());
        put(m, "empty_skipped", s->empty_skipped);
        put(m, "truncated", s->truncated);
        put(m, "framing_errors", s->framing_errors);
        put(m, "parse_failed", s->messages_parse_failed());
        put(m, "dropped_total", s->messages_dropped());
        nest(d, "messages", m);
    }
    if (rte_tel_data* m = new_dict()) {
        for (std::size_t i = 0; i < pipeline::msg_drop_count; ++i) {
            put(m, pipeline::msg_drop_names[i], s->msg_drops[i]);
        }
        nest(d, "messages_dropped", m);
    }
    if (rte_tel_data* l = new_dict()) {
        for (const listener_snapshot& x : s->listeners) {
            rte_tel_data* one = new_dict();
            if (one == nullptr) {
                break;
            }
            (void)rte_tel_data_add_dict_string(one, "format", x.format.c_str());
            put(one, "packets", x.packets);
            put(one, "payload_bytes", x.bytes);
            put(one, "messages", x.messages);
            put(one, "dropped", x.dropped);
            if (x.tcp) {
                put(one, "connections", x.connections);
                put(one, "open_connections", x.open);
            }
            nest(l, x.name, one); // "udp:5514" becomes "udp_5514" (telemetry names)
        }
        nest(d, "listeners", l);
    }
    if (rte_tel_data* r = new_dict()) {
        for (std::size_t i = 0; i < s->parsed.size(); ++i) {
            put(r, log::input_format_names[i], s->parsed[i]);
        }
        nest(d, "records_parsed", r);
    }
    put(d, "copied_bytes", s->bytes_copied);
    if (rte_tel_data* c = new_dict()) {
        for (std::size_t i = 0; i < pipeline::copy_reason_count; ++i) {
            put(c, pipeline::copy_reason_names[i], s->copied_by[i]);
        }
        nest(d, "copied_bytes_by_reason", c);
    }
    put(d, "mbufs_pool", s->mbufs_total);
    put(d, "mbufs_in_use", s->mbufs_in_use);
    return 0;
}

/// /logagg/sinks: one dict per sink, by name.
int cmd_sinks(const char* /*cmd*/, const char* /*params*/, rte_tel_data* d) {
    const std::optional<snapshot> s = current();
    if (!s) {
        return -EAGAIN;
    }
    rte_tel_data_start_dict(d);
    for (const sink_snapshot& k : s->sinks) {
        rte_tel_data* x = new_dict();
        if (x == nullptr) {
            return -ENOMEM;
        }
        (void)rte_tel_data_add_dict_string(x, "type", k.type.c_str());
        put(x, "in", k.in);
        put(x, "in_bytes", k.in_bytes);
        put(x, "delivered", k.delivered);
        put(x, "delivered_bytes", k.bytes);
        put(x, "dropped_total", k.dropped());
        for (std::size_t i = 0; i < pipeline::sink_drop_count; ++i) {
            put(x, fmt::format("dropped_{}", pipeline::sink_drop_names[i]), k.drops[i]);
        }
        put(x, "dropped_bytes", k.dropped_bytes);
        put(x, "in_flight", k.in_flight());
        put(x, "queued", k.queued);
        put(x, "pinned_bytes", k.pinned);
        put(x, "buffer_bytes", k.buffer_bytes);
        put(x, "batches", k.batches);
        put(x, "reconnects", k.reconnects);
        put(x, "connect_failures", k.connect_failures);
        put(x, "retries", k.retries);
        put(x, "errors", k.errors);
        put(x, "copied_bytes", k.bytes_copied);
        if (k.connected >= 0) {
            put(x, "connected", static_cast<uint64_t>(k.connected));
        }
        put(x, "latency_us_p50", k.latency_quantile(0.5));
        put(x, "latency_us_p99", k.latency_quantile(0.99));
        nest(d, k.name, x);
    }
    return 0;
}

/// /logagg/ports: one dict per port, by port id.
int cmd_ports(const char* /*cmd*/, const char* /*params*/, rte_tel_data* d) {
    const std::optional<snapshot> s = current();
    if (!s) {
        return -EAGAIN;
    }
    rte_tel_data_start_dict(d);
    for (const port_snapshot& p : s->ports) {
        rte_tel_data* x = new_dict();
        if (x == nullptr) {
            return -ENOMEM;
        }
        (void)rte_tel_data_add_dict_string(x, "name", p.name.c_str());
        put(x, "rx_queues", p.rx_queues);
        put(x, "ipackets", p.ipackets);
        put(x, "ibytes", p.ibytes);
        put(x, "imissed", p.imissed);
        put(x, "ierrors", p.ierrors);
        put(x, "rx_nombuf", p.rx_nombuf);
        put(x, "opackets", p.opackets);
        put(x, "obytes", p.obytes);
        put(x, "oerrors", p.oerrors);
        put(x, "link_up", p.link_up ? 1 : 0);
        put(x, "link_speed_mbps", p.link_speed_mbps);
        put(x, "link_flaps", p.link_flaps);
        nest(d, fmt::format("{}", p.port_id), x);
    }
    return 0;
}

/// /logagg/lcores: one dict per lcore, by lcore id.
int cmd_lcores(const char* /*cmd*/, const char* /*params*/, rte_tel_data* d) {
    const std::optional<snapshot> s = current();
    if (!s) {
        return -EAGAIN;
    }
    rte_tel_data_start_dict(d);
    for (const lcore_snapshot& l : s->lcores) {
        rte_tel_data* x = new_dict();
        if (x == nullptr) {
            return -ENOMEM;
        }
        (void)rte_tel_data_add_dict_string(x, "roles", l.roles.c_str());
        put(x, "rx_packets", l.rx_packets);
        put(x, "worker_packets", l.worker_packets);
        put(x, "messages_framed", l.messages_framed);
        put(x, "copied_bytes", l.bytes_copied);
        // Telemetry values are integers: microseconds (rate over uptime: the busy fraction).
        put(x, "busy_us", static_cast<uint64_t>(l.busy_s * 1e6));
        put(x, "sleeps", l.sleeps);
        nest(d, fmt::format("{}", l.lcore_id), x);
    }
    return 0;
}

} // namespace

void register_telemetry() {
    static std::once_flag once;
    std::call_once(once, [] {
        (void)rte_telemetry_register_cmd(
            "/logagg/stats", cmd_stats,
            "logagg's packet and message totals, drops by reason, mbufs");
        (void)rte_telemetry_register_cmd(
            "/logagg/sinks", cmd_sinks,
            "Per sink: in, delivered, dropped by reason, in flight, pinned, batches, reconnects");
        (void)rte_telemetry_register_cmd("/logagg/ports", cmd_ports,
                                         "Per port: ethdev counters and link state");
        (void)rte_telemetry_register_cmd(
            "/logagg/lcores", cmd_lcores,
            "Per lcore: roles, frames and messages handled, bytes copied, busy time, sleeps");
    });
}

void telemetry_serve(snapshot_source src) {
    const std::lock_guard<std::mutex> lock(source_mu);
    source = std::move(src);
}

} // namespace logagg::control
