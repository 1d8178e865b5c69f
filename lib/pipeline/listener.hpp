// SPDX-License-Identifier: BSD-3-Clause
// Side: built by the control plane, read-only on the datapath.
//
// Per-listener settings (framing policy; the log format later), looked up by UDP destination port.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "log/framing.hpp"
#include "util/enum_names.hpp"

namespace logagg::pipeline {

/// The log format a listener expects (--listen udp:PORT:FORMAT).
enum class listen_format : uint8_t { auto_detect, rfc5424, rfc3164, json, gelf, raw, count_ };
/// The stable name of each listen_format value (util/enum_names.hpp); "" for none.
[[nodiscard]] constexpr std::string_view name(listen_format v) noexcept {
    switch (v) {
    case listen_format::auto_detect:
        return "auto";
    case listen_format::rfc5424:
        return "rfc5424";
    case listen_format::rfc3164:
        return "rfc3164";
    case listen_format::json:
        return "json";
    case listen_format::gelf:
        return "gelf";
    case listen_format::raw:
        return "raw";
    case listen_format::count_:
        break;
    }
    return "";
}
/// The names in enum order.
inline constexpr auto listen_format_names =
    util::enum_names<listen_format, static_cast<std::size_t>(listen_format::count_)>();

/// One --listen entry.
struct listener {
    uint16_t port = 0;
    log::framing_options framing{};
    listen_format format = listen_format::auto_detect;
};

/// Slots of a listener_table: slot 0 (ports without a listener) and up to 255 listeners. Why
/// 256: a slot fits the table's one-byte index, and per-listener counters (pipeline::lcore_stats)
/// are an array indexed by slot, so a listener of any transport (UDP now, TCP later) that takes
/// a slot is counted by the same code.
inline constexpr std::size_t listener_slots = 256;

/// Maps a destination port to its listener: a 64 KiB index (one load) into a short list.
/// Ports without a listener map to slot 0, which classify() never lets through anyway.
class listener_table {
public:
    /// Control plane. @return false when every slot is taken (255 listeners).
    bool add(const listener& l) {
        if (list_.size() >= listener_slots) {
            return false;
        }
        if (list_.empty()) {
            list_.push_back(l); // slot 0 doubles as the default
        }
        list_.push_back(l);
        index_[l.port] = static_cast<uint8_t>(list_.size() - 1);
        return true;
    }
    /// Datapath. The listener for @p port (slot 0 for ports never added).
    [[nodiscard]] const listener& of(uint16_t port) const noexcept { return list_[index_[port]]; }
    /// Any side. The slot of @p port's listener (0 for ports never added): the index of its
    /// per-listener counters.
    [[nodiscard]] uint8_t slot(uint16_t port) const noexcept { return index_[port]; }
    /// Datapath. The listener in @p slot (slot() of a port; 0 is the default).
    [[nodiscard]] const listener& at(uint8_t slot) const noexcept { return list_[slot]; }

private:
    std::array<uint8_t, 65536> index_{};
    std::vector<listener> list_;
};

} // namespace logagg::pipeline
