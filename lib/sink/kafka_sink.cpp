// SPDX-License-Identifier: BSD-3-Clause
// Side: sink (see kafka_sink.hpp). start() is control plane and may allocate; poll() copies no
// payload byte (no RD_KAFKA_MSG_F_COPY) but each produce call allocates inside librdkafka.
#include "sink/kafka_sink.hpp"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string_view>

#include <fmt/core.h>
#include <librdkafka/rdkafka.h>

#include <rte_cycles.h>
#include <rte_lcore.h>

#include "config/kafka_conf.hpp"
#include "sink/detail/kafka_stats.hpp"
#include "util/json_text.hpp"

namespace logagg::sink {
namespace {

/// How often delivery reports, errors and statistics are served. Why 100 us: far below a
/// broker round trip (so releases are prompt), and rd_kafka_poll() takes a lock librdkafka's
/// threads also take: calling it on every lcore loop turn would contend for nothing.
constexpr uint64_t poll_period_us = 100;
/// Most records produced per poll. Why 4096: at about 1 us per produce call this bounds one
/// poll to a few ms, so other sinks on the lcore and delivery reports get their turn.
constexpr uint32_t produce_round_max = 4096;
/// How long abandon() waits for the delivery reports of purged records. Why 1 s: purging is
/// local (the reports are queued at once); the bound only guards the exit against a wedged
/// librdkafka.
constexpr int purge_wait_ms = 1000;
/// finish()'s flush. Why 1 s: finish() runs once every record is delivered, so this only
/// covers librdkafka's own housekeeping.
constexpr int finish_flush_ms = 1000;

/// Errors after which producing the same record again cannot succeed: it is dropped (rejected).
/// Everything else (transport, leadership, timeouts) may pass and the record is produced again.
[[nodiscard]] bool permanent(rd_kafka_resp_err_t e) noexcept {
    switch (e) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
    case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__FATAL:
        return true;
    default:
        return false;
    }
}

/// The CPUs librdkafka's threads should run on: every online CPU no EAL lcore runs on (they
/// busy-poll), or every online CPU when the lcores take them all. @return how many.
[[nodiscard]] int cpus_off_lcores(cpu_set_t& out) noexcept {
    CPU_ZERO(&out);
    cpu_set_t lcores;
    CPU_ZERO(&lcores);
    unsigned l = 0;
    RTE_LCORE_FOREACH(l) {
        const rte_cpuset_t c = rte_lcore_cpuset(l);
        CPU_OR(&lcores, &lcores, &c);
    }
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    for (long c = 0; c < n && c < CPU_SETSIZE; ++c) {
        if (!CPU_ISSET(c, &lcores)) {
            CPU_SET(c, &out);
        }
    }
    if (CPU_COUNT(&out) == 0) {
        for (long c = 0; c < n && c < CPU_SETSIZE; ++c) {
            CPU_SET(c, &out);
        }
        return 0;
    }
    return CPU_COUNT(&out);
}

} // namespace

kafka_sink::kafka_sink(const config::sink_spec& spec, std::vector<rte_ring*> rings,
                       std::vector<pipeline::gen_arena*> arenas, bool block)
    : sink(spec, std::move(rings), std::move(arenas), block) {
    // One byte per record slot of the queue: at most capacity() records are queued, so
    // (index & mask) never names two records held at once.
    done_mask_ = q_.capacity() - 1;
    done_ = std::make_unique<outcome[]>(q_.capacity());
    poll_tsc_ = rte_get_tsc_hz() / 1'000'000 * poll_period_us;
}

kafka_sink::~kafka_sink() {
    if (rk_ != nullptr) { // start() succeeded but finish() never ran (a later start-up error)
        (void)rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        (void)rd_kafka_poll(rk_, 0);
        if (rkt_ != nullptr) {
            rd_kafka_topic_destroy(rkt_);
        }
        rd_kafka_destroy(rk_);
    }
}

