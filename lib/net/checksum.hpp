// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath (pure).
#pragma once

#include <cstdint>

namespace logagg::net {

/// Folds a 32-bit one's-complement sum to 16 bits (RFC 1071), not complemented.
[[nodiscard]] constexpr uint16_t fold_checksum(uint32_t sum) noexcept {
    sum = (sum & 0xffffu) + (sum >> 16);
    sum = (sum & 0xffffu) + (sum >> 16);
    return static_cast<uint16_t>(sum);
}

static_assert(fold_checksum(0x0001fffe) == 0xffff);
static_assert(fold_checksum(0xffffffff) == 0xffff);

} // namespace logagg::net
