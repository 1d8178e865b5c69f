// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath (header-only, no allocation, no state).
//
// Splits a datagram payload into messages: LF separates messages; trailing CR and NUL bytes of
// each message are stripped; empty messages are skipped and counted. The payload may be spread
// over several contiguous pieces (the segments of an mbuf chain); messages are reported as packet
// offsets, never copied.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>

namespace logagg::log {

/// A contiguous run of payload bytes. @c off is the packet offset of data[0].
/// IMPORTANT: lifetime: points into packet data; valid while the packet is held.
struct piece {
    const char* data;
    uint32_t off;
    uint32_t len;
};

/// Totals of one split_lines() call.
struct frame_counts {
    uint32_t messages = 0; ///< messages reported to the callback
    uint32_t empty = 0;    ///< lines that were empty after stripping (skipped)
};

namespace detail {

/// Byte at packet offset @p at, which must lie inside @p pieces. Pieces are searched from the
/// hint backwards: trimming only ever looks a few bytes behind the current position.
[[nodiscard]] inline char byte_at(std::span<const piece> pieces, std::size_t hint,
                                  uint32_t at) noexcept {
    for (std::size_t i = hint + 1; i-- > 0;) {
        if (at >= pieces[i].off) {
            return pieces[i].data[at - pieces[i].off];
        }
    }
    return pieces[0].data[0]; // unreachable for valid input: at >= pieces[0].off
}

[[nodiscard]] inline bool strippable(char c) noexcept {
    return c == '\r' || c == '\0';
}

} // namespace detail

/// Splits the payload made of @p pieces (in packet order, adjacent offsets) into LF-separated
/// messages. For every non-empty message calls `on_message(uint32_t off, uint32_t len,
/// bool lf_follows)` where lf_follows says that the byte right after the message is the LF that
/// ended it and lies in the same piece (so a writer may emit len + 1 bytes in place).
/// An entirely empty payload counts as one empty message; bytes after the last LF form a message
/// only if any remain.
/// Complexity: one memchr pass; trimming looks back only over CR/NUL bytes.
template <typename OnMessage>
[[nodiscard]] frame_counts
split_lines(std::span<const piece> pieces,
            OnMessage&& on_message) noexcept(noexcept(on_message(0u, 0u, false))) {
    frame_counts counts;
    uint32_t total = 0;
    for (const piece& p : pieces) {
        total += p.len;
    }
    if (total == 0) {
        counts.empty = 1;
        return counts;
    }
    const uint32_t begin = pieces.front().off;
    const uint32_t end = begin + total;
    uint32_t line_start = begin;

    auto emit = [&](std::size_t idx, uint32_t line_end, bool lf_here) {
        uint32_t stop = line_end;
        while (stop > line_start && detail::strippable(detail::byte_at(pieces, idx, stop - 1))) {
            --stop;
        }
        if (stop == line_start) {
            ++counts.empty;
            return;
        }
        // lf_follows only when nothing was stripped and the LF sits in the same piece as the
        // message's last byte.
        const bool same_piece = stop - 1 >= pieces[idx].off;
        on_message(line_start, stop - line_start, lf_here && stop == line_end && same_piece);
        ++counts.messages;
    };

    for (std::size_t i = 0; i < pieces.size(); ++i) {
        const piece& pc = pieces[i];
        const char* p = pc.data;
        const char* const e = pc.data + pc.len;
        while (p < e) {
            const void* nl = std::memchr(p, '\n', static_cast<std::size_t>(e - p));
            if (nl == nullptr) {
                break;
            }
            const char* lf = static_cast<const char*>(nl);
            const uint32_t lf_off = pc.off + static_cast<uint32_t>(lf - pc.data);
            emit(i, lf_off, true);
            line_start = lf_off + 1;
            p = lf + 1;
        }
    }
    if (line_start < end) {
        emit(pieces.size() - 1, end, false);
    }
    return counts;
}

} // namespace logagg::log
