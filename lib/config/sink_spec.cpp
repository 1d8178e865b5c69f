// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane.
#include "config/sink_spec.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include <fmt/core.h>

#include "config/parse.hpp"
#include "util/chars.hpp"

namespace logagg::config {
namespace {

/// Splits "a,b,c" one item at a time.
[[nodiscard]] std::string_view next_item(std::string_view& s, char sep = ',') {
    const std::size_t p = s.find(sep);
    const std::string_view head = s.substr(0, p);
    s = p == std::string_view::npos ? std::string_view{} : s.substr(p + 1);
    return head;
}

/// Reads the value @p v of parameter @p k as a number (@p size: K/M/G suffixes allowed) in
/// [@p lo, @p hi] into @p out. @return success, or a usage failure naming the parameter and the
/// range.
template <typename T>
[[nodiscard]] util::result<void> number(std::string_view k, std::string_view v, bool size,
                                        uint64_t lo, uint64_t hi, T& out, std::string_view noun) {
    uint64_t n = 0;
    const number_fault f = read_number(v, size, lo, hi, n);
    if (f != number_fault::none) {
        return util::usage_failure(number_message(k, v, f, size, lo, hi, noun));
    }
    out = static_cast<T>(n);
    return util::ok();
}

/// "ADDR:PORT" or "[ADDR6]:PORT" into family, address and port.
[[nodiscard]] bool parse_endpoint(std::string_view v, int& family, uint8_t (&addr)[16],
                                  uint16_t& port, bool port_optional = false) {
    std::string host;
    std::string_view port_text;
    bool has_port = false; // a ':' after the address: a port must follow
    if (!v.empty() && v.front() == '[') {
        const std::size_t close = v.find(']');
        if (close == std::string_view::npos) {
            return false;
        }
        host.assign(v.substr(1, close - 1));
        const std::string_view rest = v.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') {
                return false;
            }
            port_text = rest.substr(1);
            has_port = true;
        }
    } else {
        const std::size_t colon = v.rfind(':');
        if (colon == std::string_view::npos || v.find(':') != colon) {
            host.assign(v.substr(0, colon));
            if (colon != std::string_view::npos) {
                return false; // a bare IPv6 address needs brackets
            }
        } else {
            host.assign(v.substr(0, colon));
            port_text = v.substr(colon + 1);
            has_port = true;
        }
    }
    std::memset(addr, 0, sizeof addr);
    if (inet_pton(AF_INET, host.c_str(), addr) == 1) {
        family = AF_INET;
    } else if (inet_pton(AF_INET6, host.c_str(), addr) == 1) {
        family = AF_INET6;
    } else {
        return false;
    }
    if (!has_port) {
        return port_optional;
    }
    const auto p = parse_u64(port_text);
    if (!p || *p == 0 || *p > 65535) {
        return false;
    }
    port = static_cast<uint16_t>(*p);
    return true;
}

[[nodiscard]] bool parse_mac(std::string_view v, uint8_t (&mac)[6]) {
    if (v.size() != 17) {
        return false;
    }
    for (std::size_t i = 0; i < 6; ++i) {
        if (i != 0 && v[i * 3 - 1] != ':') {
            return false;
        }
        unsigned b = 0;
        for (std::size_t k = 0; k < 2; ++k) {
            const int d = util::hex_value(v[i * 3 + k]);
            if (d < 0) {
                return false;
            }
            b = b * 16 + static_cast<unsigned>(d);
        }
        mac[i] = static_cast<uint8_t>(b);
    }
    return true;
}

struct param_parser {
    sink_spec& s;
    bool framing_given = false;

    util::result<void> common(std::string_view k, std::string_view v, bool& known) {
        known = true;
        if (k == "name") {
            if (v.empty() || v.size() > 32 ||
                v.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                    "_-") != std::string_view::npos) {
                return util::usage_failure(
                    fmt::format("name '{}' must be 1-32 letters, digits, '_' or '-'", v));
            }
            s.name.assign(v);
        } else if (k == "format") {
            const auto f =
                util::enum_from_name<log::output_format, log::output_format_names.size()>(v);
            if (!f) {
                return util::usage_failure(fmt::format(
                    "format '{}' is not {}", v, util::enum_choices(log::output_format_names)));
            }
            s.format = *f;
        } else if (k == "framing") {
            // A file or TCP sink frames its records: none is Kafka's alone.
            const auto f = util::enum_from_name<framing_kind, framing_kind_names.size()>(v);
            if (!f || *f == framing_kind::none) {
                return util::usage_failure(fmt::format("framing '{}' is not lf or octet", v));
            }
            s.framing = *f;
            framing_given = true;
        } else if (k == "buffer") {
            return number(k, v, true, 64u << 10, 64ull << 30, s.buffer_bytes, "a size");
        } else if (k == "drop") {
            if (v != "newest" && v != "oldest") {
                return util::usage_failure(fmt::format("drop '{}' is not newest or oldest", v));
            }
            s.drop_oldest = v == "oldest";
        } else if (k == "batch-records") {
            return number(k, v, false, 1, 65536, s.batch.records, "a number");
        } else if (k == "batch-bytes") {
            return number(k, v, true, 1, 64u << 20, s.batch.bytes, "a size");
        } else if (k == "batch-ms") {
            uint32_t ms = 0;
            if (auto r = number(k, v, false, 0, 60'000, ms, "a number of milliseconds"); !r) {
                return r;
            }
            s.batch.max_age_us = ms * 1000;
        } else {
            known = false;
        }
        return util::ok();
    }

