// SPDX-License-Identifier: BSD-3-Clause
// Side: sink. Only this sink's socket calls; iovecs point into packets and arenas.
#include "sink/tcp_sink.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/core.h>

#include <rte_cycles.h>

#include "util/json_text.hpp"

namespace logagg::sink {
namespace {

/// How long a connect may take. Why 5 s: far above any LAN round trip, short enough that a
/// black-holed collector is retried soon.
constexpr uint64_t connect_timeout_ms = 5000;
/// How often a connection is checked for acknowledgements and for the collector closing it.
/// Why 1 ms: prompt release of acknowledged records at a cost of ~1,000 cheap syscalls a second.
constexpr uint64_t check_period_us = 1000;
/// Keepalive and user timeout: a collector that vanishes without a FIN or RST (power loss,
/// partition) is detected in about 60 s instead of the kernel's default two hours.
constexpr int keepalive_idle_s = 30;
constexpr int keepalive_interval_s = 10;
constexpr int keepalive_count = 3;
constexpr unsigned user_timeout_ms = 60'000;

[[nodiscard]] uint64_t ms_to_tsc(uint64_t ms) noexcept {
    return ms * (rte_get_tsc_hz() / 1000);
}

/// Drops the first @p skip bytes of an iovec array. @return the first entry still in use.
[[nodiscard]] uint32_t skip_bytes(iovec* iov, uint32_t n, uint64_t skip) noexcept {
    uint32_t i = 0;
    while (i < n && skip >= iov[i].iov_len) {
        skip -= iov[i].iov_len;
        ++i;
    }
    if (i < n && skip != 0) {
        iov[i].iov_base = static_cast<char*>(iov[i].iov_base) + skip;
        iov[i].iov_len -= skip;
    }
    return i;
}

} // namespace

tcp_sink::tcp_sink(const config::sink_spec& spec, std::vector<rte_ring*> rings,
                   std::vector<pipeline::gen_arena*> arenas, bool block, uint32_t delay_us)
    : sink(spec, std::move(rings), std::move(arenas), block), replay_bytes_(spec.replay_bytes),
      delay_us_(delay_us) {
    rng_ ^= rte_rdtsc();
    check_tsc_ = rte_get_tsc_hz() / 1'000'000 * check_period_us;
}

tcp_sink::~tcp_sink() = default;

util::result<void> tcp_sink::start() {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const std::string port = std::to_string(spec_.tcp_port);
    const int rc = getaddrinfo(spec_.host.c_str(), port.c_str(), &hints, &res);
    if (rc != 0 || res == nullptr) {
        std::string text = fmt::format("--sink {}: cannot resolve '{}': {}", spec_.name, spec_.host,
                                       gai_strerror(rc));
        // The name does not exist: the user's input. A resolver that cannot answer now
        // (EAI_AGAIN, EAI_FAIL, ...) is the host's trouble.
        return rc == EAI_NONAME ? util::usage_failure(std::move(text))
                                : util::failure(std::move(text));
    }
    std::memcpy(&addr_, res->ai_addr, res->ai_addrlen);
    addr_len_ = res->ai_addrlen;
    freeaddrinfo(res);
    char text[INET6_ADDRSTRLEN] = "?";
    const void* a =
        addr_.ss_family == AF_INET
            ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&addr_)->sin_addr)
            : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&addr_)->sin6_addr);
    inet_ntop(addr_.ss_family, a, text, sizeof text);
    where_ = fmt::format("{}:{} ({})", spec_.host, spec_.tcp_port, text);
    connect_now(rte_rdtsc());
    if (state_ == state::down) {
        util::report("  sink {}: {} is not accepting connections yet; retrying in the background",
                     spec_.name, where_);
    }
    return util::ok();
}

void tcp_sink::report(const char* what, int err) noexcept {
    limiter_.error("sink {}: {} {}: {}; records are kept (up to buffer=) and resent", spec_.name,
                   what, where_, std::strerror(err));
}

