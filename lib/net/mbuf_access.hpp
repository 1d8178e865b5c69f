// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath (no allocation, no state).
//
// The one place where packet bytes are read by header: every access is bounds-checked against the
// mbuf chain and works across segment boundaries.
#pragma once

#include <cstdint>
#include <cstring>

#include <rte_mbuf.h>

#include "net/headers.hpp"

namespace logagg::net {

/// Reads @p len bytes at packet offset @p off of the chain @p m.
/// @return a pointer into the packet when the bytes are contiguous in one segment, otherwise a
///         pointer to @p scratch after copying them there (header bytes only, never payload);
///         nullptr when the chain holds fewer than off + len bytes.
/// Thread-safety: reads only; the caller owns @p m for the duration of the call.
[[nodiscard]] inline const void* bytes_at(const rte_mbuf* m, uint32_t off, uint32_t len,
                                          void* scratch) noexcept {
    if (len > UINT32_MAX - off) {
        return nullptr;
    }
    return rte_pktmbuf_read(m, off, len, scratch);
}

/// Typed header access: like bytes_at() for sizeof(H) bytes, and also copies to @p scratch when
/// the bytes in the packet are not aligned for H.
/// IMPORTANT: lifetime: the returned pointer is valid while @p m is held and @p scratch lives.
template <typename H>
[[nodiscard]] inline const H* header_at(const rte_mbuf* m, uint32_t off, H& scratch) noexcept {
    static_assert(is_overlay_v<H>, "header_at() needs a wire overlay type");
    const void* p = bytes_at(m, off, sizeof(H), &scratch);
    if (p == nullptr) {
        return nullptr;
    }
    if (reinterpret_cast<uintptr_t>(p) % alignof(H) != 0) {
        std::memcpy(&scratch, p, sizeof(H));
        return &scratch;
    }
    return static_cast<const H*>(p);
}

} // namespace logagg::net