    /// file: rotate-bytes=, append-max=.
    util::result<void> file_param(std::string_view k, std::string_view v, bool& known) {
        known = true;
        if (k == "rotate-bytes") {
            // Why at most 16384G (16 TiB): ext4's largest file with 4 KiB blocks; a larger bound
            // would only mean never rotating.
            return number(k, v, true, 4096, 16384ull << 30, s.rotate_bytes, "a size");
        }
        if (k == "append-max") {
            return append_max(k, v);
        }
        known = false;
        return util::ok();
    }

    /// file and tcp: append-max=. Why at most 64K: the longest datagram; above that every record
    /// is appended.
    util::result<void> append_max(std::string_view k, std::string_view v) {
        return number(k, v, true, 0, 65536, s.append_max, "a size");
    }

    /// tcp: replay=, reconnect-max-ms=, append-max=.
    util::result<void> tcp_param(std::string_view k, std::string_view v, bool& known) {
        known = true;
        if (k == "replay") {
            return number(k, v, true, 0, 1ull << 30, s.replay_bytes, "a size");
        }
        if (k == "append-max") {
            return append_max(k, v);
        }
        if (k == "reconnect-max-ms") {
            if (auto r = number(k, v, false, 10, 600'000, s.reconnect_max_ms, "a number"); !r) {
                return r;
            }
            s.reconnect_min_ms = std::min(s.reconnect_min_ms, s.reconnect_max_ms);
            return util::ok();
        }
        known = false;
        return util::ok();
    }

    /// kafka: key=, compression=, acks=, kafka-prop=NAME=VALUE.
    util::result<void> kafka_param(std::string_view k, std::string_view v, bool& known) {
        known = true;
        if (k == "key") {
            const auto key = util::enum_from_name<key_field, key_field_count>(v);
            if (!key) {
                return util::usage_failure(
                    fmt::format("key '{}' is not {}", v, util::enum_choices(key_field_names)));
            }
            s.key = *key;
        } else if (k == "compression") {
            if (v != "none" && v != "gzip" && v != "snappy" && v != "lz4" && v != "zstd") {
                return util::usage_failure(
                    fmt::format("compression '{}' is not none, gzip, snappy, lz4 or zstd", v));
            }
            s.compression.assign(v);
        } else if (k == "acks") {
            if (v != "all" && v != "1" && v != "0" && v != "-1") {
                return util::usage_failure(fmt::format("acks '{}' is not all, 1 or 0", v));
            }
            s.acks.assign(v == "-1" ? "all" : v);
        } else if (k == "kafka-prop") {
            const std::size_t e2 = v.find('=');
            if (e2 == std::string_view::npos || e2 == 0) {
                return util::usage_failure(fmt::format("kafka-prop '{}' is not NAME=VALUE", v));
            }
            const std::string_view prop = v.substr(0, e2);
            if (prop == "delivery.report.only.error" || prop == "dr_msg_cb" || prop == "dr_cb") {
                return util::usage_failure(
                    fmt::format("kafka-prop {} cannot be set: records are released at their "
                                "delivery reports",
                                prop));
            }
            s.kafka_props.emplace_back(std::string(v.substr(0, e2)), std::string(v.substr(e2 + 1)));
        } else {
            known = false;
        }
        return util::ok();
    }

    /// port: dst=, src=, gw=, dmac=, mtu=.
    util::result<void> port_param(std::string_view k, std::string_view v, bool& known) {
        known = true;
        if (k == "dst") {
            int fam = 0;
            if (!parse_endpoint(v, fam, s.dst_addr, s.dst_port)) {
                return util::usage_failure(
                    fmt::format("dst '{}' is not IP:PORT or [IPV6]:PORT", v));
            }
            if (s.has_src && fam != s.family) {
                return util::usage_failure("src and dst are of different address families");
            }
            s.family = fam;
            dst_given = true;
        } else if (k == "src") {
            int fam = 0;
            if (!parse_endpoint(v, fam, s.src_addr, s.src_port, true)) {
                return util::usage_failure(
                    fmt::format("src '{}' is not IP[:PORT] or [IPV6][:PORT]", v));
            }
            s.has_src = true;
            if (s.family == 0) {
                s.family = fam;
            } else if (fam != s.family) {
                return util::usage_failure("src and dst are of different address families");
            }
        } else if (k == "gw") {
            uint16_t unused = 0;
            if (!parse_endpoint(v, gw_family, s.gw_addr, unused, true)) {
                return util::usage_failure(fmt::format("gw '{}' is not an IP address", v));
            }
            s.has_gw = true;
        } else if (k == "dmac") {
            if (!parse_mac(v, s.dmac)) {
                return util::usage_failure(
                    fmt::format("dmac '{}' is not a MAC like 02:00:00:00:00:01", v));
            }
            s.has_dmac = true;
        } else if (k == "mtu") {
            return number(k, v, false, 576, 9000, s.mtu, "a number");
        } else {
            known = false;
        }
        return util::ok();
    }

    /// One NAME=VALUE: the parameters every sink has, then those of its type.
    util::result<void> param(std::string_view k, std::string_view v, bool& known) {
        if (auto r = common(k, v, known); !r || known) {
            return r;
        }
        switch (s.type) {
        case sink_type::file:
            return file_param(k, v, known);
        case sink_type::tcp:
            return tcp_param(k, v, known);
        case sink_type::kafka:
            return kafka_param(k, v, known);
        case sink_type::port:
            return port_param(k, v, known);
        case sink_type::count_:
            break;
        }
        known = false;
        return util::ok();
    }

    /// What only the whole option can tell: required and conflicting parameters, defaults that
    /// depend on others.
    util::result<void> finish() {
        if (s.type == sink_type::port) {
            if (!dst_given) {
                return util::usage_failure("needs dst=IP:PORT");
            }
            if (s.has_gw && gw_family != s.family) {
                return util::usage_failure("gw and dst are of different address families");
            }
        }
        if (s.type == sink_type::kafka) {
            if (framing_given) {
                return util::usage_failure(
                    "framing does not apply: Kafka keeps one record per message");
            }
        } else if (!framing_given && s.type == sink_type::file &&
                   s.format == log::output_format::rfc5424) {
            s.framing = framing_kind::octet; // syslog-over-stream form, as RFC 6587 writes it
        }
        return util::ok();
    }

    bool dst_given = false;
    int gw_family = 0;
};

[[nodiscard]] std::string bad(const sink_spec& s, std::string_view msg) {
    return fmt::format("{} sink: {}", sink_type_names[static_cast<std::size_t>(s.type)], msg);
}

/// kafka:BROKERS/TOPIC: the broker list has commas of its own; parameters follow the topic.
/// Consumes the target from @p rest.
[[nodiscard]] util::result<void> kafka_target(std::string_view text, std::string_view& rest,
                                              sink_spec& out) {
    const std::size_t slash = rest.find('/');
    if (slash == std::string_view::npos) {
        return util::usage_failure(bad(out, fmt::format("'{}' is not kafka:BROKERS/TOPIC", text)));
    }
    out.brokers.assign(rest.substr(0, slash));
    rest = rest.substr(slash + 1);
    out.topic.assign(next_item(rest));
    if (out.brokers.empty() || out.topic.empty() || out.topic.size() > 249 || out.topic == "." ||
        out.topic == ".." ||
        out.topic.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "0123456789._-") != std::string::npos) {
        return util::usage_failure(
            bad(out,
                fmt::format("'{}': needs BROKERS/TOPIC, the topic 1-249 of [a-zA-Z0-9._-]", text)));
    }
    out.framing = framing_kind::none;
    out.buffer_bytes = 32ull << 20;
    out.batch.max_age_us = 5000; // librdkafka's own linger.ms default
    return util::ok();
}

