// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane (its own thread; never a polling lcore, never the datapath).
//
// The --metrics HTTP endpoint: GET /metrics (Prometheus text format 0.0.4) and GET /healthz,
// served by libmicrohttpd from a DPDK control thread. Each request takes a fresh snapshot through
// the source it is given; the datapath is never locked or touched (docs/metrics.md).
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "config/options.hpp"
#include "control/metrics.hpp"
#include "control/stats.hpp"
#include "util/result.hpp"

struct MHD_Daemon;
struct MHD_Connection;

namespace logagg::control {

/// Takes a snapshot of the running pipeline (runtime::take_snapshot()); any thread.
using snapshot_source = std::function<snapshot()>;

/// The HTTP server behind --metrics.
class metrics_server {
public:
    /// Requires rte_eal_init() (the thread is a DPDK control thread: rte_ctrl_thread_create()
    /// gives it EAL's control-thread CPU set, not a data-plane lcore's CPU). Binds @p at now,
    /// so a port in use fails here, before any port starts. Until serve() gives it a source,
    /// /metrics and /healthz answer 503 (starting). A failure names --metrics and the address.
    [[nodiscard]] static util::result<std::unique_ptr<metrics_server>>
    start(const config::metrics_spec& at);
    /// Stops the thread and closes the socket.
    ~metrics_server();
    metrics_server(const metrics_server&) = delete;
    metrics_server& operator=(const metrics_server&) = delete;

    /// Serves snapshots from @p src from now on; an empty function stops using the previous one
    /// (it returns once no request is using it any more).
    void serve(snapshot_source src);

    /// "http://ADDR:PORT" with the port actually bound.
    [[nodiscard]] const std::string& url() const noexcept { return url_; }

    struct reply {
        unsigned status = 200;
        std::string content_type;
        std::string body;
    };
    /// The answer to GET @p path (also what the server thread sends).
    [[nodiscard]] reply answer(const std::string& path);

private:
    metrics_server() = default;
    static void* thread_main(void* self);

    MHD_Daemon* daemon_ = nullptr;
    pthread_t thread_{};
    bool thread_started_ = false;
    std::atomic<bool> stop_{false};
    std::string url_;
    std::mutex source_mu_; ///< held while a request uses source_
    snapshot_source source_;
    health_tracker health_; ///< the server thread's only
};

} // namespace logagg::control
