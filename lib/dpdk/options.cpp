// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane.
#include "dpdk/options.hpp"
#include "util/parse.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <charconv>

#include <cmath>
#include <cstring>

#include <fmt/core.h>

namespace logagg::dpdk {
namespace {

using log::max_filters;
using log::max_routes;
using sink::max_sinks;

/// Port ids --ip accepts before EAL says which exist; the runtime checks the port is there.
constexpr uint64_t max_port_id = 1024;

struct option_doc {
    std::string_view name;
    std::string_view arg; ///< empty: a flag
    std::string_view help;
};

/// Every option, in --help order. The parser below accepts exactly these names.
constexpr option_doc options_table[] = {
    {"--listen", "udp:PORT[:FORMAT][,framing=MODE]",
     "UDP destination port that carries logs; repeatable (default udp:514). FORMAT: auto "
     "(default: detected per message), rfc5424, rfc3164, json, gelf (chunked, zlib, gzip; one "
     "message per datagram) or raw (not parsed); framing= overrides --framing"},
    {"--on-parse-error", "forward|drop",
     "a message that does not parse as its listener's format is forwarded as received with the "
     "parse_error flag (default) or dropped; counted by format and reason either way"},
    {"--json-fields", "ROLE=NAME[|NAME..],...",
     "JSON keys for the record fields (roles ts, sev, host, app, procid, msgid, msg), replacing "
     "the defaults of the roles named, e.g. ts=time,sev=level|lvl,msg=message"},
    {"--framing", "lf|datagram|octet|auto",
     "how a datagram becomes messages: LF-separated lines (default), the whole datagram, RFC 6587 "
     "octet "
     "counting, or octet counting when the datagram starts with 'LEN ' and lines otherwise"},
    {"--max-msg", "N", "longest message in bytes (K suffix allowed, 16-65536, default 64K)"},
    {"--on-oversize", "truncate|drop",
     "longer messages are cut to --max-msg and counted (default) or dropped and counted"},
    {"--sink", "TYPE:TARGET[,PARAM=VALUE...]",
     "where records go (required; repeatable: each sink gets every record unless --route says "
     "otherwise). file:DIR[,rotate-bytes=N] segment files (default 256M each); "
     "tcp:HOST:PORT[,replay=BYTES][,reconnect-max-ms=MS] a collector over TCP, at least once "
     "(rsyslog imtcp, syslog-ng, Vector, Fluent Bit, Logstash; replay: acknowledged bytes "
     "resent after a reconnect, default 256K); kafka:BROKERS/TOPIC[,key=host|app|source|none]"
     "[,compression=none|gzip|snappy|lz4|zstd][,acks=all|1|0][,kafka-prop=NAME=VALUE] a Kafka "
     "producer, one message per record (kafka-prop: any librdkafka property, repeatable, applied "
     "last); port:PORT,dst=IP:PORT[,src=IP[:PORT]][,dmac=MAC|gw=IP][,mtu=N] UDP datagrams "
     "out of a DPDK port (without dmac, the next hop is resolved by ARP/NDP from the port's "
     "--ip). Every sink takes name=NAME (default: its type), format=raw|ndjson|rfc5424 "
     "(default raw: as received), framing=lf|octet (default lf; octet for tcp and for "
     "format=rfc5424 files; not for kafka), buffer=BYTES (memory its queued records may pin; "
     "default 16M, "
     "32M for tcp and kafka), drop=newest|oldest (what goes when buffer is full), "
     "batch-records=N, batch-bytes=B, batch-ms=MS (send when any is reached; default 1024, "
     "1M, 1 ms; 5 ms for kafka). See docs/sinks.md"},
    {"--filter", "EXPR",
     "keep only records matching EXPR (repeatable: all must match), e.g. 'sev<=warning', "
     "'app==nginx', 'host^=web-', 'json.kubernetes_namespace==prod && sev<=err'; fields sev, "
     "facility, host, app, procid, msgid, msg, format, source, json.KEY, sd.SDID.PARAM; "
     "operators == != ^= (prefix) *= (contains) < <= > >= (docs/formats.md#filters)"},
    {"--route", "EXPR=>SINK[,SINK...]",
     "records matching EXPR go to the named sinks (repeatable; a record goes to every route it "
     "matches); records no route matches go to the sinks no route names, or are dropped "
     "(counted as unrouted)"},
    {"--drain-timeout", "MS",
     "at shutdown, how long sinks may take to deliver what they hold (default 5000); what is "
     "left then is counted as dropped (shutdown) and reported"},
    {"--rx-lcores", "LIST",
     "lcores that poll NIC queues, e.g. 1 or 1,2 or 1-2 (default: first lcore after the main one)"},
    {"--worker-lcores", "LIST",
     "lcores that frame messages; the same set as --rx-lcores runs RX and worker to completion on "
     "each "
     "lcore; a disjoint set gets packets through rings, by flow hash (default: the remaining "
     "lcores, else "
     "the RX lcores)"},
    {"--sink-lcore", "ID", "lcore that runs the sinks (default: the main lcore)"},
    {"--stats-interval", "SEC",
     "print a one-line stats summary every SEC seconds (default 0 = never)"},
    {"--stats-json", "PATH", "write all counters as JSON to PATH at exit (schema: docs/stats.md)"},
    {"--exit-on-idle", "MS",
     "stop as on SIGTERM once no frame arrived for MS milliseconds (capture replays)"},
    {"--on-sink-full", "drop|block",
     "when the sink falls behind: drop and count (default), or block and let backpressure reach "
     "the "
     "NIC (lossless capture replay)"},
    {"--ip", "PORT:ADDR/PREFIX",
     "own an IPv4 or IPv6 address on a port (repeatable): answer ARP, ICMP echo, neighbour "
     "solicitations "
     "and ICMPv6 echo for it, drop traffic to other addresses; without --ip, accept any address "
     "and answer "
     "nothing"},
    {"--reply-rate", "N",
     "answers per second per RX lcore, 1-1000000 (default 1000); beyond, dropped and counted"},
    {"--link-timeout", "SEC",
     "wait up to SEC seconds for each port's link at start, then go on with a warning "
     "(default 10; 0: don't wait)"},
    {"--promisc", "",
     "enable promiscuous mode (default off: the NIC keeps frames for other MACs out)"},
    {"--reassembly", "on|off",
     "rebuild IPv4/IPv6 datagrams from fragments on each RX lcore (default on; off drops "
     "fragments, counted)"},
    {"--frag-timeout", "MS",
     "drop a datagram still incomplete after MS milliseconds (default 5000)"},
    {"--burst", "N", "frames per rx_burst, 1-512 (default 32)"},
    {"--rx-desc", "N", "RX descriptors per queue, 64-16384 (default 1024)"},
    {"--ring-size", "N", "mbufs per worker ring, power of two (default 4096)"},
    {"--sink-ring-size", "N", "messages per worker-to-sink ring, power of two (default 16384)"},
    {"--mbufs", "N", "mbufs in the pool (default: computed from queues, rings and lcores)"},
    {"--no-checksum", "", "do not verify IPv4/UDP checksums in software when the NIC does not"},
    {"--version", "", "print the version and exit"},
    {"--test-sink-delay-us", "N",
     "testing only: the sink sleeps N microseconds after each write, to make it fall behind"},
    {"--test-file-stall-at", "BYTES",
     "testing only: a file sink stops mid-write at byte BYTES of its output, says so on stdout "
     "and waits to be killed (a crash at an exact point)"},
    {"--test-tx-chains", "",
     "testing only: port sinks send mbuf chains even where the port does not advertise "
     "multi-segment TX (net_pcap copes), to exercise the zero-copy path"},
};

using util::parse_u64;

[[nodiscard]] bool is_pow2(uint64_t v) {
    return v != 0 && (v & (v - 1)) == 0;
}

struct parser {
    config cfg;
    std::string error;

