// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath (answer, flush), on the RX lcore that received the request; set up by the
// control plane.
//
// Answers ARP requests, ICMP echo, IPv6 neighbour solicitations and ICMPv6 echo for the port's
// own addresses (--ip). Each reply is built in place in the request's mbuf (no allocation) and
// sent on the TX queue this RX lcore owns, rate limited.
#pragma once

#include <array>
#include <cstdint>

#include <rte_mbuf.h>

#include "net/classify.hpp"
#include "net/local.hpp"
#include "util/enum_names.hpp"

namespace logagg::pipeline {

/// What the responder answers; counts of answers sent are kept by kind (index: packet_kind - 1).
enum class reply_kind : uint8_t { arp, icmp_echo, nd_advert, icmpv6_echo, count_ };
inline constexpr std::size_t reply_kinds = static_cast<std::size_t>(reply_kind::count_);

/// The stable name of each reply_kind value (util/enum_names.hpp); "" for none.
[[nodiscard]] constexpr std::string_view name(reply_kind v) noexcept {
    switch (v) {
    case reply_kind::arp:
        return "arp";
    case reply_kind::icmp_echo:
        return "icmp_echo";
    case reply_kind::nd_advert:
        return "nd_advert";
    case reply_kind::icmpv6_echo:
        return "icmpv6_echo";
    case reply_kind::count_:
        break;
    }
    return "";
}
/// The names in enum order.
inline constexpr auto reply_kind_names = util::enum_names<reply_kind, reply_kinds>();

/// One RX queue's responder. Single-threaded: only its RX lcore uses it.
struct responder {
    const net::local_addrs* local = nullptr;
    uint16_t port = 0;
    uint16_t txq = 0;
    uint32_t rate = 1000;    ///< answers per second (--reply-rate)
    uint64_t window_tsc = 0; ///< start of the current one-second window
    uint32_t in_window = 0;
    uint64_t tsc_hz = 0;
    uint16_t n_out = 0;
    std::array<rte_mbuf*, 32> out{};
    std::array<uint8_t, 32> out_kind{}; ///< reply kind index of each queued reply
};

/// Outcome of answer().
enum class answer_status : uint8_t { queued, rate_limited, failed };

/// Turns @p m (a request classify() recognised, described by @p info) into its reply and queues
/// it for TX. On queued the responder owns @p m; otherwise the caller still does (and frees it).
[[nodiscard]] answer_status answer(responder& r, rte_mbuf* m, const net::packet_info& info,
                                   uint64_t now_tsc) noexcept;

/// Sends what is queued; adds the replies the NIC took to @p sent (by kind).
/// @return how many it refused (freed here; the caller counts them as reply_failed).
[[nodiscard]] uint16_t flush(responder& r, std::array<uint32_t, reply_kinds>& sent) noexcept;

} // namespace logagg::pipeline
