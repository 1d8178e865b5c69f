// SPDX-License-Identifier: BSD-3-Clause
// Side: sink (runs on a sink lcore; its only syscalls are its own socket's).
//
// Forwards records to a collector over one kernel TCP connection (rsyslog imtcp, syslog-ng,
// Vector, Fluent Bit, Logstash): octet-counted (RFC 6587) or LF-terminated, written with sendmsg
// over iovecs that point into the received packets.
//
// At-least-once: a record is released only after the collector's TCP stack acknowledged all of
// its bytes (bytes written minus the socket's unacknowledged queue, SIOCOUTQ), and the last
// replay= bytes of acknowledged records are kept a little longer: when the connection breaks,
// everything not acknowledged plus that replay window is sent again after the reconnect, from a
// record boundary. A collector that read a record before it died therefore sees it twice; these
// resends are counted (retries). Records a collector acknowledged but had not read when it died
// are lost only if they exceed the replay window (docs/sinks.md).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sink/sink.hpp"
#include "util/log.hpp"
#include "util/unique_fd.hpp"

namespace logagg::sink {

/// The replay window pins at most this many times replay= of packet memory, on top of buffer=.
/// Why 8: a record pins its packet's whole mbuf (2,304 bytes); records of 288 bytes or more,
/// or packets of several records, fill the window by bytes first.
inline constexpr uint64_t replay_cost_factor = 8;

/// --sink tcp:HOST:PORT,...
class tcp_sink final : public sink {
public:
    /// @param delay_us testing only: sleep this long after each write (0 in production)
    tcp_sink(const config::sink_spec& spec, std::vector<rte_ring*> rings,
             std::vector<pipeline::gen_arena*> arenas, bool block, uint32_t delay_us = 0);
    ~tcp_sink() override;

    /// Resolves HOST (a name that does not resolve is an error) and starts connecting; a
    /// collector that is down is not an error (the sink keeps trying).
    [[nodiscard]] util::result<void> start() override;
    [[nodiscard]] uint64_t next_due_tsc(uint64_t now_tsc) const noexcept override;
    uint32_t poll(uint64_t now_tsc) noexcept override;
    [[nodiscard]] bool idle() const noexcept override;
    void abandon() noexcept override;
    int finish() noexcept override;
    [[nodiscard]] std::string report_json() const override;
    [[nodiscard]] std::string report_text() const override;

private:
    enum class state : uint8_t { down, connecting, up };

    void connect_now(uint64_t now_tsc) noexcept;
    void check_connecting(uint64_t now_tsc) noexcept;
    void disconnect(uint64_t now_tsc, int err, const char* what) noexcept;
    /// Writes what is due. @return records that started going out.
    uint32_t write_some(uint64_t now_tsc) noexcept;
    /// Releases acknowledged records beyond the replay window. @return records released.
    uint32_t collect_acks() noexcept;
    [[nodiscard]] uint32_t framed(uint64_t i) const noexcept;
    /// Memory record @p i pins (0 when dropped).
    [[nodiscard]] uint32_t cost(uint64_t i) const noexcept;
    void report(const char* what, int err) noexcept;

    sockaddr_storage addr_{};
    socklen_t addr_len_ = 0;
    std::string where_;  ///< "HOST:PORT (ADDR)" for messages
    util::unique_fd fd_; ///< the connection (none while down)
    state state_ = state::down;
    bool ever_connected_ = false;
    uint64_t next_attempt_tsc_ = 0;
    uint64_t connect_deadline_tsc_ = 0;
    uint32_t backoff_ms_ = 0;
    uint64_t rng_ = 0x9e3779b97f4a7c15ull; ///< xorshift state for backoff jitter
    uint64_t last_peer_check_tsc_ = 0;
    uint64_t check_tsc_ = 0; ///< check_period_us in TSC ticks
    // Stream accounting of the current connection.
    uint64_t written_ = 0;    ///< bytes written on this connection
    uint64_t head_off_ = 0;   ///< stream offset where record head() starts
    uint64_t acked_idx_ = 0;  ///< records [head, acked_idx) are acknowledged (replay window)
    uint64_t acked_off_ = 0;  ///< stream offset where record acked_idx starts
    uint64_t held_bytes_ = 0; ///< framed bytes of [head, acked_idx)
    uint64_t held_cost_ = 0;  ///< memory [head, acked_idx) pins (exempt from buffer=)
    uint64_t timed_upto_ = 0; ///< records before it were timed at their acknowledgement
    uint32_t tail_left_ = 0;  ///< bytes of record sent()-1 not yet written
    uint64_t replay_bytes_ = 0;
    uint64_t resent_ = 0;
    uint32_t delay_us_ = 0;
    util::log_limiter limiter_; ///< connection errors: one line per 10 s, the rest counted
    iov_batch batch_;
};

} // namespace logagg::sink