    bool fail(std::string msg) {
        error = std::move(msg);
        return false;
    }

    bool listen(std::string_view v) {
        constexpr std::string_view prefix = "udp:";
        if (v.substr(0, prefix.size()) != prefix) {
            return fail(fmt::format("--listen: '{}' is not udp:PORT (only UDP is supported)", v));
        }
        std::optional<log::framing_mode> framing;
        const std::size_t comma = v.find(',');
        if (comma != std::string_view::npos) {
            std::string_view rest = v.substr(comma + 1);
            v = v.substr(0, comma);
            while (!rest.empty()) {
                const std::size_t next = rest.find(',');
                const std::string_view kv = rest.substr(0, next);
                rest = next == std::string_view::npos ? std::string_view{} : rest.substr(next + 1);
                constexpr std::string_view fr = "framing=";
                if (kv.substr(0, fr.size()) != fr) {
                    return fail(
                        fmt::format("--listen: unknown parameter '{}' (known: framing)", kv));
                }
                framing = parse_framing(kv.substr(fr.size()));
                if (!framing) {
                    return fail(
                        fmt::format("--listen: framing '{}' is not lf, datagram, octet or auto",
                                    kv.substr(fr.size())));
                }
            }
        }
        pipeline::listen_format format = pipeline::listen_format::auto_detect;
        if (const std::size_t colon = v.find(':', prefix.size()); colon != std::string_view::npos) {
            const std::string_view f = v.substr(colon + 1);
            std::size_t i = 0;
            while (i < pipeline::listen_format_names.size() &&
                   pipeline::listen_format_names[i] != f) {
                ++i;
            }
            if (i == pipeline::listen_format_names.size()) {
                return fail(fmt::format(
                    "--listen: format '{}' is not auto, rfc5424, rfc3164, json, gelf or raw", f));
            }
            format = static_cast<pipeline::listen_format>(i);
            v = v.substr(0, colon);
        }
        const auto port = parse_u64(v.substr(prefix.size()));
        if (!port || *port == 0 || *port > 65535) {
            return fail(fmt::format("--listen: '{}': PORT must be 1-65535", v));
        }
        const auto p = static_cast<uint16_t>(*port);
        if (std::find(cfg.listen.begin(), cfg.listen.end(), p) != cfg.listen.end()) {
            return fail(fmt::format("--listen: port {} given twice", p));
        }
        cfg.listen.push_back(p);
        cfg.listen_framing.push_back(framing);
        cfg.listen_format.push_back(format);
        cfg.ports.add(p);
        return true;
    }

