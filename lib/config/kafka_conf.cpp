// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane.
#include "config/kafka_conf.hpp"

#include <algorithm>

#include <fmt/core.h>
#include <librdkafka/rdkafka.h>

namespace logagg::config {
namespace {

/// librdkafka statistics period. Why 1 s: librdkafka's granularity; retries are a slow figure.
constexpr const char* stats_interval_ms = "1000";
/// The record slots the scratch check assumes: the most a sink queue has (sink.cpp bounds its
/// records at 2^20), so the value checked is never smaller than a real one.
constexpr std::size_t max_queue_slots = std::size_t{1} << 20;

} // namespace

std::vector<std::pair<std::string, std::string>> kafka_properties(const sink_spec& s,
                                                                  std::size_t queue_slots) {
    // librdkafka's own queue must not hold more than our bound: every message it holds is one
    // of our records in flight, and a record pins at least its value and key bytes, so
    //   queue.buffering.max.kbytes   = buffer= / 1024      (value + key bytes, librdkafka's count)
    //   queue.buffering.max.messages = the queue's record slots
    // never let librdkafka hold more than buffer= allows; it reports QUEUE_FULL before that
    // only in --on-sink-full block mode (where our queue may run one burst over), and QUEUE_FULL
    // leaves records waiting here: backpressure.
    const bool acks_all = s.acks == "all";
    return {
        {"bootstrap.servers", s.brokers},
        {"compression.codec", s.compression},
        {"request.required.acks", acks_all ? "-1" : s.acks},
        {"linger.ms", fmt::format("{}", s.batch.max_age_us / 1000.0)},
        {"batch.num.messages", std::to_string(s.batch.records)},
        {"batch.size", std::to_string(s.batch.bytes)},
        {"queue.buffering.max.kbytes",
         std::to_string(std::max<uint64_t>(s.buffer_bytes / 1024, 1))},
        {"queue.buffering.max.messages", std::to_string(queue_slots)},
        // Infinite: librdkafka never gives up on an accepted record on its own; the drain
        // deadline decides at exit.
        {"message.timeout.ms", "0"},
        // acks=all: no duplicates or reordering from librdkafka's internal retries.
        {"enable.idempotence", acks_all ? "true" : "false"},
        {"statistics.interval.ms", stats_interval_ms},
    };
}

util::result<bool> kafka_configure(rd_kafka_conf_s* conf, const sink_spec& s,
                                   std::size_t queue_slots) {
    char err[512];
    auto set = [&](const std::string& k, const std::string& v,
                   const char* origin) -> util::result<void> {
        if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
            return util::usage_failure(fmt::format("{} {}={}: {}", origin, k, v, err));
        }
        return util::ok();
    };
    bool debug = false;
    for (const auto& [k, v] : kafka_properties(s, queue_slots)) {
        if (auto r = set(k, v, "librdkafka property"); !r) {
            return r.error();
        }
    }
    for (const auto& [k, v] : s.kafka_props) { // the user's last: they override ours
        if (auto r = set(k, v, "kafka-prop"); !r) {
            return r.error();
        }
        debug |= k == "debug";
    }
    return debug;
}

util::result<void> check_kafka_conf(const sink_spec& s) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    const util::result<bool> r = kafka_configure(conf, s, max_queue_slots);
    rd_kafka_conf_destroy(conf);
    if (!r) {
        return r.error();
    }
    return util::ok();
}

} // namespace logagg::config
