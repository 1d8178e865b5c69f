// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath. No allocation, no locks, no syscalls, no payload copies.
#include "pipeline/worker.hpp"

#include <rte_pause.h>

#include "log/framing.hpp"
#include "net/classify.hpp"

namespace logagg::pipeline {
namespace {

/// Collects the pieces (segments) of [off, off + len) of chain @p m.
/// @return the number of pieces, or 0 when the chain is shorter than claimed or too long.
[[nodiscard]] uint32_t payload_pieces(const rte_mbuf* m, uint32_t off, uint32_t len,
                                      std::array<log::piece, net::max_segments>& out) noexcept {
    uint32_t n = 0;
    uint32_t seg_start = 0; // packet offset of the current segment's first byte
    const uint32_t end = off + len;
    for (const rte_mbuf* s = m; s != nullptr && seg_start < end; s = s->next) {
        const uint32_t seg_end = seg_start + s->data_len;
        if (seg_end > off && s->data_len != 0) {
            if (n == out.size()) {
                return 0;
            }
            const uint32_t from = off > seg_start ? off : seg_start;
            const uint32_t to = end < seg_end ? end : seg_end;
            out[n++] = log::piece{rte_pktmbuf_mtod_offset(s, const char*, from - seg_start), from,
                                  to - from};
        }
        seg_start = seg_end;
    }
    return seg_start >= end ? n : 0;
}

/// Called when the staging buffer is full in the middle of packet @p m: closes m's partial run
/// as a unit of its own (taking an extra reference for it) and flushes.
void spill(worker_ctx& w, rte_mbuf* m) noexcept {
    if (w.n_staged != 0) {
        msg_desc& last = w.staged[w.n_staged - 1];
        if (last.pkt == m && last.release == 0) {
            retain_chain(m);
            last.release = 1;
        }
    }
    worker_flush(w);
}

void frame_one(worker_ctx& w, rte_mbuf* m) noexcept {
    const pkt_meta* meta = meta_of(m, w.meta_off);
    std::array<log::piece, net::max_segments> pieces;
    const uint32_t n_pieces = meta->payload_len == 0
                                  ? 0
                                  : payload_pieces(m, meta->payload_off, meta->payload_len, pieces);
    // An empty datagram (or, defensively, a chain shorter than the RX stage saw) has no message.
    const log::frame_result counts =
        log::frame_payload(std::span<const log::piece>(pieces.data(), n_pieces),
                           w.listeners->of(meta->dst_port).framing,
                           [&](uint32_t off, uint32_t len, bool lf, bool truncated) noexcept {
                               if (w.n_staged == stage_capacity) {
                                   spill(w, m);
                               }
                               w.staged[w.n_staged++] =
                                   msg_desc{m, off, len, lf ? 1u : 0u, 0u, truncated ? 1u : 0u, 0u};
                           });
    w.stats->worker_packets.add();
    w.stats->messages_framed.add(counts.messages + counts.oversize_dropped);
    w.stats->empty_skipped.add(counts.empty);
    if (counts.truncated != 0) {
        w.stats->truncated.add(counts.truncated);
    }
    if (counts.oversize_dropped != 0) {
        w.stats->drop(msg_drop::oversize, counts.oversize_dropped);
    }
    if (counts.framing_errors != 0) {
        w.stats->framing_errors.add(counts.framing_errors);
    }
    if (counts.messages == 0) {
        rte_pktmbuf_free(m);
        return;
    }
    w.staged[w.n_staged - 1].release = 1;
}

} // namespace

void worker_frame_burst(worker_ctx& w, std::span<rte_mbuf* const> pkts) noexcept {
    for (rte_mbuf* m : pkts) {
        frame_one(w, m);
    }
    worker_flush(w);
}

void worker_flush(worker_ctx& w) noexcept {
    const uint32_t n = w.n_staged;
    if (n == 0) {
        return;
    }
    w.n_staged = 0;
    constexpr unsigned esize = sizeof(msg_desc);
    if (w.block_when_full) {
        uint32_t done = 0;
        while (done < n) {
            done +=
                rte_ring_enqueue_burst_elem(w.sink_ring, &w.staged[done], esize, n - done, nullptr);
            if (done < n) {
                rte_pause();
            }
        }
        return;
    }
    // Drop mode: enqueue the longest run of whole units that fits (single producer, so the free
    // count can only grow until our enqueue), drop the rest unit by unit.
    const uint32_t room = rte_ring_free_count(w.sink_ring);
    uint32_t fit = n;
    if (fit > room) {
        fit = room;
        while (fit > 0 && w.staged[fit - 1].release == 0) {
            --fit;
        }
    }
    const uint32_t sent =
        fit == 0 ? 0
                 : rte_ring_enqueue_bulk_elem(w.sink_ring, w.staged.data(), esize, fit, nullptr);
    if (sent < n) {
        w.stats->drop(msg_drop::sink_full, n - sent);
        for (uint32_t i = sent; i < n; ++i) {
            if (w.staged[i].release != 0) {
                rte_pktmbuf_free(w.staged[i].pkt);
            }
        }
    }
}

} // namespace logagg::pipeline
