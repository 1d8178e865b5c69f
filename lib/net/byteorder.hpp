// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath and control plane (pure, no state).
//
// Strong big-endian field types for wire overlays: a field read without its byte swap does not
// compile, because be16/be32 do not convert to integers implicitly.
#pragma once

#include <bit>
#include <cstdint>

namespace logagg::net {

static_assert(std::endian::native == std::endian::little || std::endian::native == std::endian::big,
              "mixed-endian hosts are not supported");

namespace detail {
[[nodiscard]] constexpr uint16_t swap_if_le(uint16_t v) noexcept {
    if constexpr (std::endian::native == std::endian::little) {
        return static_cast<uint16_t>((v >> 8) | (v << 8));
    } else {
        return v;
    }
}
[[nodiscard]] constexpr uint32_t swap_if_le(uint32_t v) noexcept {
    if constexpr (std::endian::native == std::endian::little) {
        return __builtin_bswap32(v);
    } else {
        return v;
    }
}
} // namespace detail

/// A 16-bit field in network byte order, as it sits in the packet.
struct be16 {
    uint16_t raw; ///< the bytes as stored (network order)

    /// @return the value in host byte order.
    [[nodiscard]] constexpr uint16_t value() const noexcept { return detail::swap_if_le(raw); }
    /// @return a field holding host value @p v in network order.
    [[nodiscard]] static constexpr be16 from(uint16_t v) noexcept {
        return be16{detail::swap_if_le(v)};
    }
    friend constexpr bool operator==(be16, be16) noexcept = default;
};

/// A 32-bit field in network byte order, as it sits in the packet.
struct be32 {
    uint32_t raw; ///< the bytes as stored (network order)

    /// @return the value in host byte order.
    [[nodiscard]] constexpr uint32_t value() const noexcept { return detail::swap_if_le(raw); }
    /// @return a field holding host value @p v in network order.
    [[nodiscard]] static constexpr be32 from(uint32_t v) noexcept {
        return be32{detail::swap_if_le(v)};
    }
    friend constexpr bool operator==(be32, be32) noexcept = default;
};

static_assert(sizeof(be16) == 2 && alignof(be16) == 2);
static_assert(sizeof(be32) == 4 && alignof(be32) == 4);

} // namespace logagg::net
