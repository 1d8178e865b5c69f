// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane, except lcore_step() and what it calls, which is the datapath loop.
#include "control/runtime.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <mutex>

#include <arpa/inet.h>
#include <net/if.h>
#include <sys/epoll.h>

#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_epoll.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_interrupts.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <fmt/core.h>

#include "control/af_packet.hpp"
#include "control/pmd_power.hpp"
#include "control/poll.hpp"
#include "net/local.hpp"
#include "net/neighbour_packets.hpp"
#include "pipeline/blocked.hpp"
#include "pipeline/responder.hpp"
#include "pipeline/rx.hpp"
#include "pipeline/tcp_stream.hpp"
#include "pipeline/worker.hpp"
#include "sink/file_sink.hpp"
#include "sink/kafka_sink.hpp"
#include "sink/port_sink.hpp"
#include "sink/sink.hpp"
#include "sink/tcp_sink.hpp"
#include "util/log.hpp"
#include "util/unique_fd.hpp"

namespace logagg::control {

std::atomic<bool> g_signal_stop{false};

bool ports_replay_captures() {
    bool capture = false;
    uint16_t pid = 0;
    RTE_ETH_FOREACH_DEV(pid) {
        rte_eth_dev_info info{};
        if (rte_eth_dev_info_get(pid, &info) != 0 || info.device == nullptr ||
            info.driver_name == nullptr) {
            return false;
        }
        const rte_devargs* da = rte_dev_devargs(info.device);
        const char* args = da != nullptr && da->args != nullptr ? da->args : "";
        switch (config::port_rx_source(info.driver_name, args)) {
        case config::rx_source::capture_file:
            capture = true;
            break;
        case config::rx_source::none:
            break;
        case config::rx_source::live:
            return false;
        }
    }
    return capture;
}

namespace {

/// Per-lcore mempool cache. Why 256: covers a few bursts per lcore so most alloc/free never
/// touch the shared ring, and stays well under RTE_MEMPOOL_CACHE_MAX_SIZE (512).
constexpr unsigned pool_cache = 256;
/// Spare mbufs on top of the computed need (PMD internals, transient bursts).
constexpr unsigned pool_margin = 1024;
/// Direct mbufs a port sink may hold: its TX queue's descriptors (512) and a burst of datagrams
/// being built (32 x a few generated segments), with room to spare.
constexpr unsigned port_sink_mbufs = 2048;
/// Indirect (data-less) mbufs for port sinks' chains: every TX descriptor of their queues may
/// hold one, plus a burst of 32 datagrams of up to 64 segments being built. 2^n - 1.
constexpr unsigned indirect_pool_size = 8191;
/// How often a worker with a closed TCP window asks the sinks for room again while it has nothing
/// else to do. Why 200 us: a window update then follows the sink's drain within a fraction of a
/// millisecond (the sender's persist timer backs off to seconds), at 5,000 wake-ups a second
/// only while some sender is blocked.
constexpr uint64_t tcp_window_poll_us = 200;

/// How often the main lcore's control duties run. Why 1 ms: fine enough for --exit-on-idle and
/// signals, coarse enough to cost nothing next to busy polling.
constexpr uint64_t control_period_us = 1000;
/// The same with --poll adaptive, where each period is a wake-up (~30 us of CPU on a virtual
/// machine). Why 10 ms: 100 wake-ups a second; signals and --exit-on-idle are still served
/// within 10 ms.
constexpr uint64_t control_period_adaptive_us = 10'000;

/// 0x6d5a repeated: a symmetric Toeplitz key, long enough for the 52-byte keys of some NICs.
constexpr std::array<uint8_t, 52> symmetric_rss_key = [] {
    std::array<uint8_t, 52> k{};
    for (std::size_t i = 0; i < k.size(); i += 2) {
        k[i] = 0x6d;
        k[i + 1] = 0x5a;
    }
    return k;
}();

} // namespace

/// A worker's parsing, GELF and per-sink state, owned here, used only by its lcore.
struct worker_parts {
    std::unique_ptr<log::json_extractor> json;
    std::unique_ptr<log::json_extractor> gelf_json;
    std::unique_ptr<log::gelf::reassembler> gelf_chunks;
    std::unique_ptr<log::gelf::inflater> gelf_inflate;
    std::unique_ptr<char[]> scratch;
    std::vector<std::unique_ptr<pipeline::sink_lane>> lanes;
    std::vector<std::unique_ptr<pipeline::gen_arena>> arenas;
    std::vector<std::unique_ptr<char[]>> arena_bytes;
    // TCP (--listen tcp:): the engine, its consumer (stream framing) and its TX queues.
    std::unique_ptr<pipeline::tcp_streams> streams;
    std::unique_ptr<pipeline::tcp_tx> tcp_tx;
    std::unique_ptr<tcp::engine> tcp;
    std::unique_ptr<tcp::impair> tcp_impair; ///< --test-tcp-impair only
};

/// Everything one lcore runs. Only its own lcore touches the contexts and flags after launch.
struct lcore_ctx {
    unsigned lcore = 0;
    std::string roles;
    pipeline::lcore_stats stats;
    std::unique_ptr<pipeline::rx_ctx> rx;
    std::unique_ptr<pipeline::worker_ctx> worker;
    worker_parts parts;
    rte_ring* worker_in = nullptr;  ///< pipeline mode: this worker's input ring
    std::vector<sink::sink*> sinks; ///< sinks this lcore runs
    bool rx_finished = false;
    bool worker_finished = false;
    bool sink_finished = false;
    bool sinks_draining = false;
    bool tcp_closing = false; ///< shutdown: close_all() sent our FINs
    bool tcp_closed = false;  ///< shutdown: no stream open any more (reported once)
    std::array<rte_mbuf*, 512> worker_buf{};
    /// --poll adaptive: producers (RX for a worker, workers for the sink) and the control plane
    /// wake this lcore through it; idle is its back-off (rx_backoff() or consumer_backoff()).
    pipeline::waker wake;
    pipeline::backoff idle{pipeline::backoff_config{}};
    /// RX lcores whose every queue raises interrupts (--poll adaptive, docs/architecture.md
    /// #polling): their epoll set of those interrupts, which also ends the lcore's sleeps. -1:
    /// none (the lcore sleeps bounded times instead).
    util::unique_fd rx_intr_epfd;
    /// RX lcores that read every queue pair of their net_af_packet ports (--poll adaptive): an
    /// epoll set of the PMD's sockets, which say when their rings hold a frame; sleeps listen to
    /// it while frames come far apart (sock_wake), with idle_listen's bound. -1: none.
    util::unique_fd rx_sock_epfd;
    pipeline::socket_wake sock_wake{0};
    /// What the last pass's RX poll found, by itself: sock_wake judges how close frames come
    /// from the frames alone. The pass's load also counts the records its sinks moved, which on
    /// an lcore that writes what it receives (-l 0) made every lone frame look like a burst.
    pipeline::pass_load rx_load = pipeline::pass_load::none;
    pipeline::backoff idle_listen{pipeline::backoff_config{}};
    std::string rx_wake_note;    ///< how the RX lcore sleeps, printed with its roles ("": nothing)
    uint64_t sink_moved_tsc = 0; ///< TSC of the last pass in which its sinks moved records
    /// --lcore-affinity shared: the current window's start and busy TSC at its start, and
    /// whether the thread is on its own CPU now (follow_load()).
    uint64_t affinity_window_tsc = 0;
    uint64_t affinity_window_busy = 0;
    bool affinity_own = false;

    [[nodiscard]] bool finished() const noexcept {
        return (!rx || rx_finished) && (!worker || worker_finished) &&
               (sinks.empty() || sink_finished);
    }
};

/// What every worker does per message, derived once from the options (docs/formats.md).
struct worker_plan {
    bool parse = false;         ///< anything reads records: encoders, keys, filters, routes
    bool need_view = false;     ///< a Kafka sink takes each message as one buffer
    bool validate_json = false; ///< an ndjson sink: JSON messages are checked before passing
    bool needs_source = false;  ///< a filter or route matches on the sender's address
    bool gelf_possible = false; ///< a listener may receive GELF
    uint64_t tsc_base = 0;      ///< TSC and wall clock read together: received-time stamps
    int64_t wall_base_ns = 0;
};

/// --exit-on-idle: the control loop's memory of when traffic last moved.
struct idle_watch {
    uint64_t after = 0; ///< TSC cycles without activity that stop RX; 0: never
    uint64_t last_activity = 0;
    uint64_t last_activity_tsc = 0;
};

struct runtime::impl {
    config::settings cfg;
    config::role_plan plan;
    int meta_off = -1;
    rte_mempool* pool = nullptr;
    std::vector<uint16_t> ports;
    std::vector<uint16_t> ports_started;
    /// --pmd-power: the RX queues it was turned on for (lcore, port, queue), off at shutdown.
    struct managed_queue {
        unsigned lcore;
        uint16_t port;
        uint16_t queue;
    };
    std::vector<managed_queue> power_managed;
    void power_off_queues() noexcept;
    std::vector<rte_ring*> worker_rings;
    std::vector<rte_ring*> sink_rings; ///< every worker->sink ring (for freeing)
    std::vector<std::unique_ptr<lcore_ctx>> lcores;
    std::vector<std::unique_ptr<sink::sink>> sinks; ///< by sink index
    std::unique_ptr<pipeline::listener_table> listeners;
    std::unique_ptr<pipeline::listener_table> tcp_listeners; ///< --listen tcp: (or none)
    std::vector<net::local_addrs> locals;                    ///< by port id: own addresses (--ip)
    // TCP (docs/tcp.md): ports with own addresses carry it; each worker owns an engine.
    std::vector<uint8_t> tcp_partial_ports; ///< by port id: reads a kernel interface
    uint64_t tcp_offload_ports = 0;         ///< bit p: port p computes IPv4/TCP checksums on TX
    uint16_t tcp_mss = 1460;                ///< smallest MTU of the ports with --ip, less 40
    /// By port id: the first TX queue of the workers' TCP replies (worker w sends on
    /// tcp_txq0 + w; run to completion: the RX lcore's own reply queue).
    std::vector<uint16_t> tcp_txq0;
    /// Shutdown: the workers close their connections (FIN) while RX still runs, until none is
    /// open or tcp_close_deadline_tsc; then RX stops as without TCP.
    std::atomic<bool> tcp_closing{false};
    std::atomic<unsigned> tcp_workers_closed{0};
    uint64_t tcp_close_deadline_tsc = 0;
    /// By port id: what port sinks need of the port (filled by setup_port()).
    struct port_tx_state {
        bool wanted = false;
        uint16_t queue = 0;
        bool multi_seg = false, ipv4_cksum = false, udp_cksum = false;
        uint16_t max_segs = 64;
    };
    std::vector<port_tx_state> port_tx_info;
    /// By port id: what classify() must know of a net_af_packet port (filled by setup_port()):
    /// partial checksums are a local sender's, frames of snap_len bytes may have been cut.
    struct port_rx_state {
        bool partial_checksums = false; ///< reads a kernel interface (reads_kernel_interface())
        bool af_packet = false;
        uint32_t snap_len = 0;
        unsigned ifindex = 0; ///< net_af_packet: the kernel interface's index (0: unknown)
    };
    std::vector<port_rx_state> port_rx_info;
    rte_mempool* indirect_pool = nullptr; ///< data-less mbufs for port sinks' chains
    net::neighbour_table neighbours;      ///< next hops of port sinks without dmac=
    log::json_field_map json_fields;      ///< JSON lines, with the filters' capture keys
    log::json_field_map gelf_fields = log::json_field_map::gelf();
    std::atomic<bool> stop_rx{false};
    std::atomic<unsigned> rx_done{0};
    std::atomic<unsigned> workers_done{0};
    std::atomic<unsigned> sink_lcores_done{0};
    unsigned sink_lcores = 0;
    std::atomic<uint64_t> drain_deadline_tsc{UINT64_MAX}; ///< set when stopping
    std::atomic<bool> ran{false};
    [[nodiscard]] bool tcp_on() const noexcept { return !cfg.tcp_listen.empty(); }
    /// The worker's TCP duties in one pass: timers and window updates; at shutdown our FINs,
    /// and reporting when no stream is open any more.
    void tcp_step(lcore_ctx& c, uint64_t now) noexcept;
    uint64_t start_tsc = 0;
    uint64_t stop_tsc = 0;
    int64_t mbufs_in_use_at_exit = -1;
    std::vector<port_snapshot> final_ports; ///< port counters taken just before the ports closed
    /// Control plane only: serialises take_snapshot() (called by the main loop, the --metrics
    /// thread and DPDK's telemetry thread) with what the main loop changes that it reads (start
    /// and stop times, link states, the port teardown). Never taken by a datapath loop.
    mutable std::mutex snapshot_mu;

    std::vector<std::vector<rte_ring*>> rings_of_sink; ///< by sink index: one ring per worker
    uint32_t port_sinks = 0;                           ///< how many --sink port:...

