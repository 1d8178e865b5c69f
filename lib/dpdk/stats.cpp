// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane.
#include "dpdk/stats.hpp"

#include "log/encode.hpp"

#include <algorithm>
#include <numeric>

#include <fmt/core.h>
#include <fmt/format.h>

namespace logagg::dpdk {
namespace {

/// JSON string escaping (RFC 8259 section 7) for names and paths.
[[nodiscard]] std::string json_str(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                out +=
                    fmt::format("\\u{:04x}", static_cast<unsigned>(static_cast<unsigned char>(c)));
            } else {
                out += c;
            }
        }
    }
    out += '"';
    return out;
}

[[nodiscard]] const char* boolstr(bool b) {
    return b ? "true" : "false";
}

} // namespace

uint64_t snapshot::packets_dropped() const noexcept {
    return std::accumulate(pkt_drops.begin(), pkt_drops.end(), uint64_t{0});
}

uint64_t snapshot::messages_parse_failed() const noexcept {
    uint64_t n = 0;
    for (std::size_t i = 1; i < rfc5424_errors.size(); ++i) {
        n += rfc5424_errors[i];
    }
    for (std::size_t i = 1; i < json_errors.size(); ++i) {
        n += json_errors[i];
    }
    return n;
}

uint64_t snapshot::messages_dropped() const noexcept {
    return std::accumulate(msg_drops.begin(), msg_drops.end(), uint64_t{0});
}

bool snapshot::packets_balanced() const noexcept {
    return received + reassembled == to_workers + answered + packets_dropped() + fragments_merged &&
           to_workers == worker_packets;
}

bool snapshot::messages_balanced() const noexcept {
    return framed == written + messages_dropped();
}

void accumulate(snapshot& s, unsigned lcore_id, const std::string& roles,
                const pipeline::lcore_stats& st) {
    lcore_snapshot l;
    l.lcore_id = lcore_id;
    l.roles = roles;
    l.rx_packets = st.rx_packets.get();
    l.worker_packets = st.worker_packets.get();
    l.messages_framed = st.messages_framed.get();
    l.messages_written = st.messages_written.get();
    l.bytes_copied = st.bytes_copied.get();
    s.lcores.push_back(l);
    s.received += l.rx_packets;
    s.rx_bytes += st.rx_bytes.get();
    s.to_workers += st.to_workers.get();
    s.answered += st.answered.get();
    s.reassembled += st.reassembled.get();
    s.fragments_merged += st.fragments_merged.get();
    for (std::size_t i = 0; i < s.replies.size(); ++i) {
        s.replies[i] += st.replies[i].get();
    }
    s.worker_packets += l.worker_packets;
    for (std::size_t i = 0; i < net::drop_reason_count; ++i) {
        s.pkt_drops[i] += st.pkt_drops[i].get();
    }
    s.framed += l.messages_framed;
    s.written += l.messages_written;
    s.empty_skipped += st.empty_skipped.get();
    s.truncated += st.truncated.get();
    s.framing_errors += st.framing_errors.get();
    s.bytes_written += st.bytes_written.get();
    for (std::size_t i = 0; i < pipeline::msg_drop_count; ++i) {
        s.msg_drops[i] += st.msg_drops[i].get();
    }
    for (std::size_t i = 0; i < s.parsed.size(); ++i) {
        s.parsed[i] += st.parsed[i].get();
    }
    for (std::size_t i = 0; i < s.rfc5424_errors.size(); ++i) {
        s.rfc5424_errors[i] += st.rfc5424_errors[i].get();
    }
    for (std::size_t i = 0; i < s.json_errors.size(); ++i) {
        s.json_errors[i] += st.json_errors[i].get();
    }
    s.bytes_copied += l.bytes_copied;
}

