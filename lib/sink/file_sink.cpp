// SPDX-License-Identifier: BSD-3-Clause
// Side: sink. Builds iovecs that point into mbuf data: no payload byte is copied.
#include "sink/file_sink.hpp"

#include <rte_cycles.h>
#include <rte_pause.h>
#include <rte_prefetch.h>
#include <rte_ring_elem.h>

namespace logagg::sink {
namespace {
/// The LF appended after a message whose own LF is not right behind it in the packet.
constexpr char newline = '\n';
} // namespace

file_sink::file_sink(segment_writer& writer, std::vector<rte_ring*> rings,
                     pipeline::lcore_stats& stats, uint32_t delay_us,
                     std::vector<pipeline::gen_arena*> arenas)
    : writer_(writer), stats_(stats), delay_us_(delay_us) {
    for (std::size_t i = 0; i < rings.size(); ++i) {
        rings_.push_back(ring_state{rings[i], i < arenas.size() ? arenas[i] : nullptr});
    }
}

bool file_sink::rings_empty() const noexcept {
    for (const ring_state& r : rings_) {
        if (rte_ring_count(r.ring) != 0) {
            return false;
        }
    }
    return true;
}

void file_sink::push(const char* p, std::size_t len) noexcept {
    if (n_iov_ != 0) {
        iovec& prev = iov_[n_iov_ - 1];
        if (static_cast<const char*>(prev.iov_base) + prev.iov_len == p) {
            prev.iov_len += len; // adjacent in the same segment: one iovec
            return;
        }
    }
    iov_[n_iov_++] = iovec{const_cast<char*>(p), len};
}

void file_sink::add(ring_state& r, const pipeline::msg_desc& d) noexcept {
    if (!in_msg_) {
        // Room for a whole message: a raw one takes one iovec per segment plus the LF; an
        // encoded one at most max_refs_per_msg references (each up to every segment) between
        // generated pieces.
        const uint32_t need =
            d.more == 0 && d.gen == 0
                ? d.pkt->nb_segs + 1u
                : pipeline::max_refs_per_msg * d.pkt->nb_segs + pipeline::max_descs_per_msg;
        if (n_iov_ + need > batch_iov || n_msgs_ == batch_iov || n_free_ == batch_iov) {
            write_batch();
        }
        in_msg_ = true;
        cur_len_ = 0;
    }
    const char* end = nullptr;
    if (d.gen != 0) {
        const char* p = r.arena->base + d.off;
        push(p, d.len);
        end = p + d.len;
        r.seen_end = r.arena->position(r.seen_end, d.off) + d.len;
    } else {
        const rte_mbuf* seg = d.pkt;
        uint32_t off = d.off;
        while (off >= seg->data_len) { // the worker checked the chain covers the message
            off -= seg->data_len;
            seg = seg->next;
        }
        uint32_t left = d.len;
        while (left != 0) {
            const uint32_t take = std::min<uint32_t>(left, seg->data_len - off);
            const char* p = rte_pktmbuf_mtod_offset(seg, const char*, off);
            // The kernel copies these bytes during pwritev; pulling them into this core's cache
            // while the batch is built overlaps the misses (they were written on the RX core).
            for (uint32_t line = 0; line < take; line += RTE_CACHE_LINE_SIZE) {
                rte_prefetch0(p + line);
            }
            push(p, take);
            end = p + take;
            left -= take;
            off = 0;
            seg = seg->next;
        }
    }
    cur_len_ += d.len;
    if (d.more != 0) {
        return;
    }
    if (d.verbatim == 0) {
        // The message's own LF when it sits right behind it (then push() merges it into the
        // same iovec), else a shared constant LF.
        push(d.lf_follows != 0 ? end : &newline, 1);
        ++cur_len_;
    }
    msg_sizes_[n_msgs_++] = cur_len_;
    in_msg_ = false;
    r.complete_end = r.seen_end;
    if (d.release != 0) {
        to_free_[n_free_++] = d.pkt;
    }
}

void file_sink::write_batch() noexcept {
    if (n_msgs_ != 0) {
        const write_result r = writer_.write(std::span<iovec>(iov_.data(), n_iov_),
                                             std::span<const uint32_t>(msg_sizes_.data(), n_msgs_));
        stats_.messages_written.add(r.written);
        stats_.bytes_written.add(r.bytes);
        if (r.failed != 0) {
            stats_.drop(pipeline::msg_drop::write_error, r.failed);
        }
        if (delay_us_ != 0) {
            rte_delay_us_sleep(delay_us_);
        }
    }
    // The write returned: the kernel holds its own copy now, so the packets and the arena
    // bytes of the messages written can go back.
    if (n_free_ != 0) {
        rte_pktmbuf_free_bulk(to_free_.data(), n_free_);
    }
    for (ring_state& r : rings_) {
        if (r.arena != nullptr && r.complete_end != r.written_end) {
            r.written_end = r.complete_end;
            r.arena->released.store(r.written_end, std::memory_order_release);
        }
    }
    n_iov_ = 0;
    n_msgs_ = 0;
    n_free_ = 0;
}

uint32_t file_sink::poll() noexcept {
    uint32_t total = 0;
    for (ring_state& r : rings_) {
        unsigned n = rte_ring_dequeue_burst_elem(r.ring, descs_.data(), sizeof(pipeline::msg_desc),
                                                 sink_dequeue_burst, nullptr);
        while (n != 0) {
            for (unsigned i = 0; i < n; ++i) {
                add(r, descs_[i]);
            }
            total += n;
            // A message is written whole: if this burst ended inside one, its remaining pieces
            // are being enqueued by the worker right now (it enqueues whole messages).
            n = in_msg_
                    ? rte_ring_dequeue_burst_elem(r.ring, descs_.data(), sizeof(pipeline::msg_desc),
                                                  sink_dequeue_burst, nullptr)
                    : 0;
            if (in_msg_ && n == 0) {
                rte_pause();
                n = rte_ring_dequeue_burst_elem(r.ring, descs_.data(), sizeof(pipeline::msg_desc),
                                                sink_dequeue_burst, nullptr);
            }
        }
    }
    write_batch();
    return total;
}

} // namespace logagg::sink
