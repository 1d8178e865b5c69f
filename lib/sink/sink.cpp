// SPDX-License-Identifier: BSD-3-Clause
// Side: sink (see sink.hpp).
#include "sink/sink.hpp"

#include <charconv>

#include <rte_cycles.h>
#include <rte_prefetch.h>

namespace logagg::sink {
namespace {

/// The LF after a record whose own LF is not right behind it in the packet.
constexpr char newline = '\n';

/// Queue slots for a buffer bound: enough that the byte bound, not the slot count, limits a
/// queue of small records. Why 1/128 of the buffer: the smallest record pins at least one
/// 2 KiB mbuf, so this leaves slack for records that share a packet.
[[nodiscard]] queue_limits limits_of(const config::sink_spec& s, bool block) {
    queue_limits l;
    l.buffer_bytes = s.buffer_bytes;
    l.max_records = static_cast<uint32_t>(
        std::min<uint64_t>(std::max<uint64_t>(s.buffer_bytes / 128, 4096), 1u << 20));
    l.drop_oldest = s.drop_oldest;
    l.block = block;
    return l;
}

} // namespace

sink::sink(const config::sink_spec& spec, std::vector<rte_ring*> rings,
           std::vector<pipeline::gen_arena*> arenas, bool block)
    : spec_(spec), q_(std::move(rings), std::move(arenas), limits_of(spec, block), stats_) {
    age_tsc_ = static_cast<uint64_t>(static_cast<double>(spec_.batch.max_age_us) *
                                     static_cast<double>(rte_get_tsc_hz()) / 1e6);
    hold_check_tsc_ = rte_get_tsc_hz() / 1000;
}

uint64_t sink::waited_tsc(uint64_t now_tsc) const noexcept {
    // The pass's clock was read before its pull stamped the records it took: those have waited
    // nothing yet (not 2^64 - a few ticks, which made every batch due in the pass that began it).
    const uint64_t oldest = q_.oldest_tsc();
    return now_tsc > oldest ? now_tsc - oldest : 0;
}

uint64_t sink::batch_wait_tsc() const noexcept {
    // Why the arrival rate as well as the quiet spell: with the quiet spell alone, a record
    // close behind a write at 1 k msgs/s (a sender's pacing slips) waited nearly a whole batch
    // age, 1 ms by default, for a batch that hardly ever grew; those records set the p99
    // RX-to-file latency at a trickle over 1 ms, and every second record at 1 k/s cost the sink
    // a timer wake-up (docs/performance.md).
    return batch_wait(q_.batch_gap_tsc(), q_.arrival_gap_tsc(), age_tsc_);
}

uint64_t sink::next_due_tsc(uint64_t now_tsc) const noexcept {
    if (q_.waiting() != 0) {
        const uint64_t due = draining_ ? now_tsc : q_.oldest_tsc() + batch_wait_tsc();
        // Past due and still waiting: the backend refused it for now (full, down, unresolved).
        return due > now_tsc ? due : now_tsc + hold_check_tsc_;
    }
    return q_.head() != q_.tail() ? now_tsc + hold_check_tsc_ : UINT64_MAX;
}

sink::~sink() = default;

void sink::time_from(int meta_off) noexcept {
    q_.time_from(meta_off, rte_get_tsc_hz());
}

bool sink::idle() const noexcept {
    return q_.head() == q_.tail() && q_.rings_empty();
}

void sink::abandon() noexcept {
    q_.drop_all(pipeline::sink_drop::shutdown);
}

bool sink::batch_due(uint64_t now_tsc) const noexcept {
    const uint64_t n = q_.waiting();
    if (n == 0) {
        return false;
    }
    return draining_ || n >= spec_.batch.records || q_.waiting_bytes() >= spec_.batch.bytes ||
           waited_tsc(now_tsc) >= batch_wait_tsc();
}

uint64_t sink::fill_batch(iov_batch& b, uint64_t first) const noexcept {
    uint64_t i = first;
    for (; i < q_.tail(); ++i) {
        if (b.n_msgs() >= spec_.batch.records || b.bytes() >= spec_.batch.bytes) {
            break;
        }
        const queued_record& r = q_.rec(i);
        // A run (at most batch-records messages and batch-bytes bytes) goes whole into a batch it
        // fits in, else it starts the next one.
        if (r.run != 0 && b.n_msgs() != 0 &&
            (b.n_msgs() + r.n > spec_.batch.records ||
             b.bytes() + r.bytes + r.n > spec_.batch.bytes)) {
            break;
        }
        if (r.dropped == 0 && !b.add(q_, i, spec_.framing)) {
            break;
        }
    }
    return i;
}

bool iov_batch::add_run(const record_queue& q, const queued_record& r) noexcept {
    if (n_iov_ == iov_.size() || n_msgs_ + r.n > sizes_.size()) {
        return false;
    }
    // One span of the arena: the messages, each followed by its LF (record_queue::coalesce()).
    const uint32_t bytes = r.bytes + r.n;
    push(q.gen_bytes(r, q.desc(r.first)), bytes);
    // The segment writer still sees every message's size: rotation stays record-exact.
    for (uint16_t k = 0; k < r.n; ++k) {
        sizes_[n_msgs_++] = static_cast<uint32_t>(q.desc(r.first + k).len) + 1;
    }
    bytes_ += bytes;
    return true;
}

void iov_batch::push(const char* p, std::size_t len) noexcept {
    if (n_iov_ != 0) {
        iovec& prev = iov_[n_iov_ - 1];
        if (static_cast<const char*>(prev.iov_base) + prev.iov_len == p) {
            prev.iov_len += len; // adjacent (same segment or arena run): one iovec
            return;
        }
    }
    iov_[n_iov_++] = iovec{const_cast<char*>(p), len};
}

bool iov_batch::add(const record_queue& q, uint64_t i, config::framing_kind f) noexcept {
    const queued_record& r = q.rec(i);
    if (r.run != 0) {
        return add_run(q, r);
    }
    // Worst case: every packet piece in every segment, plus a prefix and a LF.
    uint32_t need = 2;
    for (uint16_t k = 0; k < r.n; ++k) {
        const pipeline::msg_desc& d = q.desc(r.first + k);
        need += d.gen != 0 ? 1u : d.pkt->nb_segs;
    }
    if (n_iov_ + need > iov_.size() || n_msgs_ == sizes_.size()) {
        return false;
    }
    uint32_t size = r.bytes;
    // An appended record in octet framing carries its count in the arena, right before it.
    const pipeline::msg_desc& first = q.desc(r.first);
    const uint32_t counted = first.octet != 0 ? pipeline::octet_prefix_bytes(r.bytes) : 0;
    size += counted;
    if (f == config::framing_kind::octet && counted == 0) {
        char* p = &prefix_[prefix_used_];
        const auto res = std::to_chars(p, p + 11, r.bytes);
        *res.ptr = ' ';
        const auto n = static_cast<uint32_t>(res.ptr + 1 - p);
        push(p, n);
        prefix_used_ += n;
        size += n;
    }
    const char* end = nullptr;
    // An appended record is one arena run right after the previous one: the kernel's copy streams
    // through the ring, so nothing is prefetched record by record.
    const bool own = first.own != 0;
    if (counted != 0) {
        push(q.gen_bytes(r, first) - counted, counted); // merges with the record behind it
    }
    const bool lf = q.for_each_run(r, [&](const char* p, uint32_t len) {
        // The kernel copies these bytes during the write; pulling them into this core's cache
        // while the batch is built overlaps the misses (they were written on the RX core).
        for (uint32_t line = 0; !own && line < len; line += RTE_CACHE_LINE_SIZE) {
            rte_prefetch0(p + line);
        }
        push(p, len);
        end = p + len;
    });
    if (f == config::framing_kind::lf) {
        // The record's own LF when it sits right behind it (push() then merges it into the same
        // iovec), else a shared constant LF.
        push(lf && end != nullptr ? end : &newline, 1);
        size += 1;
    }
    sizes_[n_msgs_++] = size;
    bytes_ += size;
    return true;
}

} // namespace logagg::sink