/// tcp:HOST:PORT or tcp:[IPV6]:PORT.
[[nodiscard]] util::result<void> tcp_target(std::string_view target, sink_spec& out) {
    std::string_view host_part;
    std::string_view port_part;
    if (!target.empty() && target.front() == '[') {
        const std::size_t close = target.find(']');
        if (close == std::string_view::npos || target.substr(close + 1, 1) != ":") {
            return util::usage_failure(bad(out, fmt::format("'{}' is not [IPV6]:PORT", target)));
        }
        host_part = target.substr(1, close - 1);
        port_part = target.substr(close + 2);
    } else {
        const std::size_t c = target.rfind(':');
        if (c == std::string_view::npos || target.find(':') != c) {
            return util::usage_failure(
                bad(out, fmt::format("'{}' is not HOST:PORT (IPv6 as [ADDR]:PORT)", target)));
        }
        host_part = target.substr(0, c);
        port_part = target.substr(c + 1);
    }
    const auto p = parse_u64(port_part);
    if (host_part.empty() || !p || *p == 0 || *p > 65535) {
        return util::usage_failure(
            bad(out, fmt::format("'{}': PORT must be 1-65535 after a host", target)));
    }
    out.host.assign(host_part);
    out.tcp_port = static_cast<uint16_t>(*p);
    out.framing = framing_kind::octet;
    out.buffer_bytes = 32ull << 20;
    return util::ok();
}