    ~impl();
    /// Builds everything for the run, in named steps (below, in the order it runs them).
    [[nodiscard]] util::result<void> setup();
    /// Registers the packet metadata field, lists the ports EAL probed, checks option port ids.
    [[nodiscard]] util::result<void> find_ports();
    /// Sizes the mbuf pool for every place an mbuf can wait, and creates it.
    [[nodiscard]] util::result<void> size_pool();
    /// Own addresses and MACs, then each port configured (setup_port()).
    [[nodiscard]] util::result<void> bring_up_ports();
    [[nodiscard]] util::result<void> setup_port(uint16_t port, uint16_t n_rx_lcores);
    /// What the port reads (a kernel interface? net_af_packet's frame size), printed.
    void note_rx_source(uint16_t port, const rte_eth_dev_info& info, const char* name,
                        bool fanout_vdev);
    /// RX checksum offloads and, with several queues, symmetric RSS; every trim printed.
    void choose_rx_offloads(uint16_t port, const rte_eth_dev_info& info, const char* name,
                            uint16_t n_rxq, rte_eth_conf& conf);
    /// TX queues (replies, port sinks) and the port sinks' TX offloads.
    [[nodiscard]] util::result<void> choose_tx(uint16_t port, const rte_eth_dev_info& info,
                                               const char* name, uint16_t n_rx_lcores,
                                               bool fanout_vdev, rte_eth_conf& conf,
                                               uint16_t& n_txq);
    /// rte_eth_dev_configure() and the RX and TX queues.
    [[nodiscard]] util::result<void> setup_queues(uint16_t port, const rte_eth_dev_info& info,
                                                  const char* name, uint16_t n_rxq, uint16_t n_txq,
                                                  const rte_eth_conf& conf);
    /// Worker input rings (pipeline mode) and the worker -> sink rings.
    [[nodiscard]] util::result<void> create_rings();
    void build_listeners();
    [[nodiscard]] worker_plan plan_workers();
    [[nodiscard]] util::result<void> build_workers();
    [[nodiscard]] util::result<void> build_worker(lcore_ctx& c, const worker_plan& wp);
    /// Worker @p w's lane to each sink: its ring and generated-bytes arena.
    void build_lanes(lcore_ctx& c, uint32_t w);
    /// Worker @p w's TCP engine, stream state and TX queues (with --listen tcp:).
    [[nodiscard]] util::result<void> build_tcp(lcore_ctx& c, uint32_t w);
    void build_rx();
    /// Every sink built and started on the sink lcore.
    [[nodiscard]] util::result<void> build_sinks();
    [[nodiscard]] util::result<std::unique_ptr<sink::sink>> make_sink(uint32_t si);
    /// A port sink's TX side: queue, offloads, source address, next hop to resolve.
    [[nodiscard]] util::result<sink::port_tx> port_sink_tx(const config::sink_spec& sp);
    /// --poll adaptive: each lcore's back-off, and who wakes whom (lcore_ctx::wake).
    [[nodiscard]] util::result<void> set_up_polling();
    /// Roles final, ports started, promiscuous mode as asked.
    [[nodiscard]] util::result<void> start_ports();
    /// --poll adaptive: RX lcores whose queues all raise interrupts sleep until one does;
    /// those that read all of their net_af_packet ports' sockets, until one holds a frame.
    void set_up_rx_interrupts();
    /// set_up_rx_interrupts() for @p c, whose queues do not all raise interrupts: its
    /// net_af_packet sockets. @return whether it sleeps on them.
    bool set_up_rx_sockets(lcore_ctx& c);
    /// By port id: set_up_queues()'s arguments, to configure a port again without RX queue
    /// interrupts when it does not start with them.
    struct queue_setup {
        rte_eth_dev_info info{};
        std::string name;
        uint16_t n_rxq = 0;
        uint16_t n_txq = 0;
        rte_eth_conf conf{};
    };
    std::vector<queue_setup> queue_setups;