util::result<void> kafka_sink::start() {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    // The parser checked every property on a scratch configuration: an error here is one
    // librdkafka found only now, still the user's settings.
    const util::result<bool> configured = config::kafka_configure(conf, spec_, q_.capacity());
    if (!configured) {
        rd_kafka_conf_destroy(conf);
        return util::usage_failure(
            fmt::format("--sink {}: {}", spec_.name, configured.error().text));
    }
    const bool debug = configured.value();
    // The health check's grace for "no broker up" is librdkafka's own reconnect ceiling.
    char backoff[32];
    std::size_t backoff_len = sizeof backoff;
    if (rd_kafka_conf_get(conf, "reconnect.backoff.max.ms", backoff, &backoff_len) ==
        RD_KAFKA_CONF_OK) {
        spec_.reconnect_max_ms = static_cast<uint32_t>(std::strtoul(backoff, nullptr, 10));
    }
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_dr_msg_cb(conf, &kafka_sink::on_delivery);
    rd_kafka_conf_set_error_cb(conf, &kafka_sink::on_error);
    rd_kafka_conf_set_stats_cb(conf, &kafka_sink::on_stats);
    // librdkafka's logger prints from its own threads, unbounded; what matters reaches
    // error_cb, which is served here and rate-limited. kafka-prop=debug=... keeps it, through
    // logagg's logger.
    rd_kafka_conf_set_log_cb(conf, debug ? &kafka_sink::on_log : nullptr);
    // librdkafka's threads (its main thread, one per broker) inherit the creating thread's
    // affinity, and EAL pinned this one to the main lcore, which may run the sink: they would
    // compete with busy-polling lcores. They are created with the CPUs outside the lcores.
    cpu_set_t saved;
    cpu_set_t off;
    const int n_off = cpus_off_lcores(off);
    const bool moved = pthread_getaffinity_np(pthread_self(), sizeof saved, &saved) == 0 &&
                       pthread_setaffinity_np(pthread_self(), sizeof off, &off) == 0;
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (moved) {
        (void)pthread_setaffinity_np(pthread_self(), sizeof saved, &saved);
    }
    if (rk_ == nullptr) {
        // INVALID_ARG: the configuration as a whole is refused (e.g. a kafka-prop acks=1 with
        // the idempotence acks=all sets): the user's settings, not the host.
        const bool settings = rd_kafka_last_error() == RD_KAFKA_RESP_ERR__INVALID_ARG;
        rd_kafka_conf_destroy(conf);
        std::string text =
            fmt::format("--sink {}: cannot create the Kafka producer: {}", spec_.name, err);
        return settings ? util::usage_failure(std::move(text)) : util::failure(std::move(text));
    }
    rkt_ = rd_kafka_topic_new(rk_, spec_.topic.c_str(), nullptr);
    if (rkt_ == nullptr) {
        return util::failure(fmt::format("--sink {}: topic '{}': {}", spec_.name, spec_.topic,
                                         rd_kafka_err2str(rd_kafka_last_error())));
    }
    const bool acks_all = spec_.acks == "all";
    util::report("  sink {}: Kafka producer (librdkafka {}) for topic {} at {}; acks={}{}, "
                 "its queue bounded at {} messages and {} KiB; its threads on {}",
                 spec_.name, rd_kafka_version_str(), spec_.topic, spec_.brokers, spec_.acks,
                 acks_all ? " idempotent" : "", q_.capacity(), spec_.buffer_bytes / 1024,
                 !moved       ? "the main lcore's CPU (affinity not changed)"
                 : n_off == 0 ? "every CPU (the lcores take them all)"
                              : fmt::format("the {} CPU(s) outside the lcores", n_off));
    return util::ok();
}

void kafka_sink::log_error(const char* what, const char* detail) noexcept {
    limiter_.error("sink {}: {}: {}", spec_.name, what, detail);
}

