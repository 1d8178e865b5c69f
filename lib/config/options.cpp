// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane.
#include "config/options.hpp"
#include "config/kafka_conf.hpp"
#include "config/parse.hpp"
#include "util/unique_fd.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <charconv>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <fmt/core.h>

namespace logagg::config {
namespace {

using log::max_filters;
using log::max_routes;

/// Port ids --ip accepts before EAL says which exist; the runtime checks the port is there.
constexpr uint64_t max_port_id = 1024;
/// Lcore ids the options accept before EAL says which are enabled; the role check after it
/// names the lcores EAL enabled.
constexpr uint64_t max_lcore_id = 1024;

struct option_doc {
    std::string_view name;
    std::string_view arg; ///< empty: a flag
    std::string_view help;
};

/// Every option, in --help order. The parser below accepts exactly these names.
constexpr option_doc options_table[] = {
    {"--listen", "udp:PORT[:FORMAT][,framing=MODE] | tcp:PORT[:FORMAT][,framing=MODE]",
     "UDP destination port that carries logs, or TCP port that accepts connections on the --ip "
     "addresses (TCP needs --ip); repeatable (default udp:514 when no --listen is given). FORMAT: "
     "auto (default: detected per message), rfc5424, rfc3164, json, gelf (UDP: chunked, zlib, "
     "gzip, one message per datagram; TCP: NUL-delimited) or raw (not parsed). framing= "
     "overrides --framing for UDP; for TCP it is lf, octet (RFC 6587) or auto (default: octet "
     "counting when a connection starts with a digit, else LF). See docs/tcp.md"},
    {"--tcp-max-conns", "N",
     "TCP connections each worker lcore holds at once, TIME-WAIT included, 1-1048576 (default "
     "4096); beyond, new connections are refused with RST and counted"},
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
     "otherwise). file:DIR[,rotate-bytes=N][,append-max=BYTES] segment files (default 256M each; "
     "records up to append-max bytes, default 512, are copied into a byte ring and written from "
     "there, longer ones from the packets); "
     "tcp:HOST:PORT[,replay=BYTES][,reconnect-max-ms=MS][,append-max=BYTES] a collector over "
     "TCP, at least once (rsyslog imtcp, syslog-ng, Vector, Fluent Bit, Logstash; replay: "
     "acknowledged bytes resent after a reconnect, default 256K; append-max as for files); "
     "kafka:BROKERS/TOPIC[,key=host|app|source|none]"
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
     "1M, 1 ms; 5 ms for kafka; batch-ms counts from the records taken before the oldest, and "
     "records coming fewer than two per batch-ms go at once). "
     "See docs/sinks.md"},
    {"--filter", "EXPR",
     "keep only records matching EXPR (repeatable: all must match), e.g. 'sev<=warning', "
     "'app==nginx', 'host^=web-', 'json.kubernetes_namespace==prod && sev<=err'; fields sev, "
     "facility, host, app, procid, msgid, msg, format, source, json.KEY, sd.SDID.PARAM; "
     "operators == != ^= (prefix) *= (contains) < <= > >=; terms join with && only (for A or B, "
     "two --route to the same sink) (docs/formats.md#filters)"},
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
    {"--stats-json", "PATH",
     "write all counters as JSON to PATH at exit (schema: docs/stats.md); its directory must "
     "exist and be writable at start (or be a file sink's, created at start)"},
    {"--metrics", "ADDR:PORT",
     "serve Prometheus metrics (GET /metrics) and a health check (GET /healthz) over HTTP on "
     "ADDR:PORT, e.g. 127.0.0.1:9514 or [::1]:9514 (port 0: any free port, printed at start); "
     "off by default (docs/metrics.md)"},
    {"--exit-on-idle", "MS",
     "stop as on SIGTERM once no frame arrived for MS milliseconds (capture replays)"},
    {"--on-sink-full", "drop|block",
     "when a sink falls behind: drop and count, or block and let backpressure reach the NIC. "
     "Default: block when every port replays a capture file (net_pcap rx_pcap=, without "
     "infinite_rx: the replay waits and loses nothing), drop when any port is live"},
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
    {"--poll", "busy|adaptive",
     "how lcores wait for work: adaptive (default) polls flat out while traffic flows, then "
     "pauses, then sleeps (RX lcores until a frame arrives on ports with RX interrupts, and "
     "on net_af_packet while frames come over 250 us apart; else up to 500 us, 1 ms at ~8 k "
     "datagrams/s and up; so a quiet logagg costs almost no CPU); "
     "workers and sinks sleep until work arrives; busy polls every lcore without pause "
     "(dedicated cores, benchmarks). See docs/architecture.md#polling"},
    {"--pmd-power", "off|pause|monitor|scale",
     "with --poll busy: DPDK's PMD power management on every RX queue after empty polls "
     "(pause: CPU pause/TPAUSE, monitor: UMWAIT on the queue's next descriptor where the PMD "
     "and CPU support it, scale: CPU frequency via rte_power). Saves power on dedicated cores; "
     "the OS still counts the lcores as busy (default off). See docs/architecture.md#polling"},
    {"--lcore-affinity", "pinned|shared",
     "pinned: each lcore thread runs on the one CPU EAL gave it; shared: on any CPU of the "
     "lcores on its NUMA node, so a sleeping lcore is woken beside its waker instead of by an "
     "inter-processor interrupt (at 1 k msgs/s about a third less CPU on a VM). Default: shared "
     "with --poll adaptive, pinned with --poll busy. See docs/architecture.md#polling"},
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
    {"--test-tcp-impair", "drop=N,hold=N[,after=K]",
     "testing only: each worker drops every N-th TCP segment it receives and/or holds every N-th "
     "back until K more have passed (default 3) or the worker is idle, before its TCP engine: "
     "deterministic loss and reordering for a real sender to repair (counted as tcp.impair.*)"},
    {"--test-tx-chains", "",
     "testing only: port sinks send mbuf chains even where the port does not advertise "
     "multi-segment TX (net_pcap copes), to exercise the zero-copy path"},
};

/// Options that may be given more than once; every other one takes one value, and a second
/// would silently replace the first.
constexpr std::string_view repeatable_options[] = {"--listen", "--sink", "--filter", "--route",
                                                   "--ip"};

[[nodiscard]] bool is_pow2(uint64_t v) {
    return v != 0 && (v & (v - 1)) == 0;
}

struct parser {
    settings cfg;
    std::string error;