    // run(), in named steps.
    lcore_ctx* launch_lcores(std::vector<std::pair<impl*, lcore_ctx*>>& args);
    /// Until every lcore finished: the main lcore's share, stop on signal or idle, links, stats.
    void control_loop(lcore_ctx* main_ctx, const runtime& self);
    /// A signal or --exit-on-idle asks to stop (printed). Called only while RX runs.
    [[nodiscard]] bool stop_requested(uint64_t now, idle_watch& idle);
    /// Waits for the lcores, closes the ports, checks every mbuf came back. @return exit status.
    [[nodiscard]] int shut_down();
    std::vector<uint16_t> rx_queues_of; ///< by port id: RX queues configured (all polled)
    [[nodiscard]] lcore_ctx* ctx_of(unsigned lcore);
    void announce();
    void wait_for_links();
    void watch_links();
    std::vector<int> link_state; ///< by port id: 1 up, 0 down, -1 unknown (control plane only)
    std::vector<uint64_t> link_flaps;
    /// One pass over the lcore's roles. @return what it found to do.
    pipeline::pass_load step(lcore_ctx& c) noexcept;
    /// step()'s sink role: polls the lcore's sinks, starts their drain and gives up what they
    /// hold at the deadline, finishes them once the workers are done and they are empty.
    /// @return whether they moved records (or finished) in this pass. @p n_w: worker count.
    bool sink_step(lcore_ctx& c, unsigned n_w) noexcept;
    /// --poll adaptive: after a pass, pause or sleep as the lcore's back-off says (poll.hpp).
    void rest(lcore_ctx& c, pipeline::pass_load load, uint64_t now,
              uint64_t timer = UINT64_MAX) noexcept;
    /// rest()'s sleep (or pause, or nothing) once its timer and nap are known: an RX lcore's
    /// interrupts armed, or its net_af_packet sockets listened to, around it.
    void wait(lcore_ctx& c, pipeline::pass_load load, uint64_t now, uint64_t timer,
              bool nap) noexcept;
    /// Wakes every lcore (stop, a stage finished: what they wait for changed).
    void wake_all() noexcept;
    /// --lcore-affinity shared: by lcore id, the CPUs its thread may run on (those of every
    /// lcore on its NUMA node); empty when pinned. Filled before the lcores start.
    std::vector<rte_cpuset_t> shared_cpus;
    std::vector<rte_cpuset_t> own_cpus; ///< by lcore id: the CPU EAL gave it (shared_cpus set)
    /// The lcores' CPU sets for --lcore-affinity (shared_cpus), reported.
    void choose_affinity();
    /// On each lcore's own thread as it starts: its shared CPU set, if any.
    void apply_affinity() const noexcept;
    /// --lcore-affinity shared, on @p c's own thread after a pass: back on its own CPU while it
    /// is busy, shared again once quiet (poll.hpp: affinity_window_us).
    void follow_load(lcore_ctx& c, uint64_t now) noexcept;
    double ns_per_tsc = 0;
    [[nodiscard]] bool all_finished() const noexcept;
};

namespace {

int lcore_entry(void* arg) {
    auto* pair = static_cast<std::pair<runtime::impl*, lcore_ctx*>*>(arg);
    runtime::impl& rt = *pair->first;
    lcore_ctx& c = *pair->second;
    const bool adaptive = rt.cfg.poll == pipeline::poll_mode::adaptive;
    if (adaptive) {
        precise_sleeps();
    }
    rt.apply_affinity();
    uint64_t t0 = rte_rdtsc();
    while (!c.finished()) {
        const pipeline::pass_load load = rt.step(c);
        const uint64_t t1 = rte_rdtsc();
        if (load != pipeline::pass_load::none) {
            c.stats.busy_tsc.add(t1 - t0);
        }
        if (adaptive) {
            rt.rest(c, load, t1);
            t0 = rte_rdtsc();
        } else {
            t0 = t1;
        }
    }
    return 0;
}

/// Is @p addr inside one of @p l's prefixes of @p family?
[[nodiscard]] bool on_link(const net::local_addrs& l, int family, const uint8_t* addr) {
    auto match = [&](const uint8_t* own, unsigned prefix, unsigned len) {
        for (unsigned bit = 0; bit < prefix && bit < len * 8; ++bit) {
            const unsigned mask = 0x80u >> (bit % 8);
            if ((own[bit / 8] & mask) != (addr[bit / 8] & mask)) {
                return false;
            }
        }
        return true;
    };
    if (family == AF_INET) {
        for (unsigned i = 0; i < l.n_v4; ++i) {
            if (match(l.v4[i].data(), l.v4_prefix[i], 4)) {
                return true;
            }
        }
        return false;
    }
    for (unsigned i = 0; i < l.n_v6; ++i) {
        if (match(l.v6[i].data(), l.v6_prefix[i], 16)) {
            return true;
        }
    }
    return false;
}

[[nodiscard]] std::string err_str(int e) {
    return std::strerror(e < 0 ? -e : e);
}

/// "link up, 10000 Mbps, full duplex" (rte_eth_link_to_str is still experimental in 22.11).
[[nodiscard]] std::string link_text(const rte_eth_link& l) {
    if (l.link_status == 0) {
        return "link down";
    }
    const std::string speed = l.link_speed == RTE_ETH_SPEED_NUM_UNKNOWN
                                  ? "speed unknown"
                                  : fmt::format("{} Mbps", l.link_speed);
    return fmt::format("link up, {}, {} duplex", speed, l.link_duplex != 0 ? "full" : "half");
}

/// What EAL probed, e.g. "EAL probed 1 port: 0 (net_pcap0)", for errors naming a port that is
/// not there.
[[nodiscard]] std::string port_list_text(const std::vector<uint16_t>& ports) {
    std::string out =
        fmt::format("EAL probed {} port{}:", ports.size(), ports.size() == 1 ? "" : "s");
    for (uint16_t p : ports) {
        rte_eth_dev_info info{};
        const char* name = rte_eth_dev_info_get(p, &info) == 0 && info.device != nullptr
                               ? rte_dev_name(info.device)
                               : "?";
        out += fmt::format("{} {} ({})", p == ports.front() ? "" : ",", p, name);
    }
    return out;
}

} // namespace

void runtime::impl::power_off_queues() noexcept {
    for (const managed_queue& q : power_managed) {
        pmd_power_disable(q.lcore, q.port, q.queue);
    }
    power_managed.clear();
}

runtime::impl::~impl() {
    for (uint16_t p : ports_started) {
        rte_eth_dev_stop(p);
    }
    power_off_queues();
    for (uint16_t p : ports) {
        rte_eth_dev_close(p);
    }
    for (rte_ring* r : worker_rings) {
        rte_ring_free(r);
    }
    for (rte_ring* r : sink_rings) {
        rte_ring_free(r);
    }
    rte_mempool_free(pool);
    rte_mempool_free(indirect_pool);
}

lcore_ctx* runtime::impl::ctx_of(unsigned lcore) {
    for (auto& c : lcores) {
        if (c->lcore == lcore) {
            return c.get();
        }
    }
    auto c = std::make_unique<lcore_ctx>();
    c->lcore = lcore;
    c->roles = plan.roles_of(lcore);
    lcores.push_back(std::move(c));
    return lcores.back().get();
}

// ---- Set-up, step by step (setup() runs the steps in this order) ----

util::result<void> runtime::impl::setup() {
    if (auto r = find_ports(); !r) {
        return r.error();
    }
    if (auto r = size_pool(); !r) {
        return r.error();
    }
    if (auto r = bring_up_ports(); !r) {
        return r.error();
    }
    if (auto r = create_rings(); !r) {
        return r.error();
    }
    build_listeners();
    if (auto r = build_workers(); !r) {
        return r.error();
    }
    build_rx();
    if (auto r = build_sinks(); !r) {
        return r.error();
    }
    if (auto r = set_up_polling(); !r) {
        return r.error();
    }
    if (auto r = start_ports(); !r) {
        return r.error();
    }
    set_up_rx_interrupts();
    wait_for_links();
    announce();
    return {};
}

util::result<void> runtime::impl::find_ports() {
    static const rte_mbuf_dynfield meta_desc = {"logagg_pkt_meta", sizeof(pipeline::pkt_meta),
                                                alignof(pipeline::pkt_meta), 0};
    meta_off = rte_mbuf_dynfield_register(&meta_desc);
    if (meta_off < 0) {
        return util::failure(
            fmt::format("cannot register the mbuf dynfield: {}", rte_strerror(rte_errno)));
    }
    uint16_t pid = 0;
    RTE_ETH_FOREACH_DEV(pid) {
        ports.push_back(pid);
    }
    if (ports.empty()) {
        return util::usage_failure(
            "no ports: give a NIC bound to vfio-pci with -a PCI, or a virtual device such as "
            "--vdev=net_pcap0,rx_pcap=FILE (if you gave one, EAL's lines above say why it failed "
            "to probe: a missing capture file, a wrong interface name, ...)");
    }
    // Port ids the options name exist only now that EAL probed the devices: still the user's.
    const auto exists = [&](uint16_t p) {
        return std::find(ports.begin(), ports.end(), p) != ports.end();
    };
    for (const config::ip_spec& ip : cfg.ips) {
        if (!exists(ip.port)) {
            return util::usage_failure(
                fmt::format("--ip: port {} does not exist ({})", ip.port, port_list_text(ports)));
        }
    }
    for (const config::sink_spec& sp : cfg.sinks) {
        if (sp.type == config::sink_type::port && !exists(sp.port_id)) {
            return util::usage_failure(fmt::format("--sink {}: port {} does not exist ({})",
                                                   sp.name, sp.port_id, port_list_text(ports)));
        }
    }
    return {};
}

util::result<void> runtime::impl::size_pool() {
    const auto n_rx = static_cast<uint32_t>(plan.rx.size());
    const auto n_w = static_cast<uint32_t>(plan.workers.size());
    const auto n_s = static_cast<uint32_t>(cfg.sinks.size());
    // Every place an mbuf can wait (docs/architecture.md, "Sizing the mbuf pool"). A sink's
    // queue pins at most buffer= bytes, each mbuf counting its whole buffer.
    uint64_t sink_pinned = 0;
    port_sinks = 0;
    for (const config::sink_spec& sp : cfg.sinks) {
        sink_pinned += sp.buffer_bytes / (RTE_MBUF_DEFAULT_BUF_SIZE + sizeof(rte_mbuf));
        if (sp.type == config::sink_type::tcp) { // the replay window, exempt from buffer=
            sink_pinned += sp.replay_bytes * sink::replay_cost_factor /
                           (RTE_MBUF_DEFAULT_BUF_SIZE + sizeof(rte_mbuf));
        }
        port_sinks += sp.type == config::sink_type::port ? 1u : 0u;
    }
    // A port sink's header and generated-byte mbufs: a TX ring's worth plus a burst being built.
    sink_pinned += uint64_t{port_sinks} * port_sink_mbufs;
    // TCP: each worker's engine holds up to ooo_per_engine out-of-order segments and two TX
    // batches of replies (one queued, one in the NIC's hands while the next is built).
    const uint64_t tcp_mbufs =
        tcp_on() ? uint64_t{n_w} * (tcp::config{}.ooo_per_engine + 2u * tcp::tx_batch) : 0;
    const uint64_t need = uint64_t{ports.size()} * n_rx * cfg.rx_desc +
                          (plan.fused ? 0 : uint64_t{n_w} * cfg.worker_ring) +
                          uint64_t{n_w} * n_s * (cfg.sink_ring + pipeline::stage_capacity) +
                          sink_pinned + tcp_mbufs +
                          uint64_t{rte_lcore_count()} * (pool_cache + 2u * cfg.burst) + pool_margin;
    uint64_t n_mbufs = cfg.mbufs;
    if (n_mbufs == 0) {
        n_mbufs = 1;
        while (n_mbufs - 1 < need) {
            n_mbufs <<= 1; // 2^n - 1 is the mempool's optimum (its ring holds 2^n - 1)
        }
        n_mbufs -= 1;
    } else if (n_mbufs < need) {
        util::report("  warning: --mbufs {} is below the {} that queues, rings, sink buffers ({} "
                     "mbufs) and caches can hold; RX will see rx_nombuf when sinks fall behind",
                     n_mbufs, need, sink_pinned);
    }
    pool = rte_pktmbuf_pool_create("logagg_mbufs", static_cast<unsigned>(n_mbufs), pool_cache, 0,
                                   RTE_MBUF_DEFAULT_BUF_SIZE, static_cast<int>(rte_socket_id()));
    if (pool == nullptr) {
        return util::failure(fmt::format(
            "cannot create a pool of {} mbufs ({} MiB): {} (give EAL more memory with -m, or "
            "reserve hugepages: see hugepages/README.md)",
            n_mbufs, n_mbufs * (RTE_MBUF_DEFAULT_BUF_SIZE + sizeof(rte_mbuf)) >> 20,
            rte_strerror(rte_errno)));
    }
    util::report("  mbuf pool: {} mbufs of {} bytes ({} MiB), need {}", n_mbufs,
                 RTE_MBUF_DEFAULT_BUF_SIZE,
                 n_mbufs * (RTE_MBUF_DEFAULT_BUF_SIZE + sizeof(rte_mbuf)) >> 20, need);
    return {};
}

util::result<void> runtime::impl::bring_up_ports() {
    // Own addresses (--ip) by port, with the port's MAC: the responder answers for them.
    for (const config::ip_spec& ip : cfg.ips) {
        if (locals.size() <= ip.port) {
            locals.resize(ip.port + 1u);
        }
        net::local_addrs& l = locals[ip.port];
        if (ip.family == AF_INET) {
            std::memcpy(l.v4[l.n_v4].data(), ip.addr, 4);
            l.v4_prefix[l.n_v4++] = ip.prefix;
        } else {
            std::memcpy(l.v6[l.n_v6].data(), ip.addr, 16);
            l.v6_prefix[l.n_v6++] = ip.prefix;
        }
    }
    for (uint16_t p : ports) {
        if (p < locals.size() && locals[p].any()) {
            rte_ether_addr mac{};
            if (rte_eth_macaddr_get(p, &mac) != 0) {
                return util::failure(fmt::format("port {}: cannot read its MAC address", p));
            }
            std::memcpy(locals[p].mac, mac.addr_bytes, 6);
        }
    }
    // Ports that port sinks send on get a TX queue of their own (setup_port()).
    for (const config::sink_spec& sp : cfg.sinks) {
        if (sp.type != config::sink_type::port) {
            continue;
        }
        if (port_tx_info.size() <= sp.port_id) {
            port_tx_info.resize(sp.port_id + 1u);
        }
        port_tx_info[sp.port_id].wanted = true;
    }
    const auto n_rx = static_cast<uint16_t>(plan.rx.size());
    for (uint16_t p : ports) {
        if (auto r = setup_port(p, n_rx); !r) {
            return r.error();
        }
    }
    return {};
}

util::result<void> runtime::impl::setup_port(uint16_t port, uint16_t n_rx_lcores) {
    rte_eth_dev_info info{};
    const int rc = rte_eth_dev_info_get(port, &info);
    if (rc != 0) {
        return util::failure(
            fmt::format("port {}: cannot read device info: {}", port, err_str(rc)));
    }
    const char* name = info.device != nullptr ? rte_dev_name(info.device) : "?";
    // One RX queue per RX lcore. net_af_packet opens one socket per queue pair at probe and the
    // kernel fans frames out over all of them, configured or not: there every queue is set up
    // and polled (queue q by RX lcore q mod n), or its share of the traffic would be lost.
    uint16_t n_rxq = n_rx_lcores;
    const bool fanout_vdev =
        info.driver_name != nullptr && std::string_view(info.driver_name) == "net_af_packet";
    if (fanout_vdev && info.max_rx_queues > n_rxq) {
        n_rxq = info.max_rx_queues;
    }
    if (rx_queues_of.size() <= port) {
        rx_queues_of.resize(port + 1u, 0);
    }
    rx_queues_of[port] = n_rxq;
    note_rx_source(port, info, name, fanout_vdev);
    if (n_rxq > info.max_rx_queues) {
        return util::usage_failure(fmt::format(
            "--rx-lcores: port {} ({}): {} RX lcores need {} RX queues but the port has at most "
            "{} (use fewer --rx-lcores)",
            port, name, n_rxq, n_rxq, info.max_rx_queues));
    }
    rte_eth_conf conf{};
    choose_rx_offloads(port, info, name, n_rxq, conf);
    uint16_t n_txq = 0;
    if (auto r = choose_tx(port, info, name, n_rx_lcores, fanout_vdev, conf, n_txq); !r) {
        return r.error();
    }
    // RX queue interrupts (--poll adaptive): requested of every port; one whose driver ignores
    // them (net_pcap, net_af_packet, net_ring) just never delivers one, one that refuses to start
    // with them is configured again without (start_ports()).
    conf.intr_conf.rxq = cfg.poll == pipeline::poll_mode::adaptive ? 1 : 0;
    if (queue_setups.size() <= port) {
        queue_setups.resize(port + 1u);
    }
    queue_setups[port] = queue_setup{info, name, n_rxq, n_txq, conf};
    return setup_queues(port, info, name, n_rxq, n_txq, conf);
}

void runtime::impl::note_rx_source(uint16_t port, const rte_eth_dev_info& info, const char* name,
                                   bool fanout_vdev) {
    if (port_rx_info.size() <= port) {
        port_rx_info.resize(port + 1u);
    }
    const rte_devargs* da = info.device != nullptr ? rte_dev_devargs(info.device) : nullptr;
    const char* devargs = da != nullptr && da->args != nullptr ? da->args : "";
    port_rx_state& r = port_rx_info[port];
    r.partial_checksums =
        reads_kernel_interface(info.driver_name != nullptr ? info.driver_name : "", devargs);
    if (r.partial_checksums && !fanout_vdev) {
        util::report("  port {} ({}): reads a kernel interface: UDP checksums left partial by "
                     "local senders are accepted (packets.checksum_partial)",
                     port, name);
    }
    if (!fanout_vdev) {
        return;
    }
    // The kernel interface behind the port and the frame size its ring cuts at (devargs), then
    // the offloads of the interface that hand the ring longer frames.
    af_packet_args args = parse_af_packet_args(devargs);
    char ifname[IF_NAMESIZE] = {};
    if (args.iface.empty() && info.if_index != 0 &&
        if_indextoname(info.if_index, ifname) != nullptr) {
        args.iface = ifname;
    }
    r.af_packet = true;
    r.snap_len = af_packet_snap_len(args.frame_size);
    r.ifindex = info.if_index != 0    ? info.if_index
                : !args.iface.empty() ? if_nametoindex(args.iface.c_str())
                                      : 0;
    util::report("  port {} ({}): kernel interface {}, frames cut at {} bytes (framesz {}); "
                 "UDP checksums left partial by local senders are accepted "
                 "(packets.checksum_partial)",
                 port, name, args.iface, r.snap_len, args.frame_size);
    if (!args.iface.empty()) {
        for (const std::string& line :
             offload_warnings(args.iface, read_offloads(args.iface), r.snap_len)) {
            util::report("  port {} ({}): {}", port, name, line);
        }
    }
}

void runtime::impl::choose_rx_offloads(uint16_t port, const rte_eth_dev_info& info,
                                       const char* name, uint16_t n_rxq, rte_eth_conf& conf) {
    // Offloads we can use, trimmed to what the port has; every trim is logged.
    const uint64_t want_rx = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
    conf.rxmode.offloads = want_rx & info.rx_offload_capa;
    if ((info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER) != 0) {
        conf.rxmode.offloads |=
            RTE_ETH_RX_OFFLOAD_SCATTER; // frames larger than one mbuf arrive chained
    }
    if (conf.rxmode.offloads != (want_rx | (conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_SCATTER))) {
        util::report(
            "  port {} ({}): no RX checksum offload for{}{}: checksums verified in software{}",
            port, name, (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) ? "" : " IPv4",
            (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_UDP_CKSUM) ? "" : " UDP",
            cfg.verify_checksums ? "" : " (disabled by --no-checksum)");
    }
    if (n_rxq <= 1) {
        return;
    }
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    const uint64_t want_rss = RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_IPV6 |
                              RTE_ETH_RSS_NONFRAG_IPV6_UDP;
    conf.rx_adv_conf.rss_conf.rss_hf = want_rss & info.flow_type_rss_offloads;
    // A Toeplitz key of one repeated 16-bit pattern hashes (a, b) and (b, a) alike: both
    // directions of a flow land on one queue (Woo and Park, "Scalable TCP session monitoring
    // with symmetric receive-side scaling").
    if (info.hash_key_size != 0 && info.hash_key_size <= symmetric_rss_key.size()) {
        conf.rx_adv_conf.rss_conf.rss_key = const_cast<uint8_t*>(symmetric_rss_key.data());
        conf.rx_adv_conf.rss_conf.rss_key_len = info.hash_key_size;
    }
    if (conf.rx_adv_conf.rss_conf.rss_hf != want_rss) {
        util::report("  port {} ({}): RSS hash types trimmed from {:#x} to {:#x} (port supports "
                     "{:#x})",
                     port, name, want_rss, conf.rx_adv_conf.rss_conf.rss_hf,
                     info.flow_type_rss_offloads);
    }
    if ((info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_RSS_HASH) != 0) {
        conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_RSS_HASH;
    }
}

util::result<void> runtime::impl::choose_tx(uint16_t port, const rte_eth_dev_info& info,
                                            const char* name, uint16_t n_rx_lcores,
                                            bool fanout_vdev, rte_eth_conf& conf, uint16_t& n_txq) {
    // A port that answers (--ip) needs a TX queue per RX lcore: each lcore sends its own replies.
    // A port that port sinks send on needs one more, owned by the sink lcore.
    const bool answers = port < locals.size() && locals[port].any();
    const bool sends = port < port_tx_info.size() && port_tx_info[port].wanted;
    // TCP replies: each worker sends on a TX queue of its own; run to completion, a worker is
    // its RX lcore and shares that lcore's reply queue (one thread, no lock needed).
    const bool tcp = answers && tcp_on();
    const uint16_t tcp_queues = tcp && !plan.fused ? static_cast<uint16_t>(plan.workers.size()) : 0;
    n_txq = static_cast<uint16_t>((answers ? n_rx_lcores : 0) + tcp_queues + (sends ? 1 : 0) +
                                  (!answers && !sends && info.max_tx_queues > 0 ? 1 : 0));
    if (n_txq > info.max_tx_queues) {
        return util::usage_failure(fmt::format(
            "port {} ({}): needs {} TX queues (one per RX lcore for --ip replies, {}one for port "
            "sinks) but the port has {}{}",
            port, name, n_txq, tcp_queues != 0 ? "one per worker for TCP, " : "",
            info.max_tx_queues,
            fanout_vdev ? " (give the vdev qpairs=N)" : " (use fewer --rx-lcores)"));
    }
    if (tcp) {
        if (tcp_txq0.size() <= port) {
            tcp_txq0.resize(port + 1u, 0);
            tcp_partial_ports.resize(port + 1u, 0);
        }
        tcp_txq0[port] = plan.fused ? 0 : n_rx_lcores;
        tcp_partial_ports[port] =
            port < port_rx_info.size() && port_rx_info[port].partial_checksums ? 1 : 0;
        constexpr uint64_t cksum = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
        if ((info.tx_offload_capa & cksum) == cksum && port < 64) {
            conf.txmode.offloads |= cksum;
            tcp_offload_ports |= uint64_t{1} << port;
        }
        uint16_t mtu = 1500;
        if (rte_eth_dev_get_mtu(port, &mtu) == 0 && mtu > 100) {
            tcp_mss = std::min<uint16_t>(tcp_mss, static_cast<uint16_t>(mtu - 40));
        }
        const uint32_t snap = port < port_rx_info.size() ? port_rx_info[port].snap_len : 0;
        util::report(
            "  port {} ({}): TCP replies on {} TX queue(s) from {}, checksums {}, MSS {}{}", port,
            name, plan.fused ? plan.rx.size() : plan.workers.size(), tcp_txq0[port],
            (tcp_offload_ports >> port & 1) != 0 ? "offloaded" : "in software", tcp_mss,
            snap > 1000 ? fmt::format(", windows of at most {} bytes (frames are cut at {}: "
                                      "docs/tcp.md#net_af_packet)",
                                      snap - (14 + 8 + 40 + 60), snap)
                        : std::string());
    }
    if (!sends) {
        return {};
    }
    port_tx_state& t = port_tx_info[port];
    t.queue = static_cast<uint16_t>(n_txq - 1);
    // Chains of header + payload segments need MULTI_SEGS; without it datagrams are copied into
    // one mbuf (counted). Checksum offloads are used where the port has them.
    t.multi_seg = (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) != 0;
    const bool forced = !t.multi_seg && cfg.test_tx_chains;
    t.ipv4_cksum = (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) != 0;
    t.udp_cksum = (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) != 0;
    conf.txmode.offloads |= (t.multi_seg && !forced ? RTE_ETH_TX_OFFLOAD_MULTI_SEGS : 0) |
                            (t.ipv4_cksum ? RTE_ETH_TX_OFFLOAD_IPV4_CKSUM : 0) |
                            (t.udp_cksum ? RTE_ETH_TX_OFFLOAD_UDP_CKSUM : 0);
    t.max_segs = info.tx_desc_lim.nb_mtu_seg_max != 0
                     ? std::min<uint16_t>(info.tx_desc_lim.nb_mtu_seg_max, 64)
                     : 64;
    t.multi_seg = t.multi_seg || forced; // requested below only if advertised
    util::report("  port {} ({}): port sink TX queue {}, {}{}, checksums {}", port, name, t.queue,
                 t.multi_seg ? fmt::format("chained datagrams (up to {} segments)", t.max_segs)
                             : std::string("no multi-segment TX: datagrams are copied"),
                 forced ? " (forced by --test-tx-chains)" : "",
                 t.udp_cksum ? "offloaded" : "in software");
    return {};
}

util::result<void> runtime::impl::setup_queues(uint16_t port, const rte_eth_dev_info& info,
                                               const char* name, uint16_t n_rxq, uint16_t n_txq,
                                               const rte_eth_conf& conf) {
    int rc = rte_eth_dev_configure(port, n_rxq, n_txq, &conf);
    if (rc != 0) {
        return util::failure(fmt::format("port {} ({}): configure with {} RX queues failed: {}",
                                         port, name, n_rxq, err_str(rc)));
    }
    uint16_t nb_rxd = cfg.rx_desc;
    uint16_t nb_txd = 512;
    rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &nb_rxd, &nb_txd);
    if (rc != 0) {
        return util::failure(fmt::format("port {} ({}): cannot adjust descriptor counts: {}", port,
                                         name, err_str(rc)));
    }
    if (nb_rxd != cfg.rx_desc) {
        util::report("  port {} ({}): RX descriptors adjusted from {} to {}", port, name,
                     cfg.rx_desc, nb_rxd);
    }
    const int socket = rte_eth_dev_socket_id(port);
    const unsigned sock = socket < 0 ? 0u : static_cast<unsigned>(socket);
    rte_eth_rxconf rxconf = info.default_rxconf;
    rxconf.offloads = conf.rxmode.offloads;
    for (uint16_t q = 0; q < n_rxq; ++q) {
        rc = rte_eth_rx_queue_setup(port, q, nb_rxd, sock, &rxconf, pool);
        if (rc != 0) {
            return util::failure(fmt::format("port {} ({}): RX queue {} setup failed: {}", port,
                                             name, q, err_str(rc)));
        }
    }
    rte_eth_txconf txconf = info.default_txconf;
    txconf.offloads = conf.txmode.offloads;
    for (uint16_t q = 0; q < n_txq; ++q) {
        rc = rte_eth_tx_queue_setup(port, q, nb_txd, sock, &txconf);
        if (rc != 0) {
            return util::failure(fmt::format("port {} ({}): TX queue {} setup failed: {}", port,
                                             name, q, err_str(rc)));
        }
    }
    util::report("  port {} ({}): {} RX queue(s) x {} descriptors, offloads {:#x}, socket {}", port,
                 name, n_rxq, nb_rxd, conf.rxmode.offloads, socket);
    return {};
}

