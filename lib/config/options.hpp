// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane (start-up only; allocates, may throw nothing: errors are returned).
//
// logagg's own options (after `--`), parsed into an immutable, validated config before any port is
// touched. Pure: no EAL calls, so it is unit-testable and runs before rte_eal_init().
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/parse.hpp"
#include "config/sink_spec.hpp"
#include "log/encode.hpp"
#include "log/filter.hpp"
#include "log/framing.hpp"
#include "log/json.hpp"
#include "net/classify.hpp"
#include "pipeline/idle.hpp"
#include "pipeline/listener.hpp"
#include "tcp/impair_config.hpp"
#include "util/result.hpp"

namespace logagg::config {

/// What a worker does when the sink ring (or an RX lcore when the worker ring) is full.
enum class full_policy { drop, block };

/// The stable name of each full_policy value (--on-sink-full's; util/enum_names.hpp).
[[nodiscard]] constexpr std::string_view name(full_policy v) noexcept {
    switch (v) {
    case full_policy::drop:
        return "drop";
    case full_policy::block:
        return "block";
    }
    return "";
}
/// The names in enum order.
inline constexpr auto full_policy_names = util::enum_names<full_policy, 2>();

/// --pmd-power: DPDK's PMD power management on the RX queues (rte_power_pmd_mgmt.h), with
/// --poll busy. It saves power on dedicated cores; the OS still accounts the lcores as busy.
enum class pmd_power { off, pause, monitor, scale };
/// Values of pmd_power.
inline constexpr std::size_t pmd_power_count = 4;

/// The stable name of each pmd_power value (--pmd-power's).
[[nodiscard]] constexpr std::string_view name(pmd_power v) noexcept {
    switch (v) {
    case pmd_power::off:
        return "off";
    case pmd_power::pause:
        return "pause";
    case pmd_power::monitor:
        return "monitor";
    case pmd_power::scale:
        return "scale";
    }
    return "";
}
/// The names in enum order.
inline constexpr auto pmd_power_names = util::enum_names<pmd_power, pmd_power_count>();

/// --lcore-affinity: whether each lcore thread keeps the one CPU EAL gave it (pinned) or may run
/// on any CPU of the lcores on its NUMA node (shared: a sleeping lcore is woken where the
/// scheduler finds room, usually beside its waker, instead of by an inter-processor interrupt).
enum class lcore_affinity { pinned, shared };
/// Values of lcore_affinity.
inline constexpr std::size_t lcore_affinity_count = 2;
/// The stable name of each lcore_affinity value (--lcore-affinity's).
[[nodiscard]] constexpr std::string_view name(lcore_affinity v) noexcept {
    switch (v) {
    case lcore_affinity::pinned:
        return "pinned";
    case lcore_affinity::shared:
        return "shared";
    }
    return "";
}
/// The names in enum order.
inline constexpr auto lcore_affinity_names =
    util::enum_names<lcore_affinity, lcore_affinity_count>();

/// --ip PORT:ADDR/PREFIX
struct ip_spec {
    uint16_t port = 0;
    int family = 0;        ///< AF_INET or AF_INET6
    uint8_t addr[16] = {}; ///< network order; IPv4 in the first 4 bytes
    uint8_t prefix = 0;
};

/// --metrics ADDR:PORT: where the HTTP endpoint (/metrics, /healthz) listens.
struct metrics_spec {
    int family = 0;        ///< AF_INET or AF_INET6
    uint8_t addr[16] = {}; ///< network order; IPv4 in the first 4 bytes
    uint16_t port = 0;     ///< 0: any free port (the one bound is printed at start)
    std::string text;      ///< as given, for messages
};

/// The validated configuration. Immutable once parse_options() returned it.
struct settings {
    std::vector<uint16_t> listen; ///< UDP ports, in the order given, no duplicates
    /// framing= of each --listen (same order as listen); empty: the --framing default
    std::vector<std::optional<log::framing_mode>> listen_framing;
    /// :FORMAT of each --listen (same order as listen)
    std::vector<pipeline::listen_format> listen_format;
    /// --listen tcp:PORT: TCP ports, in the order given, no duplicates (docs/tcp.md)
    std::vector<uint16_t> tcp_listen;
    /// framing= of each TCP listener (same order); empty: auto (RFC 6587: octet counting when a
    /// connection's first byte is a digit, else LF)
    std::vector<std::optional<log::framing_mode>> tcp_listen_framing;
    /// :FORMAT of each TCP listener (same order); gelf: NUL-delimited GELF TCP
    std::vector<pipeline::listen_format> tcp_listen_format;
    net::listen_ports tcp_ports;     ///< the TCP listen ports as a bitmap (the engines' listeners)
    uint32_t tcp_max_conns = 4096;   ///< --tcp-max-conns: connections per worker lcore
    bool drop_parse_errors = false;  ///< --on-parse-error drop (default: forward, flagged)
    log::json_field_map json_fields; ///< --json-fields over the defaults
    log::framing_mode framing = log::framing_mode::lf; ///< --framing: default for listeners
    uint32_t max_msg = 65536;                          ///< --max-msg: longest message kept whole
    bool drop_oversize = false;             ///< --on-oversize drop (default: truncate and flag)
    net::listen_ports ports;                ///< the same as a bitmap for the datapath
    std::vector<sink_spec> sinks;           ///< --sink, in order (index = sink id), named
    std::vector<log::filter> filters;       ///< --filter: a record must match all
    std::vector<log::route> routes;         ///< --route, sink names resolved to a mask
    uint32_t default_sinks = 0;             ///< sinks no --route names: they take unrouted records
    std::vector<std::string> json_captures; ///< json.KEY names the filters read (capture slots)
    uint64_t drain_timeout_ms = 5000;       ///< --drain-timeout: sinks' deadline at shutdown
    std::vector<unsigned> rx_lcores;        ///< empty: choose (see docs/architecture.md)
    std::vector<unsigned> worker_lcores;    ///< empty: choose
    std::optional<unsigned> sink_lcore;     ///< empty: the main lcore
    double stats_interval_s = 0;            ///< 0: no periodic line
    std::string stats_json;                 ///< empty: no JSON file
    std::optional<metrics_spec> metrics;    ///< --metrics; empty: no HTTP endpoint
    uint64_t exit_on_idle_ms = 0;           ///< 0: run until a signal
    /// --on-sink-full; empty: decided once EAL probed the ports: block when every port
    /// replays a capture file (port_rx_source()), drop otherwise
    std::optional<full_policy> on_sink_full;
    /// --poll: busy-poll every lcore, or follow the load (docs/architecture.md#polling)
    pipeline::poll_mode poll = pipeline::poll_mode::adaptive;
    config::pmd_power pmd_power = config::pmd_power::off; ///< --pmd-power (needs --poll busy)
    /// --lcore-affinity; empty: shared with --poll adaptive, pinned with --poll busy
    std::optional<lcore_affinity> affinity;
    uint16_t burst = 32;          ///< why 32: the DPDK PMD default; amortises per-call costs
    uint16_t rx_desc = 1024;      ///< why 1024: ~12 us of 64-byte frames at 100 Gbit/s per queue
    uint32_t worker_ring = 4096;  ///< mbufs per worker ring (power of two)
    uint32_t sink_ring = 16384;   ///< descriptors per worker->sink ring (power of two)
    uint32_t mbufs = 0;           ///< 0: computed from the above (docs/architecture.md)
    bool verify_checksums = true; ///< software IPv4/UDP checksum checks when the NIC gives none
    std::vector<ip_spec> ips;     ///< --ip: own addresses; empty: accept any, answer nothing
    uint32_t reply_rate = 1000;   ///< --reply-rate: answers per second per RX lcore
    uint32_t link_timeout_s =
        10;                 ///< --link-timeout: wait this long for link up at start (0: don't)
    bool promisc = false;   ///< --promisc
    bool reassembly = true; ///< --reassembly on|off
    uint64_t frag_timeout_ms =
        5000; ///< --frag-timeout; why 5 s: as GELF chunks; senders retry anyway
    uint32_t test_sink_delay_us = 0; ///< testing only: the sink sleeps this long after each write
    /// testing only: file sinks stop mid-write at this byte of their output (UINT64_MAX: never)
    uint64_t test_file_stall_at = UINT64_MAX;
    /// testing only: port sinks send chains even where the port does not advertise
    /// multi-segment TX (net_pcap sends chains but does not say so), to test that path
    bool test_tx_chains = false;
    /// testing only (--test-tcp-impair): each worker drops / holds back one TCP segment in N
    /// before its engine (tcp/impair.hpp); all zero: off
    tcp::impair_config test_tcp_impair{0, 0, 3};
};

/// What the command line asks for: run with a configuration, or print the help or the version.
struct command {
    enum class action { run, help, version };
    action what = action::run;
    settings cfg; ///< the configuration, for run
};

/// Parses logagg's options (the words after `--`, without the program name).
/// @return the command, or a usage failure (one line naming the option).
[[nodiscard]] util::result<command> parse_options(std::span<const std::string_view> args);

/// The --help text (every option, defaults, an example).
[[nodiscard]] std::string help_text();

/// Parses "1,3-5" into {1,3,4,5}. @return the list, or a usage failure on syntax errors, ids
/// >= 1024 or an lcore listed twice saying which, e.g. "lcore 1 is listed twice".
[[nodiscard]] util::result<std::vector<unsigned>> parse_lcore_list(std::string_view s);

/// Parses --metrics' ADDR:PORT: IPv4:PORT or [IPv6]:PORT, a numeric address, PORT 0-65535.
/// @return nullopt on anything else.
[[nodiscard]] std::optional<metrics_spec> parse_metrics_addr(std::string_view s);

/// Parses a framing mode by its name (lf | datagram | octet | auto). nullopt otherwise.
[[nodiscard]] constexpr std::optional<log::framing_mode>
parse_framing(std::string_view s) noexcept {
    return util::enum_from_name<log::framing_mode, log::framing_mode_count>(s);
}

/// What the options name on the filesystem, checked before anything starts (it touches the
/// filesystem, nothing else): --stats-json can be written there (its temporary file is created
/// and removed), every file sink's directory exists and is writable or can be created, and no
/// two file sinks write one directory (compared by device and inode when it exists, else by
/// path with symbolic links resolved). @return success, or a usage failure naming the option.
[[nodiscard]] util::result<void> check_paths(const settings& cfg);

/// Where a port's received frames come from.
enum class rx_source {
    capture_file, ///< capture files only: they can wait for the sinks
    live,         ///< a network (NIC, kernel interface), or anything not known to be a file
    none,         ///< nothing (a net_pcap port with only tx_pcap= or tx_iface=)
};

/// The RX source of a port of driver @p driver probed with @p devargs (the driver part of its
/// --vdev, e.g. "rx_pcap=a.pcap,infinite_rx=1"): capture_file for net_pcap whose every RX source
/// is an rx_pcap= regular file, without infinite_rx (an endless replay stands for live
/// traffic); none for net_pcap without RX source; live for interfaces, FIFOs, devices and every
/// other driver.
[[nodiscard]] rx_source port_rx_source(std::string_view driver, std::string_view devargs);

} // namespace logagg::config