    bool ip(std::string_view v) {
        ip_spec spec;
        const std::size_t colon = v.find(':');
        const std::size_t slash = v.rfind('/');
        const auto port =
            colon == std::string_view::npos ? std::nullopt : parse_u64(v.substr(0, colon));
        if (!port || *port >= max_port_id || slash == std::string_view::npos || slash < colon) {
            return fail(fmt::format(
                "--ip: '{}' is not PORT:ADDR/PREFIX (e.g. 0:198.18.0.1/24 or 0:2001:db8::1/64)",
                v));
        }
        spec.port = static_cast<uint16_t>(*port);
        const std::string addr(v.substr(colon + 1, slash - colon - 1));
        const auto prefix = parse_u64(v.substr(slash + 1));
        if (inet_pton(AF_INET, addr.c_str(), spec.addr) == 1) {
            spec.family = AF_INET;
        } else if (inet_pton(AF_INET6, addr.c_str(), spec.addr) == 1) {
            spec.family = AF_INET6;
        } else {
            return fail(fmt::format("--ip: '{}' is not an IPv4 or IPv6 address", addr));
        }
        const uint64_t max_prefix = spec.family == AF_INET ? 32 : 128;
        if (!prefix || *prefix == 0 || *prefix > max_prefix) {
            return fail(
                fmt::format("--ip: prefix '{}' must be 1-{}", v.substr(slash + 1), max_prefix));
        }
        const bool multicast =
            spec.family == AF_INET ? (spec.addr[0] >= 224) : (spec.addr[0] == 0xff);
        if (multicast) {
            return fail(fmt::format("--ip: {} is a multicast or reserved address", addr));
        }
        unsigned same_family = 0;
        for (const ip_spec& o : cfg.ips) {
            if (o.port == spec.port && o.family == spec.family) {
                ++same_family;
                if (std::memcmp(o.addr, spec.addr, sizeof spec.addr) == 0) {
                    return fail(fmt::format("--ip: {} given twice on port {}", addr, spec.port));
                }
            }
        }
        if (same_family >= 8) {
            return fail(fmt::format("--ip: at most 8 addresses per family on a port"));
        }
        spec.prefix = static_cast<uint8_t>(*prefix);
        cfg.ips.push_back(spec);
        return true;
    }

