// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane (the --metrics thread).
#include "control/http.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include <microhttpd.h>
#include <rte_lcore.h>

#include <fmt/core.h>

#include "util/log.hpp"
#include "util/unique_fd.hpp"

namespace logagg::control {
namespace {

/// How long the server thread waits for a request before it checks whether to stop and notes
/// the sinks' connection state. Why 100 ms: stopping takes at most that long, and the health
/// check's "down since" is that precise, for a snapshot ten times a second.
constexpr int32_t wait_ms = 100;
/// Listen backlog. Why 64: scrapers are few; more is queued by the kernel anyway.
constexpr int listen_backlog = 64;
/// Idle HTTP connections are closed after this many seconds (keep-alive scrapers reconnect).
constexpr unsigned connection_timeout_s = 30;

[[nodiscard]] uint64_t monotonic_ms() {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
}

MHD_Result on_request(void* cls, MHD_Connection* connection, const char* url, const char* method,
                      const char* /*version*/, const char* /*upload_data*/,
                      size_t* upload_data_size, void** /*con_cls*/) {
    auto* server = static_cast<metrics_server*>(cls);
    metrics_server::reply r;
    const std::string_view m(method);
    if (m != MHD_HTTP_METHOD_GET && m != MHD_HTTP_METHOD_HEAD) {
        r = {405, "text/plain; charset=utf-8", "only GET\n"};
    } else if (*upload_data_size != 0) {
        *upload_data_size = 0; // a GET with a body: ignore it
        return MHD_YES;
    } else {
        r = server->answer(url);
    }
    MHD_Response* resp =
        MHD_create_response_from_buffer(r.body.size(), r.body.data(), MHD_RESPMEM_MUST_COPY);
    if (resp == nullptr) {
        return MHD_NO;
    }
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r.content_type.c_str());
    if (r.status == 405) {
        (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    }
    const MHD_Result ret = MHD_queue_response(connection, r.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/// libmicrohttpd's error messages (MHD_USE_ERROR_LOG), through logagg's logger instead of its
/// own stderr lines.
void on_mhd_error(void* /*cls*/, const char* format, va_list ap) {
    char text[512];
    va_list copy;
    va_copy(copy, ap);
    const int n = std::vsnprintf(text, sizeof text, format, copy);
    va_end(copy);
    if (n <= 0) {
        return;
    }
    std::string_view line(text,
                          std::min<std::size_t>(static_cast<std::size_t>(n), sizeof text - 1));
    while (!line.empty() && line.back() == '\n') {
        line.remove_suffix(1);
    }
    util::log_error("--metrics: libmicrohttpd: {}", line);
}

} // namespace

util::result<std::unique_ptr<metrics_server>>
metrics_server::start(const config::metrics_spec& at) {
    util::unique_fd sock(::socket(at.family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const int fd = sock.get();
    if (fd < 0) {
        return util::failure{
            fmt::format("--metrics {}: cannot create a socket: {}", at.text, std::strerror(errno))};
    }
    const int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (at.family == AF_INET6) {
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        auto& a = reinterpret_cast<sockaddr_in6&>(ss);
        a.sin6_family = AF_INET6;
        a.sin6_port = htons(at.port);
        std::memcpy(&a.sin6_addr, at.addr, 16);
        len = sizeof a;
    } else {
        auto& a = reinterpret_cast<sockaddr_in&>(ss);
        a.sin_family = AF_INET;
        a.sin_port = htons(at.port);
        std::memcpy(&a.sin_addr, at.addr, 4);
        len = sizeof a;
    }
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0 ||
        ::listen(fd, listen_backlog) != 0) {
        const int err = errno;
        return util::failure{
            fmt::format("--metrics {}: cannot listen: {}", at.text, std::strerror(err))};
    }
    socklen_t got = sizeof ss;
    (void)getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &got);
    char text[INET6_ADDRSTRLEN] = {};
    uint16_t port = 0;
    if (at.family == AF_INET6) {
        const auto& a = reinterpret_cast<const sockaddr_in6&>(ss);
        inet_ntop(AF_INET6, &a.sin6_addr, text, sizeof text);
        port = ntohs(a.sin6_port);
    } else {
        const auto& a = reinterpret_cast<const sockaddr_in&>(ss);
        inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
        port = ntohs(a.sin_port);
    }
    std::unique_ptr<metrics_server> s(new metrics_server());
    s->url_ = at.family == AF_INET6 ? fmt::format("http://[{}]:{}", text, port)
                                    : fmt::format("http://{}:{}", text, port);
    // No MHD thread of its own: MHD_run_wait() runs on our control thread, so the one thread
    // that answers is the one whose CPU affinity we chose.
    const unsigned flags = static_cast<unsigned>(MHD_USE_ERROR_LOG) |
                           (at.family == AF_INET6 ? static_cast<unsigned>(MHD_USE_IPv6) : 0u);
    s->daemon_ =
        // The logger first: libmicrohttpd complains (through its default logger) otherwise.
        MHD_start_daemon(flags, 0, nullptr, nullptr, &on_request, s.get(),
                         MHD_OPTION_EXTERNAL_LOGGER, &on_mhd_error, nullptr,
                         MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_TIMEOUT,
                         connection_timeout_s, MHD_OPTION_END);
    if (s->daemon_ == nullptr) {
        return util::failure{fmt::format("--metrics {}: libmicrohttpd could not start", at.text)};
    }
    (void)sock.release(); // the daemon owns the listening socket now (MHD_stop_daemon closes it)
    // A DPDK control thread: EAL pins it to the CPUs of the process's original affinity that no
    // lcore uses (the main lcore's CPU when every CPU is an lcore), like its own interrupt and
    // telemetry threads; it never shares a polling lcore's CPU unless the main lcore polls.
    const int rc =
        rte_ctrl_thread_create(&s->thread_, "logagg-http", nullptr, &thread_main, s.get());
    if (rc != 0) { // s's destructor stops the daemon, which closes the socket
        return util::failure{fmt::format("--metrics {}: cannot create its thread: {}", at.text,
                                         std::strerror(rc < 0 ? -rc : rc))};
    }
    s->thread_started_ = true;
    return s;
}

metrics_server::~metrics_server() {
    if (thread_started_) {
        stop_.store(true, std::memory_order_relaxed);
        pthread_join(thread_, nullptr);
    }
    if (daemon_ != nullptr) {
        MHD_stop_daemon(daemon_); // closes the listening socket too
    }
}

void metrics_server::serve(snapshot_source src) {
    const std::lock_guard<std::mutex> lock(source_mu_);
    source_ = std::move(src);
}

void* metrics_server::thread_main(void* self) {
    auto* s = static_cast<metrics_server*>(self);
    uint64_t next_observe = 0;
    while (!s->stop_.load(std::memory_order_relaxed)) {
        (void)MHD_run_wait(s->daemon_, wait_ms);
        const uint64_t now = monotonic_ms();
        if (now < next_observe) {
            continue;
        }
        next_observe = now + wait_ms;
        // The sinks' connection state is noted even when nobody asks, so /healthz knows how long
        // a sink has been down when it is asked.
        const std::lock_guard<std::mutex> lock(s->source_mu_);
        if (s->source_) {
            s->health_.observe(s->source_(), now);
        }
    }
    return nullptr;
}

metrics_server::reply metrics_server::answer(const std::string& path) {
    const std::lock_guard<std::mutex> lock(source_mu_);
    if (path != "/metrics" && path != "/healthz") {
        return {404, "text/plain; charset=utf-8", "not found: try /metrics or /healthz\n"};
    }
    if (!source_) {
        return {503, "application/json", "{\"status\": \"starting\"}\n"};
    }
    const snapshot snap = source_();
    if (path == "/metrics") {
        return {200, prometheus_content_type, prometheus_text(snap)};
    }
    const uint64_t now = monotonic_ms();
    health_.observe(snap, now);
    const std::vector<std::string> problems = health_.problems(snap, now);
    return {problems.empty() ? 200u : 503u, "application/json", health_json(problems)};
}

} // namespace logagg::control
