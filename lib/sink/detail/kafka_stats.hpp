// SPDX-License-Identifier: BSD-3-Clause
// Side: sink (called from the statistics callback, on the sink lcore). Header-only, pure, no
// allocation.
//
// The figures the Kafka sink reads from librdkafka's statistics JSON (STATISTICS.md of
// librdkafka 2.0.2), without a JSON parser: the document is librdkafka's own, once a second.
#pragma once

#include <cstdint>
#include <string_view>

namespace logagg::sink::detail {

/// The sum of every "txretries" member of a librdkafka statistics document: request retries,
/// one member per broker (STATISTICS.md of librdkafka 2.0.2 has no top-level retry count).
[[nodiscard]] inline uint64_t sum_txretries(std::string_view json) noexcept {
    constexpr std::string_view tag = "\"txretries\":";
    uint64_t sum = 0;
    for (std::size_t p = json.find(tag); p != std::string_view::npos; p = json.find(tag, p)) {
        p += tag.size();
        while (p < json.size() && json[p] == ' ') {
            ++p;
        }
        uint64_t v = 0;
        while (p < json.size() && json[p] >= '0' && json[p] <= '9') {
            v = v * 10 + static_cast<uint64_t>(json[p] - '0');
            ++p;
        }
        sum += v;
    }
    return sum;
}

/// The unsigned integer member @p key of the top-level object of a statistics document (the
/// same name appears deeper too: partitions have their own "txmsgs"). 0 when absent.
[[nodiscard]] inline uint64_t top_level_u64(std::string_view json, std::string_view key) noexcept {
    int depth = 0;
    for (std::size_t p = 0; p < json.size(); ++p) {
        const char c = json[p];
        if (c == '{' || c == '[') {
            ++depth;
        } else if (c == '}' || c == ']') {
            --depth;
        } else if (c == '"') {
            std::size_t end = p + 1;
            while (end < json.size() && json[end] != '"') {
                end += json[end] == '\\' ? 2 : 1; // an escaped character (a client.id's quote)
            }
            if (end >= json.size()) {
                return 0;
            }
            const std::string_view s = json.substr(p + 1, end - p - 1);
            p = end;
            std::size_t q = p + 1;
            while (q < json.size() && json[q] == ' ') {
                ++q;
            }
            if (depth != 1 || s != key || q >= json.size() || json[q] != ':') {
                continue; // a value, or a member of an inner object
            }
            ++q;
            while (q < json.size() && json[q] == ' ') {
                ++q;
            }
            uint64_t v = 0;
            for (; q < json.size() && json[q] >= '0' && json[q] <= '9'; ++q) {
                v = v * 10 + static_cast<uint64_t>(json[q] - '0');
            }
            return v;
        }
    }
    return 0;
}

/// The brokers in state "UP" (a connection the producer can use) in the "brokers" object of a
/// statistics document: each broker's object has one "state" member ("INIT", "DOWN", "CONNECT",
/// "UP", ...), its nested objects (latencies, requests, partitions) have none.
[[nodiscard]] inline unsigned brokers_up(std::string_view json) noexcept {
    constexpr std::string_view tag = "\"brokers\"";
    std::size_t p = json.find(tag);
    // The value: the object after the member's colon, to its matching brace (strings skipped).
    while (p < json.size() && json[p] != '{') {
        ++p;
    }
    const std::size_t begin = p;
    int depth = 0;
    for (; p < json.size(); ++p) {
        const char c = json[p];
        if (c == '"') {
            for (++p; p < json.size() && json[p] != '"'; ++p) {
                p += json[p] == '\\' ? 1 : 0; // an escaped character
            }
        } else if (c == '{') {
            ++depth;
        } else if (c == '}' && --depth == 0) {
            break;
        }
    }
    if (begin >= json.size() || p >= json.size()) {
        return 0; // no brokers object, or a truncated one
    }
    const std::string_view brokers = json.substr(begin, p - begin + 1);
    unsigned up = 0;
    constexpr std::string_view state = "\"state\"";
    for (std::size_t s = brokers.find(state); s != std::string_view::npos;
         s = brokers.find(state, s)) {
        s += state.size();
        while (s < brokers.size() && (brokers[s] == ' ' || brokers[s] == ':')) {
            ++s;
        }
        up += brokers.substr(s, 4) == "\"UP\"" ? 1 : 0;
    }
    return up;
}

} // namespace logagg::sink::detail