/// The TARGET after TYPE: (kafka's BROKERS/TOPIC included); consumes it from @p rest.
[[nodiscard]] util::result<void> parse_target(std::string_view text, std::string_view& rest,
                                              sink_spec& out) {
    if (out.type == sink_type::kafka) {
        return kafka_target(text, rest, out);
    }
    const std::string_view target = next_item(rest);
    switch (out.type) {
    case sink_type::file:
        out.dir.assign(target);
        if (out.dir.empty()) {
            return util::usage_failure(bad(out, "needs a directory, e.g. file:./out"));
        }
        return util::ok();
    case sink_type::tcp:
        return tcp_target(target, out);
    case sink_type::port: {
        const auto p = parse_u64(target);
        if (!p || *p >= 1024) {
            return util::usage_failure(
                bad(out, fmt::format("'{}' is not a DPDK port id (port:0,dst=...)", target)));
        }
        out.port_id = static_cast<uint16_t>(*p);
        return util::ok();
    }
    case sink_type::kafka:
    case sink_type::count_:
        break;
    }
    return util::ok();
}

} // namespace

util::result<sink_spec> parse_sink_spec(std::string_view text) {
    sink_spec out;
    out.text.assign(text);
    const std::size_t colon = text.find(':');
    const std::string_view type = text.substr(0, colon);
    const auto it = std::find(sink_type_names.begin(), sink_type_names.end(), type);
    if (colon == std::string_view::npos || it == sink_type_names.end()) {
        return util::usage_failure(
            fmt::format("'{}' is not TYPE:TARGET with TYPE file, tcp, kafka or port", text));
    }
    out.type = static_cast<sink_type>(it - sink_type_names.begin());
    if (text.back() == ',') {
        return util::usage_failure(bad(out, fmt::format("'{}' ends with a comma", text)));
    }
    std::string_view rest = text.substr(colon + 1);
    if (auto r = parse_target(text, rest, out); !r) {
        return r.error();
    }
    param_parser pp{out};
    std::vector<std::string_view> seen; ///< parameters given so far ("kafka-prop=NAME" per NAME)
    while (!rest.empty()) {
        const std::string_view kv = next_item(rest);
        const std::size_t eq = kv.find('=');
        if (eq == std::string_view::npos) {
            return util::usage_failure(
                bad(out, fmt::format("parameter '{}' is not NAME=VALUE", kv)));
        }
        const std::string_view k = kv.substr(0, eq);
        const std::string_view v = kv.substr(eq + 1);
        // Each parameter once (kafka-prop once per property): a second value would silently
        // replace the first, and which one the user meant is anyone's guess.
        const std::string_view once = k == "kafka-prop" ? kv.substr(0, kv.find('=', eq + 1)) : k;
        if (std::find(seen.begin(), seen.end(), once) != seen.end()) {
            return util::usage_failure(
                bad(out, k == "kafka-prop"
                             ? fmt::format("kafka-prop {} given twice", once.substr(eq + 1))
                             : fmt::format("parameter '{}' given twice", k)));
        }
        seen.push_back(once);
        bool known = false;
        if (auto r = pp.param(k, v, known); !r) {
            return util::usage_failure(bad(out, r.error().text));
        }
        if (!known) {
            return util::usage_failure(
                bad(out, fmt::format("unknown parameter '{}' (see --help)", k)));
        }
    }
    if (auto r = pp.finish(); !r) {
        return util::usage_failure(bad(out, r.error().text));
    }
    return out;
}

util::result<void> name_sinks(std::vector<sink_spec>& sinks) {
    std::array<unsigned, static_cast<std::size_t>(sink_type::count_)> seen{};
    for (sink_spec& s : sinks) {
        if (!s.name.empty()) {
            continue;
        }
        const auto t = static_cast<std::size_t>(s.type);
        ++seen[t];
        s.name = seen[t] == 1 ? std::string(sink_type_names[t])
                              : fmt::format("{}{}", sink_type_names[t], seen[t]);
    }
    for (std::size_t i = 0; i < sinks.size(); ++i) {
        for (std::size_t j = i + 1; j < sinks.size(); ++j) {
            if (sinks[i].name == sinks[j].name) {
                return util::usage_failure(
                    fmt::format("--sink: two sinks are named '{}' (give name=)", sinks[i].name));
            }
        }
    }
    return util::ok();
}

} // namespace logagg::config
