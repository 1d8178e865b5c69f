// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath.
//
// What crosses from a worker to a sink: a reference to message bytes inside a received packet.
#pragma once

#include <atomic>
#include <cstdint>
#include <type_traits>

#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#include "pipeline/lanes.hpp"

namespace logagg::pipeline {

/// One piece of a message for a sink: @c len bytes at packet offset @c off of @c pkt, or at
/// offset @c off of the lane's gen_arena (@c gen). A message is one or more pieces, the last
/// with @c more clear; the sink adds the framing (LF or an octet count).
///
/// Ownership: descriptors are produced in runs ("units"), one unit per packet and sink (or several
/// for a packet with more pieces than a staging buffer holds). Each unit owns exactly one
/// reference to its packet; the last descriptor of a unit has @c release set and the sink drops
/// that reference (rte_pktmbuf_free) once the messages before it are delivered or dropped. A
/// packet whose messages go to k sinks carries k references. Nobody else frees the packet.
/// IMPORTANT: lifetime: the bytes are valid until the unit's reference is released.
///
/// Appended records (@c own): a file or TCP sink lane copies a short record into the arena, framed
/// as the sink frames it: followed by its LF (@c lf_follows), or after its RFC 6587 octet count
/// and a space (@c octet: the count is right before @c off, no LF follows). One descriptor
/// (@c gen set); the lane keeps no reference to the packet, which goes back at once. Such a
/// descriptor carries the packet's RX time instead of the pointer and never has @c release set; it
/// ends its record and opens no unit.
struct msg_desc {
    // Every field defaults to zero so that a descriptor is written with designated initialisers
    // naming only the flags it sets (msg_desc{.pkt = m, .off = o, .len = n, .more = 1}).
    union {
        rte_mbuf* pkt = nullptr; ///< the packet (not own)
        uint64_t rx_tsc;         ///< own: the TSC of the RX burst that took the packet (pkt_meta)
    };
    uint32_t off = 0;
    uint32_t len : 24 = 0;
    uint32_t lf_follows : 1 =
        0;                    ///< the byte after the message is its LF, in the same segment/arena
    uint32_t release : 1 = 0; ///< last descriptor of a unit: release one packet reference after it
    uint32_t truncated : 1 = 0; ///< cut to --max-msg
    uint32_t more : 1 = 0;      ///< the message continues in the next descriptor (encoded output)
    uint32_t gen : 1 = 0;       ///< the bytes are at offset @c off of the lane's gen_arena, not pkt
    uint32_t key : 1 = 0;       ///< a partition key piece (generated), before its message's pieces
    uint32_t own : 1 = 0;       ///< the record is whole in the arena, framing included (see above)
    uint32_t octet : 1 = 0;     ///< own: its octet count and a space precede @c off in the arena
};
static_assert(sizeof(msg_desc) == 16, "ring element size is a multiple of 4 bytes");
static_assert(std::is_trivially_copyable_v<msg_desc>, "rings copy descriptors as bytes");

/// Arena bytes a generated descriptor takes from @c off on: its bytes, and an appended record's
/// LF. The end of these bytes is where the next piece may start.
[[nodiscard]] inline uint32_t arena_bytes(const msg_desc& d) noexcept {
    return static_cast<uint32_t>(d.len) + (d.own & d.lf_follows);
}

/// Arena bytes a generated descriptor pins: arena_bytes() and an appended record's octet count.
[[nodiscard]] inline uint32_t arena_cost(const msg_desc& d) noexcept {
    return arena_bytes(d) + (d.octet != 0 ? octet_prefix_bytes(d.len) : 0u);
}

/// Most descriptors one encoded message takes: generated pieces between references, and
/// references beyond max_refs_per_msg are copied instead.
inline constexpr uint32_t max_refs_per_msg = 8;
inline constexpr uint32_t max_descs_per_msg = 2 * max_refs_per_msg + 3; // + a key piece

/// Largest message length a descriptor can carry (2^24 - 1; datagrams are at most 65,507).
inline constexpr uint32_t max_desc_len = (1u << 24) - 1;

/// Bytes an encoding worker generates (envelopes, escaped text) for its sink: a ring of bytes
/// the worker fills in order and the sink releases in order after writing them. Positions are
/// 64-bit and only grow; a piece never wraps (the worker skips the end instead).
/// IMPORTANT: lifetime: bytes in [released, head) belong to descriptors in flight.
struct alignas(RTE_CACHE_LINE_SIZE) gen_arena {
    char* base = nullptr;
    uint32_t size = 0;
    uint64_t head = 0; ///< worker only: next free position
    /// worker only: @c released as the worker last read it (no more than it is now)
    uint64_t released_seen = 0;
    alignas(RTE_CACHE_LINE_SIZE) std::atomic<uint64_t> released{0}; ///< sink writes, worker reads

    /// The 64-bit position of a piece at ring offset @p off, given that it lies at or after
    /// position @p after (pieces are produced and consumed in increasing position order).
    [[nodiscard]] uint64_t position(uint64_t after, uint32_t off) const noexcept {
        uint64_t p = after - after % size + off;
        return p < after ? p + size : p;
    }
};

/// Packet metadata the RX stage stores in the registered mbuf dynfield for the worker.
struct pkt_meta {
    uint32_t payload_off; ///< packet offset of the UDP payload
    uint16_t payload_len; ///< bytes of UDP payload
    uint16_t dst_port;    ///< UDP destination port (selects the listener)
    uint64_t rx_tsc;      ///< TSC of the RX burst that took it (sinks measure latency from it)
};
static_assert(sizeof(pkt_meta) == 16);

/// Takes one more reference on every segment of chain @p m: rte_pktmbuf_free() drops one from
/// each segment, so a reference to a packet is a reference to all of its segments.
inline void retain_chain(rte_mbuf* m) noexcept {
    for (rte_mbuf* s = m; s != nullptr; s = s->next) {
        rte_mbuf_refcnt_update(s, 1);
    }
}

/// Accessor for the dynfield at byte offset @p off (from rte_mbuf_dynfield_register()).
[[nodiscard]] inline pkt_meta* meta_of(rte_mbuf* m, int off) noexcept {
    return RTE_MBUF_DYNFIELD(m, off, pkt_meta*);
}

} // namespace logagg::pipeline