    bool fail(std::string msg) {
        error = std::move(msg);
        return false;
    }

    bool listen(std::string_view v) {
        const std::string_view whole = v;
        const bool tcp = v.substr(0, 4) == "tcp:";
        const std::string_view prefix = tcp ? "tcp:" : "udp:";
        if (v.substr(0, prefix.size()) != prefix) {
            return fail(fmt::format("--listen: '{}' is not udp:PORT or tcp:PORT", v));
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
                if (framing) {
                    return fail(
                        fmt::format("--listen: parameter 'framing' given twice in '{}'", whole));
                }
                framing = parse_framing(kv.substr(fr.size()));
                if (tcp && framing == log::framing_mode::datagram) {
                    return fail(fmt::format("--listen: '{}': a TCP stream has no datagrams "
                                            "(framing: lf, octet or auto)",
                                            whole));
                }
                if (!framing) {
                    return fail(fmt::format("--listen: framing '{}' is not {}",
                                            kv.substr(fr.size()),
                                            util::enum_choices(log::framing_mode_names)));
                }
            }
        }
        pipeline::listen_format format = pipeline::listen_format::auto_detect;
        if (const std::size_t colon = v.find(':', prefix.size()); colon != std::string_view::npos) {
            const std::string_view f = v.substr(colon + 1);
            const auto named =
                util::enum_from_name<pipeline::listen_format, pipeline::listen_format_names.size()>(
                    f);
            if (!named) {
                return fail(fmt::format("--listen: format '{}' is not {}", f,
                                        util::enum_choices(pipeline::listen_format_names)));
            }
            format = *named;
            v = v.substr(0, colon);
        }
        if (framing && format == pipeline::listen_format::gelf) {
            return fail(fmt::format("--listen: '{}': framing does not apply to gelf ({})", whole,
                                    tcp ? "NUL-delimited over TCP" : "one message per datagram"));
        }
        const auto port = parse_u64(v.substr(prefix.size()));
        if (!port || *port == 0 || *port > 65535) {
            return fail(fmt::format("--listen: '{}': PORT must be 1-65535", v));
        }
        const auto p = static_cast<uint16_t>(*port);
        if (tcp) {
            if (std::find(cfg.tcp_listen.begin(), cfg.tcp_listen.end(), p) !=
                cfg.tcp_listen.end()) {
                return fail(fmt::format("--listen: tcp port {} given twice", p));
            }
            if (cfg.tcp_listen.size() + 1 >= pipeline::listener_slots) {
                return fail(fmt::format("--listen: at most {} tcp listeners",
                                        pipeline::listener_slots - 1));
            }
            cfg.tcp_listen.push_back(p);
            cfg.tcp_listen_framing.push_back(framing);
            cfg.tcp_listen_format.push_back(format);
            cfg.tcp_ports.add(p);
            return true;
        }
        if (std::find(cfg.listen.begin(), cfg.listen.end(), p) != cfg.listen.end()) {
            return fail(fmt::format("--listen: port {} given twice", p));
        }
        if (cfg.listen.size() + 1 >= pipeline::listener_slots) {
            return fail(
                fmt::format("--listen: at most {} listeners", pipeline::listener_slots - 1));
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
        if (!port || slash == std::string_view::npos || slash < colon) {
            return fail(fmt::format(
                "--ip: '{}' is not PORT:ADDR/PREFIX (e.g. 0:198.18.0.1/24 or 0:2001:db8::1/64)",
                v));
        }
        if (*port >= max_port_id) {
            return fail(fmt::format("--ip: port {} is out of range (DPDK port ids 0-{})", *port,
                                    max_port_id - 1));
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
        auto parsed = parse_sink_spec(v);
        if (!parsed) {
            return fail("--sink: " + parsed.error().text);
        }
        sink_spec spec = std::move(parsed).value();
        if (spec.type == sink_type::kafka) {
            if (auto r = check_kafka_conf(spec); !r) {
                return fail("--sink: kafka sink: " + r.error().text);
            }
        }
        if (cfg.sinks.size() == max_sinks) {
            return fail(fmt::format("--sink: at most {} sinks", max_sinks));
        }
        cfg.sinks.push_back(std::move(spec));
        return true;
    }

    bool filter(std::string_view v) {
        auto f = log::parse_filter(v, cfg.json_captures);
        if (!f) {
            return fail("--filter: " + f.error().text);
        }
        if (cfg.filters.size() == max_filters) {
            return fail(fmt::format("--filter: at most {} filters", max_filters));
        }
        cfg.filters.push_back(std::move(f).value());
        return true;
    }

    /// --route 'EXPR=>NAME[,NAME...]': names are resolved once every --sink is known.
    bool route(std::string_view v) {
        const std::size_t arrow = v.rfind("=>");
        if (arrow == std::string_view::npos) {
            return fail(fmt::format("--route: '{}' is not FILTER=>SINK[,SINK...]", v));
        }
        auto f = log::parse_filter(v.substr(0, arrow), cfg.json_captures);
        if (!f) {
            return fail("--route: " + f.error().text);
        }
        if (route_targets.size() == max_routes) {
            return fail(fmt::format("--route: at most {} routes", max_routes));
        }
        route_targets.emplace_back(std::move(f).value(), std::string(v.substr(arrow + 2)));
        return true;
    }

    /// Resolves route targets to sink masks; sinks no route names take unrouted records.
    bool resolve_routes() {
        if (auto named = name_sinks(cfg.sinks); !named) {
            return fail(named.error().text);
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

    /// Is @p addr (of @p family) inside one of the --ip prefixes of @p port?
    [[nodiscard]] bool on_link(uint16_t port, int family, const uint8_t* addr) const {
        for (const ip_spec& ip : cfg.ips) {
            if (ip.port != port || ip.family != family) {
                continue;
            }
            bool inside = true;
            for (unsigned bit = 0; bit < ip.prefix && inside; ++bit) {
                const unsigned mask = 0x80u >> (bit % 8);
                inside = (ip.addr[bit / 8] & mask) == (addr[bit / 8] & mask);
            }
            if (inside) {
                return true;
            }
        }
        return false;
    }

    /// What a port sink takes from the --ip options (its source address, its next hop's
    /// subnet) is there: checked once every option is known, as --ip may follow --sink.
    bool check_port_sinks() {
        for (const sink_spec& sp : cfg.sinks) {
            if (sp.type != sink_type::port) {
                continue;
            }
            const auto on_port = [&](int family) {
                return std::any_of(cfg.ips.begin(), cfg.ips.end(), [&](const ip_spec& ip) {
                    return ip.port == sp.port_id && (family == 0 || ip.family == family);
                });
            };
            const char* fam = sp.family == AF_INET ? "IPv4" : "IPv6";
            if (!sp.has_src && !on_port(sp.family)) {
                return fail(fmt::format("--sink {}: needs src=IP, or an --ip {} address on port {}",
                                        sp.name, fam, sp.port_id));
            }
            if (sp.has_dmac) {
                continue;
            }
            if (!on_port(0)) {
                return fail(fmt::format("--sink {}: needs dmac=MAC, or an --ip on port {} so the "
                                        "next hop can be resolved by ARP/NDP",
                                        sp.name, sp.port_id));
            }
            if (!on_link(sp.port_id, sp.family, sp.has_gw ? sp.gw_addr : sp.dst_addr)) {
                return fail(fmt::format("--sink {}: {} is not on a subnet of port {}'s --ip {} "
                                        "addresses: give gw=ROUTER or dmac=MAC",
                                        sp.name, sp.has_gw ? "gw" : "dst", sp.port_id, fam));
            }
        }
        return true;
    }

    bool lcores(std::string_view opt, std::string_view v, std::vector<unsigned>& out) {
        auto l = parse_lcore_list(v);
        if (!l) {
            return fail(fmt::format("{}: '{}': {} (an lcore list is like 1, 1,2 or 1-3)", opt, v,
                                    l.error().text));
        }
        out = std::move(l).value();
        return true;
    }

    /// @p size: a byte size (K/M/G suffixes allowed) rather than a plain number.
    template <typename T>
    bool number(std::string_view opt, std::string_view v, uint64_t lo, uint64_t hi, T& out,
                bool size = false) {
        uint64_t n = 0;
        const number_fault f = read_number(v, size, lo, hi, n);
        if (f != number_fault::none) {
            return fail(number_message(fmt::format("{}:", opt), v, f, size, lo, hi,
                                       size ? "a size" : "a whole number"));
        }
        out = static_cast<T>(n);
        return true;
    }

    /// An option whose value names one of the @p N values of @p E (util::enum_names): @p out.
    template <class E, std::size_t N, class Out>
    bool choice(std::string_view opt, std::string_view v, Out& out) {
        const auto m = util::enum_from_name<E, N>(v);
        if (!m) {
            return fail(fmt::format("{}: '{}' is not {}", opt, v,
                                    util::enum_choices(util::enum_names<E, N>())));
        }
        out = *m;
        return true;
    }

    /// --stats-interval: seconds, 0-86400, fractions allowed (0: no periodic line).
    bool stats_interval(std::string_view v) {
        double d = 0;
        const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
        if (v.empty() || ec != std::errc{} || p != v.data() + v.size() || !std::isfinite(d) ||
            d < 0) {
            return fail(
                fmt::format("--stats-interval: '{}' is not a number of seconds in 0-86400", v));
        }
        if (d > 86400) {
            return fail(fmt::format("--stats-interval: '{}' is too large: at most 86400", v));
        }
        cfg.stats_interval_s = d;
        return true;
    }

    /// A table from option name to its handler, one branch per option in --help order (the
    /// second half in apply_more()).
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
            if (!number(opt, v, 0, max_lcore_id - 1, id)) {
                return false;
            }
            cfg.sink_lcore = id;
            return true;
        }
        if (opt == "--stats-interval") {
            return stats_interval(v);
        }
        if (opt == "--stats-json") {
            if (v.empty()) {
                return fail("--stats-json: needs a file path");
            }
            cfg.stats_json = std::string(v);
            return true;
        }
        if (opt == "--metrics") {
            cfg.metrics = parse_metrics_addr(v);
            if (!cfg.metrics) {
                return fail(fmt::format("--metrics: '{}' is not ADDR:PORT (e.g. 127.0.0.1:9514 or "
                                        "[::1]:9514; a numeric address, port 0-65535)",
                                        v));
            }
            return true;
        }
        if (opt == "--exit-on-idle") {
            return number(opt, v, 1, 86'400'000, cfg.exit_on_idle_ms);
        }
        if (opt == "--on-sink-full") {
            return choice<full_policy, full_policy_names.size()>(opt, v, cfg.on_sink_full);
        }
        if (opt == "--poll") {
            return choice<pipeline::poll_mode, pipeline::poll_mode_count>(opt, v, cfg.poll);
        }
        if (opt == "--pmd-power") {
            return choice<pmd_power, pmd_power_count>(opt, v, cfg.pmd_power);
        }
        if (opt == "--lcore-affinity") {
            return choice<lcore_affinity, lcore_affinity_count>(opt, v, cfg.affinity);
        }
        return apply_more(opt, v);
    }

    /// apply()'s second half, in --help order: RX tuning, addresses, reassembly, input
    /// parsing, and the test-only options.
    bool apply_more(std::string_view opt, std::string_view v) {
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
        if (opt == "--tcp-max-conns") {
            return number(opt, v, 1, 1u << 20, cfg.tcp_max_conns);
        }
        if (opt == "--reply-rate") {
            return number(opt, v, 1, 1'000'000, cfg.reply_rate);
        }
        if (opt == "--framing") {
            const auto f = parse_framing(v);
            if (!f) {
                return fail(fmt::format("--framing: '{}' is not {}", v,
                                        util::enum_choices(log::framing_mode_names)));
            }
            cfg.framing = *f;
            return true;
        }
        if (opt == "--max-msg") {
            return number(opt, v, 16, 65536, cfg.max_msg, true);
        }
        if (opt == "--on-parse-error") {
            if (v != "forward" && v != "drop") {
                return fail(fmt::format("--on-parse-error: '{}' is not forward or drop", v));
            }
            cfg.drop_parse_errors = v == "drop";
            return true;
        }
        if (opt == "--json-fields") {
            if (auto r = cfg.json_fields.apply(v); !r) {
                return fail("--json-fields: " + r.error().text);
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
        if (opt == "--test-tcp-impair") {
            util::result<tcp::impair_config> c = tcp::parse_impair(v);
            if (!c) {
                return fail(fmt::format("--test-tcp-impair: {}", c.error().text));
            }
            cfg.test_tcp_impair = c.value();
            return true;
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

std::optional<metrics_spec> parse_metrics_addr(std::string_view s) {
    metrics_spec m;
    m.text = std::string(s);
    std::string_view host;
    std::string_view port;
    if (!s.empty() && s.front() == '[') {
        const std::size_t close = s.find(']');
        if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
            return std::nullopt;
        }
        host = s.substr(1, close - 1);
        port = s.substr(close + 2);
        m.family = AF_INET6;
    } else {
        const std::size_t colon = s.rfind(':');
        if (colon == std::string_view::npos || s.find(':') != colon) {
            return std::nullopt; // IPv6 needs brackets: [::1]:9514
        }
        host = s.substr(0, colon);
        port = s.substr(colon + 1);
        m.family = AF_INET;
    }
    const auto p = parse_u64(port);
    if (!p || *p > 65535) {
        return std::nullopt;
    }
    m.port = static_cast<uint16_t>(*p);
    if (inet_pton(m.family, std::string(host).c_str(), m.addr) != 1) {
        return std::nullopt;
    }
    return m;
}

util::result<std::vector<unsigned>> parse_lcore_list(std::string_view s) {
    const auto fail = [](std::string reason) -> util::result<std::vector<unsigned>> {
        return util::usage_failure(std::move(reason));
    };
    if (s.empty()) {
        return fail("the list is empty");
    }
    std::vector<unsigned> out;
    while (true) {
        const std::size_t comma = s.find(',');
        const std::string_view item = s.substr(0, comma);
        if (item.empty()) {
            return fail("the list has an empty item");
        }
        const std::size_t dash = item.find('-');
        const auto lo = parse_u64(item.substr(0, dash));
        const auto hi = dash == std::string_view::npos ? lo : parse_u64(item.substr(dash + 1));
        if (!lo || !hi) {
            return fail(fmt::format("'{}' is not an lcore id or a range like 1-3", item));
        }
        if (*hi >= max_lcore_id || *lo >= max_lcore_id) {
            return fail(fmt::format("lcore {} is out of range (0-{})", std::max(*lo, *hi),
                                    max_lcore_id - 1));
        }
        if (*lo > *hi) {
            return fail(fmt::format("'{}' counts down (write {}-{})", item, *hi, *lo));
        }
        for (uint64_t i = *lo; i <= *hi; ++i) {
            if (std::find(out.begin(), out.end(), i) != out.end()) {
                return fail(fmt::format("lcore {} is listed twice", i));
            }
            out.push_back(static_cast<unsigned>(i));
        }
        if (comma == std::string_view::npos) {
            return out;
        }
        s = s.substr(comma + 1);
    }
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
        "failure, 2 on bad usage: one line naming the option, before the first packet (values,\n"
        "repeated options or parameters, paths, kafka-prop names and values, and what only EAL\n"
        "knows: ports that do not exist, more RX lcores than a port has queues).\n"
        "\n"
        "Example (laptop, capture replay; lossless: a replay blocks rather than drops):\n"
        "  logagg -l 0-1 --no-huge -m 512 --no-pci "
        "--vdev=net_pcap0,rx_pcap=docs/samples/sample.pcap \\\n"
        "      -- --listen udp:514 --sink file:./out --exit-on-idle 500\n";
    return out;
}

util::result<command> parse_options(std::span<const std::string_view> args) {
    parser p;
    command res;
    std::vector<std::string_view> given; ///< single-valued options seen so far
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view a = args[i];
        if (a == "-h" || a == "--help") {
            res.what = command::action::help;
            return res;
        }
        if (a == "--version") {
            res.what = command::action::version;
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
            return util::usage_failure(fmt::format("unknown option '{}' (see --help)", a));
        }
        if (std::find(std::begin(repeatable_options), std::end(repeatable_options), a) ==
            std::end(repeatable_options)) {
            if (std::find(given.begin(), given.end(), a) != given.end()) {
                return util::usage_failure(fmt::format("{}: given twice (it takes one value)", a));
            }
            given.push_back(a);
        }
        if (!inline_value) {
            if (i + 1 >= args.size()) {
                return util::usage_failure(fmt::format("{}: missing value", a));
            }
            value = args[++i];
        }
        if (!p.apply(a, value)) {
            return util::usage_failure(p.error);
        }
    }
    if (p.cfg.sinks.empty()) {
        return util::usage_failure("--sink: required (e.g. --sink file:./out)");
    }
    if (!p.resolve_routes() || !p.check_port_sinks()) {
        return util::usage_failure(p.error);
    }
    if (!p.cfg.tcp_listen.empty() && p.cfg.ips.empty()) {
        return util::usage_failure(fmt::format("--listen tcp:{}: TCP needs --ip (an address to "
                                               "accept connections on: there is nobody to "
                                               "answer as)",
                                               p.cfg.tcp_listen.front()));
    }
    if (p.cfg.pmd_power != pmd_power::off && p.cfg.poll != pipeline::poll_mode::busy) {
        return util::usage_failure(
            fmt::format("--pmd-power {}: needs --poll busy (adaptive polling already sleeps, "
                        "which is what frees the CPU)",
                        name(p.cfg.pmd_power)));
    }
    if (p.cfg.listen.empty() && p.cfg.tcp_listen.empty()) {
        p.cfg.listen.push_back(514);
        p.cfg.listen_framing.emplace_back();
        p.cfg.listen_format.push_back(pipeline::listen_format::auto_detect);
        p.cfg.ports.add(514);
    }
    res.cfg = std::move(p.cfg);
    res.what = command::action::run;
    return res;
}

namespace {

namespace fs = std::filesystem;

/// Can a file be created in @p dir (which exists)? @return success, or a failure saying why not.
[[nodiscard]] util::result<void> dir_writable(const fs::path& dir) {
    if (::access(dir.c_str(), W_OK | X_OK) != 0) {
        return util::failure(
            fmt::format("directory '{}' is not writable: {}", dir.string(), std::strerror(errno)));
    }
    return util::ok();
}

/// The nearest existing directory at or above @p p (lexically), or a failure saying why there is
/// none.
[[nodiscard]] util::result<fs::path> existing_ancestor(const fs::path& p) {
    std::error_code ec;
    fs::path a = fs::absolute(p, ec).lexically_normal();
    while (!fs::exists(a, ec)) {
        if (!a.has_relative_path()) {
            break;
        }
        a = a.parent_path();
    }
    if (!fs::is_directory(a, ec)) {
        return util::failure(fmt::format("'{}' is not a directory", a.string()));
    }
    return a;
}

/// One directory, however written: device and inode when it exists; else the absolute path
/// with symbolic links of its existing part resolved and the rest lexically normalised.
struct dir_identity {
    bool exists = false;
    dev_t dev = 0;
    ino_t ino = 0;
    fs::path path;

    explicit dir_identity(const std::string& dir) {
        struct stat st {};
        exists = ::stat(dir.c_str(), &st) == 0;
        dev = st.st_dev;
        ino = st.st_ino;
        std::error_code ec;
        path = fs::weakly_canonical(fs::absolute(dir, ec), ec).lexically_normal();
        if (path.has_relative_path() && !path.has_filename()) {
            path = path.parent_path(); // "out/" and "out" alike
        }
    }
    [[nodiscard]] bool same(const dir_identity& o) const {
        if (exists && o.exists) {
            return dev == o.dev && ino == o.ino;
        }
        return path == o.path;
    }
};

} // namespace

util::result<void> check_paths(const settings& cfg) {
    // A file sink creates its directory at start, before --stats-json is written at exit: the
    // stats may go into a sink's directory that does not exist yet.
    const auto sink_creates = [&](const fs::path& dir) {
        const dir_identity id(dir.string());
        return std::any_of(cfg.sinks.begin(), cfg.sinks.end(), [&](const sink_spec& sp) {
            return sp.type == sink_type::file && !id.exists && id.same(dir_identity(sp.dir));
        });
    };
    const fs::path stats(cfg.stats_json);
    const fs::path stats_dir = stats.has_parent_path() ? stats.parent_path() : fs::path(".");
    if (!cfg.stats_json.empty() && !sink_creates(stats_dir)) {
        const std::string tmp = cfg.stats_json + ".tmp"; // what the exit writes, then renames
        std::error_code ec;
        if (fs::is_directory(stats, ec)) {
            return util::usage_failure(
                fmt::format("--stats-json: '{}' is a directory; give a file path", cfg.stats_json));
        }
        if (!fs::exists(stats_dir, ec)) {
            return util::usage_failure(
                fmt::format("--stats-json: cannot write '{}': directory '{}' does not exist",
                            cfg.stats_json, stats_dir.string()));
        }
        if (!fs::is_directory(stats_dir, ec)) {
            return util::usage_failure(
                fmt::format("--stats-json: cannot write '{}': '{}' is not a directory",
                            cfg.stats_json, stats_dir.string()));
        }
        // The surest check is to do it: create the temporary file the exit writes, and remove
        // it (one left by an earlier run is only opened, and left as it was).
        util::unique_fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
        const bool created = fd.valid();
        if (!fd.valid() && errno == EEXIST) {
            fd.reset(::open(tmp.c_str(), O_WRONLY | O_CLOEXEC));
        }
        if (!fd.valid()) {
            return util::usage_failure(
                fmt::format("--stats-json: cannot write '{}': creating '{}' failed: {}",
                            cfg.stats_json, tmp, std::strerror(errno)));
        }
        fd.reset();
        if (created) {
            ::unlink(tmp.c_str());
        }
    }
    std::vector<std::pair<const sink_spec*, dir_identity>> dirs;
    for (const sink_spec& sp : cfg.sinks) {
        if (sp.type != sink_type::file) {
            continue;
        }
        std::error_code ec;
        util::result<void> usable;
        if (fs::exists(sp.dir, ec)) {
            usable = fs::is_directory(sp.dir, ec)
                         ? dir_writable(sp.dir)
                         : util::failure(fmt::format("'{}' is not a directory", sp.dir));
        } else {
            // Created at start: its nearest existing ancestor must let it be.
            const auto a = existing_ancestor(sp.dir);
            usable = a ? dir_writable(a.value()) : a.error();
            if (!usable) {
                usable = util::failure(
                    fmt::format("cannot create directory '{}': {}", sp.dir, usable.error().text));
            }
        }
        if (!usable) {
            return util::usage_failure(fmt::format("--sink {}: {}", sp.name, usable.error().text));
        }
        dir_identity id(sp.dir);
        for (const auto& [other, other_id] : dirs) {
            if (id.same(other_id)) {
                return util::usage_failure(
                    fmt::format("--sink {}: directory '{}' is also sink {}'s ('{}'): two "
                                "sinks would write the same segment files",
                                sp.name, sp.dir, other->name, other->dir));
            }
        }
        dirs.emplace_back(&sp, std::move(id));
    }
    return util::ok();
}

rx_source port_rx_source(std::string_view driver, std::string_view devargs) {
    if (driver != "net_pcap") {
        return rx_source::live;
    }
    bool file = false;
    while (!devargs.empty()) {
        const std::size_t comma = devargs.find(',');
        const std::string_view kv = devargs.substr(0, comma);
        devargs = comma == std::string_view::npos ? std::string_view{} : devargs.substr(comma + 1);
        const std::size_t eq = kv.find('=');
        const std::string_view k = kv.substr(0, eq);
        const std::string_view v =
            eq == std::string_view::npos ? std::string_view{} : kv.substr(eq + 1);
        if (k == "rx_iface" || k == "rx_iface_in" || k == "iface") {
            return rx_source::live;
        }
        if (k == "infinite_rx" && v != "0") {
            return rx_source::live; // an endless replay stands for live traffic (load generator)
        }
        if (k == "rx_pcap") {
            // A FIFO or a device (rx_pcap=/dev/stdin from tcpdump -w -) is a live source.
            struct stat st {};
            if (::stat(std::string(v).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
                return rx_source::live;
            }
            file = true;
        }
    }
    return file ? rx_source::capture_file : rx_source::none;
}

} // namespace logagg::config