void tcp_sink::connect_now(uint64_t now_tsc) noexcept {
    fd_.reset(::socket(addr_.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd_.valid()) {
        disconnect(now_tsc, errno, "cannot create a socket for");
        return;
    }
    const int one = 1;
    (void)setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    (void)setsockopt(fd_.get(), SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    (void)setsockopt(fd_.get(), IPPROTO_TCP, TCP_KEEPIDLE, &keepalive_idle_s,
                     sizeof keepalive_idle_s);
    (void)setsockopt(fd_.get(), IPPROTO_TCP, TCP_KEEPINTVL, &keepalive_interval_s,
                     sizeof keepalive_interval_s);
    (void)setsockopt(fd_.get(), IPPROTO_TCP, TCP_KEEPCNT, &keepalive_count, sizeof keepalive_count);
    (void)setsockopt(fd_.get(), IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms,
                     sizeof user_timeout_ms);
    connect_deadline_tsc_ = now_tsc + ms_to_tsc(connect_timeout_ms);
    if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&addr_), addr_len_) == 0) {
        state_ = state::connecting; // connected at once (loopback): finished by check_connecting
        check_connecting(now_tsc);
        return;
    }
    if (errno != EINPROGRESS) {
        stats_.connect_failures.add();
        disconnect(now_tsc, errno, "cannot connect to");
        return;
    }
    state_ = state::connecting;
}

