// SPDX-License-Identifier: BSD-3-Clause
// Side: sink. Builds iovecs that point into mbuf data: no payload byte is copied.
#include "sink/file_sink.hpp"

#include <rte_cycles.h>
#include <rte_prefetch.h>
#include <rte_ring_elem.h>

namespace logagg::sink {
namespace {
/// The LF appended after a message whose own LF is not right behind it in the packet.
constexpr char newline = '\n';
} // namespace

file_sink::file_sink(segment_writer& writer, std::vector<rte_ring*> rings,
                     pipeline::lcore_stats& stats, uint32_t delay_us)
    : writer_(writer), rings_(std::move(rings)), stats_(stats), delay_us_(delay_us) {}

bool file_sink::rings_empty() const noexcept {
    for (rte_ring* r : rings_) {
        if (rte_ring_count(r) != 0) {
            return false;
        }
    }
    return true;
}

void file_sink::add(const pipeline::msg_desc& d) noexcept {
    // Worst case: one iovec per segment of the message plus the LF.
    const uint32_t need = d.pkt->nb_segs + 1u;
    if (n_iov_ + need > batch_iov || n_msgs_ == batch_iov || n_free_ == batch_iov) {
        write_batch();
    }
    auto push = [this](const char* p, std::size_t len) noexcept {
        if (n_iov_ != 0) {
            iovec& prev = iov_[n_iov_ - 1];
            if (static_cast<const char*>(prev.iov_base) + prev.iov_len == p) {
                prev.iov_len += len; // adjacent in the same segment: one iovec
                return;
            }
        }
        iov_[n_iov_++] = iovec{const_cast<char*>(p), len};
    };
    const rte_mbuf* seg = d.pkt;
    uint32_t off = d.off;
    while (off >= seg->data_len) { // the worker checked the chain covers the message
        off -= seg->data_len;
        seg = seg->next;
    }
    const char* end = nullptr;
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
    // The message's own LF when it sits right behind it (then push() merges it into the same
    // iovec), else a shared constant LF.
    push(d.lf_follows != 0 ? end : &newline, 1);
    msg_sizes_[n_msgs_++] = d.len + 1;
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
    // The write returned: the kernel holds its own copy now, so the packets can go back.
    if (n_free_ != 0) {
        rte_pktmbuf_free_bulk(to_free_.data(), n_free_);
    }
    n_iov_ = 0;
    n_msgs_ = 0;
    n_free_ = 0;
}

uint32_t file_sink::poll() noexcept {
    uint32_t total = 0;
    for (rte_ring* r : rings_) {
        const unsigned n = rte_ring_dequeue_burst_elem(r, descs_.data(), sizeof(pipeline::msg_desc),
                                                       sink_dequeue_burst, nullptr);
        for (unsigned i = 0; i < n; ++i) {
            add(descs_[i]);
        }
        total += n;
    }
    write_batch();
    return total;
}

} // namespace logagg::sink