void kafka_sink::on_delivery(rd_kafka_s* /*rk*/, const rd_kafka_message_s* m, void* opaque) {
    static_cast<kafka_sink*>(opaque)->complete(reinterpret_cast<uintptr_t>(m->_private), m->err);
}

void kafka_sink::on_log(const rd_kafka_s* /*rk*/, int level, const char* fac,
                        const char* buf) noexcept {
    // librdkafka's levels are syslog's, as logagg's; its debug output is what the user asked
    // for (kafka-prop=debug=...), so no threshold here.
    const auto l = static_cast<util::log_level>(std::clamp(
        level, static_cast<int>(util::log_level::error), static_cast<int>(util::log_level::debug)));
    try {
        util::log_text(l, fmt::format("librdkafka: {}: {}", fac, buf));
    } catch (...) { // NOLINT(bugprone-empty-catch): out of memory; the line is lost
    }
}

void kafka_sink::on_error(rd_kafka_s* rk, int err, const char* reason, void* opaque) {
    auto* self = static_cast<kafka_sink*>(opaque);
    self->stats_.errors.add();
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[256] = "";
        (void)rd_kafka_fatal_error(rk, why, sizeof why);
        self->log_error("fatal producer error (records will be rejected)", why);
        return;
    }
    self->log_error("kafka", reason);
}

int kafka_sink::on_stats(rd_kafka_s* /*rk*/, char* json, std::size_t len, void* opaque) {
    auto* self = static_cast<kafka_sink*>(opaque);
    const std::string_view doc(json, len);
    // librdkafka retries a failed ProduceRequest by putting its messages back in the partition
    // queue and building a new request, so the broker-level txretries (request retries) stays 0
    // for them. What does count them: the top-level txmsgs counts every message each time it
    // goes into a request, so beyond the records produced (each sent once at least) it is the
    // resends. It lags while records wait unsent, never overcounts; counted as it grows.
    const uint64_t tx = detail::top_level_u64(doc, "txmsgs");
    const uint64_t resent = tx > self->produced_ ? tx - self->produced_ : 0;
    if (resent > self->rd_resent_) {
        self->stats_.retries.add(resent - self->rd_resent_);
        self->rd_resent_ = resent;
    }
    self->rd_request_retries_ = detail::sum_txretries(doc);
    // The producer's connection state for /healthz: up while a broker is. Counted like a TCP
    // sink's connections, on each change only.
    const bool up = detail::brokers_up(doc) != 0;
    if (up != self->broker_up_) {
        (up ? self->stats_.connections : self->stats_.disconnects).add();
        self->broker_up_ = up;
    }
    return 0; // librdkafka frees the document
}

void kafka_sink::complete(uint64_t i, int err) noexcept {
    --in_flight_;
    if (i < q_.head()) {
        return; // released already: dropped at the drain deadline before its report came
    }
    const auto e = static_cast<rd_kafka_resp_err_t>(err);
    outcome& o = slot(i);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
        o = outcome::delivered;
    } else if (e == RD_KAFKA_RESP_ERR__PURGE_QUEUE || e == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) {
        o = outcome::purged;
        ++purged_;
    } else if (permanent(e)) {
        o = outcome::rejected;
        ++delivery_errors_;
        log_error("record rejected", rd_kafka_err2str(e));
    } else {
        o = outcome::retry;
        ++delivery_errors_;
        ++retry_pending_;
        log_error("delivery failed, producing the record again", rd_kafka_err2str(e));
    }
}

