// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane (start-up only). No DPDK: the option parser uses it before EAL.
//
// The librdkafka configuration of a kafka sink: the properties its parameters set, then the
// user's kafka-prop ones (applied last, so they win), and a check of both on a scratch
// configuration so that a property librdkafka refuses is a usage error found before EAL.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "config/sink_spec.hpp"
#include "util/result.hpp"

struct rd_kafka_conf_s;

namespace logagg::config {

/// The librdkafka properties logagg sets from a kafka sink's parameters (the user's kafka-prop
/// ones come after). @param queue_slots the record slots of the sink's queue: librdkafka may
/// hold no more messages than that.
[[nodiscard]] std::vector<std::pair<std::string, std::string>>
kafka_properties(const sink_spec& s, std::size_t queue_slots);

/// Sets kafka_properties() and then every kafka-prop on @p conf. @return whether the user set
/// librdkafka's debug property, or a usage failure "kafka-prop NAME=VALUE: librdkafka's reason"
/// (or "librdkafka property ..." for one of logagg's).
[[nodiscard]] util::result<bool> kafka_configure(rd_kafka_conf_s* conf, const sink_spec& s,
                                                 std::size_t queue_slots);

/// Sets every property of a kafka sink on a scratch configuration, which is then discarded:
/// an unknown kafka-prop or a value librdkafka refuses is reported before anything starts.
/// Checks that need the whole configuration (e.g. enable.idempotence with acks=1) are
/// librdkafka's when the producer is created. @return success, or kafka_configure()'s failure.
[[nodiscard]] util::result<void> check_kafka_conf(const sink_spec& s);

} // namespace logagg::config