util::result<void> runtime::impl::create_rings() {
    // Rings: worker i's input (pipeline mode) and, per sink s, worker i -> sink s.
    const auto n_rx = static_cast<uint32_t>(plan.rx.size());
    const auto n_w = static_cast<uint32_t>(plan.workers.size());
    const auto n_s = static_cast<uint32_t>(cfg.sinks.size());
    const int sock = static_cast<int>(rte_socket_id());
    rings_of_sink.assign(n_s, {});
    for (uint32_t w = 0; w < n_w; ++w) {
        if (!plan.fused) {
            const std::string name = fmt::format("logagg_wq{}", w);
            const unsigned flags = RING_F_SC_DEQ | (n_rx == 1 ? RING_F_SP_ENQ : 0u);
            rte_ring* r = rte_ring_create(name.c_str(), cfg.worker_ring, sock, flags);
            if (r == nullptr) {
                return util::failure(
                    fmt::format("cannot create ring {}: {}", name, rte_strerror(rte_errno)));
            }
            worker_rings.push_back(r);
        }
        for (uint32_t si = 0; si < n_s; ++si) {
            const std::string sname = fmt::format("logagg_sq{}_{}", w, si);
            rte_ring* r = rte_ring_create_elem(sname.c_str(), sizeof(pipeline::msg_desc),
                                               cfg.sink_ring, sock, RING_F_SP_ENQ | RING_F_SC_DEQ);
            if (r == nullptr) {
                return util::failure(
                    fmt::format("cannot create ring {}: {}", sname, rte_strerror(rte_errno)));
            }
            sink_rings.push_back(r);
            rings_of_sink[si].push_back(r);
        }
    }
    return {};
}

void runtime::impl::build_listeners() {
    listeners = std::make_unique<pipeline::listener_table>();
    for (std::size_t i = 0; i < cfg.listen.size(); ++i) {
        pipeline::listener l;
        l.port = cfg.listen[i];
        l.framing.mode = cfg.listen_framing[i].value_or(cfg.framing);
        l.framing.max_msg = cfg.max_msg;
        l.framing.drop_oversize = cfg.drop_oversize;
        l.format = cfg.listen_format[i];
        (void)listeners->add(l);
    }
    if (!tcp_on()) {
        return;
    }
    tcp_listeners = std::make_unique<pipeline::listener_table>();
    for (std::size_t i = 0; i < cfg.tcp_listen.size(); ++i) {
        pipeline::listener l;
        l.port = cfg.tcp_listen[i];
        l.framing.mode = cfg.tcp_listen_framing[i].value_or(log::framing_mode::auto_detect);
        l.framing.max_msg = cfg.max_msg;
        l.framing.drop_oversize = cfg.drop_oversize;
        l.format = cfg.tcp_listen_format[i];
        (void)tcp_listeners->add(l);
    }
}

worker_plan runtime::impl::plan_workers() {
    // What workers must do per message (docs/formats.md): parse when anything reads records.
    worker_plan wp;
    bool encoded = false;
    bool keyed_fields = false;
    for (const config::sink_spec& sp : cfg.sinks) {
        encoded |= sp.format != log::output_format::raw;
        keyed_fields |= sp.key == config::key_field::host || sp.key == config::key_field::app;
        wp.need_view |= sp.type == config::sink_type::kafka;
        wp.validate_json |= sp.format == log::output_format::ndjson;
    }
    wp.parse = encoded || keyed_fields || cfg.drop_parse_errors || !cfg.filters.empty() ||
               !cfg.routes.empty();
    for (const log::filter& f : cfg.filters) {
        wp.needs_source |= log::filter_needs_source(f);
    }
    for (const log::route& r : cfg.routes) {
        wp.needs_source |= log::filter_needs_source(r.match);
    }
    for (const pipeline::listen_format f : cfg.tcp_listen_format) {
        wp.gelf_possible |= f == pipeline::listen_format::gelf;
    }
    for (const pipeline::listen_format f : cfg.listen_format) {
        wp.gelf_possible |=
            f == pipeline::listen_format::gelf || f == pipeline::listen_format::auto_detect;
    }
    json_fields = cfg.json_fields;
    json_fields.set_captures(cfg.json_captures);
    gelf_fields.set_captures(cfg.json_captures);
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    wp.tsc_base = rte_rdtsc();
    wp.wall_base_ns = now.tv_sec * 1'000'000'000LL + now.tv_nsec;
    return wp;
}

util::result<void> runtime::impl::build_workers() {
    const worker_plan wp = plan_workers();
    // Contexts: main first, then RX, workers, sinks.
    (void)ctx_of(plan.main);
    for (uint32_t w = 0; w < plan.workers.size(); ++w) {
        lcore_ctx* c = ctx_of(plan.workers[w]);
        if (auto r = build_worker(*c, wp); !r) {
            return r.error();
        }
        build_lanes(*c, w);
        if (auto r = build_tcp(*c, w); !r) {
            return r.error();
        }
        if (!plan.fused) {
            c->worker_in = worker_rings[w];
        }
    }
    return {};
}

util::result<void> runtime::impl::build_worker(lcore_ctx& c, const worker_plan& wp) {
    c.worker = std::make_unique<pipeline::worker_ctx>();
    pipeline::worker_ctx& wk = *c.worker;
    worker_parts& parts = c.parts;
    wk.meta_off = meta_off;
    wk.block_when_full = cfg.on_sink_full == config::full_policy::block;
    wk.block_sleep_us =
        pipeline::block_sleep_us(cfg.sink_ring, cfg.poll == pipeline::poll_mode::adaptive);
    wk.stats = &c.stats;
    wk.listeners = listeners.get();
    wk.parse = wp.parse;
    wk.need_view = wp.need_view;
    wk.drop_parse_errors = cfg.drop_parse_errors;
    wk.filters = &cfg.filters;
    wk.routes = &cfg.routes;
    wk.default_sinks = cfg.default_sinks;
    wk.needs_source = wp.needs_source;
    wk.validate_json = wp.validate_json;
    wk.max_msg = cfg.max_msg;
    wk.drop_oversize = cfg.drop_oversize;
    auto json = log::json_extractor::create(json_fields, cfg.max_msg);
    if (!json) {
        return json.error();
    }
    parts.json = std::move(json).value();
    wk.json = parts.json.get();
    if (wp.gelf_possible) {
        auto gelf_json = log::json_extractor::create(gelf_fields, cfg.max_msg);
        if (!gelf_json) {
            return gelf_json.error();
        }
        parts.gelf_json = std::move(gelf_json).value();
        parts.gelf_chunks = std::make_unique<log::gelf::reassembler>();
        parts.gelf_inflate = std::make_unique<log::gelf::inflater>(cfg.max_msg);
        wk.gelf_json = parts.gelf_json.get();
        wk.gelf_chunks = parts.gelf_chunks.get();
        wk.gelf_inflate = parts.gelf_inflate.get();
    }
    // Scratch: a linearised message or datagram (GELF), or a padded copy.
    wk.scratch_size =
        std::max<uint32_t>(cfg.max_msg, 65536) + static_cast<uint32_t>(log::json_padding);
    parts.scratch = std::make_unique<char[]>(wk.scratch_size);
    wk.scratch = parts.scratch.get();
    wk.tsc_base = wp.tsc_base;
    wk.wall_base_ns = wp.wall_base_ns;
    wk.ns_per_tsc = 1e9 / static_cast<double>(rte_get_tsc_hz());
    return {};
}