kafka_sink::produce_result kafka_sink::produce(uint64_t i) noexcept {
    const queued_record& r = q_.rec(i);
    const char* value = nullptr;
    uint32_t len = 0;
    uint32_t runs = 0;
    (void)q_.for_each_run(r, [&](const char* p, uint32_t n) {
        if (runs++ == 0) {
            value = p;
            len = n;
        }
    });
    if (runs > 1) {
        // The worker gives Kafka lanes one piece per record; anything else is a bug. Counted
        // and rejected rather than copied or sent in part.
        ++split_records_;
        ++delivery_errors_;
        slot(i) = outcome::rejected;
        return produce_result::failed;
    }
    const std::string_view key = q_.key(r);
    void* opaque = reinterpret_cast<void*>(static_cast<uintptr_t>(i));
    // No RD_KAFKA_MSG_F_COPY: librdkafka keeps the pointer; the bytes stay valid (packet or
    // arena) until this record is released, after its delivery report.
    auto* payload = const_cast<char*>(value);
    // rd_kafka_produce() rather than rd_kafka_producev(): the same call without the
    // RD_KAFKA_V_* macros, whose GNU statement expressions clang's -Wpedantic rejects.
    const int rc = rd_kafka_produce(rkt_, RD_KAFKA_PARTITION_UA, 0, payload, len,
                                    key.empty() ? nullptr : key.data(), key.size(), opaque);
    const rd_kafka_resp_err_t e = rc == 0 ? RD_KAFKA_RESP_ERR_NO_ERROR : rd_kafka_last_error();
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
        slot(i) = outcome::pending;
        ++in_flight_;
        ++produced_;
        return produce_result::ok;
    }
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        ++queue_full_;
        return produce_result::queue_full;
    }
    // Refused locally (larger than message.max.bytes, unknown topic, fatal producer state):
    // another attempt fails the same way.
    ++delivery_errors_;
    slot(i) = outcome::rejected;
    log_error("record rejected", rd_kafka_err2str(e));
    return produce_result::failed;
}

uint32_t kafka_sink::produce_due(uint64_t now_tsc) noexcept {
    if (!batch_due(now_tsc)) {
        return 0;
    }
    uint64_t s = q_.sent();
    const uint64_t tail = q_.tail();
    uint32_t n = 0;
    while (s < tail && n < produce_round_max) {
        if (q_.rec(s).dropped != 0) {
            slot(s) = outcome::skipped; // dropped while waiting (drop=oldest): released in turn
            ++s;
            continue;
        }
        if (produce(s) == produce_result::queue_full) {
            break; // stays waiting: librdkafka's queue is full, try again next poll
        }
        ++s;
        ++n;
    }
    if (s != q_.sent()) {
        q_.mark_sent(s);
    }
    if (n != 0) {
        stats_.batch(n);
    }
    return n;
}

uint32_t kafka_sink::produce_retries() noexcept {
    uint32_t n = 0;
    for (uint64_t i = q_.head(); i < q_.sent() && retry_pending_ != 0; ++i) {
        if (slot(i) != outcome::retry) {
            continue;
        }
        const produce_result r = produce(i);
        if (r == produce_result::queue_full) {
            break;
        }
        --retry_pending_;
        if (r == produce_result::ok) {
            ++reproduced_;
            stats_.retries.add();
            ++n;
        }
    }
    return n;
}

void kafka_sink::release(uint64_t upto, outcome kind) noexcept {
    if (upto == q_.head()) {
        return;
    }
    if (kind == outcome::delivered) {
        q_.confirm(upto, spec_.framing);
    } else {
        // Failed records are dropped, not confirmed (so neither counted nor timed as delivered);
        // a run of records dropped while waiting (skipped) alone counts nothing either way.
        q_.drop_front(upto, kind == outcome::purged ? pipeline::sink_drop::shutdown
                                                    : pipeline::sink_drop::rejected);
    }
}

uint32_t kafka_sink::sweep() noexcept {
    const uint64_t head = q_.head();
    const uint64_t sent = q_.sent();
    uint64_t i = head;
    auto run = outcome::skipped; // the outcome of the run being collected
    for (; i < sent; ++i) {
        outcome& o = slot(i);
        if (o == outcome::pending || o == outcome::retry) {
            break; // releases go in order: wait for this one
        }
        if (o != outcome::skipped) {
            if (run != outcome::skipped && o != run) {
                release(i, run); // one release call per run of equal outcomes
            }
            run = o;
        }
        o = outcome::pending;
    }
    release(i, run);
    return static_cast<uint32_t>(i - head);
}

