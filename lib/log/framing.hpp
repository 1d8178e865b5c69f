// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath (header-only, no allocation, no state).
//
// Splits a datagram payload into messages: LF separates messages; trailing CR and NUL bytes of
// each message are stripped; empty messages are skipped and counted. The payload may be spread
// over several contiguous pieces (the segments of an mbuf chain); messages are reported as packet
// offsets, never copied.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "util/enum_names.hpp"

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

/// How a datagram's payload is cut into messages.
enum class framing_mode : uint8_t {
    lf,          ///< LF-separated lines (split_lines)
    datagram,    ///< the whole datagram is one message (RFC 5426); embedded LFs are kept
    octet,       ///< RFC 6587 3.4.1 octet counting: MSG-LEN SP SYSLOG-MSG, repeated
    auto_detect, ///< octet counting when the payload starts with a valid "MSG-LEN SP", else lf
};
/// Values of framing_mode.
inline constexpr std::size_t framing_mode_count = 4;
/// The stable name of each framing_mode value (--framing's, --listen's framing=;
/// util/enum_names.hpp).
[[nodiscard]] constexpr std::string_view name(framing_mode v) noexcept {
    switch (v) {
    case framing_mode::lf:
        return "lf";
    case framing_mode::datagram:
        return "datagram";
    case framing_mode::octet:
        return "octet";
    case framing_mode::auto_detect:
        return "auto";
    }
    return "";
}
/// The names in enum order.
inline constexpr auto framing_mode_names = util::enum_names<framing_mode, framing_mode_count>();

/// Framing policy of one listener. Immutable after start-up.
struct framing_options {
    framing_mode mode = framing_mode::lf;
    uint32_t max_msg = 65536;   ///< longest message kept whole (--max-msg)
    bool drop_oversize = false; ///< false: truncate to max_msg and flag; true: drop and count
};

/// Totals of one frame_payload() call.
struct frame_result {
    uint32_t messages = 0;         ///< messages reported (truncated ones included)
    uint32_t empty = 0;            ///< empty lines / empty datagrams skipped
    uint32_t truncated = 0;        ///< messages cut to max_msg (reported, flagged)
    uint32_t oversize_dropped = 0; ///< messages longer than max_msg dropped (drop_oversize)
    uint32_t framing_errors =
        0; ///< 1 when octet counting broke; the rest of the payload is discarded
};

namespace detail {

/// Byte at packet offset @p at anywhere in @p pieces (linear scan; only used on short prefixes).
[[nodiscard]] inline char byte_at_any(std::span<const piece> pieces, uint32_t at) noexcept {
    for (const piece& p : pieces) {
        if (at >= p.off && at - p.off < p.len) {
            return p.data[at - p.off];
        }
    }
    return '\0';
}

[[nodiscard]] inline bool trailing_junk(char c) noexcept {
    return c == '\r' || c == '\n' || c == '\0';
}

/// Reads "MSG-LEN SP" at @p at (RFC 6587 3.4.1: NONZERO-DIGIT *DIGIT, at most 9 digits here).
/// @return the length and sets @p body to the first message byte, or 0 when malformed.
[[nodiscard]] inline uint32_t octet_count_at(std::span<const piece> pieces, uint32_t at,
                                             uint32_t end, uint32_t& body) noexcept {
    uint32_t len = 0;
    uint32_t i = at;
    for (; i < end && i - at < 10; ++i) {
        const char c = byte_at_any(pieces, i);
        if (c == ' ') {
            break;
        }
        if (c < '0' || c > '9' || (i == at && c == '0') || i - at == 9) {
            return 0;
        }
        len = len * 10 + static_cast<uint32_t>(c - '0');
    }
    if (i == at || i >= end || len > end - (i + 1)) {
        return 0; // no digits, no SP, or a frame longer than what is left
    }
    body = i + 1;
    return len;
}

} // namespace detail

/// Cuts the payload made of @p pieces into messages according to @p opts and calls
/// `on_message(uint32_t off, uint32_t len, bool lf_follows, bool truncated)` for each.
/// lf mode: as split_lines(). datagram mode: one message, trailing CR/LF/NUL stripped.
/// octet mode: MSG-LEN SP MSG frames back to back (CR/LF/NUL between frames tolerated), each
/// message with trailing CR/LF/NUL stripped; a malformed frame ends framing of the datagram
/// (framing_errors = 1). auto_detect: octet when the payload starts with a valid frame, else lf.
/// Messages longer than opts.max_msg are truncated (and flagged) or dropped and counted.
template <typename OnMessage>
[[nodiscard]] frame_result frame_payload(std::span<const piece> pieces, const framing_options& opts,
                                         OnMessage&& on_message) noexcept {
    frame_result res;
    auto deliver = [&](uint32_t off, uint32_t len, bool lf) noexcept {
        if (len > opts.max_msg) {
            if (opts.drop_oversize) {
                ++res.oversize_dropped;
                return;
            }
            ++res.truncated;
            on_message(off, opts.max_msg, false, true);
        } else {
            on_message(off, len, lf, false);
        }
        ++res.messages;
    };
    uint32_t total = 0;
    for (const piece& p : pieces) {
        total += p.len;
    }
    if (pieces.empty() || total == 0) {
        res.empty = 1;
        return res;
    }
    const uint32_t begin = pieces.front().off;
    const uint32_t end = begin + total;
    framing_mode mode = opts.mode;
    uint32_t body = 0;
    if (mode == framing_mode::auto_detect) {
        mode = detail::octet_count_at(pieces, begin, end, body) != 0 ? framing_mode::octet
                                                                     : framing_mode::lf;
    }
    // Strips trailing CR/LF/NUL of [off, stop) and delivers it, or counts it empty.
    auto trimmed = [&](uint32_t off, uint32_t stop) noexcept {
        while (stop > off && detail::trailing_junk(detail::byte_at_any(pieces, stop - 1))) {
            --stop;
        }
        if (stop == off) {
            ++res.empty;
        } else {
            deliver(off, stop - off, false);
        }
    };
    switch (mode) {
    case framing_mode::lf:
    case framing_mode::auto_detect: {
        const frame_counts c = split_lines(pieces, deliver);
        res.empty += c.empty;
        break;
    }
    case framing_mode::datagram:
        trimmed(begin, end);
        break;
    case framing_mode::octet: {
        uint32_t at = begin;
        while (at < end) {
            const char c = detail::byte_at_any(pieces, at);
            if (detail::trailing_junk(c)) {
                ++at; // tolerate CR/LF/NUL between frames
                continue;
            }
            const uint32_t len = detail::octet_count_at(pieces, at, end, body);
            if (len == 0) {
                res.framing_errors = 1;
                break;
            }
            trimmed(body, body + len);
            at = body + len;
        }
        break;
    }
    }
    return res;
}

} // namespace logagg::log