void runtime::impl::build_lanes(lcore_ctx& c, uint32_t w) {
    pipeline::worker_ctx& wk = *c.worker;
    worker_parts& parts = c.parts;
    for (uint32_t si = 0; si < cfg.sinks.size(); ++si) {
        const config::sink_spec& sp = cfg.sinks[si];
        auto lane = std::make_unique<pipeline::sink_lane>();
        lane->ring = rings_of_sink[si][w];
        lane->sink = static_cast<uint8_t>(si);
        lane->format = sp.format;
        lane->contiguous = sp.type == config::sink_type::kafka;
        lane->key = sp.key;
        // Why 16 messages' worst case (at least 8 MiB encoded, 2 MiB raw): the sink ring holds
        // many messages in flight, and escaping can grow one to six times its size.
        const std::size_t per_msg = sp.format != log::output_format::raw
                                        ? log::encode_bound(cfg.max_msg)
                                        : std::size_t{cfg.max_msg} + 512;
        std::size_t size = std::max<std::size_t>(
            sp.format != log::output_format::raw ? 8u << 20 : 2u << 20, 16 * per_msg);
        const bool octet = sp.framing == config::framing_kind::octet;
        if ((sp.type == config::sink_type::file || sp.type == config::sink_type::tcp) &&
            sp.append_max != 0) {
            // Appended records live in the arena until written (a TCP sink's, until they leave
            // its replay window): it holds what buffer= lets the sink queue, the replay window
            // and a full ring and staging array of the largest appended records, so buffer=
            // (drop=newest|oldest) and not the arena bounds the queue, as it does for referenced
            // records. Why at least 4 MiB: 256 KiB writes with room to spare; why at most 1 GiB:
            // a larger buffer= is then bounded by the arena (sink_full).
            lane->append_max = sp.append_max;
            lane->append_octet = octet;
            // Encoded records: twice the message, what ndjson of a short message takes (a larger
            // one is still bounded, by the arena: sink_full). Octet framing appends raw records
            // only, each with its count.
            const std::size_t per_own =
                octet
                    ? std::size_t{sp.append_max} + pipeline::octet_prefix_bytes(sp.append_max)
                    : (sp.format != log::output_format::raw ? 2 : 1) * std::size_t{sp.append_max} +
                          1;
            const std::size_t in_flight =
                (std::size_t{cfg.sink_ring} + pipeline::stage_capacity + 2) * per_own;
            const std::size_t replay =
                sp.type == config::sink_type::tcp ? sp.replay_bytes + per_own : 0;
            size = std::max(size, std::clamp<std::size_t>(sp.buffer_bytes + replay + in_flight,
                                                          4u << 20, 1u << 30));
        }
        parts.arena_bytes.push_back(std::make_unique<char[]>(size));
        auto arena = std::make_unique<pipeline::gen_arena>();
        arena->base = parts.arena_bytes.back().get();
        arena->size = static_cast<uint32_t>(size);
        lane->arena = arena.get();
        wk.lanes.push_back(lane.get());
        parts.arenas.push_back(std::move(arena));
        parts.lanes.push_back(std::move(lane));
    }
}

util::result<void> runtime::impl::build_tcp(lcore_ctx& c, uint32_t w) {
    if (!tcp_on()) {
        return {};
    }
    pipeline::worker_ctx& wk = *c.worker;
    worker_parts& parts = c.parts;
    // The TX queue of this worker on each port with own addresses: its RX lcore's reply queue
    // when run to completion (worker w is RX lcore w), else one of its own.
    uint32_t txq = w;
    if (plan.fused) {
        txq = static_cast<uint32_t>(std::find(plan.rx.begin(), plan.rx.end(), c.lcore) -
                                    plan.rx.begin());
    }
    parts.tcp_tx = std::make_unique<pipeline::tcp_tx>();
    parts.tcp_tx->stats = &c.stats;
    parts.tcp_tx->queue_of_port.assign(tcp_txq0.size(), 0);
    for (std::size_t p = 0; p < tcp_txq0.size(); ++p) {
        parts.tcp_tx->queue_of_port[p] = static_cast<uint16_t>(tcp_txq0[p] + txq);
    }
    tcp::config tc;
    tc.max_conns = cfg.tcp_max_conns;
    tc.mss = tcp_mss;
    tc.tsc_hz = rte_get_tsc_hz();
    tc.tx_pool = pool;
    tc.tx_checksum_offload_ports = tcp_offload_ports;
    tc.listeners = &cfg.tcp_ports;
    // net_af_packet cuts frames longer than its ring frame: windows there never offer more than
    // one cut-length frame carries (2 VLAN tags, IPv6 and the longest TCP header aside), so a
    // local sender's TSO cannot build a segment that would arrive cut (docs/tcp.md).
    for (uint16_t p : ports) {
        if (p < 64 && p < port_rx_info.size() && port_rx_info[p].snap_len > 1000 &&
            p < tcp_txq0.size()) {
            tc.frame_cut_ports |= uint64_t{1} << p;
            const uint32_t w = port_rx_info[p].snap_len - (14 + 8 + 40 + 60);
            tc.frame_cut_window = tc.frame_cut_window == 0 ? w : std::min(tc.frame_cut_window, w);
        }
    }
    pipeline::tcp_stream_config sc;
    sc.max_conns = tc.max_conns;
    sc.span_buffers = std::min<uint32_t>(tc.max_conns, 256);
    sc.max_msg = cfg.max_msg;
    sc.drop_oversize = cfg.drop_oversize;
    sc.mss = tc.mss;
    sc.max_window = tc.max_window;
    parts.streams = std::make_unique<pipeline::tcp_streams>(wk, *tcp_listeners, sc);
    auto engine = tcp::engine::create(tc, parts.streams->consumer(), &pipeline::tcp_tx::send,
                                      parts.tcp_tx.get());
    if (!engine) {
        return util::failure(
            fmt::format("--listen tcp: cannot create the TCP engine of lcore {}: {}", c.lcore,
                        engine.error().text));
    }
    parts.tcp = std::move(engine).value();
    wk.tcp = parts.tcp.get();
    if (cfg.test_tcp_impair.drop != 0 || cfg.test_tcp_impair.hold != 0) {
        parts.tcp_impair = std::make_unique<tcp::impair>(cfg.test_tcp_impair);
        wk.tcp_impair = parts.tcp_impair.get();
    }
    wk.tcp_listeners = tcp_listeners.get();
    wk.tcp_partial_ports = &tcp_partial_ports;
    wk.tcp_verify_checksum = cfg.verify_checksums;
    return {};
}

void runtime::impl::build_rx() {
    const auto n_rx = static_cast<uint32_t>(plan.rx.size());
    for (uint32_t i = 0; i < n_rx; ++i) {
        lcore_ctx* c = ctx_of(plan.rx[i]);
        c->rx = std::make_unique<pipeline::rx_ctx>();
        pipeline::rx_ctx& rx = *c->rx;
        for (uint16_t p : ports) {
            const net::local_addrs* local =
                p < locals.size() && locals[p].any() ? &locals[p] : nullptr;
            // RX lcore i polls queues i, i + n, i + 2n, ... of the port (one, but for
            // net_af_packet, where every socket must be read: see setup_port()).
            for (uint16_t q = static_cast<uint16_t>(i); q < rx_queues_of[p];
                 q = static_cast<uint16_t>(q + n_rx)) {
                pipeline::rx_queue rq{p, q, local, static_cast<uint16_t>(rx.responders.size())};
                if (p < port_rx_info.size()) {
                    rq.accept_partial_checksum = port_rx_info[p].partial_checksums;
                    rq.snap_len = port_rx_info[p].snap_len;
                }
                rx.queues.push_back(rq);
            }
            pipeline::responder r;
            r.local = local;
            r.port = p;
            r.txq = static_cast<uint16_t>(i);
            r.rate = cfg.reply_rate;
            r.tsc_hz = rte_get_tsc_hz();
            rx.responders.push_back(r);
        }
        rx.ports = &cfg.ports;
        rx.opts = net::classify_options{cfg.verify_checksums, cfg.verify_checksums};
        rx.opts.tcp = tcp_on();
        rx.meta_off = meta_off;
        rx.burst = cfg.burst;
        rx.block_when_full = cfg.on_sink_full == config::full_policy::block;
        rx.block_sleep_us =
            pipeline::block_sleep_us(cfg.worker_ring, cfg.poll == pipeline::poll_mode::adaptive);
        rx.stats = &c->stats;
        if (cfg.reassembly) {
            pipeline::reassembly_limits lim;
            lim.timeout_tsc = cfg.frag_timeout_ms * (rte_get_tsc_hz() / 1000);
            rx.reasm = std::make_unique<pipeline::reassembler>(lim);
        }
        if (plan.fused) {
            rx.local_worker = c->worker.get();
        } else {
            rx.worker_rings = worker_rings;
        }
        rx.prepare();
    }
}

util::result<void> runtime::impl::build_sinks() {
    lcore_ctx* sc = ctx_of(plan.sink);
    if (port_sinks != 0) {
        indirect_pool =
            rte_pktmbuf_pool_create("logagg_indirect", indirect_pool_size * port_sinks, pool_cache,
                                    0, 0, static_cast<int>(rte_socket_id()));
        if (indirect_pool == nullptr) {
            return util::failure(
                fmt::format("cannot create the port sinks' pool of indirect mbufs: {}",
                            rte_strerror(rte_errno)));
        }
    }
    for (uint32_t si = 0; si < cfg.sinks.size(); ++si) {
        auto made = make_sink(si);
        if (!made) {
            return made.error();
        }
        std::unique_ptr<sink::sink> sk = std::move(made).value();
        if (auto r = sk->start(); !r) {
            return r.error();
        }
        sk->time_from(meta_off);
        // TCP windows come from the sink's free buffer= space (tcp_stream.cpp).
        for (uint32_t w = 0; w < plan.workers.size(); ++w) {
            pipeline::sink_lane& lane = *ctx_of(plan.workers[w])->parts.lanes[si];
            lane.sink_pinned = &sk->stats().bounded;
            lane.sink_buffer = cfg.sinks[si].buffer_bytes;
        }
        sc->sinks.push_back(sk.get());
        sinks.push_back(std::move(sk));
    }
    sink_lcores = 1;
    if (!neighbours.empty()) {
        for (auto& c : lcores) {
            if (c->rx) {
                c->rx->neighbours = &neighbours; // RX lcores learn the next hops' MACs
            }
        }
    }
    return {};
}

util::result<std::unique_ptr<sink::sink>> runtime::impl::make_sink(uint32_t si) {
    const config::sink_spec& sp = cfg.sinks[si];
    std::vector<pipeline::gen_arena*> arenas;
    for (uint32_t w = 0; w < plan.workers.size(); ++w) {
        arenas.push_back(ctx_of(plan.workers[w])->parts.arenas[si].get());
    }
    const bool block = cfg.on_sink_full == config::full_policy::block;
    std::unique_ptr<sink::sink> out;
    switch (sp.type) {
    case config::sink_type::file:
        out = std::make_unique<sink::file_sink>(sp, rings_of_sink[si], std::move(arenas), block,
                                                cfg.test_sink_delay_us, cfg.test_file_stall_at);
        return out;
    case config::sink_type::port: {
        auto tx = port_sink_tx(sp);
        if (!tx) {
            return tx.error();
        }
        out = std::make_unique<sink::port_sink>(sp, rings_of_sink[si], std::move(arenas), block,
                                                tx.value());
        return out;
    }
    case config::sink_type::tcp:
        out = std::make_unique<sink::tcp_sink>(sp, rings_of_sink[si], std::move(arenas), block,
                                               cfg.test_sink_delay_us);
        return out;
    case config::sink_type::kafka:
        out = std::make_unique<sink::kafka_sink>(sp, rings_of_sink[si], std::move(arenas), block);
        return out;
    default:
        return util::failure(
            fmt::format("--sink {}: the {} sink is not built yet", sp.name,
                        config::sink_type_names[static_cast<std::size_t>(sp.type)]));
    }
}

util::result<sink::port_tx> runtime::impl::port_sink_tx(const config::sink_spec& sp) {
    sink::port_tx tx;
    const port_tx_state& pt = port_tx_info[sp.port_id];
    tx.port = sp.port_id;
    tx.queue = pt.queue;
    rte_ether_addr mac{};
    if (rte_eth_macaddr_get(sp.port_id, &mac) != 0) {
        return util::failure(
            fmt::format("--sink {}: cannot read port {}'s MAC address", sp.name, sp.port_id));
    }
    std::memcpy(tx.src_mac, mac.addr_bytes, 6);
    tx.pool = pool;
    tx.indirect = indirect_pool;
    tx.multi_seg = pt.multi_seg;
    tx.ipv4_cksum_offload = pt.ipv4_cksum;
    tx.udp_cksum_offload = pt.udp_cksum;
    tx.max_segs = pt.max_segs;
    const net::local_addrs* l = sp.port_id < locals.size() ? &locals[sp.port_id] : nullptr;
    if (sp.has_src) {
        std::memcpy(tx.src_addr, sp.src_addr, 16);
    } else if (l != nullptr && sp.family == AF_INET && l->n_v4 != 0) {
        std::memcpy(tx.src_addr, l->v4[0].data(), 4);
    } else if (l != nullptr && sp.family == AF_INET6 && l->n_v6 != 0) {
        std::memcpy(tx.src_addr, l->v6[0].data(), 16);
    } else {
        // The option parser checked this; kept as the guard of the copies above.
        return util::usage_failure(
            fmt::format("--sink {}: needs src=IP (or an --ip {} address of the same family on "
                        "port {})",
                        sp.name, sp.family == AF_INET ? "IPv4" : "IPv6", sp.port_id));
    }
    if (sp.has_dmac) {
        return tx;
    }
    // The next hop: gw=, else dst itself, which must then be on one of the port's --ip subnets
    // (on-link); its MAC is learned by ARP / NDP.
    const uint8_t* hop = sp.has_gw ? sp.gw_addr : sp.dst_addr;
    if (l == nullptr || !l->any()) {
        return util::usage_failure(fmt::format("--sink {}: give dmac=MAC, or an --ip on port {} so "
                                               "the next hop can be resolved by ARP/NDP",
                                               sp.name, sp.port_id));
    }
    if (!on_link(*l, sp.family, hop)) {
        return util::usage_failure(fmt::format("--sink {}: {} is not on a subnet of port {}'s --ip "
                                               "addresses: give gw=ROUTER or dmac=MAC",
                                               sp.name, sp.has_gw ? "gw" : "dst", sp.port_id));
    }
    tx.next_hop = neighbours.add(sp.port_id, sp.family, hop);
    if (tx.next_hop == nullptr) {
        return util::failure(fmt::format("--sink {}: too many next hops", sp.name));
    }
    return tx;
}

