// SPDX-License-Identifier: BSD-3-Clause
// Side: both (constants and a key enum, fixed at start-up).
//
// What the pipeline and the sinks agree on about sinks, kept here (the lower layer) so that the
// pipeline never includes the command-line grammar in lib/config: how many sinks there can be
// and what a sink partitions its records by. config::sink_spec re-exports both names.
#pragma once

#include <cstddef>
#include <cstdint>

namespace logagg::pipeline {

/// Most --sink options. Why 8: per-lcore counter arrays and route masks are sized by it.
inline constexpr std::size_t max_sinks = 8;

/// What a sink partitions by: the worker puts a key piece in front of each message.
enum class key_field : uint8_t { none, host, app, source };

} // namespace logagg::pipeline