    bool sink(std::string_view v) {
        sink::sink_spec spec;
        if (std::string e = sink::parse_sink_spec(v, spec); !e.empty()) {
            return fail("--sink: " + e);
        }
        if (cfg.sinks.size() == max_sinks) {
            return fail(fmt::format("--sink: at most {} sinks", max_sinks));
        }
        cfg.sinks.push_back(std::move(spec));
        return true;
    }

    bool filter(std::string_view v) {
        log::filter f;
        if (std::string e = log::parse_filter(v, cfg.json_captures, f); !e.empty()) {
            return fail("--filter: " + e);
        }
        if (cfg.filters.size() == max_filters) {
            return fail(fmt::format("--filter: at most {} filters", max_filters));
        }
        cfg.filters.push_back(std::move(f));
        return true;
    }

    /// --route 'EXPR=>NAME[,NAME...]': names are resolved once every --sink is known.
    bool route(std::string_view v) {
        const std::size_t arrow = v.rfind("=>");
        if (arrow == std::string_view::npos) {
            return fail(fmt::format("--route: '{}' is not FILTER=>SINK[,SINK...]", v));
        }
        log::filter f;
        if (std::string e = log::parse_filter(v.substr(0, arrow), cfg.json_captures, f);
            !e.empty()) {
            return fail("--route: " + e);
        }
        if (route_targets.size() == max_routes) {
            return fail(fmt::format("--route: at most {} routes", max_routes));
        }
        route_targets.emplace_back(std::move(f), std::string(v.substr(arrow + 2)));
        return true;
    }

    /// Resolves route targets to sink masks; sinks no route names take unrouted records.
    bool resolve_routes() {
        if (std::string e = sink::name_sinks(cfg.sinks); !e.empty()) {
            return fail(e);
        }
        uint32_t named = 0;
        for (auto& [f, targets] : route_targets) {
            log::route r;
            r.match = std::move(f);
            std::string_view rest = targets;
            while (true) {
                const std::size_t comma = rest.find(',');
                std::string_view name = rest.substr(0, comma);
                while (!name.empty() && name.front() == ' ') {
                    name.remove_prefix(1);
                }
                while (!name.empty() && name.back() == ' ') {
                    name.remove_suffix(1);
                }
                std::size_t i = 0;
                while (i < cfg.sinks.size() && cfg.sinks[i].name != name) {
                    ++i;
                }
                if (i == cfg.sinks.size()) {
                    std::string known;
                    for (const auto& s : cfg.sinks) {
                        known += (known.empty() ? "" : ", ") + s.name;
                    }
                    return fail(
                        fmt::format("--route: no sink named '{}' (sinks: {})", name, known));
                }
                r.sinks |= 1u << i;
                if (comma == std::string_view::npos) {
                    break;
                }
                rest = rest.substr(comma + 1);
            }
            named |= r.sinks;
            cfg.routes.push_back(std::move(r));
        }
        const uint32_t all = static_cast<uint32_t>((1ull << cfg.sinks.size()) - 1);
        cfg.default_sinks = all & ~named;
        return true;
    }

