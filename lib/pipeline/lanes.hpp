// SPDX-License-Identifier: BSD-3-Clause
// Side: both (constants, a key enum and the octet-count width, fixed at start-up).
//
// What the pipeline and the sinks agree on about sinks, kept here (the lower layer) so that the
// pipeline never includes the command-line grammar in lib/config: how many sinks there can be,
// what a sink partitions its records by, and how wide an octet count is. config::sink_spec
// re-exports the first two.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "util/enum_names.hpp"

namespace logagg::pipeline {

/// Most --sink options. Why 8: per-lcore counter arrays and route masks are sized by it.
inline constexpr std::size_t max_sinks = 8;

/// What a sink partitions by: the worker puts a key piece in front of each message.
enum class key_field : uint8_t { none, host, app, source };
/// Values of key_field.
inline constexpr std::size_t key_field_count = 4;
/// The stable name of each key_field value (a Kafka sink's key=; util/enum_names.hpp).
[[nodiscard]] constexpr std::string_view name(key_field v) noexcept {
    switch (v) {
    case key_field::none:
        return "none";
    case key_field::host:
        return "host";
    case key_field::app:
        return "app";
    case key_field::source:
        return "source";
    }
    return "";
}
/// The names in enum order.
inline constexpr auto key_field_names = util::enum_names<key_field, key_field_count>();

/// Bytes of the RFC 6587 octet count and its space in front of a record of @p len bytes ("250 "):
/// what octet framing adds, whether the sink writes the count or the worker appends it.
[[nodiscard]] constexpr uint32_t octet_prefix_bytes(uint32_t len) noexcept {
    uint32_t digits = 1;
    for (uint32_t v = len; v >= 10; v /= 10) {
        ++digits;
    }
    return digits + 1;
}

} // namespace logagg::pipeline
