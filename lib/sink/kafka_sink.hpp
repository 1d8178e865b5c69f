// SPDX-License-Identifier: BSD-3-Clause
// Side: sink. start(), report_json() and report_text() are control plane; poll(), abandon()
// and finish() run on the sink lcore, and so do librdkafka's callbacks (delivery reports,
// errors, statistics): they are served by rd_kafka_poll() there, never on librdkafka's threads.
//
// Produces each record as one Kafka message with librdkafka. The value is the record's one
// contiguous piece (lane `contiguous`: in the packet for raw single-segment messages, else in
// the worker's arena), handed over without RD_KAFKA_MSG_F_COPY: librdkafka keeps a pointer,
// and the record (its packet reference, its arena bytes) is released only after its delivery
// report. The key piece, when key= is set, picks the partition (librdkafka copies keys).
//
// Delivery: at least once, in order per partition. With acks=all the producer is idempotent,
// so librdkafka's own retries add no duplicates; message.timeout.ms=0, so librdkafka never gives
// up on an accepted record on its own (the drain deadline decides at exit). A record the broker
// refuses for good (too large, unknown topic, ...) is dropped and counted (rejected); any other
// failed delivery is produced again (counted as a retry; the only source of duplicates).
//
// Datapath honesty: this code copies no payload byte, but librdkafka allocates a message header
// per produce call, copies the key into it, and (for values up to message.copy.max.bytes, 64 KiB
// by default) copies the value into its ProduceRequest buffer on its broker thread. See
// docs/sinks.md#kafka.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sink/sink.hpp"
#include "util/log.hpp"

struct rd_kafka_s;
struct rd_kafka_topic_s;
struct rd_kafka_message_s;

namespace logagg::sink {

/// --sink kafka:BROKERS/TOPIC,...
class kafka_sink final : public sink {
public:
    /// Control plane: allocates the completion array (one byte per record slot).
    kafka_sink(const config::sink_spec& spec, std::vector<rte_ring*> rings,
               std::vector<pipeline::gen_arena*> arenas, bool block);
    ~kafka_sink() override;

    /// Creates the producer and the topic handle. Errors (an unknown or invalid kafka-prop, a
    /// configuration librdkafka refuses) are returned naming the sink; brokers that are down
    /// are not an error (librdkafka keeps connecting, records wait up to buffer=).
    [[nodiscard]] util::result<void> start() override;
    /// Produces due records, serves delivery reports, releases the delivered prefix in order.
    /// Never blocks: QUEUE_FULL leaves records waiting for the next poll.
    [[nodiscard]] uint64_t next_due_tsc(uint64_t now_tsc) const noexcept override;
    uint32_t poll(uint64_t now_tsc) noexcept override;
    /// Drain deadline: purges librdkafka's queues and in-flight requests, serves the resulting
    /// delivery reports (waits at most purge_wait_ms for them), drops the rest (shutdown).
    void abandon() noexcept override;
    /// Flushes (briefly: everything is delivered by now), destroys the topic and the producer.
    int finish() noexcept override;
    [[nodiscard]] std::string report_json() const override;
    [[nodiscard]] std::string report_text() const override;

private:
    /// What became of a record handed to librdkafka (one byte per record slot).
    enum class outcome : uint8_t { pending, delivered, rejected, purged, retry, skipped };
    enum class produce_result : uint8_t { ok, queue_full, failed };

    // librdkafka callbacks (opaque: the sink), served by rd_kafka_poll() on the sink lcore.
    /// dr_msg_cb: records the outcome of one record (its index is the message opaque).
    static void on_delivery(rd_kafka_s* rk, const rd_kafka_message_s* m, void* opaque);
    /// error_cb: counts (errors) and logs, rate-limited.
    static void on_error(rd_kafka_s* rk, int err, const char* reason, void* opaque);
    /// librdkafka's log lines (only with kafka-prop=debug=...), through util::log_text().
    static void on_log(const rd_kafka_s* rk, int level, const char* fac, const char* buf) noexcept;
    /// stats_cb: takes the resend and request-retry figures from the statistics document.
    static int on_stats(rd_kafka_s* rk, char* json, std::size_t len, void* opaque);

    [[nodiscard]] outcome& slot(uint64_t i) noexcept { return done_[i & done_mask_]; }
    /// Hands record @p i to librdkafka.
    produce_result produce(uint64_t i) noexcept;
    /// Produces waiting records while they are due. @return records produced.
    uint32_t produce_due(uint64_t now_tsc) noexcept;
    /// Produces again the records whose delivery failed for a reason that may pass.
    uint32_t produce_retries() noexcept;
    /// Releases the completed prefix [head, ...). @return records released.
    uint32_t sweep() noexcept;
    /// Releases [head, @p upto), all of outcome @p kind (or skipped): confirmed, or dropped.
    void release(uint64_t upto, outcome kind) noexcept;
    /// rd_kafka_poll(): runs the callbacks that are due, waiting at most @p timeout_ms.
    void serve(int timeout_ms) noexcept;
    /// The delivery report of record @p i: delivered, rejected, purged or to be retried.
    void complete(uint64_t i, int err) noexcept;
    /// One stderr line, at most one per log_limiter interval (the rest are counted).
    void log_error(const char* what, const char* detail) noexcept;

    rd_kafka_s* rk_ = nullptr;
    rd_kafka_topic_s* rkt_ = nullptr;
    std::unique_ptr<outcome[]> done_;
    uint64_t done_mask_ = 0;
    uint64_t in_flight_ = 0;     ///< produced, delivery report not served yet
    uint64_t retry_pending_ = 0; ///< records marked retry, not produced again yet
    uint64_t poll_tsc_ = 0;      ///< poll_period_us in TSC ticks
    uint64_t last_poll_tsc_ = 0;
    // Figures for the report (sink lcore writes; read after it stopped).
    uint64_t produced_ = 0;           ///< successful produce calls, retries included
    uint64_t delivery_errors_ = 0;    ///< failed reports (purges aside), refused produce calls
    uint64_t reproduced_ = 0;         ///< records produced again after a failed delivery
    uint64_t rd_resent_ = 0;          ///< messages librdkafka put in a request again (txmsgs)
    uint64_t rd_request_retries_ = 0; ///< librdkafka's request retries (txretries, brokers)
    uint64_t queue_full_ = 0;         ///< produce rounds cut short by QUEUE_FULL
    uint64_t split_records_ = 0;      ///< records that were not one piece (a bug; rejected)
    uint64_t purged_ = 0;             ///< records purged at the drain deadline
    bool broker_up_ = false;          ///< the last statistics showed a broker in state UP
    util::log_limiter limiter_;
};

} // namespace logagg::sink