void kafka_sink::serve(int timeout_ms) noexcept {
    (void)rd_kafka_poll(rk_, timeout_ms); // delivery reports, errors, statistics: callbacks
}

uint32_t kafka_sink::poll(uint64_t now_tsc) noexcept {
    uint32_t moved = q_.pull();
    if (rk_ == nullptr) {
        return moved;
    }
    if (retry_pending_ != 0) {
        moved += produce_retries();
    }
    moved += produce_due(now_tsc);
    if (now_tsc - last_poll_tsc_ >= poll_tsc_) {
        last_poll_tsc_ = now_tsc;
        serve(0);
        moved += sweep();
    }
    return moved;
}

uint64_t kafka_sink::next_due_tsc(uint64_t now_tsc) const noexcept {
    const uint64_t base = sink::next_due_tsc(now_tsc);
    if (rk_ == nullptr || (idle() && retry_pending_ == 0)) {
        return base; // nothing in flight: librdkafka's own threads need no serving meanwhile
    }
    // Delivery reports are served every poll period while messages are in flight.
    return std::min(base, std::max(last_poll_tsc_ + poll_tsc_, now_tsc + 1));
}

void kafka_sink::abandon() noexcept {
    if (rk_ != nullptr) {
        // Whatever librdkafka still holds fails now with __PURGE_QUEUE or __PURGE_INFLIGHT
        // (acknowledgements that arrive later are ignored). Once a record's report is served,
        // librdkafka no longer reads its bytes, so the packets can go back.
        (void)rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        const uint64_t deadline = rte_rdtsc() + rte_get_tsc_hz() / 1000 * purge_wait_ms;
        serve(0);
        while (in_flight_ != 0 && rte_rdtsc() < deadline) {
            serve(10);
        }
        (void)sweep(); // delivered, rejected and purged records, in order
    }
    // The rest (waiting, marked for a retry, or without a report after the wait) is dropped.
    q_.drop_all(pipeline::sink_drop::shutdown);
    retry_pending_ = 0;
}

int kafka_sink::finish() noexcept {
    if (rk_ == nullptr) {
        return 0;
    }
    if (rd_kafka_flush(rk_, finish_flush_ms) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        (void)rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        serve(100);
    }
    q_.drop_all(pipeline::sink_drop::shutdown); // nothing, after a complete drain
    rd_kafka_topic_destroy(rkt_);
    rkt_ = nullptr;
    rd_kafka_destroy(rk_);
    rk_ = nullptr;
    return 0;
}

std::string kafka_sink::report_json() const {
    return fmt::format("\"brokers\": {}, \"topic\": {}, \"produced\": {}, \"delivery_errors\": "
                       "{}, \"librdkafka_resent\": {}, \"librdkafka_request_retries\": {}, "
                       "\"produced_again\": {}, \"queue_full\": {}, \"purged\": {}, "
                       "\"split_records\": {}",
                       util::json_quote(spec_.brokers), util::json_quote(spec_.topic), produced_,
                       delivery_errors_, rd_resent_, rd_request_retries_, reproduced_, queue_full_,
                       purged_, split_records_);
}

std::string kafka_sink::report_text() const {
    return fmt::format("brokers {} topic {}: produced {}, delivery errors {}, resent by "
                       "librdkafka {} (request retries {}), produced again {}, queue full {}, "
                       "purged {}{}",
                       spec_.brokers, spec_.topic, produced_, delivery_errors_, rd_resent_,
                       rd_request_retries_, reproduced_, queue_full_, purged_,
                       split_records_ != 0
                           ? fmt::format(", {} records not in one piece (bug)", split_records_)
                           : std::string());
}

} // namespace logagg::sink