void tcp_sink::check_connecting(uint64_t now_tsc) noexcept {
    pollfd p{fd_.get(), POLLOUT, 0};
    const int n = ::poll(&p, 1, 0);
    if (n == 0) {
        if (now_tsc >= connect_deadline_tsc_) {
            stats_.connect_failures.add();
            disconnect(now_tsc, ETIMEDOUT, "timed out connecting to");
        }
        return;
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (n < 0 || getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        stats_.connect_failures.add();
        disconnect(now_tsc, err != 0 ? err : errno, "cannot connect to");
        return;
    }
    state_ = state::up;
    stats_.connections.add();
    if (ever_connected_) {
        stats_.reconnects.add();
        util::notice("sink {}: reconnected to {}; resending {} records not known to be "
                     "read",
                     spec_.name, where_, q_.waiting());
    }
    ever_connected_ = true;
    backoff_ms_ = 0;
    written_ = 0;
    head_off_ = 0;
    acked_idx_ = q_.head();
    acked_off_ = 0;
    held_bytes_ = 0;
    held_cost_ = 0;
    q_.exempt(0);
    tail_left_ = 0;
    last_peer_check_tsc_ = now_tsc;
}

void tcp_sink::disconnect(uint64_t now_tsc, int err, const char* what) noexcept {
    fd_.reset();
    const bool was_up = state_ == state::up;
    state_ = state::down;
    stats_.errors.add();
    report(what, err);
    if (was_up) {
        stats_.disconnects.add();
        // Everything not acknowledged, and the replay window of what was, goes again after the
        // reconnect (from a record boundary): the collector may have seen some of it.
        const uint64_t again = q_.rewind();
        stats_.retries.add(again);
        resent_ += again;
        tail_left_ = 0;
        acked_idx_ = q_.head();
        held_bytes_ = 0;
        held_cost_ = 0;
        q_.exempt(0); // the held records wait again, under the bound
    }
    // Exponential backoff with +-25% jitter, so many gateways do not reconnect in lockstep.
    backoff_ms_ = backoff_ms_ == 0 ? spec_.reconnect_min_ms
                                   : std::min(backoff_ms_ * 2, spec_.reconnect_max_ms);
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    const uint64_t jitter = backoff_ms_ / 2 == 0 ? 0 : rng_ % (backoff_ms_ / 2);
    next_attempt_tsc_ = now_tsc + ms_to_tsc(backoff_ms_ - backoff_ms_ / 4 + jitter);
}

uint32_t tcp_sink::framed(uint64_t i) const noexcept {
    const queued_record& r = q_.rec(i);
    return r.dropped != 0 ? 0 : r.bytes + config::framing_overhead(spec_.framing, r.bytes);
}

uint32_t tcp_sink::cost(uint64_t i) const noexcept {
    const queued_record& r = q_.rec(i);
    return r.dropped != 0 ? 0 : r.cost;
}

uint32_t tcp_sink::collect_acks() noexcept {
    if (written_ == 0) {
        return 0;
    }
    int outq = 0;
    if (ioctl(fd_.get(), SIOCOUTQ, &outq) != 0) {
        return 0;
    }
    const uint64_t acked = written_ - static_cast<uint64_t>(outq);
    const uint64_t sent = q_.sent();
    while (acked_idx_ < sent) {
        const uint32_t f = framed(acked_idx_);
        if (acked_off_ + f > acked || (acked_idx_ + 1 == sent && tail_left_ != 0)) {
            break;
        }
        acked_off_ += f;
        held_bytes_ += f;
        held_cost_ += cost(acked_idx_);
        ++acked_idx_;
    }
    // Delivered at the acknowledgement, whatever the replay window holds on to; a record sent
    // again after a reconnect is timed once.
    if (acked_idx_ > timed_upto_) {
        q_.time(std::max(timed_upto_, q_.head()), acked_idx_);
        timed_upto_ = acked_idx_;
    }
    // Release beyond the replay window, oldest first. The window is bounded by its own bytes
    // (replay=) and the memory it pins (replay_cost_factor x replay=), and that memory is exempt
    // from buffer=: a full queue never empties the window, which is exactly when the collector
    // is slow and most likely to hold acknowledged records it has not written yet.
    // It also holds at most half of the queue's record slots: small records (a 256 KiB window
    // of 50-byte records is ~5,000) would otherwise take every slot, and the queue, which pulls
    // only with a burst's worth free, would stop pulling for good.
    uint64_t upto = q_.head();
    const uint64_t max_held = q_.capacity() / 2;
    while (upto < acked_idx_ &&
           (held_bytes_ > replay_bytes_ || held_cost_ > replay_bytes_ * replay_cost_factor ||
            acked_idx_ - upto > max_held)) {
        const uint32_t f = framed(upto);
        held_bytes_ -= f;
        held_cost_ -= cost(upto);
        head_off_ += f;
        ++upto;
    }
    const auto n = static_cast<uint32_t>(upto - q_.head());
    if (n != 0) {
        q_.confirm(upto, spec_.framing, true);
    }
    q_.exempt(held_cost_);
    return n;
}

uint32_t tcp_sink::write_some(uint64_t now_tsc) noexcept {
    uint32_t started = 0;
    for (int round = 0; round < 4; ++round) {
        if (tail_left_ == 0 && !batch_due(now_tsc)) {
            break;
        }
        batch_.clear();
        const uint64_t first = tail_left_ != 0 ? q_.sent() - 1 : q_.sent();
        (void)fill_batch(batch_, first);
        if (batch_.n_msgs() == 0) {
            break;
        }
        const uint64_t skip = tail_left_ != 0 ? framed(first) - tail_left_ : 0;
        const uint32_t from = skip_bytes(batch_.iov(), batch_.n_iov(), skip);
        msghdr mh{};
        mh.msg_iov = batch_.iov() + from;
        mh.msg_iovlen = batch_.n_iov() - from;
        const ssize_t n = ::sendmsg(fd_.get(), &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                disconnect(now_tsc, errno, "write failed to");
            }
            break;
        }
        written_ += static_cast<uint64_t>(n);
        // Which records the bytes covered: the rest of a partly written one, then whole ones;
        // a record is "sent" once its first byte is.
        auto left = static_cast<uint64_t>(n);
        if (tail_left_ != 0) {
            const uint64_t take = std::min<uint64_t>(left, tail_left_);
            tail_left_ -= static_cast<uint32_t>(take);
            left -= take;
        }
        uint64_t s = q_.sent();
        const uint64_t before = s;
        while (left != 0 && s < q_.tail()) {
            const uint32_t f = framed(s);
            ++s;
            if (left >= f) {
                left -= f;
            } else {
                tail_left_ = static_cast<uint32_t>(f - left);
                left = 0;
            }
        }
        q_.mark_sent(s);
        started += static_cast<uint32_t>(s - before);
        stats_.batch(s - before);
        if (delay_us_ != 0) {
            rte_delay_us_sleep(delay_us_);
        }
        if (static_cast<uint64_t>(n) < batch_.bytes() - skip) {
            break; // the socket buffer is full: wait for acknowledgements
        }
    }
    return started;
}

