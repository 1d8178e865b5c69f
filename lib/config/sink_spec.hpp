// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane (start-up only). Pure: no DPDK, so options parsing is unit-testable.
//
// What one --sink option asks for, validated. The grammar is in --help and docs/sinks.md.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "log/encode.hpp"
#include "pipeline/lanes.hpp"
#include "util/enum_names.hpp"
#include "util/result.hpp"

namespace logagg::config {

/// Most --sink options (defined beside the per-lcore counters it sizes).
using pipeline::max_sinks;

enum class sink_type : uint8_t { file, tcp, kafka, port, count_ };
/// The stable name of each sink_type value (util/enum_names.hpp); "" for none.
[[nodiscard]] constexpr std::string_view name(sink_type v) noexcept {
    switch (v) {
    case sink_type::file:
        return "file";
    case sink_type::tcp:
        return "tcp";
    case sink_type::kafka:
        return "kafka";
    case sink_type::port:
        return "port";
    case sink_type::count_:
        break;
    }
    return "";
}
/// The names in enum order.
inline constexpr auto sink_type_names =
    util::enum_names<sink_type, static_cast<std::size_t>(sink_type::count_)>();

/// How a sink delimits records: a LF after each, an RFC 6587 octet count before each, or
/// nothing (Kafka: one record per message).
enum class framing_kind : uint8_t {
    lf,
    octet,
    none,
    count_ ///< not a framing: releases of records that were not delivered
};
/// The stable name of each framing_kind value (a sink's framing=, the file sink's state file;
/// util/enum_names.hpp); "" for none.
[[nodiscard]] constexpr std::string_view name(framing_kind v) noexcept {
    switch (v) {
    case framing_kind::lf:
        return "lf";
    case framing_kind::octet:
        return "octet";
    case framing_kind::none:
        return "none";
    case framing_kind::count_:
        break;
    }
    return "";
}
/// The names in enum order.
inline constexpr auto framing_kind_names =
    util::enum_names<framing_kind, static_cast<std::size_t>(framing_kind::count_)>();

/// Bytes @p f adds to a record of @p len bytes ("LEN " before it, or a LF after it).
[[nodiscard]] constexpr uint32_t framing_overhead(framing_kind f, uint32_t len) noexcept {
    if (f == framing_kind::lf) {
        return 1;
    }
    if (f == framing_kind::none || f == framing_kind::count_) {
        return 0;
    }
    return pipeline::octet_prefix_bytes(len);
}

/// What a sink partitions by (defined beside the worker that emits the key piece).
using pipeline::key_field;
using pipeline::key_field_count;
using pipeline::key_field_names;

/// When a sink sends what it has: the first bound reached.
struct batch_limits {
    uint32_t records = 1024;    ///< why 1024: IOV_MAX-sized writes
    uint64_t bytes = 1u << 20;  ///< why 1 MiB: a few socket buffers' worth, one syscall
    uint32_t max_age_us = 1000; ///< why 1 ms: bounds latency at low rates, batches at high ones
};

/// One --sink.
struct sink_spec {
    sink_type type = sink_type::file;
    std::string name; ///< name= (default: the type, numbered when repeated)
    std::string text; ///< the option as given
    log::output_format format = log::output_format::raw;
    framing_kind framing = framing_kind::lf;
    batch_limits batch;
    uint64_t buffer_bytes = 16ull << 20; ///< buffer=: memory queued records may pin
    bool drop_oldest = false;            ///< drop=oldest (default newest)
    // file
    std::string dir;
    uint64_t rotate_bytes = 256ull << 20; ///< why 256 MiB: a few seconds at line rate
    /// append-max=: records of at most this many bytes are copied into the worker's byte ring and
    /// written from there, longer ones from the packet (0: never copy; LF framing only). Why 512:
    /// appending measured 2-4x faster at 100-250 bytes, and no faster than references on a disk
    /// file system's page cache at 1,000 bytes and more (docs/performance.md).
    uint32_t append_max = 512;
    // tcp
    std::string host; ///< name or address (IPv6 in brackets on the command line)
    uint16_t tcp_port = 0;
    uint32_t reconnect_min_ms = 100; ///< first reconnect delay
    /// Backoff ceiling; also the /healthz grace. A Kafka sink sets it at start to librdkafka's
    /// reconnect.backoff.max.ms (default 10 s too).
    uint32_t reconnect_max_ms = 10'000;
    /// replay=: acknowledged bytes kept to resend after a break. Why 256 KiB: covers what a
    /// collector that keeps up holds unread, at the cost of that many duplicates per reconnect.
    uint64_t replay_bytes = 256u << 10;
    // kafka
    std::string brokers;
    std::string topic;
    key_field key = key_field::none;
    std::string compression = "none";
    std::string acks = "all";
    std::vector<std::pair<std::string, std::string>> kafka_props; ///< kafka-prop=name=value
    // port
    uint16_t port_id = 0;
    int family = 0; ///< AF_INET or AF_INET6 of dst
    uint8_t dst_addr[16] = {};
    uint16_t dst_port = 0;
    bool has_src = false;
    uint8_t src_addr[16] = {};
    uint16_t src_port = 514;
    bool has_dmac = false;
    uint8_t dmac[6] = {};
    bool has_gw = false; ///< gw=: the next hop when dst is not on the port's subnet
    uint8_t gw_addr[16] = {};
    uint16_t mtu = 1500;
};

/// Parses the value of one --sink. @return the spec, or a usage failure naming the parameter.
[[nodiscard]] util::result<sink_spec> parse_sink_spec(std::string_view text);

/// Gives unnamed sinks their default names and checks names are unique.
/// @return success, or a usage failure naming the duplicate.
[[nodiscard]] util::result<void> name_sinks(std::vector<sink_spec>& sinks);

} // namespace logagg::config