util::result<void> runtime::impl::set_up_polling() {
    ns_per_tsc = 1e9 / static_cast<double>(rte_get_tsc_hz());
    if (cfg.pmd_power != config::pmd_power::off) { // --poll busy (options.cpp checks)
        for (auto& c : lcores) {
            if (!c->rx) {
                continue;
            }
            for (const pipeline::rx_queue& q : c->rx->queues) {
                if (auto r = pmd_power_enable(c->lcore, q.port, q.queue, cfg.pmd_power); !r) {
                    power_off_queues();
                    return r.error();
                }
                power_managed.push_back({c->lcore, q.port, q.queue});
                util::report("  lcore {}: port {} queue {}: PMD power management {}", c->lcore,
                             q.port, q.queue, name(cfg.pmd_power));
            }
        }
    }
    if (cfg.poll != pipeline::poll_mode::adaptive) {
        return {};
    }
    // Who wakes whom: RX lcores their workers' lcores, workers the sink lcore. An lcore that
    // polls a NIC queue sleeps bounded times (nothing wakes it when frames arrive).
    for (auto& c : lcores) {
        if (!c->wake.ok()) {
            return util::failure(
                fmt::format("lcore {}: cannot create an eventfd: {}", c->lcore, err_str(errno)));
        }
        c->idle = pipeline::backoff(
            c->rx ? rx_backoff(rte_get_tsc_hz()) : consumer_backoff(rte_get_tsc_hz()), rte_rdtsc());
        if (c->rx && !plan.fused) {
            for (unsigned w : plan.workers) {
                c->rx->worker_wakers.push_back(&ctx_of(w)->wake);
            }
        }
        if (c->worker) {
            for (pipeline::sink_lane* l : c->worker->lanes) {
                l->wake = &ctx_of(plan.sink)->wake;
            }
        }
    }
    return {};
}

util::result<void> runtime::impl::start_ports() {
    for (auto& c : lcores) {
        c->roles = plan.roles_of(c->lcore);
    }
    for (uint16_t p : ports) {
        int rc = rte_eth_dev_start(p);
        if (rc != 0 && p < queue_setups.size() && queue_setups[p].conf.intr_conf.rxq != 0) {
            queue_setup& q = queue_setups[p];
            util::report("  port {} ({}): does not start with RX queue interrupts ({}); "
                         "configured again without them",
                         p, q.name, err_str(rc));
            q.conf.intr_conf.rxq = 0;
            if (auto r = setup_queues(p, q.info, q.name.c_str(), q.n_rxq, q.n_txq, q.conf); !r) {
                return r.error();
            }
            rc = rte_eth_dev_start(p);
        }
        if (rc != 0) {
            return util::failure(fmt::format("port {}: start failed: {}", p, err_str(rc)));
        }
        ports_started.push_back(p);
        const int pr = cfg.promisc ? rte_eth_promiscuous_enable(p) : rte_eth_promiscuous_disable(p);
        if (pr != 0 && pr != -ENOTSUP) {
            util::report("  port {}: cannot turn promiscuous mode {}: {}", p,
                         cfg.promisc ? "on" : "off", err_str(pr));
        }
    }
    return {};
}

void runtime::impl::set_up_rx_interrupts() {
    if (cfg.poll != pipeline::poll_mode::adaptive) {
        return;
    }
    for (auto& c : lcores) {
        if (!c->rx || c->rx->queues.empty()) {
            continue;
        }
        util::unique_fd ep(epoll_create1(EPOLL_CLOEXEC));
        bool all = ep.get() >= 0;
        for (const pipeline::rx_queue& q : c->rx->queues) {
            const bool asked =
                q.port < queue_setups.size() && queue_setups[q.port].conf.intr_conf.rxq != 0;
            // -ENOTSUP (or -EPERM) from drivers without RX interrupts: the lcore sleeps bounded
            // times instead, as before.
            all = all && asked &&
                  rte_eth_dev_rx_intr_ctl_q(q.port, q.queue, ep.get(), RTE_INTR_EVENT_ADD,
                                            nullptr) == 0;
        }
        if (!all) {
            // The queues added so far are removed with the port at close.
            (void)set_up_rx_sockets(*c);
            continue;
        }
        c->rx_intr_epfd = std::move(ep);
        c->wake.also_wake_on(c->rx_intr_epfd.get());
        c->idle = pipeline::backoff(rx_intr_backoff(rte_get_tsc_hz()), rte_rdtsc());
        util::report("  lcore {}: RX by interrupt: sleeps until a frame arrives on its {} queue(s)",
                     c->lcore, c->rx->queues.size());
    }
}

bool runtime::impl::set_up_rx_sockets(lcore_ctx& c) {
    // Every queue of every port the lcore reads must be a net_af_packet socket it alone reads:
    // sockets are told apart by interface only, so an lcore sharing a port's queue pairs with
    // another would wake for the other's frames and sleep through its own.
    std::vector<uint16_t> lcore_ports;
    for (const pipeline::rx_queue& q : c.rx->queues) {
        if (q.port >= port_rx_info.size() || !port_rx_info[q.port].af_packet) {
            return false;
        }
        if (std::find(lcore_ports.begin(), lcore_ports.end(), q.port) == lcore_ports.end()) {
            lcore_ports.push_back(q.port);
        }
    }
    util::unique_fd ep(epoll_create1(EPOLL_CLOEXEC));
    if (!ep.valid()) {
        return false;
    }
    for (uint16_t p : lcore_ports) {
        const auto mine = static_cast<std::size_t>(
            std::count_if(c.rx->queues.begin(), c.rx->queues.end(),
                          [&](const pipeline::rx_queue& q) { return q.port == p; }));
        const std::vector<int> socks = af_packet_sockets(port_rx_info[p].ifindex);
        if (mine != rx_queues_of[p] || socks.size() != mine) {
            c.rx_wake_note = fmt::format(
                "RX sleeps bounded times: port {} has {} queue pair(s), {} read here, {} "
                "socket(s) of its interface found",
                p, rx_queues_of[p], mine, socks.size());
            return false;
        }
        for (int fd : socks) {
            epoll_event ev{};
            ev.events = EPOLLIN; // level: readable while the ring holds a frame for us
            ev.data.fd = fd;
            if (epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
                return false;
            }
        }
    }
    const uint64_t hz = rte_get_tsc_hz();
    c.rx_sock_epfd = std::move(ep);
    c.sock_wake = pipeline::socket_wake(rx_listen_close_us * (hz / 1'000'000));
    c.idle_listen = pipeline::backoff(rx_intr_backoff(hz), rte_rdtsc());
    c.rx_wake_note = fmt::format("RX woken by its net_af_packet sockets: sleeps until a frame "
                                 "arrives while frames come over {} us apart, bounded sleeps "
                                 "when closer",
                                 rx_listen_close_us);
    return true;
}