    std::vector<std::pair<log::filter, std::string>> route_targets;

    bool lcores(std::string_view opt, std::string_view v, std::vector<unsigned>& out) {
        auto l = parse_lcore_list(v);
        if (!l || l->empty()) {
            return fail(fmt::format("{}: '{}' is not an lcore list like 1 or 1,2 or 1-3", opt, v));
        }
        out = std::move(*l);
        return true;
    }

    template <typename T>
    bool number(std::string_view opt, std::string_view v, uint64_t lo, uint64_t hi, T& out) {
        const auto n = parse_u64(v);
        if (!n || *n < lo || *n > hi) {
            return fail(fmt::format("{}: '{}' is not a whole number in {}-{}", opt, v, lo, hi));
        }
        out = static_cast<T>(*n);
        return true;
    }

    bool apply(std::string_view opt, std::string_view v) {
        if (opt == "--listen") {
            return listen(v);
        }
        if (opt == "--sink") {
            return sink(v);
        }
        if (opt == "--filter") {
            return filter(v);
        }
        if (opt == "--route") {
            return route(v);
        }
        if (opt == "--drain-timeout") {
            return number(opt, v, 0, 3'600'000, cfg.drain_timeout_ms);
        }
        if (opt == "--rx-lcores") {
            return lcores(opt, v, cfg.rx_lcores);
        }
        if (opt == "--worker-lcores") {
            return lcores(opt, v, cfg.worker_lcores);
        }
        if (opt == "--sink-lcore") {
            unsigned id = 0;
            if (!number(opt, v, 0, 1023, id)) {
                return false;
            }
            cfg.sink_lcore = id;
            return true;
        }
        if (opt == "--stats-interval") {
            double d = 0;
            const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
            if (v.empty() || ec != std::errc{} || p != v.data() + v.size() || !std::isfinite(d) ||
                d < 0 || d > 86400) {
                return fail(
                    fmt::format("--stats-interval: '{}' is not a number of seconds in 0-86400", v));
            }
            cfg.stats_interval_s = d;
            return true;
        }
        if (opt == "--stats-json") {
            if (v.empty()) {
                return fail("--stats-json: needs a file path");
            }
            cfg.stats_json = std::string(v);
            return true;
        }
        if (opt == "--exit-on-idle") {
            return number(opt, v, 1, 86'400'000, cfg.exit_on_idle_ms);
        }
        if (opt == "--on-sink-full") {
            if (v == "drop") {
                cfg.on_sink_full = full_policy::drop;
            } else if (v == "block") {
                cfg.on_sink_full = full_policy::block;
            } else {
                return fail(fmt::format("--on-sink-full: '{}' is not drop or block", v));
            }
            return true;
        }
        if (opt == "--burst") {
            return number(opt, v, 1, 512, cfg.burst);
        }
        if (opt == "--rx-desc") {
            return number(opt, v, 64, 16384, cfg.rx_desc);
        }
        if (opt == "--ring-size" || opt == "--sink-ring-size") {
            uint32_t n = 0;
            if (!number(opt, v, 64, 1u << 24, n)) {
                return false;
            }
            if (!is_pow2(n)) {
                return fail(fmt::format("{}: {} is not a power of two", opt, n));
            }
            (opt == "--ring-size" ? cfg.worker_ring : cfg.sink_ring) = n;
            return true;
        }
        if (opt == "--ip") {
            return ip(v);
        }
        if (opt == "--link-timeout") {
            return number(opt, v, 0, 3600, cfg.link_timeout_s);
        }
        if (opt == "--reassembly") {
            if (v != "on" && v != "off") {
                return fail(fmt::format("--reassembly: '{}' is not on or off", v));
            }
            cfg.reassembly = v == "on";
            return true;
        }
        if (opt == "--frag-timeout") {
            return number(opt, v, 1, 600'000, cfg.frag_timeout_ms);
        }
        if (opt == "--reply-rate") {
            return number(opt, v, 1, 1'000'000, cfg.reply_rate);
        }
        if (opt == "--framing") {
            const auto f = parse_framing(v);
            if (!f) {
                return fail(fmt::format("--framing: '{}' is not lf, datagram, octet or auto", v));
            }
            cfg.framing = *f;
            return true;
        }
        if (opt == "--max-msg") {
            const auto n = parse_size(v);
            if (!n || *n < 16 || *n > 65536) {
                return fail(fmt::format("--max-msg: '{}' is not a size in 16-65536 bytes", v));
            }
            cfg.max_msg = static_cast<uint32_t>(*n);
            return true;
        }
        if (opt == "--on-parse-error") {
            if (v != "forward" && v != "drop") {
                return fail(fmt::format("--on-parse-error: '{}' is not forward or drop", v));
            }
            cfg.drop_parse_errors = v == "drop";
            return true;
        }
        if (opt == "--json-fields") {
            if (std::string e = cfg.json_fields.apply(v); !e.empty()) {
                return fail("--json-fields: " + e);
            }
            return true;
        }
        if (opt == "--on-oversize") {
            if (v != "truncate" && v != "drop") {
                return fail(fmt::format("--on-oversize: '{}' is not truncate or drop", v));
            }
            cfg.drop_oversize = v == "drop";
            return true;
        }
        if (opt == "--test-sink-delay-us") {
            return number(opt, v, 0, 1'000'000, cfg.test_sink_delay_us);
        }
        if (opt == "--test-file-stall-at") {
            return number(opt, v, 0, uint64_t{1} << 62, cfg.test_file_stall_at);
        }
        if (opt == "--mbufs") {
            return number(opt, v, 1024, 1u << 26, cfg.mbufs);
        }
        return fail(fmt::format("unknown option '{}' (see --help)", opt));
    }
};

} // namespace

std::optional<log::framing_mode> parse_framing(std::string_view s) {
    if (s == "lf") {
        return log::framing_mode::lf;
    }
    if (s == "datagram") {
        return log::framing_mode::datagram;
    }
    if (s == "octet") {
        return log::framing_mode::octet;
    }
    if (s == "auto") {
        return log::framing_mode::auto_detect;
    }
    return std::nullopt;
}

std::optional<uint64_t> parse_size(std::string_view s) {
    return util::parse_size(s);
}

std::optional<std::vector<unsigned>> parse_lcore_list(std::string_view s) {
    std::vector<unsigned> out;
    while (!s.empty()) {
        const std::size_t comma = s.find(',');
        const std::string_view item = s.substr(0, comma);
        s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
        if (comma != std::string_view::npos && s.empty()) {
            return std::nullopt; // trailing comma
        }
        const std::size_t dash = item.find('-');
        const auto lo = parse_u64(item.substr(0, dash));
        const auto hi = dash == std::string_view::npos ? lo : parse_u64(item.substr(dash + 1));
        if (!lo || !hi || *lo > *hi || *hi >= 1024) {
            return std::nullopt;
        }
        for (uint64_t i = *lo; i <= *hi; ++i) {
            if (std::find(out.begin(), out.end(), i) != out.end()) {
                return std::nullopt;
            }
            out.push_back(static_cast<unsigned>(i));
        }
    }
    return out;
}

std::string help_text() {
    std::string out =
        "usage: logagg [EAL options] -- [logagg options]\n"
        "\n"
        "Kernel-bypass log aggregation: receives syslog, JSON-lines and GELF datagrams on DPDK\n"
        "ports, frames and parses them in place, filters and routes them, and forwards them in\n"
        "batches to files, TCP collectors, Kafka or a DPDK port without copying payload bytes.\n"
        "\n"
        "Common EAL options (see DPDK's EAL documentation for all):\n"
        "  -l LIST                 lcores to use; the first is the main lcore (e.g. -l 0-1)\n"
        "  -a PCI                  use this PCI device (bound to vfio-pci)\n"
        "  --vdev=net_pcap0,rx_pcap=FILE   read a capture instead of a NIC\n"
        "  --no-huge -m MB         run without hugepages (laptops, CI)\n"
        "  --file-prefix NAME      separate runtime files when several instances run\n"
        "\n"
        "logagg options:\n";
    constexpr std::size_t indent = 28;
    constexpr std::size_t width = 100;
    for (const option_doc& o : options_table) {
        std::string head = fmt::format("  {}{}{}", o.name, o.arg.empty() ? "" : " ", o.arg);
        if (head.size() < indent) {
            head.resize(indent, ' ');
        } else {
            head += "\n" + std::string(indent, ' ');
        }
        out += head;
        // Word-wrap the description to the terminal width, indented under itself.
        std::size_t col = indent;
        std::string_view rest = o.help;
        while (!rest.empty()) {
            const std::size_t sp = rest.find(' ');
            const std::string_view word = rest.substr(0, sp);
            rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
            if (col > indent && col + 1 + word.size() > width) {
                out += "\n" + std::string(indent, ' ');
                col = indent;
            } else if (col > indent) {
                out += ' ';
                ++col;
            }
            out += word;
            col += word.size();
        }
        out += "\n";
    }
    out +=
        "  -h, --help                print this help and exit\n"
        "\n"
        "Exit status: 0 after a clean shutdown (SIGINT/SIGTERM or --exit-on-idle), 1 on a runtime\n"
        "failure, 2 on bad usage.\n"
        "\n"
        "Example (laptop, capture replay):\n"
        "  logagg -l 0-1 --no-huge -m 512 --no-pci "
        "--vdev=net_pcap0,rx_pcap=docs/samples/sample.pcap \\\n"
        "      -- --listen udp:514 --sink file:./out --exit-on-idle 500 --on-sink-full block\n";
    return out;
}

parse_result parse_options(std::span<const std::string_view> args) {
    parser p;
    parse_result res;
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view a = args[i];
        if (a == "-h" || a == "--help") {
            res.what = parse_result::action::help;
            return res;
        }
        if (a == "--version") {
            res.what = parse_result::action::version;
            return res;
        }
        if (a == "--no-checksum") {
            p.cfg.verify_checksums = false;
            continue;
        }
        if (a == "--promisc") {
            p.cfg.promisc = true;
            continue;
        }
        if (a == "--test-tx-chains") {
            p.cfg.test_tx_chains = true;
            continue;
        }
        std::string_view value;
        const std::size_t eq = a.find('=');
        bool inline_value = false;
        if (a.substr(0, 2) == "--" && eq != std::string_view::npos) {
            value = a.substr(eq + 1);
            a = a.substr(0, eq);
            inline_value = true;
        }
        const bool known =
            std::any_of(std::begin(options_table), std::end(options_table),
                        [&](const option_doc& o) { return o.name == a && !o.arg.empty(); });
        if (!known) {
            res.error = fmt::format("unknown option '{}' (see --help)", a);
            return res;
        }
        if (!inline_value) {
            if (i + 1 >= args.size()) {
                res.error = fmt::format("{}: missing value", a);
                return res;
            }
            value = args[++i];
        }
        if (!p.apply(a, value)) {
            res.error = p.error;
            return res;
        }
    }
    if (p.cfg.sinks.empty()) {
        res.error = "--sink: required (e.g. --sink file:./out)";
        return res;
    }
    if (!p.resolve_routes()) {
        res.error = p.error;
        return res;
    }
    if (p.cfg.listen.empty()) {
        p.cfg.listen.push_back(514);
        p.cfg.listen_framing.emplace_back();
        p.cfg.listen_format.push_back(pipeline::listen_format::auto_detect);
        p.cfg.ports.add(514);
    }
    res.cfg = std::move(p.cfg);
    res.what = parse_result::action::run;
    return res;
}

} // namespace logagg::dpdk
