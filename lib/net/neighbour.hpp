// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath on both ends: RX lcores write what ARP replies and neighbour advertisements
// teach (learn()), port sinks read it (mac_of()). Lock-free: each slot's MAC is one atomic word.
//
// The few next hops port sinks send to, with the link-layer addresses learned for them.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>

namespace logagg::net {

/// One next hop: fixed at start-up, then only its MAC and timestamp change.
struct neighbour_slot {
    int family = 0;        ///< AF_INET or AF_INET6
    uint8_t addr[16] = {}; ///< the next hop (IPv4 in the first 4 bytes)
    uint16_t port = 0;     ///< the port it is reached through
    /// 0 while unknown; else bit 63 set and the MAC in the low 48 bits.
    std::atomic<uint64_t> mac{0};
    std::atomic<uint64_t> learned_tsc{0}; ///< TSC of the last confirmation
};

/// The next hops of all port sinks. Built by the control plane before the lcores start; the
/// slot set never changes afterwards.
class neighbour_table {
public:
    /// Most next hops. Why 8: one per port sink at most (max_sinks).
    static constexpr unsigned capacity = 8;

    /// Control plane: adds (or finds) the slot for @p addr on @p port.
    neighbour_slot* add(uint16_t port, int family, const uint8_t* addr) {
        const std::size_t len = family == AF_INET ? 4 : 16;
        for (unsigned i = 0; i < n_; ++i) {
            if (slots_[i].port == port && slots_[i].family == family &&
                std::memcmp(slots_[i].addr, addr, len) == 0) {
                return &slots_[i];
            }
        }
        if (n_ == capacity) {
            return nullptr;
        }
        neighbour_slot& s = slots_[n_++];
        s.family = family;
        s.port = port;
        std::memcpy(s.addr, addr, len);
        return &s;
    }

    /// Datapath (RX lcores): records that @p addr is at @p mac.
    /// @return true when a slot wanted it (the frame was useful).
    bool learn(uint16_t port, int family, const uint8_t* addr, const uint8_t* mac,
               uint64_t now_tsc) noexcept {
        const std::size_t len = family == AF_INET ? 4 : 16;
        bool used = false;
        for (unsigned i = 0; i < n_; ++i) {
            neighbour_slot& s = slots_[i];
            if (s.port != port || s.family != family || std::memcmp(s.addr, addr, len) != 0) {
                continue;
            }
            uint64_t word = uint64_t{1} << 63;
            for (int k = 0; k < 6; ++k) {
                word |= uint64_t{mac[k]} << (8 * (5 - k));
            }
            s.learned_tsc.store(now_tsc, std::memory_order_relaxed);
            s.mac.store(word, std::memory_order_release);
            used = true;
        }
        return used;
    }

    [[nodiscard]] bool empty() const noexcept { return n_ == 0; }

    /// Datapath (sinks): the MAC of @p s into @p mac. @return false while unknown.
    static bool mac_of(const neighbour_slot& s, uint8_t (&mac)[6]) noexcept {
        const uint64_t word = s.mac.load(std::memory_order_acquire);
        if (word == 0) {
            return false;
        }
        for (int k = 0; k < 6; ++k) {
            mac[k] = static_cast<uint8_t>(word >> (8 * (5 - k)));
        }
        return true;
    }

private:
    neighbour_slot slots_[capacity];
    unsigned n_ = 0;
};

} // namespace logagg::net
