// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane.
#include "control/stats.hpp"

#include "log/encode.hpp"
#include "pipeline/responder.hpp"
#include "util/json_text.hpp"

#include <algorithm>
#include <numeric>

#include <fmt/core.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

namespace logagg::control {
namespace {

using util::json_quote;

[[nodiscard]] const char* boolstr(bool b) {
    return b ? "true" : "false";
}

} // namespace

uint64_t sink_snapshot::dropped() const noexcept {
    return std::accumulate(drops.begin(), drops.end(), uint64_t{0});
}

uint64_t sink_snapshot::in_flight() const noexcept {
    const uint64_t done = delivered + dropped();
    return in > done ? in - done : 0;
}

uint64_t sink_snapshot::latency_quantile(double q) const noexcept {
    const uint64_t n = std::accumulate(latency_us.begin(), latency_us.end(), uint64_t{0});
    if (n == 0) {
        return 0;
    }
    const auto want = static_cast<uint64_t>(q * static_cast<double>(n - 1)) + 1;
    uint64_t seen = 0;
    for (std::size_t i = 0; i < latency_us.size(); ++i) {
        seen += latency_us[i];
        if (seen >= want) {
            return pipeline::latency_bucket_floor(i);
        }
    }
    return pipeline::latency_bucket_floor(latency_us.size() - 1);
}

uint64_t snapshot::packets_dropped() const noexcept {
    return std::accumulate(pkt_drops.begin(), pkt_drops.end(), uint64_t{0});
}

uint64_t snapshot::messages_parse_failed() const noexcept {
    uint64_t n = gelf_bad_compression;
    for (std::size_t i = 1; i < rfc5424_errors.size(); ++i) {
        n += rfc5424_errors[i];
    }
    for (std::size_t i = 1; i < rfc3164_errors.size(); ++i) {
        n += rfc3164_errors[i];
    }
    for (std::size_t i = 1; i < json_errors.size(); ++i) {
        n += json_errors[i] + gelf_errors[i];
    }
    return n;
}

uint64_t snapshot::messages_dropped() const noexcept {
    return std::accumulate(msg_drops.begin(), msg_drops.end(), uint64_t{0});
}

uint64_t snapshot::delivered() const noexcept {
    uint64_t n = 0;
    for (const sink_snapshot& k : sinks) {
        n += k.delivered;
    }
    return n;
}

bool snapshot::packets_balanced() const noexcept {
    return received + reassembled ==
               to_workers + answered + neighbour + packets_dropped() + fragments_merged &&
           to_workers == worker_packets;
}

uint64_t snapshot::tcp_value(std::string_view group, std::string_view name) const noexcept {
    for (const tcp_counter& c : tcp) {
        if (c.group == group && c.name == name) {
            return c.value;
        }
    }
    return 0;
}

bool snapshot::tcp_balanced() const noexcept {
    if (tcp.empty()) {
        return true;
    }
    uint64_t outcomes = 0;
    for (const tcp_counter& c : tcp) {
        if (c.group == "segments" && c.name != "total" && c.name != "checksum_partial") {
            outcomes += c.value;
        }
    }
    return outcomes == tcp_value("segments", "total") &&
           tcp_value("conns", "accepted") ==
               tcp_value("conns", "open") + tcp_value("conns", "closed") +
                   tcp_value("conns", "reset_in") + tcp_value("conns", "reset_out");
}

bool snapshot::messages_balanced() const noexcept {
    return framed == routed + messages_dropped();
}

bool snapshot::sinks_balanced() const noexcept {
    return std::all_of(sinks.begin(), sinks.end(), [this](const sink_snapshot& k) {
        const uint64_t done = k.delivered + k.dropped();
        return final ? k.in == done : k.in >= done;
    });
}

void accumulate(snapshot& s, unsigned lcore_id, const std::string& roles,
                const pipeline::lcore_stats& st, double tsc_hz) {
    lcore_snapshot l;
    l.lcore_id = lcore_id;
    l.roles = roles;
    l.rx_packets = st.rx_packets.get();
    l.worker_packets = st.worker_packets.get();
    l.messages_framed = st.messages_framed.get();
    l.bytes_copied = st.bytes_copied.get();
    l.busy_s = tsc_hz > 0 ? static_cast<double>(st.busy_tsc.get()) / tsc_hz : 0.0;
    l.sleeps = st.sleeps.get();
    l.rx_interrupts = st.rx_interrupts.get();
    l.affinity_changes = st.affinity_changes.get();
    l.rx_bounded_sleeps = st.rx_bounded_sleeps.get();
    s.lcores.push_back(l);
    s.received += l.rx_packets;
    s.rx_bytes += st.rx_bytes.get();
    s.to_workers += st.to_workers.get();
    s.answered += st.answered.get();
    s.reassembled += st.reassembled.get();
    s.fragments_merged += st.fragments_merged.get();
    s.neighbour += st.neighbour.get();
    s.checksum_partial += st.checksum_partial.get();
    s.tcp_tx_failed += st.tcp_tx_failed.get();
    for (std::size_t i = 0; i < s.replies.size(); ++i) {
        s.replies[i] += st.replies[i].get();
    }
    s.worker_packets += l.worker_packets;
    for (std::size_t i = 0; i < net::drop_reason_count; ++i) {
        s.pkt_drops[i] += st.pkt_drops[i].get();
    }
    s.framed += l.messages_framed;
    s.routed += st.routed.get();
    s.empty_skipped += st.empty_skipped.get();
    s.truncated += st.truncated.get();
    s.framing_errors += st.framing_errors.get();
    for (std::size_t i = 0; i < pipeline::msg_drop_count; ++i) {
        s.msg_drops[i] += st.msg_drops[i].get();
    }
    for (std::size_t i = 0; i < s.parsed.size(); ++i) {
        s.parsed[i] += st.parsed[i].get();
    }
    for (std::size_t i = 0; i < s.rfc5424_errors.size(); ++i) {
        s.rfc5424_errors[i] += st.rfc5424_errors[i].get();
    }
    for (std::size_t i = 0; i < s.rfc3164_errors.size(); ++i) {
        s.rfc3164_errors[i] += st.rfc3164_errors[i].get();
    }
    for (std::size_t i = 0; i < s.json_errors.size(); ++i) {
        s.json_errors[i] += st.json_errors[i].get();
        s.gelf_errors[i] += st.gelf_errors[i].get();
    }
    for (std::size_t i = 0; i < s.gelf_chunks.size(); ++i) {
        s.gelf_chunks[i] += st.gelf_chunks[i].get();
    }
    s.gelf_expired_messages += st.gelf_expired_messages.get();
    s.gelf_expired_chunks += st.gelf_expired_chunks.get();
    s.gelf_bad_compression += st.gelf_bad_compression.get();
    for (std::size_t i = 0; i < pipeline::max_sinks; ++i) {
        s.sink_in[i] += st.sink_in[i].get();
        s.sink_in_bytes[i] += st.sink_in_bytes[i].get();
        s.sink_full[i] += st.sink_full[i].get();
    }
    for (std::size_t i = 0; i < pipeline::max_filters; ++i) {
        s.filter_kept[i] += st.filter_kept[i].get();
        s.filter_dropped[i] += st.filter_dropped[i].get();
    }
    for (std::size_t i = 0; i < pipeline::max_routes; ++i) {
        s.route_hits[i] += st.route_hits[i].get();
    }
    s.bytes_copied += l.bytes_copied;
    for (std::size_t i = 0; i < pipeline::copy_reason_count; ++i) {
        s.copied_by[i] += st.copied_by[i].get();
    }
    for (listener_snapshot& ls : s.listeners) {
        if (ls.tcp) {
            const pipeline::tcp_listener_counters& c = st.tcp_listeners[ls.slot];
            ls.packets += c.segments.get();
            ls.bytes += c.bytes.get();
            ls.messages += c.messages.get();
            ls.dropped += c.dropped.get();
            const uint64_t accepted = c.accepted.get();
            const uint64_t ended = c.ended.get();
            ls.connections += accepted;
            ls.open += accepted > ended ? accepted - ended : 0;
            continue;
        }
        const pipeline::listener_counters& c = st.listeners[ls.slot];
        ls.packets += c.packets.get();
        ls.bytes += c.bytes.get();
        ls.messages += c.messages.get();
        ls.dropped += c.dropped.get();
    }
    s.tcp_no_listener += st.tcp_listeners[0].segments.get();
}

void add_sink(snapshot& s, std::size_t index, sink_snapshot k, const pipeline::sink_stats& st) {
    k.in = s.sink_in[index];
    k.in_bytes = s.sink_in_bytes[index];
    k.delivered = st.delivered.get();
    k.bytes = st.bytes.get();
    for (std::size_t i = 0; i < pipeline::sink_drop_count; ++i) {
        k.drops[i] = st.drops[i].get();
    }
    k.drops[static_cast<std::size_t>(pipeline::sink_drop::sink_full)] += s.sink_full[index];
    k.dropped_bytes = st.dropped_bytes.get();
    k.batches = st.batches.get();
    for (std::size_t i = 0; i < k.batch_records.size(); ++i) {
        k.batch_records[i] = st.batch_records[i].get();
    }
    k.reconnects = st.reconnects.get();
    k.connect_failures = st.connect_failures.get();
    k.connections = st.connections.get();
    k.disconnects = st.disconnects.get();
    if (k.type == "tcp" || k.type == "kafka") {
        k.connected = k.connections > k.disconnects ? 1 : 0;
    }
    k.retries = st.retries.get();
    k.errors = st.errors.get();
    k.bytes_copied = st.bytes_copied.get();
    for (std::size_t i = 0; i < k.latency_us.size(); ++i) {
        k.latency_us[i] = st.latency_us[i].get();
    }
    s.sinks.push_back(std::move(k));
}

std::string stats_line(const snapshot& now, const snapshot& prev, double dt) {
    const double inv = dt > 0 ? 1.0 / dt : 0.0;
    uint64_t imissed = 0;
    uint64_t nombuf = 0;
    for (const port_snapshot& p : now.ports) {
        imissed += p.imissed;
        nombuf += p.rx_nombuf;
    }
    std::string line = fmt::format(
        "[{:9.1f}s] rx {} pkt ({:.0f}/s) dropped {} | msgs framed {} routed {} ({:.0f}/s) "
        "dropped {} | copied {} B | imissed {} rx_nombuf {}",
        now.uptime_s, now.received, static_cast<double>(now.received - prev.received) * inv,
        now.packets_dropped(), now.framed, now.routed,
        static_cast<double>(now.routed - prev.routed) * inv, now.messages_dropped(),
        now.bytes_copied, imissed, nombuf);
    for (std::size_t i = 0; i < now.sinks.size(); ++i) {
        const sink_snapshot& k = now.sinks[i];
        const uint64_t before = i < prev.sinks.size() ? prev.sinks[i].delivered : 0;
        line += fmt::format(" | {} delivered {} ({:.0f}/s) queued {} pinned {} dropped {}", k.name,
                            k.delivered, static_cast<double>(k.delivered - before) * inv, k.queued,
                            k.pinned, k.dropped());
    }
    // Each lcore's busy fraction over the interval: time in passes that did work.
    line += " | busy";
    for (std::size_t i = 0; i < now.lcores.size(); ++i) {
        const lcore_snapshot& l = now.lcores[i];
        const double before = i < prev.lcores.size() ? prev.lcores[i].busy_s : 0.0;
        line += fmt::format(" lcore{} {:.1f}%", l.lcore_id, 100.0 * (l.busy_s - before) * inv);
    }
    return line;
}

namespace {

/// summary_table()'s TCP lines (none without TCP listeners).
void summary_tcp(std::string& o, const snapshot& s) {
    if (!s.tcp.empty()) {
        o += fmt::format(
            "  tcp       segments {:>12}  conns accepted {}  open {}  closed {}  reset "
            "in {} out {}  refused {}  zero windows {}  bytes {}\n",
            s.tcp_value("segments", "total"), s.tcp_value("conns", "accepted"),
            s.tcp_value("conns", "open"), s.tcp_value("conns", "closed"),
            s.tcp_value("conns", "reset_in"), s.tcp_value("conns", "reset_out"),
            s.tcp_value("conns", "refused"), s.tcp_value("window", "zero_window_episodes"),
            s.tcp_value("bytes", "delivered"));
        std::string line;
        for (const snapshot::tcp_counter& c : s.tcp) {
            if (c.value != 0 && c.group != "conns" &&
                !(c.group == "segments" && c.name == "total")) {
                line += fmt::format(" {}.{} {}", c.group, c.name, c.value);
            }
        }
        if (s.tcp_tx_failed != 0) {
            line += fmt::format(" tx.failed {}", s.tcp_tx_failed);
        }
        if (!line.empty()) {
            o += "   " + line + "\n";
        }
    }
}

/// summary_table()'s parse and GELF lines (none when nothing was parsed).
void summary_parse(std::string& o, const snapshot& s) {
    if (std::any_of(s.parsed.begin(), s.parsed.end(), [](uint64_t v) { return v != 0; }) ||
        s.messages_parse_failed() != 0) {
        o += "  parsed   ";
        for (std::size_t i = 0; i < s.parsed.size(); ++i) {
            o += fmt::format(" {} {}", log::input_format_names[i], s.parsed[i]);
        }
        o += "\n";
        for (std::size_t i = 1; i < s.rfc5424_errors.size(); ++i) {
            if (s.rfc5424_errors[i] != 0) {
                o += fmt::format("    not rfc5424: {:<20} {:>12}\n", log::rfc5424_status_names[i],
                                 s.rfc5424_errors[i]);
            }
        }
        for (std::size_t i = 1; i < s.rfc3164_errors.size(); ++i) {
            if (s.rfc3164_errors[i] != 0) {
                o += fmt::format("    not rfc3164: {:<20} {:>12}\n", log::rfc3164_status_names[i],
                                 s.rfc3164_errors[i]);
            }
        }
        for (std::size_t i = 1; i < s.json_errors.size(); ++i) {
            if (s.json_errors[i] != 0) {
                o += fmt::format("    not json: {:<23} {:>12}\n", log::json_status_names[i],
                                 s.json_errors[i]);
            }
            if (s.gelf_errors[i] != 0) {
                o += fmt::format("    not gelf json: {:<18} {:>12}\n", log::json_status_names[i],
                                 s.gelf_errors[i]);
            }
        }
    }
    const uint64_t chunks =
        std::accumulate(s.gelf_chunks.begin(), s.gelf_chunks.end(), uint64_t{0});
    if (chunks != 0 || s.gelf_bad_compression != 0) {
        o += "  gelf chunks";
        for (std::size_t i = 0; i < s.gelf_chunks.size(); ++i) {
            if (s.gelf_chunks[i] != 0) {
                o += fmt::format(" {} {}", log::gelf::chunk_status_names[i], s.gelf_chunks[i]);
            }
        }
        o += fmt::format("; expired {} messages ({} chunks); bad compression {}\n",
                         s.gelf_expired_messages, s.gelf_expired_chunks, s.gelf_bad_compression);
    }
}

/// summary_table()'s lines for each sink.
void summary_sinks(std::string& o, const snapshot& s) {
    for (const sink_snapshot& k : s.sinks) {
        o += fmt::format("  sink {} ({} {}, {}): in {} delivered {} ({} bytes) dropped {} "
                         "in flight {}\n",
                         k.name, k.type, k.target, k.format, k.in, k.delivered, k.bytes,
                         k.dropped(), k.in_flight());
        for (std::size_t i = 0; i < pipeline::sink_drop_count; ++i) {
            if (k.drops[i] != 0) {
                o += fmt::format("    dropped {:<20} {:>12}\n", pipeline::sink_drop_names[i],
                                 k.drops[i]);
            }
        }
        o += fmt::format("    {} batches; reconnects {} retries {} errors {}; copied {} B; "
                         "latency p50 {} us p99 {} us{}{}\n",
                         k.batches, k.reconnects, k.retries, k.errors, k.bytes_copied,
                         k.latency_quantile(0.5), k.latency_quantile(0.99),
                         k.extra_text.empty() ? "" : "; ", k.extra_text);
    }
}

} // namespace

// Prints the summary block line by line in output order; the TCP, parse and sink lines are
// written by the summary_* helpers above, in the same order.
std::string summary_table(const snapshot& s) {
    std::string o = fmt::format("logagg summary after {:.3f} s\n", s.uptime_s);
    for (const port_snapshot& p : s.ports) {
        o += fmt::format(
            "  port {} ({}): ipackets {} ibytes {} imissed {} ierrors {} rx_nombuf {}\n", p.port_id,
            p.name, p.ipackets, p.ibytes, p.imissed, p.ierrors, p.rx_nombuf);
    }
    for (const lcore_snapshot& l : s.lcores) {
        o += fmt::format(
            "  lcore {:<3} {:<18} rx {:>10}  framed-pkts {:>10}  msgs {:>10}  copied {} B  busy "
            "{:.1f}% ({} sleeps)\n",
            l.lcore_id, l.roles, l.rx_packets, l.worker_packets, l.messages_framed, l.bytes_copied,
            s.uptime_s > 0 ? 100.0 * l.busy_s / s.uptime_s : 0.0, l.sleeps);
    }
    o += fmt::format("  packets   received {:>12}  to workers {:>12}  dropped {:>12}\n", s.received,
                     s.to_workers, s.packets_dropped());
    if (s.reassembled != 0) {
        o += fmt::format("    reassembled {} datagrams from {} fragments\n", s.reassembled,
                         s.fragments_merged);
    }
    if (s.checksum_partial != 0) {
        o += fmt::format("    accepted {} with a partial UDP checksum (a local sender's, on "
                         "net_af_packet)\n",
                         s.checksum_partial);
    }
    if (s.neighbour != 0) {
        o += fmt::format("    learned next-hop addresses from {} ARP replies / neighbour "
                         "advertisements\n",
                         s.neighbour);
    }
    if (s.answered != 0) {
        o += fmt::format(
            "    answered {} (ARP {}, ICMP echo {}, neighbour adverts {}, ICMPv6 echo {})\n",
            s.answered, s.replies[0], s.replies[1], s.replies[2], s.replies[3]);
    }
    for (std::size_t i = 1; i < net::drop_reason_count; ++i) {
        if (s.pkt_drops[i] != 0) {
            o += fmt::format("    dropped {:<20} {:>12}\n", net::drop_reason_names[i],
                             s.pkt_drops[i]);
        }
    }
    o += fmt::format(
        "  messages  framed   {:>12}  routed     {:>12}  dropped {:>12}  empty lines skipped {}\n",
        s.framed, s.routed, s.messages_dropped(), s.empty_skipped);
    if (s.truncated != 0 || s.framing_errors != 0) {
        o += fmt::format("    truncated to --max-msg {}  datagrams with octet-framing errors {}\n",
                         s.truncated, s.framing_errors);
    }
    for (std::size_t i = 0; i < pipeline::msg_drop_count; ++i) {
        if (s.msg_drops[i] != 0) {
            o += fmt::format("    dropped {:<20} {:>12}\n", pipeline::msg_drop_names[i],
                             s.msg_drops[i]);
        }
    }
    for (const listener_snapshot& l : s.listeners) {
        o += fmt::format("    listener {} ({}): packets {} ({} payload bytes) messages {} "
                         "dropped {}{}\n",
                         l.name, l.format, l.packets, l.bytes, l.messages, l.dropped,
                         l.tcp ? fmt::format("; connections {} ({} open)", l.connections, l.open)
                               : std::string());
    }
    if (s.tcp_no_listener != 0) {
        o += fmt::format("    tcp segments to ports without a listener: {}\n", s.tcp_no_listener);
    }
    summary_tcp(o, s);
    for (const filter_snapshot& f : s.filters) {
        o += fmt::format("    filter '{}': kept {} dropped {}\n", f.text, f.kept, f.dropped);
    }
    for (const route_snapshot& r : s.routes) {
        o += fmt::format("    route '{}' => {}: {} records\n", r.text, fmt::join(r.sinks, ","),
                         r.hits);
    }
    summary_parse(o, s);
    summary_sinks(o, s);
    o += fmt::format("  bytes copied on the datapath: {}", s.bytes_copied);
    bool first_reason = true;
    for (std::size_t i = 0; i < pipeline::copy_reason_count; ++i) {
        if (s.copied_by[i] != 0) {
            o += fmt::format("{}{} {}", first_reason ? " (" : ", ", pipeline::copy_reason_names[i],
                             s.copied_by[i]);
            first_reason = false;
        }
    }
    o += first_reason ? "\n" : ")\n";
    if (s.mbufs_in_use_at_exit >= 0) {
        o += fmt::format("  mbufs: {} in the pool, {} not returned at exit\n", s.mbufs_total,
                         s.mbufs_in_use_at_exit);
    }
    o += fmt::format("  accounting: packets {} (received + reassembled = to workers + answered + "
                     "neighbour + dropped + merged fragments), messages {} (framed = routed + "
                     "dropped), "
                     "sinks {} (in = delivered + dropped{})\n",
                     s.packets_balanced() ? "balanced" : "UNBALANCED",
                     s.messages_balanced() ? "balanced" : "UNBALANCED",
                     s.sinks_balanced() ? "balanced" : "UNBALANCED", s.final ? "" : " + in flight");
    return o;
}

namespace {

/// to_json()'s "ports" array and the "lcores" array's opening and items.
void json_ports_and_lcores(std::string& o, const snapshot& s) {
    for (std::size_t i = 0; i < s.ports.size(); ++i) {
        const port_snapshot& p = s.ports[i];
        o += fmt::format(
            "{}\n    {{\"port_id\": {}, \"name\": {}, \"rx_queues\": {}, "
            "\"ipackets\": {}, \"ibytes\": {}, "
            "\"imissed\": {}, \"ierrors\": {}, \"rx_nombuf\": {}, \"opackets\": {}, "
            "\"obytes\": {}, "
            "\"oerrors\": {}, \"link_up\": {}, \"link_speed_mbps\": {}, \"link_flaps\": {}}}",
            i == 0 ? "" : ",", p.port_id, json_quote(p.name), p.rx_queues, p.ipackets, p.ibytes,
            p.imissed, p.ierrors, p.rx_nombuf, p.opackets, p.obytes, p.oerrors, boolstr(p.link_up),
            p.link_speed_mbps, p.link_flaps);
    }
    o += "\n  ],\n  \"lcores\": [";
    for (std::size_t i = 0; i < s.lcores.size(); ++i) {
        const lcore_snapshot& l = s.lcores[i];
        std::string roles;
        std::string_view r = l.roles;
        while (!r.empty()) {
            const std::size_t plus = r.find('+');
            roles += (roles.empty() ? "" : ", ") + json_quote(r.substr(0, plus));
            r = plus == std::string_view::npos ? std::string_view{} : r.substr(plus + 1);
        }
        o += fmt::format("{}\n    {{\"lcore_id\": {}, \"roles\": [{}], \"rx_packets\": {}, "
                         "\"worker_packets\": {}, \"messages_framed\": {}, \"bytes_copied\": {}, "
                         "\"busy_s\": {:.6f}, \"busy_fraction\": {:.6f}, \"sleeps\": {}, "
                         "\"rx_interrupts\": {}, \"rx_bounded_sleeps\": {}, "
                         "\"affinity_changes\": {}}}",
                         i == 0 ? "" : ",", l.lcore_id, roles, l.rx_packets, l.worker_packets,
                         l.messages_framed, l.bytes_copied, l.busy_s,
                         s.uptime_s > 0 ? std::min(1.0, l.busy_s / s.uptime_s) : 0.0, l.sleeps,
                         l.rx_interrupts, l.rx_bounded_sleeps, l.affinity_changes);
    }
}

/// to_json()'s "listeners", "filters" and "routes" items (the "routes" array left open).
void json_listeners_filters_routes(std::string& o, const snapshot& s) {
    for (std::size_t i = 0; i < s.listeners.size(); ++i) {
        const listener_snapshot& l = s.listeners[i];
        o += fmt::format("{}\n    {{\"listener\": {}, \"format\": {}, \"packets\": {}, "
                         "\"payload_bytes\": {}, \"messages\": {}, \"dropped\": {}{}}}",
                         i == 0 ? "" : ",", json_quote(l.name), json_quote(l.format), l.packets,
                         l.bytes, l.messages, l.dropped,
                         l.tcp ? fmt::format(", \"connections\": {}, \"open_connections\": {}",
                                             l.connections, l.open)
                               : std::string());
    }
    o += s.listeners.empty() ? "],\n  \"filters\": [" : "\n  ],\n  \"filters\": [";
    for (std::size_t i = 0; i < s.filters.size(); ++i) {
        o += fmt::format("{}{{\"filter\": {}, \"kept\": {}, \"dropped\": {}}}", i == 0 ? "" : ", ",
                         json_quote(s.filters[i].text), s.filters[i].kept, s.filters[i].dropped);
    }
    o += "],\n  \"routes\": [";
    for (std::size_t i = 0; i < s.routes.size(); ++i) {
        std::string names;
        for (const std::string& n : s.routes[i].sinks) {
            names += (names.empty() ? "" : ", ") + json_quote(n);
        }
        o += fmt::format("{}{{\"route\": {}, \"sinks\": [{}], \"hits\": {}}}", i == 0 ? "" : ", ",
                         json_quote(s.routes[i].text), names, s.routes[i].hits);
    }
}

/// to_json()'s "sinks" items.
void json_sinks(std::string& o, const snapshot& s) {
    for (std::size_t i = 0; i < s.sinks.size(); ++i) {
        const sink_snapshot& k = s.sinks[i];
        o += fmt::format("{}\n    {{\"name\": {}, \"type\": {}, \"target\": {}, \"format\": {}, "
                         "\"in\": {}, \"in_bytes\": {}, \"delivered\": {}, \"bytes\": {}, "
                         "\"in_flight\": {}, \"queued\": {}, \"pinned_bytes\": {}, "
                         "\"buffer_bytes\": {}, \"dropped_total\": {}, \"dropped_bytes\": {}, "
                         "\"dropped\": {{",
                         i == 0 ? "" : ",", json_quote(k.name), json_quote(k.type),
                         json_quote(k.target), json_quote(k.format), k.in, k.in_bytes, k.delivered,
                         k.bytes, k.in_flight(), k.queued, k.pinned, k.buffer_bytes, k.dropped(),
                         k.dropped_bytes);
        for (std::size_t d = 0; d < pipeline::sink_drop_count; ++d) {
            o += fmt::format("{}\"{}\": {}", d == 0 ? "" : ", ", pipeline::sink_drop_names[d],
                             k.drops[d]);
        }
        const uint64_t timed =
            std::accumulate(k.latency_us.begin(), k.latency_us.end(), uint64_t{0});
        o += fmt::format("}}, \"batches\": {}, \"batch_records_log2\": [{}], \"reconnects\": {}, "
                         "\"connect_failures\": {}, \"connections\": {}, \"disconnects\": {}, "
                         "\"retries\": {}, \"errors\": {}, "
                         "\"bytes_copied\": {}, \"latency_us\": {{\"timed\": {}, \"p50\": {}, "
                         "\"p90\": {}, \"p99\": {}, \"max\": {}}}{}{}}}",
                         k.batches, fmt::join(k.batch_records, ", "), k.reconnects,
                         k.connect_failures, k.connections, k.disconnects, k.retries, k.errors,
                         k.bytes_copied, timed, k.latency_quantile(0.5), k.latency_quantile(0.9),
                         k.latency_quantile(0.99), k.latency_quantile(1.0),
                         k.extra_json.empty() ? "" : ", ", k.extra_json);
    }
}

/// to_json()'s "parse" and "gelf" members.
void json_parse(std::string& o, const snapshot& s) {
    o += "  \"parse\": {\"records\": {";
    for (std::size_t i = 0; i < s.parsed.size(); ++i) {
        o += fmt::format("{}\"{}\": {}", i == 0 ? "" : ", ", log::input_format_names[i],
                         s.parsed[i]);
    }
    o += "}, \"rfc5424_errors\": {";
    for (std::size_t i = 1; i < s.rfc5424_errors.size(); ++i) {
        o += fmt::format("{}\"{}\": {}", i == 1 ? "" : ", ", log::rfc5424_status_names[i],
                         s.rfc5424_errors[i]);
    }
    o += "}, \"rfc3164_errors\": {";
    for (std::size_t i = 1; i < s.rfc3164_errors.size(); ++i) {
        o += fmt::format("{}\"{}\": {}", i == 1 ? "" : ", ", log::rfc3164_status_names[i],
                         s.rfc3164_errors[i]);
    }
    o += "}, \"json_errors\": {";
    for (std::size_t i = 1; i < s.json_errors.size(); ++i) {
        o += fmt::format("{}\"{}\": {}", i == 1 ? "" : ", ", log::json_status_names[i],
                         s.json_errors[i]);
    }
    o += "}, \"gelf_errors\": {";
    for (std::size_t i = 1; i < s.gelf_errors.size(); ++i) {
        o += fmt::format("{}\"{}\": {}", i == 1 ? "" : ", ", log::json_status_names[i],
                         s.gelf_errors[i]);
    }
    o += "}},\n  \"gelf\": {\"chunks\": {";
    for (std::size_t i = 0; i < s.gelf_chunks.size(); ++i) {
        o += fmt::format("{}\"{}\": {}", i == 0 ? "" : ", ", log::gelf::chunk_status_names[i],
                         s.gelf_chunks[i]);
    }
    o += fmt::format("}}, \"expired_messages\": {}, \"expired_chunks\": {}, "
                     "\"bad_compression\": {}}},\n",
                     s.gelf_expired_messages, s.gelf_expired_chunks, s.gelf_bad_compression);
}

} // namespace

// Writes the --stats-json document top to bottom in the order of docs/stats.md (schema
// logagg.stats/3); the longer arrays and the parse counters are written by the json_* helpers
// above, in the same order.
std::string to_json(const snapshot& s) {
    std::string o = "{\n  \"schema\": \"logagg.stats/3\",\n";
    o += fmt::format("  \"uptime_s\": {:.6f},\n  \"ports\": [", s.uptime_s);
    json_ports_and_lcores(o, s);
    o += "\n  ],\n";
    std::string replies;
    for (std::size_t i = 0; i < pipeline::reply_kinds; ++i) {
        replies += fmt::format("{}\"{}\": {}", i == 0 ? "" : ", ", pipeline::reply_kind_names[i],
                               s.replies[i]);
    }
    o += fmt::format("  \"packets\": {{\"received\": {}, \"bytes\": {}, \"to_workers\": {}, "
                     "\"framed_by_workers\": {}, \"reassembled\": {}, \"fragments_merged\": {}, "
                     "\"answered\": {}, \"neighbour\": {}, \"checksum_partial\": {}, "
                     "\"tcp_no_listener\": {}, \"replies\": {{{}}}, \"dropped_total\": {}, "
                     "\"dropped\": {{",
                     s.received, s.rx_bytes, s.to_workers, s.worker_packets, s.reassembled,
                     s.fragments_merged, s.answered, s.neighbour, s.checksum_partial,
                     s.tcp_no_listener, replies, s.packets_dropped());
    for (std::size_t i = 1; i < net::drop_reason_count; ++i) {
        o += fmt::format("{}\"{}\": {}", i == 1 ? "" : ", ", net::drop_reason_names[i],
                         s.pkt_drops[i]);
    }
    o += "}},\n";
    o += fmt::format("  \"messages\": {{\"framed\": {}, \"routed\": {}, \"delivered\": {}, "
                     "\"empty_skipped\": {}, \"truncated\": {}, \"framing_errors\": {}, "
                     "\"dropped_total\": {}, \"dropped\": {{",
                     s.framed, s.routed, s.delivered(), s.empty_skipped, s.truncated,
                     s.framing_errors, s.messages_dropped());
    for (std::size_t i = 0; i < pipeline::msg_drop_count; ++i) {
        o += fmt::format("{}\"{}\": {}", i == 0 ? "" : ", ", pipeline::msg_drop_names[i],
                         s.msg_drops[i]);
    }
    o += "}},\n  \"listeners\": [";
    json_listeners_filters_routes(o, s);
    o += "],\n  \"sinks\": [";
    json_sinks(o, s);
    o += "\n  ],\n";
    json_parse(o, s);
    o += fmt::format("  \"bytes_copied\": {},\n  \"bytes_copied_by_reason\": {{", s.bytes_copied);
    for (std::size_t i = 0; i < pipeline::copy_reason_count; ++i) {
        o += fmt::format("{}\"{}\": {}", i == 0 ? "" : ", ", pipeline::copy_reason_names[i],
                         s.copied_by[i]);
    }
    o += "},\n";
    o += fmt::format("  \"mbufs\": {{\"pool\": {}, \"in_use_at_exit\": {}}},\n", s.mbufs_total,
                     s.mbufs_in_use_at_exit);
    if (!s.tcp.empty()) {
        // "tcp": {"segments": {...}, "conns": {...}, ..., "tx": {..., "failed": N}}
        o += "  \"tcp\": {";
        std::string_view group;
        for (const snapshot::tcp_counter& c : s.tcp) {
            if (c.group != group) {
                if (!group.empty()) {
                    o += group == "tx" ? fmt::format(", \"failed\": {}}}, ", s.tcp_tx_failed)
                                       : std::string("}, ");
                }
                group = c.group;
                o += fmt::format("{}: {{", json_quote(c.group));
            } else {
                o += ", ";
            }
            o += fmt::format("{}: {}", json_quote(c.name), c.value);
        }
        o += group == "tx" ? fmt::format(", \"failed\": {}}}}},\n", s.tcp_tx_failed)
                           : std::string("}},\n");
    }
    o += fmt::format(
        "  \"invariants\": {{\"packets\": {}, \"messages\": {}, \"sinks\": {}{}}}\n}}\n",
        boolstr(s.packets_balanced()), boolstr(s.messages_balanced()), boolstr(s.sinks_balanced()),
        s.tcp.empty() ? std::string() : fmt::format(", \"tcp\": {}", boolstr(s.tcp_balanced())));
    return o;
}

} // namespace logagg::control