std::string stats_line(const snapshot& now, const snapshot& prev, double dt) {
    const double inv = dt > 0 ? 1.0 / dt : 0.0;
    uint64_t imissed = 0;
    uint64_t nombuf = 0;
    for (const port_snapshot& p : now.ports) {
        imissed += p.imissed;
        nombuf += p.rx_nombuf;
    }
    return fmt::format("[{:9.1f}s] rx {} pkt ({:.0f}/s) dropped {} | msgs framed {} written {} "
                       "({:.0f}/s) dropped {} | "
                       "copied {} B | imissed {} rx_nombuf {}",
                       now.uptime_s, now.received,
                       static_cast<double>(now.received - prev.received) * inv,
                       now.packets_dropped(), now.framed, now.written,
                       static_cast<double>(now.written - prev.written) * inv,
                       now.messages_dropped(), now.bytes_copied, imissed, nombuf);
}

std::string summary_table(const snapshot& s) {
    std::string o = fmt::format("logagg summary after {:.3f} s\n", s.uptime_s);
    for (const port_snapshot& p : s.ports) {
        o += fmt::format(
            "  port {} ({}): ipackets {} ibytes {} imissed {} ierrors {} rx_nombuf {}\n", p.port_id,
            p.name, p.ipackets, p.ibytes, p.imissed, p.ierrors, p.rx_nombuf);
    }
    for (const lcore_snapshot& l : s.lcores) {
        o += fmt::format("  lcore {:<3} {:<18} rx {:>10}  framed-pkts {:>10}  msgs {:>10}  written "
                         "{:>10}  copied {} B\n",
                         l.lcore_id, l.roles, l.rx_packets, l.worker_packets, l.messages_framed,
                         l.messages_written, l.bytes_copied);
    }
    o += fmt::format("  packets   received {:>12}  to workers {:>12}  dropped {:>12}\n", s.received,
                     s.to_workers, s.packets_dropped());
    if (s.reassembled != 0) {
        o += fmt::format("    reassembled {} datagrams from {} fragments\n", s.reassembled,
                         s.fragments_merged);
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
        "  messages  framed   {:>12}  written    {:>12}  dropped {:>12}  empty lines skipped {}\n",
        s.framed, s.written, s.messages_dropped(), s.empty_skipped);
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
        for (std::size_t i = 1; i < s.json_errors.size(); ++i) {
            if (s.json_errors[i] != 0) {
                o += fmt::format("    not json: {:<23} {:>12}\n", log::json_status_names[i],
                                 s.json_errors[i]);
            }
        }
    }
    o += fmt::format("  sink      file {}: {} messages, {} bytes, {} segments, {} write errors\n",
                     s.sink.dir, s.sink.messages, s.sink.bytes, s.sink.segments,
                     s.sink.write_errors);
    o += fmt::format("  bytes copied on the datapath: {}\n", s.bytes_copied);
    if (s.mbufs_in_use_at_exit >= 0) {
        o += fmt::format("  mbufs: {} in the pool, {} not returned at exit\n", s.mbufs_total,
                         s.mbufs_in_use_at_exit);
    }
    o += fmt::format("  accounting: packets {} (received + reassembled = to workers + answered + "
                     "dropped + merged fragments), messages {} "
                     "(framed = written + dropped)\n",
                     s.packets_balanced() ? "balanced" : "UNBALANCED",
                     s.messages_balanced() ? "balanced" : "UNBALANCED");
    return o;
}