uint32_t tcp_sink::poll(uint64_t now_tsc) noexcept {
    uint32_t moved = q_.pull();
    switch (state_) {
    case state::down:
        if (now_tsc >= next_attempt_tsc_) {
            connect_now(now_tsc);
        }
        break;
    case state::connecting:
        check_connecting(now_tsc);
        break;
    case state::up:
        moved += write_some(now_tsc);
        if (state_ == state::up && now_tsc - last_peer_check_tsc_ >= check_tsc_) {
            last_peer_check_tsc_ = now_tsc;
            moved += collect_acks();
            // A collector that closed its end (FIN) or reset the connection: reconnect now
            // rather than at the next failed write.
            char b = 0;
            const ssize_t r = ::recv(fd_.get(), &b, 1, MSG_PEEK | MSG_DONTWAIT);
            if (r == 0) {
                disconnect(now_tsc, ECONNRESET, "connection closed by");
            } else if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                disconnect(now_tsc, errno, "connection lost to");
            } else if (r > 0) {
                // Collectors send nothing on syslog connections; discard whatever it is.
                char sink_buf[512];
                (void)::recv(fd_.get(), sink_buf, sizeof sink_buf, MSG_DONTWAIT);
            }
        }
        break;
    }
    return moved;
}

uint64_t tcp_sink::next_due_tsc(uint64_t now_tsc) const noexcept {
    const uint64_t base = sink::next_due_tsc(now_tsc);
    switch (state_) {
    case state::down:
        return std::min(base, std::max(next_attempt_tsc_, now_tsc + 1));
    case state::connecting:
        return now_tsc + check_tsc_;
    case state::up:
        break;
    }
    // The periodic check for acknowledgements and for a collector that closed the connection.
    return std::min(base, std::max(last_peer_check_tsc_ + check_tsc_, now_tsc + 1));
}

bool tcp_sink::idle() const noexcept {
    return q_.waiting() == 0 && tail_left_ == 0 && acked_idx_ == q_.sent() && q_.rings_empty();
}

void tcp_sink::abandon() noexcept {
    // What the collector acknowledged is delivered; the rest is dropped, counted (shutdown).
    if (state_ == state::up) {
        (void)collect_acks();
        q_.confirm(acked_idx_, spec_.framing, true);
    }
    q_.drop_all(pipeline::sink_drop::shutdown);
    acked_idx_ = q_.head();
    held_bytes_ = 0;
    held_cost_ = 0;
    q_.exempt(0);
    tail_left_ = 0;
}

int tcp_sink::finish() noexcept {
    if (state_ == state::up) {
        (void)collect_acks();
        q_.confirm(acked_idx_, spec_.framing, true);
    }
    q_.drop_all(pipeline::sink_drop::shutdown); // nothing, after a complete drain
    acked_idx_ = q_.head();
    if (fd_.valid()) {
        (void)::shutdown(fd_.get(), SHUT_WR);
        fd_.reset();
    }
    state_ = state::down;
    return 0;
}

std::string tcp_sink::report_json() const {
    return fmt::format("\"peer\": {}, \"connected_at_exit\": {}, \"resent\": {}",
                       util::json_quote(where_), state_ == state::up ? "true" : "false", resent_);
}

std::string tcp_sink::report_text() const {
    return fmt::format("peer {}, {} records resent after reconnects", where_, resent_);
}

} // namespace logagg::sink