void runtime::impl::wait_for_links() {
    const uint16_t max_port =
        ports.empty() ? 0
                      : static_cast<uint16_t>(*std::max_element(ports.begin(), ports.end()) + 1);
    link_state.assign(max_port, -1);
    link_flaps.assign(max_port, 0);
    const uint64_t deadline =
        rte_get_timer_cycles() + uint64_t{cfg.link_timeout_s} * rte_get_timer_hz();
    for (uint16_t p : ports) {
        rte_eth_link link{};
        for (;;) {
            (void)rte_eth_link_get_nowait(p, &link);
            if (link.link_status != 0 || rte_get_timer_cycles() >= deadline) {
                break;
            }
            rte_delay_us_sleep(100'000);
        }
        const std::string text = link_text(link);
        link_state[p] = link.link_status != 0 ? 1 : 0;
        if (link.link_status != 0) {
            util::report("  port {}: {}", p, text);
        } else {
            util::report(
                "  port {}: warning: {} after {} s (--link-timeout); frames arrive once it "
                "comes up",
                p, text, cfg.link_timeout_s);
        }
    }
}

void runtime::impl::watch_links() {
    for (uint16_t p : ports) {
        rte_eth_link link{};
        if (p >= link_state.size() || rte_eth_link_get_nowait(p, &link) != 0) {
            continue;
        }
        const int now = link.link_status != 0 ? 1 : 0;
        if (link_state[p] != -1 && now != link_state[p]) {
            ++link_flaps[p];
            util::notice("port {}: {} (flap {})", p, link_text(link), link_flaps[p]);
        }
        link_state[p] = now;
    }
}

void runtime::impl::announce() {
    // RFC 5227 announcements for our IPv4 addresses, before the lcores start (so TX queue 0 is
    // not in use by anyone yet). Print the addresses we answer for.
    for (uint16_t p : ports) {
        if (p >= locals.size() || !locals[p].any()) {
            continue;
        }
        const net::local_addrs& l = locals[p];
        rte_eth_link link{};
        (void)rte_eth_link_get_nowait(p, &link);
        char addr[INET6_ADDRSTRLEN];
        for (unsigned i = 0; i < l.n_v4; ++i) {
            inet_ntop(AF_INET, l.v4[i].data(), addr, sizeof addr);
            rte_mbuf* g = net::arp_request(pool, l.mac, l.v4[i].data(), l.v4[i].data());
            const bool sent = g != nullptr && rte_eth_tx_burst(p, 0, &g, 1) == 1;
            if (g != nullptr && !sent) {
                rte_pktmbuf_free(g);
            }
            util::report("  port {}: own {}/{} ({}gratuitous ARP sent)", p, addr, l.v4_prefix[i],
                         sent ? "" : "no ");
        }
        for (unsigned i = 0; i < l.n_v6; ++i) {
            inet_ntop(AF_INET6, l.v6[i].data(), addr, sizeof addr);
            util::report("  port {}: own {}/{}", p, addr, l.v6_prefix[i]);
        }
        util::report("  port {}: MAC {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}, link {}", p,
                     l.mac[0], l.mac[1], l.mac[2], l.mac[3], l.mac[4], l.mac[5],
                     link.link_status != 0 ? "up" : "down");
    }
}

pipeline::pass_load runtime::impl::step(lcore_ctx& c) noexcept {
    using pipeline::pass_load;
    const auto n_rx = static_cast<unsigned>(plan.rx.size());
    const auto n_w = static_cast<unsigned>(plan.workers.size());
    pass_load load = pass_load::none;
    c.rx_load = pass_load::none;
    if (c.rx && !c.rx_finished) {
        if (stop_rx.load(std::memory_order_acquire)) {
            // Everything polled so far was dispatched; in run-to-completion mode also framed and
            // flushed to the sink ring, so the worker role ends here too.
            pipeline::rx_drain(*c.rx); // incomplete datagrams in reassembly are dropped, counted
            c.rx_finished = true;
            if (plan.fused) {
                if (c.worker->tcp != nullptr) {
                    c.worker->tcp->abort_all(rte_rdtsc()); // RST: the close deadline passed
                }
                pipeline::worker_drain(*c.worker);
                c.worker_finished = true;
                workers_done.fetch_add(1, std::memory_order_release);
            }
            rx_done.fetch_add(1, std::memory_order_release);
            wake_all(); // workers wait for every RX lcore to finish
            load = pass_load::full;
        } else if (const uint32_t got = pipeline::rx_poll(*c.rx); got != 0) {
            // A full burst means more is likely waiting: poll on. Less keeps the sleeps' pace.
            load = got >= c.rx->burst      ? pass_load::full
                   : got >= rx_many_frames ? pass_load::many
                                           : pass_load::some;
            c.rx_load = load;
        } else if (plan.fused) {
            pipeline::worker_housekeeping(*c.worker); // GELF timeouts while nothing arrives
        }
    }
    if (c.worker && !plan.fused && !c.worker_finished) {
        const unsigned n =
            rte_ring_dequeue_burst(c.worker_in, reinterpret_cast<void**>(c.worker_buf.data()),
                                   static_cast<unsigned>(c.worker_buf.size()), nullptr);
        if (n != 0) {
            pipeline::worker_frame_burst(*c.worker,
                                         std::span<rte_mbuf* const>(c.worker_buf.data(), n));
            load = pass_load::full;
        } else if (rx_done.load(std::memory_order_acquire) == n_rx &&
                   rte_ring_count(c.worker_in) == 0) {
            if (c.worker->tcp != nullptr) {
                const uint64_t now = rte_rdtsc();
                pipeline::worker_tcp_impair_poll(*c.worker, now, true); // nothing stays held
                c.worker->tcp->abort_all(now); // RST: the close deadline passed
            }
            pipeline::worker_drain(*c.worker);
            c.worker_finished = true; // no producer left and nothing queued
            workers_done.fetch_add(1, std::memory_order_release);
            wake_all(); // the sink waits for every worker to finish
            load = pass_load::full;
        } else {
            pipeline::worker_housekeeping(*c.worker); // GELF timeouts while nothing arrives
        }
    }
    if (c.worker && c.worker->tcp != nullptr && !c.worker_finished) {
        tcp_step(c, rte_rdtsc());
    }
    if (!c.sinks.empty() && !c.sink_finished && sink_step(c, n_w)) {
        load = pass_load::full;
    }
    return load;
}

bool runtime::impl::sink_step(lcore_ctx& c, unsigned n_w) noexcept {
    const uint64_t now = rte_rdtsc();
    const uint64_t deadline = drain_deadline_tsc.load(std::memory_order_acquire);
    if (deadline != UINT64_MAX && !c.sinks_draining) {
        for (sink::sink* s : c.sinks) {
            s->begin_drain(); // stopping: every waiting record is due now
        }
        c.sinks_draining = true;
    }
    uint32_t n = 0;
    for (sink::sink* s : c.sinks) {
        n += s->poll(now);
        s->publish_gauges();
    }
    const bool workers_finished = workers_done.load(std::memory_order_acquire) == n_w;
    if (now >= deadline) {
        // Out of time: what the sinks still hold is dropped, counted (shutdown). Until the
        // workers are done this also unblocks any waiting for ring room.
        for (sink::sink* s : c.sinks) {
            if (!s->idle()) {
                s->abandon();
            }
        }
    }
    if (n == 0 && workers_finished &&
        std::all_of(c.sinks.begin(), c.sinks.end(),
                    [](const sink::sink* s) { return s->idle(); })) {
        for (sink::sink* s : c.sinks) {
            const int err = s->finish();
            s->publish_gauges();
            if (err != 0) {
                util::log_error("sink {}: final sync failed: {}", s->spec().name, err_str(err));
            }
        }
        c.sink_finished = true;
        sink_lcores_done.fetch_add(1, std::memory_order_release);
    }
    if (n != 0 || c.sink_finished) {
        c.sink_moved_tsc = now;
        return true;
    }
    return false;
}

void runtime::impl::tcp_step(lcore_ctx& c, uint64_t now) noexcept {
    tcp::engine& e = *c.worker->tcp;
    pipeline::worker_tcp_impair_poll(*c.worker, now); // testing only: held segments, late
    if (!c.tcp_closing && tcp_closing.load(std::memory_order_acquire)) {
        e.close_all(now); // our FIN on every connection; what the peers still send is taken
        c.tcp_closing = true;
    }
    e.poll(now);
    pipeline::worker_flush(*c.worker);
    // Closed when every stream ended and every FIN of ours was acknowledged: a connection in
    // LAST-ACK (the peer closed first) whose final ACK was lost gets our FIN again, not a RST.
    if (c.tcp_closing && !c.tcp_closed && c.parts.streams->open() == 0 && !e.fin_pending()) {
        c.tcp_closed = true;
        tcp_workers_closed.fetch_add(1, std::memory_order_release);
    }
}

void runtime::impl::wake_all() noexcept {
    if (cfg.poll != pipeline::poll_mode::adaptive) {
        return;
    }
    for (auto& c : lcores) {
        c->wake.kick();
    }
}

void runtime::impl::rest(lcore_ctx& c, pipeline::pass_load load, uint64_t now,
                         uint64_t timer) noexcept {
    if (!shared_cpus.empty()) {
        follow_load(c, now);
    }
    // Timers that fire without new input: the sinks' (batch age, retries, periodic checks) and
    // the drain deadline. Sinks holding records due soon nap through producers' notifications
    // (they come back for those records anyway); an lcore that also frames does not.
    bool nap = !c.sinks.empty() && !c.sink_finished && !c.rx && c.worker_in == nullptr;
    bool holding = false;
    if (!c.sinks.empty() && !c.sink_finished) {
        timer = std::min(timer, drain_deadline_tsc.load(std::memory_order_acquire));
        for (const sink::sink* s : c.sinks) {
            const uint64_t due = s->next_due_tsc(now);
            timer = std::min(timer, due);
            holding = holding || due != UINT64_MAX;
        }
    }
    const auto us = [&](uint64_t v) {
        return static_cast<uint64_t>(static_cast<double>(v) * 1000.0 / ns_per_tsc);
    };
    const uint64_t nap_max = us(sink_nap_max_us);
    if (c.worker && c.worker->tcp != nullptr && !c.worker_finished) {
        // The engine's timers (delayed ACKs within 500 us) and, while a window is closed, its
        // look for room to reopen it (tcp_window_poll_us); at shutdown, the close's progress.
        const tcp::engine& e = *c.worker->tcp;
        timer = std::min(timer, e.next_due());
        if (e.watching() || (c.tcp_closing && !c.tcp_closed)) {
            timer = std::min(timer, now + us(tcp_window_poll_us));
        }
        if (c.worker->tcp_impair != nullptr && c.worker->tcp_impair->holding() != 0) {
            timer = now; // testing only: the next pass hands the held segments over
        }
    }
    if (nap && holding && timer != UINT64_MAX && timer - std::min(timer, now) <= nap_max) {
        // Records due soon: come back for them then (producers' notifications change nothing).
    } else if (nap && now - c.sink_moved_tsc < us(sink_cadence_window_us) &&
               std::any_of(c.sinks.begin(), c.sinks.end(),
                           [](const sink::sink* s) { return s->flowing(); })) {
        // Records flow (several per look): look every batch age instead of being woken by each
        // enqueue. A record that arrives during such a nap is taken before it is a batch age
        // old and written then (the nap was the quiet spell its batch follows): its latency
        // stays the batch age. A trickle is not napped through (docs/architecture.md).
        uint64_t age = UINT64_MAX;
        for (const sink::sink* s : c.sinks) {
            age = std::min(age, s->batch_age_tsc());
        }
        // batch-ms=0: woken by each enqueue, for the lowest latency (and no timer at now, which
        // would make the lcore spin while records flow).
        nap = age != 0;
        if (nap) {
            timer = std::min(timer, now + std::min(age, nap_max));
        }
    } else {
        nap = false;
    }
    wait(c, load, now, timer, nap);
}

void runtime::impl::wait(lcore_ctx& c, pipeline::pass_load load, uint64_t now, uint64_t timer,
                         bool nap) noexcept {
    // An RX lcore woken by its queues' interrupts arms them once the sleep is announced, and
    // looks at the queues after that (a frame that came before arming raises nothing on NICs
    // whose interrupts are edges; queues without a count rely on a level or the epoll set's
    // edge, which a frame arriving since the last poll has queued already).
    const bool by_intr = c.rx_intr_epfd.get() >= 0 && !c.rx_finished;
    // An RX lcore on net_af_packet sockets listens to them (sleeping with the interrupt lcores'
    // bound) or sleeps bounded times, as sock_wake decides; both back-offs see every pass.
    const bool by_sock = c.rx_sock_epfd.valid() && !c.rx_finished;
    const bool listen = by_sock && c.sock_wake.after_pass(c.rx_load, now);
    if (c.rx_sock_epfd.valid()) {
        c.wake.also_wake_on(listen ? c.rx_sock_epfd.get() : -1);
        if (by_sock) {
            (void)(listen ? c.idle : c.idle_listen).after_pass(load, now, timer);
        }
    }
    bool armed = false;
    const bool slept = idle_wait(
        listen ? c.idle_listen : c.idle, c.wake, c.stats, load, now, timer, nap, ns_per_tsc, [&] {
            if (by_intr) {
                armed = true;
                for (const pipeline::rx_queue& q : c.rx->queues) {
                    (void)rte_eth_dev_rx_intr_enable(q.port, q.queue);
                }
                for (const pipeline::rx_queue& q : c.rx->queues) {
                    if (rte_eth_rx_queue_count(q.port, q.queue) > 0) {
                        return true;
                    }
                }
            }
            if (c.worker_in != nullptr && !c.worker_finished && rte_ring_count(c.worker_in) != 0) {
                return true;
            }
            if (!c.sink_finished) {
                for (const sink::sink* s : c.sinks) {
                    if (s->has_input()) {
                        return true;
                    }
                }
            }
            return stop_rx.load(std::memory_order_acquire) && c.rx && !c.rx_finished;
        });
    if (armed) {
        for (const pipeline::rx_queue& q : c.rx->queues) {
            (void)rte_eth_dev_rx_intr_disable(q.port, q.queue);
        }
    }
    if (by_intr && c.wake.other_ready()) {
        // Consume the events (the driver's handler clears what needs clearing), then poll.
        std::array<rte_epoll_event, 16> ev{};
        (void)rte_epoll_wait(c.rx_intr_epfd.get(), ev.data(), static_cast<int>(ev.size()), 0);
        c.stats.rx_interrupts.add();
    }
    if (by_sock && slept) {
        // A frame in a ring ended it: nothing to consume (the PMD's next poll empties the ring,
        // and the socket is readable only until then).
        c.sock_wake.slept(listen, c.wake.other_ready());
        if (listen && c.wake.other_ready()) {
            c.stats.rx_interrupts.add();
        } else if (!listen) {
            c.stats.rx_bounded_sleeps.add();
        }
    }
}

bool runtime::impl::all_finished() const noexcept {
    return sink_lcores_done.load(std::memory_order_acquire) == sink_lcores &&
           rx_done.load(std::memory_order_acquire) == plan.rx.size() &&
           workers_done.load(std::memory_order_acquire) == plan.workers.size();
}

namespace {

/// Counters of every port, from the PMDs.
std::vector<port_snapshot> port_stats(const runtime::impl& rt) {
    std::vector<port_snapshot> out;
    for (uint16_t p : rt.ports) {
        port_snapshot ps;
        ps.port_id = p;
        rte_eth_dev_info info{};
        if (rte_eth_dev_info_get(p, &info) == 0 && info.device != nullptr) {
            ps.name = rte_dev_name(info.device);
        }
        ps.rx_queues = p < rt.rx_queues_of.size() ? rt.rx_queues_of[p] : 0;
        rte_eth_stats st{};
        if (rte_eth_stats_get(p, &st) == 0) {
            ps.ipackets = st.ipackets;
            ps.ibytes = st.ibytes;
            ps.imissed = st.imissed;
            ps.ierrors = st.ierrors;
            ps.rx_nombuf = st.rx_nombuf;
            ps.opackets = st.opackets;
            ps.obytes = st.obytes;
            ps.oerrors = st.oerrors;
        }
        rte_eth_link link{};
        if (rte_eth_link_get_nowait(p, &link) == 0) {
            ps.link_up = link.link_status != 0;
            ps.link_speed_mbps = link.link_speed == RTE_ETH_SPEED_NUM_UNKNOWN ? 0 : link.link_speed;
        }
        ps.link_flaps = p < rt.link_flaps.size() ? rt.link_flaps[p] : 0;
        out.push_back(std::move(ps));
    }
    return out;
}

} // namespace

runtime::runtime(std::unique_ptr<impl> p) : p_(std::move(p)) {}
runtime::~runtime() = default;

util::result<std::unique_ptr<runtime>> runtime::create(const config::settings& cfg,
                                                       const config::role_plan& plan) {
    auto p = std::make_unique<impl>();
    p->cfg = cfg;
    p->plan = plan;
    if (auto r = p->setup(); !r) {
        return r.error();
    }
    return std::unique_ptr<runtime>(new runtime(std::move(p)));
}

int runtime::run() {
    impl& rt = *p_;
    std::vector<std::pair<impl*, lcore_ctx*>> args;
    lcore_ctx* main_ctx = rt.launch_lcores(args);
    rt.control_loop(main_ctx, *this);
    return rt.shut_down();
}

lcore_ctx* runtime::impl::launch_lcores(std::vector<std::pair<impl*, lcore_ctx*>>& args) {
    args.reserve(lcores.size()); // no reallocation: each lcore holds a pointer into it
    lcore_ctx* main_ctx = nullptr;
    for (auto& c : lcores) {
        if (!c->rx_wake_note.empty()) {
            util::report("  lcore {}: {}", c->lcore, c->rx_wake_note);
        }
        util::report("  lcore {}: {}", c->lcore, c->roles.empty() ? "idle" : c->roles);
    }
    choose_affinity();
    {
        const std::lock_guard<std::mutex> lock(snapshot_mu);
        start_tsc = rte_rdtsc();
    }
    ran.store(true);
    for (auto& c : lcores) {
        if (c->lcore == plan.main) {
            main_ctx = c.get();
            continue;
        }
        args.emplace_back(this, c.get());
        const int rc = rte_eal_remote_launch(lcore_entry, &args.back(), c->lcore);
        if (rc != 0) {
            util::log_error("cannot launch lcore {}: {}", c->lcore, err_str(rc));
            stop_rx.store(true, std::memory_order_release);
        }
    }
    return main_ctx;
}

void runtime::impl::choose_affinity() {
    const config::lcore_affinity a = cfg.affinity.value_or(cfg.poll == pipeline::poll_mode::adaptive
                                                               ? config::lcore_affinity::shared
                                                               : config::lcore_affinity::pinned);
    if (a != config::lcore_affinity::shared || rte_lcore_count() < 2) {
        return;
    }
    shared_cpus.assign(RTE_MAX_LCORE, rte_cpuset_t{});
    own_cpus.assign(RTE_MAX_LCORE, rte_cpuset_t{});
    unsigned l = 0;
    RTE_LCORE_FOREACH(l) {
        own_cpus[l] = rte_lcore_cpuset(l);
        const unsigned socket = rte_lcore_to_socket_id(l);
        rte_cpuset_t& set = shared_cpus[l];
        CPU_ZERO(&set);
        unsigned o = 0;
        RTE_LCORE_FOREACH(o) {
            if (rte_lcore_to_socket_id(o) == socket) {
                rte_cpuset_t c = rte_lcore_cpuset(o);
                CPU_OR(&set, &set, &c);
            }
        }
    }
    std::string cpus;
    const rte_cpuset_t& first = shared_cpus[rte_get_main_lcore()];
    for (unsigned cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
        if (CPU_ISSET(cpu, &first)) {
            cpus += fmt::format("{}{}", cpus.empty() ? "" : ",", cpu);
        }
    }
    util::report("  lcores share CPUs {} while quiet (--lcore-affinity shared: a sleeping lcore "
                 "is woken where the scheduler finds room; an lcore busy over {}% of {} ms runs "
                 "on its own CPU until it is busy under {}%)",
                 cpus, affinity_pin_percent, affinity_window_us / 1000, affinity_share_percent);
}

void runtime::impl::follow_load(lcore_ctx& c, uint64_t now) noexcept {
    const uint64_t window = affinity_window_us * (rte_get_tsc_hz() / 1'000'000);
    if (now - c.affinity_window_tsc < window) {
        return;
    }
    const uint64_t busy = c.stats.busy_tsc.get();
    const uint64_t pct = (busy - c.affinity_window_busy) * 100 / (now - c.affinity_window_tsc);
    c.affinity_window_tsc = now;
    c.affinity_window_busy = busy;
    const bool own = c.affinity_own ? pct >= affinity_share_percent : pct > affinity_pin_percent;
    if (own != c.affinity_own && c.lcore < own_cpus.size()) {
        c.affinity_own = own;
        rte_cpuset_t set = own ? own_cpus[c.lcore] : shared_cpus[c.lcore];
        (void)rte_thread_set_affinity(&set);
        c.stats.affinity_changes.add();
    }
}

void runtime::impl::apply_affinity() const noexcept {
    const unsigned self = rte_lcore_id();
    if (self < shared_cpus.size()) {
        rte_cpuset_t set = shared_cpus[self];
        (void)rte_thread_set_affinity(&set);
    }
}

bool runtime::impl::stop_requested(uint64_t now, idle_watch& idle) {
    if (g_signal_stop.load(std::memory_order_relaxed)) {
        util::notice("signal received: stopping RX, draining workers and sinks (up to {} "
                     "ms)",
                     cfg.drain_timeout_ms);
        return true;
    }
    if (idle.after == 0) {
        return false;
    }
    uint64_t activity = 0;
    for (auto& c : lcores) {
        activity += c->stats.rx_packets.get();
    }
    for (const auto& sk : sinks) {
        activity += sk->stats().delivered.get();
    }
    if (activity != idle.last_activity) {
        idle.last_activity = activity;
        idle.last_activity_tsc = now;
        return false;
    }
    if (now - idle.last_activity_tsc < idle.after) {
        return false;
    }
    util::notice("idle for {} ms: stopping RX, draining workers and sinks (up to {} ms)",
                 cfg.exit_on_idle_ms, cfg.drain_timeout_ms);
    return true;
}

void runtime::impl::control_loop(lcore_ctx* main_ctx, const runtime& self) {
    const uint64_t hz = rte_get_tsc_hz();
    const uint64_t control_us =
        cfg.poll == pipeline::poll_mode::adaptive ? control_period_adaptive_us : control_period_us;
    const uint64_t control_every = hz * control_us / 1'000'000;
    const uint64_t stats_every =
        static_cast<uint64_t>(cfg.stats_interval_s * static_cast<double>(hz));
    idle_watch idle{cfg.exit_on_idle_ms * (hz / 1000), 0, start_tsc};
    uint64_t next_control = start_tsc;
    uint64_t next_stats = start_tsc + stats_every;
    uint64_t next_link_check = start_tsc + hz;
    snapshot prev = self.take_snapshot();
    uint64_t prev_tsc = start_tsc;
    const bool main_busy =
        main_ctx != nullptr && !main_ctx->roles.empty() && main_ctx->roles != "main";
    const bool adaptive = cfg.poll == pipeline::poll_mode::adaptive;
    if (adaptive) {
        precise_sleeps();
    }
    apply_affinity();
    uint64_t pass_start = rte_rdtsc();
    while (!all_finished()) {
        if (main_busy && !main_ctx->finished()) {
            const pipeline::pass_load load = step(*main_ctx);
            const uint64_t t = rte_rdtsc();
            if (load != pipeline::pass_load::none) {
                main_ctx->stats.busy_tsc.add(t - pass_start);
            }
            if (adaptive) {
                rest(*main_ctx, load, t, next_control); // control duties are a timer too
                pass_start = rte_rdtsc();
            } else {
                pass_start = t;
            }
        } else {
            rte_delay_us_sleep(control_us);
        }
        const uint64_t now = rte_rdtsc();
        if (now < next_control) {
            continue;
        }
        next_control = now + control_every;
        if (!stop_rx.load(std::memory_order_relaxed) &&
            !tcp_closing.load(std::memory_order_relaxed) && stop_requested(now, idle)) {
            drain_deadline_tsc.store(now + cfg.drain_timeout_ms * (hz / 1000),
                                     std::memory_order_release);
            if (tcp_on()) {
                // TCP first, while RX still runs: FIN on every connection, then RX stops once
                // every peer closed or half the drain time passed (the rest is reset).
                tcp_close_deadline_tsc = now + cfg.drain_timeout_ms / 2 * (hz / 1000);
                tcp_closing.store(true, std::memory_order_release);
            } else {
                stop_rx.store(true, std::memory_order_release);
            }
            wake_all();
        }
        if (tcp_closing.load(std::memory_order_relaxed) &&
            !stop_rx.load(std::memory_order_relaxed) &&
            (tcp_workers_closed.load(std::memory_order_acquire) == plan.workers.size() ||
             now >= tcp_close_deadline_tsc)) {
            stop_rx.store(true, std::memory_order_release);
            wake_all();
        }
        if (now >= next_link_check) {
            next_link_check = now + hz; // links are checked once a second
            const std::lock_guard<std::mutex> lock(snapshot_mu);
            watch_links();
        }
        if (stats_every != 0 && now >= next_stats) {
            next_stats = now + stats_every;
            snapshot cur = self.take_snapshot();
            util::report("{}",
                         stats_line(cur, prev,
                                    static_cast<double>(now - prev_tsc) / static_cast<double>(hz)));
            prev = std::move(cur);
            prev_tsc = now;
        }
    }
}

int runtime::impl::shut_down() {
    rte_eal_mp_wait_lcore();
    const std::lock_guard<std::mutex> lock(snapshot_mu);
    stop_tsc = rte_rdtsc();
    // Final port counters, then stop and close: closing releases the queues, which hands back
    // every mbuf a PMD holds (RX rings; net_pcap's infinite_rx keeps the whole capture in mbufs).
    // Whatever is still out of the pool after that is a leak.
    final_ports = port_stats(*this);
    for (uint16_t p : ports_started) {
        rte_eth_dev_stop(p);
    }
    ports_started.clear();
    power_off_queues();
    for (uint16_t p : ports) {
        rte_eth_dev_close(p);
    }
    ports.clear();
    mbufs_in_use_at_exit =
        static_cast<int64_t>(rte_mempool_in_use_count(pool)) +
        (indirect_pool != nullptr ? static_cast<int64_t>(rte_mempool_in_use_count(indirect_pool))
                                  : 0);
    if (mbufs_in_use_at_exit != 0) {
        util::log_error("internal error: {} mbufs not returned to the pool", mbufs_in_use_at_exit);
        return 1;
    }
    return 0;
}

snapshot runtime::take_snapshot() const {
    const impl& rt = *p_;
    const std::lock_guard<std::mutex> lock(rt.snapshot_mu);
    snapshot s;
    const uint64_t end = rt.stop_tsc != 0 ? rt.stop_tsc : rte_rdtsc();
    s.uptime_s = rt.start_tsc == 0 ? 0.0
                                   : static_cast<double>(end - rt.start_tsc) /
                                         static_cast<double>(rte_get_tsc_hz());
    s.ports = rt.final_ports.empty() ? port_stats(rt) : rt.final_ports;
    if (rt.listeners != nullptr) {
        for (std::size_t i = 0; i < rt.cfg.listen.size(); ++i) {
            listener_snapshot l;
            l.name = fmt::format("udp:{}", rt.cfg.listen[i]);
            l.format = std::string(
                pipeline::listen_format_names[static_cast<std::size_t>(rt.cfg.listen_format[i])]);
            l.slot = rt.listeners->slot(rt.cfg.listen[i]);
            s.listeners.push_back(std::move(l));
        }
    }
    if (rt.tcp_listeners != nullptr) { // after the UDP listeners, in the order given
        for (std::size_t i = 0; i < rt.cfg.tcp_listen.size(); ++i) {
            listener_snapshot l;
            l.name = fmt::format("tcp:{}", rt.cfg.tcp_listen[i]);
            l.format = std::string(pipeline::listen_format_names[static_cast<std::size_t>(
                rt.cfg.tcp_listen_format[i])]);
            l.tcp = true;
            l.slot = rt.tcp_listeners->slot(rt.cfg.tcp_listen[i]);
            s.listeners.push_back(std::move(l));
        }
    }
    for (const auto& c : rt.lcores) {
        accumulate(s, c->lcore, c->roles, c->stats, static_cast<double>(rte_get_tsc_hz()));
        if (c->parts.tcp != nullptr) {
            std::size_t i = 0;
            tcp::for_each_counter(c->parts.tcp->counters(), [&](std::string_view group,
                                                                std::string_view name, uint64_t v) {
                if (i == s.tcp.size()) {
                    s.tcp.push_back({std::string(group), std::string(name), 0});
                }
                s.tcp[i++].value += v;
            });
            if (c->parts.tcp_impair != nullptr) { // testing only: what --test-tcp-impair did
                const tcp::impair_stats& im = c->parts.tcp_impair->counters();
                const uint64_t vals[] = {im.seen.get(), im.dropped.get(), im.held.get()};
                const char* names[] = {"seen", "dropped", "held"};
                for (std::size_t k = 0; k < 3; ++k, ++i) {
                    if (i == s.tcp.size()) {
                        s.tcp.push_back({"impair", names[k], 0});
                    }
                    s.tcp[i].value += vals[k];
                }
            }
        }
    }
    s.mbufs_total = rt.pool != nullptr ? rt.pool->size : 0;
    s.mbufs_in_use_at_exit = rt.mbufs_in_use_at_exit;
    s.mbufs_in_use = (rt.pool != nullptr ? rte_mempool_in_use_count(rt.pool) : 0) +
                     (rt.indirect_pool != nullptr ? rte_mempool_in_use_count(rt.indirect_pool) : 0);
    s.final = rt.stop_tsc != 0;
    for (std::size_t i = 0; i < rt.sinks.size(); ++i) {
        const sink::sink& sk = *rt.sinks[i];
        const config::sink_spec& sp = sk.spec();
        sink_snapshot k;
        k.name = sp.name;
        k.type = std::string(config::sink_type_names[static_cast<std::size_t>(sp.type)]);
        k.target = sp.text.substr(sp.text.find(':') + 1);
        k.format = std::string(log::output_format_names[static_cast<std::size_t>(sp.format)]);
        k.queued = sk.stats().queued.load(std::memory_order_relaxed);
        k.pinned = sk.stats().pinned.load(std::memory_order_relaxed);
        k.buffer_bytes = sp.buffer_bytes;
        k.reconnect_max_ms = sp.reconnect_max_ms;
        if (s.final) { // type-specific figures are the sink lcore's until it stopped
            k.extra_json = sk.report_json();
            k.extra_text = sk.report_text();
        }
        add_sink(s, i, std::move(k), sk.stats());
    }
    for (std::size_t i = 0; i < rt.cfg.filters.size(); ++i) {
        s.filters.push_back({rt.cfg.filters[i].text, s.filter_kept[i], s.filter_dropped[i]});
    }
    for (std::size_t i = 0; i < rt.cfg.routes.size(); ++i) {
        route_snapshot r;
        r.text = rt.cfg.routes[i].match.text;
        for (std::size_t k = 0; k < rt.sinks.size(); ++k) {
            if (((rt.cfg.routes[i].sinks >> k) & 1u) != 0) {
                r.sinks.push_back(rt.sinks[k]->spec().name);
            }
        }
        r.hits = s.route_hits[i];
        s.routes.push_back(std::move(r));
    }
    return s;
}

} // namespace logagg::control