std::string to_json(const snapshot& s) {
    std::string o = "{\n  \"schema\": \"logagg.stats/1\",\n";
    o += fmt::format("  \"uptime_s\": {:.6f},\n  \"ports\": [", s.uptime_s);
    for (std::size_t i = 0; i < s.ports.size(); ++i) {
        const port_snapshot& p = s.ports[i];
        o += fmt::format(
            "{}\n    {{\"port_id\": {}, \"name\": {}, \"rx_queues\": {}, "
            "\"ipackets\": {}, \"ibytes\": {}, "
            "\"imissed\": {}, \"ierrors\": {}, \"rx_nombuf\": {}, \"opackets\": {}, "
            "\"obytes\": {}, "
            "\"oerrors\": {}, \"link_up\": {}, \"link_speed_mbps\": {}, \"link_flaps\": {}}}",
            i == 0 ? "" : ",", p.port_id, json_str(p.name), p.rx_queues, p.ipackets, p.ibytes,
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
            roles += (roles.empty() ? "" : ", ") + json_str(r.substr(0, plus));
            r = plus == std::string_view::npos ? std::string_view{} : r.substr(plus + 1);
        }
        o +=
            fmt::format("{}\n    {{\"lcore_id\": {}, \"roles\": [{}], \"rx_packets\": {}, "
                        "\"worker_packets\": {}, "
                        "\"messages_framed\": {}, \"messages_written\": {}, \"bytes_copied\": {}}}",
                        i == 0 ? "" : ",", l.lcore_id, roles, l.rx_packets, l.worker_packets,
                        l.messages_framed, l.messages_written, l.bytes_copied);
    }
    o += "\n  ],\n";
    o += fmt::format("  \"packets\": {{\"received\": {}, \"bytes\": {}, \"to_workers\": {}, "
                     "\"framed_by_workers\": {}, \"reassembled\": {}, \"fragments_merged\": {}, "
                     "\"answered\": {}, \"replies\": {{\"arp\": {}, "
                     "\"icmp_echo\": {}, \"nd_advert\": {}, \"icmpv6_echo\": {}}}, "
                     "\"dropped_total\": {}, \"dropped\": {{",
                     s.received, s.rx_bytes, s.to_workers, s.worker_packets, s.reassembled,
                     s.fragments_merged, s.answered, s.replies[0], s.replies[1], s.replies[2],
                     s.replies[3], s.packets_dropped());
    for (std::size_t i = 1; i < net::drop_reason_count; ++i) {
        o += fmt::format("{}\"{}\": {}", i == 1 ? "" : ", ", net::drop_reason_names[i],
                         s.pkt_drops[i]);
    }
    o += "}},\n";
    o += fmt::format(
        "  \"messages\": {{\"framed\": {}, \"written\": {}, \"empty_skipped\": {}, "
        "\"truncated\": {}, \"framing_errors\": {}, \"dropped_total\": {}, \"dropped\": {{",
        s.framed, s.written, s.empty_skipped, s.truncated, s.framing_errors, s.messages_dropped());
    for (std::size_t i = 0; i < pipeline::msg_drop_count; ++i) {
        o += fmt::format("{}\"{}\": {}", i == 0 ? "" : ", ", pipeline::msg_drop_names[i],
                         s.msg_drops[i]);
    }
    o += "}},\n";
    o += fmt::format("  \"sinks\": [{{\"type\": {}, \"dir\": {}, \"messages\": {}, \"bytes\": {}, "
                     "\"segments\": {}, "
                     "\"write_errors\": {}}}],\n",
                     json_str(s.sink.type), json_str(s.sink.dir), s.sink.messages, s.sink.bytes,
                     s.sink.segments, s.sink.write_errors);
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
    o += "}, \"json_errors\": {";
    for (std::size_t i = 1; i < s.json_errors.size(); ++i) {
        o += fmt::format("{}\"{}\": {}", i == 1 ? "" : ", ", log::json_status_names[i],
                         s.json_errors[i]);
    }
    o += "}},\n";
    o += fmt::format("  \"bytes_copied\": {},\n", s.bytes_copied);
    o += fmt::format("  \"mbufs\": {{\"pool\": {}, \"in_use_at_exit\": {}}},\n", s.mbufs_total,
                     s.mbufs_in_use_at_exit);
    o += fmt::format("  \"invariants\": {{\"packets\": {}, \"messages\": {}}}\n}}\n",
                     boolstr(s.packets_balanced()), boolstr(s.messages_balanced()));
    return o;
}

} // namespace logagg::dpdk
