// SPDX-License-Identifier: BSD-3-Clause
// Side: built by the control plane from --ip, read-only on the datapath.
//
// The addresses logagg owns on one port (--ip PORT:ADDR/PREFIX). With none, logagg accepts log
// traffic to any address and answers nothing (capture and mirror-port mode).
#pragma once

#include <array>
#include <cstdint>
#include <cstring>

namespace logagg::net {

/// Own addresses of one port. Small fixed arrays: a linear scan of a few entries is one cache line.
struct local_addrs {
    static constexpr unsigned max_per_family = 8;
    uint8_t mac[6] = {};
    std::array<std::array<uint8_t, 4>, max_per_family> v4{};
    std::array<uint8_t, max_per_family> v4_prefix{};
    uint8_t n_v4 = 0;
    std::array<std::array<uint8_t, 16>, max_per_family> v6{};
    std::array<uint8_t, max_per_family> v6_prefix{};
    uint8_t n_v6 = 0;

    [[nodiscard]] bool any() const noexcept { return n_v4 + n_v6 != 0; }

    [[nodiscard]] bool has_v4(const uint8_t* a) const noexcept {
        for (unsigned i = 0; i < n_v4; ++i) {
            if (std::memcmp(v4[i].data(), a, 4) == 0) {
                return true;
            }
        }
        return false;
    }

    [[nodiscard]] bool has_v6(const uint8_t* a) const noexcept {
        for (unsigned i = 0; i < n_v6; ++i) {
            if (std::memcmp(v6[i].data(), a, 16) == 0) {
                return true;
            }
        }
        return false;
    }

    /// True when @p a is the solicited-node multicast address (RFC 4291 2.7.1, ff02::1:ffXX:XXXX)
    /// of one of our IPv6 addresses.
    [[nodiscard]] bool is_our_solicited_node(const uint8_t* a) const noexcept {
        static constexpr uint8_t prefix[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff};
        if (std::memcmp(a, prefix, sizeof prefix) != 0) {
            return false;
        }
        for (unsigned i = 0; i < n_v6; ++i) {
            if (std::memcmp(v6[i].data() + 13, a + 13, 3) == 0) {
                return true;
            }
        }
        return false;
    }
};

} // namespace logagg::net
