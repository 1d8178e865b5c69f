// SPDX-License-Identifier: BSD-3-Clause
// Side: sink. The constructor allocates (control plane); everything else is datapath.
#include "sink/record_queue.hpp"

#include <algorithm>

#include <rte_cycles.h>
#include <rte_pause.h>
#include <rte_ring_elem.h>

namespace logagg::sink {
namespace {

[[nodiscard]] uint64_t pow2_at_least(uint64_t v) noexcept {
    uint64_t p = 1;
    while (p < v) {
        p <<= 1;
    }
    return p;
}

/// Memory one packet reference pins: every segment's whole buffer and its mbuf header.
[[nodiscard]] uint32_t unit_cost(const rte_mbuf* m) noexcept {
    return static_cast<uint32_t>(m->nb_segs) * (m->buf_len + sizeof(rte_mbuf));
}

} // namespace

record_queue::record_queue(std::vector<rte_ring*> rings, std::vector<pipeline::gen_arena*> arenas,
                           const queue_limits& lim, pipeline::sink_stats& stats)
    : arenas_(std::move(arenas)), lim_(lim), stats_(stats) {
    for (std::size_t i = 0; i < rings.size(); ++i) {
        source s;
        s.ring = rings[i];
        s.arena = arenas_[i];
        sources_.push_back(s);
    }
    const uint64_t n_recs = pow2_at_least(std::max<uint32_t>(lim_.max_records, stage_burst * 2));
    rec_mask_ = n_recs - 1;
    recs_ = std::make_unique<queued_record[]>(n_recs);
    // Raw records take one descriptor; encoded ones a few. Why 4 per record: ndjson of a plain
    // message is key/value text plus the message reference (3 pieces); more is rare.
    const uint64_t n_descs = pow2_at_least(n_recs * 4);
    desc_mask_ = static_cast<uint32_t>(n_descs - 1);
    descs_ = std::make_unique<pipeline::msg_desc[]>(n_descs);
}

record_queue::~record_queue() = default;

bool record_queue::rings_empty() const noexcept {
    for (const source& s : sources_) {
        if (rte_ring_count(s.ring) != 0) {
            return false;
        }
    }
    return true;
}

uint32_t record_queue::cost_of(const queued_record& r) const noexcept {
    uint32_t c = 0;
    for (uint16_t k = 0; k < r.n; ++k) {
        const pipeline::msg_desc& d = stage_[r.first + k];
        if (d.gen != 0) {
            c += pipeline::arena_cost(d); // an appended record pins its bytes and framing, no mbuf
        }
        if (d.release != 0) {
            c += unit_cost(d.pkt);
        }
    }
    return c;
}

void record_queue::free_pending() noexcept {
    if (n_free_ != 0) {
        rte_pktmbuf_free_bulk(to_free_.data(), n_free_);
        n_free_ = 0;
    }
}

void record_queue::drop_newest(source& s, queued_record& r) noexcept {
    stats_.drop(pipeline::sink_drop::buffer_full, 1, r.bytes);
    const pipeline::msg_desc& last = stage_[r.first + r.n - 1];
    if (last.release == 0) {
        return; // its unit's reference travels with a later record of the same packet
    }
    // The newest queued record of this source that references a packet (appended records in
    // between reference none).
    if (s.queued != 0 && s.last_ref != no_record && s.last_ref >= head_) {
        queued_record& prev = recs_[s.last_ref & rec_mask_];
        pipeline::msg_desc& pd = descs_[(prev.first + prev.n - 1) & desc_mask_];
        if (pd.release == 0) {
            // The previous record of this source is of the same packet and still queued: the
            // reference moves to it (freeing now would pull the bytes from under it).
            pd.release = 1;
            const uint32_t add = unit_cost(pd.pkt);
            if (prev.dropped == 0) {
                prev.cost += add;
                pinned_ += add;
            }
            return;
        }
    }
    to_free_[n_free_++] = last.pkt;
    if (n_free_ == to_free_.size()) {
        free_pending();
    }
}

bool record_queue::make_room(uint32_t cost) noexcept {
    uint64_t i = std::max(drop_cursor_, sent_);
    // Drop nothing when even every waiting record would not make room (in flight, or too big).
    uint64_t freeable = 0;
    for (uint64_t k = i; k < tail_ && pinned_ - exempt_ - freeable + cost > lim_.buffer_bytes;
         ++k) {
        const queued_record& r = recs_[k & rec_mask_];
        freeable += r.dropped == 0 ? r.cost : 0;
    }
    if (pinned_ - exempt_ - freeable + cost > lim_.buffer_bytes) {
        return false;
    }
    while (pinned_ - exempt_ + cost > lim_.buffer_bytes && i < tail_) {
        queued_record& r = recs_[i & rec_mask_];
        if (r.dropped == 0) {
            r.dropped = 1;
            pinned_ -= r.cost;
            waiting_ -= r.msgs();
            waiting_bytes_ -= r.bytes;
            stats_.drop(pipeline::sink_drop::buffer_full, r.msgs(), r.bytes);
        }
        ++i;
    }
    drop_cursor_ = i;
    return pinned_ - exempt_ + cost <= lim_.buffer_bytes;
}

void record_queue::keep(source& s, const queued_record& r, const pipeline::msg_desc* d) noexcept {
    queued_record& q = recs_[tail_ & rec_mask_];
    q = r;
    q.first = desc_tail_;
    for (uint16_t k = 0; k < r.n; ++k) {
        descs_[(desc_tail_ + k) & desc_mask_] = d[k];
    }
    desc_tail_ += r.n;
    if (waiting_ == 0) {
        oldest_tsc_ = rte_rdtsc();
    }
    ++waiting_;
    waiting_bytes_ += r.bytes;
    pinned_ += r.cost;
    s.last_rec = tail_;
    if (d[r.n - 1].own == 0) {
        s.last_ref = tail_;
    }
    ++s.queued;
    ++tail_;
}

// Inlined: it runs for every descriptor a pull takes.
[[gnu::always_inline]] inline bool record_queue::extend_run(source& s,
                                                            const pipeline::msg_desc& d) noexcept {
    // The record at the tail (still waiting) is an appended record or run of this ring that ends
    // right where d starts in the arena (same offsets: no wrap, nothing dropped in between), of
    // the same RX burst (one latency for all). Checked before anything else about d, so that a
    // message that joins a run costs a few compares and adds.
    if (run_end_ <= sent_ || run_end_ != tail_ || d.off != run_next_off_ || d.own == 0 ||
        d.octet != 0 || d.more != 0 || d.rx_tsc != run_rx_ || run_src_ != &s) {
        return false;
    }
    queued_record& p = recs_[(run_end_ - 1) & rec_mask_];
    const uint32_t add = static_cast<uint32_t>(d.len) + 1; // arena_cost(): its bytes and LF
    // Within the run's bounds, and kept (coalesce() is off with drop=oldest: here a message
    // either fits, or is blocked on, or goes the general way to be dropped as the newest).
    if (p.dropped != 0 || p.n >= run_msgs_ || p.bytes + p.n + add > run_bytes_ ||
        (!lim_.block && pinned_ - exempt_ + add > lim_.buffer_bytes)) {
        return false;
    }
    descs_[desc_tail_++ & desc_mask_] = d;
    p.run = 1;
    ++p.n;
    p.bytes += d.len;
    p.cost += add;
    s.seen_end += add; // adjacent: no position() needed
    p.arena_end = s.seen_end;
    ++waiting_;
    waiting_bytes_ += d.len;
    pinned_ += add;
    run_next_off_ += add;
    return true;
}

uint32_t record_queue::pull(uint32_t max) noexcept {
    const uint64_t waiting_before = waiting_;
    const uint32_t pulled = take_from_rings(max);
    if (pulled != 0) {
        const uint64_t now = rte_rdtsc();
        if (waiting_before == 0 && waiting_ != 0) {
            batch_gap_tsc_ = last_pulled_ != 0 ? now - last_pull_tsc_ : UINT64_MAX;
        }
        if (last_pulled_ != 0) {
            arrival_gap_tsc_ = smooth_gap(arrival_gap_tsc_, (now - last_pull_tsc_) / pulled);
        }
        last_pull_tsc_ = now;
        last_pulled_ = pulled;
    }
    return pulled;
}

uint32_t record_queue::take_from_rings(uint32_t max) noexcept {
    uint32_t pulled = 0;
    const std::size_t n_src = sources_.size();
    for (std::size_t k = 0; k < n_src && pulled < max; ++k) {
        source& s = sources_[(next_source_ + k) % n_src];
        uint32_t staged = 0; // descriptors of an incomplete record at the front of stage_
        // A record a burst cut is finished even past max: its first pieces are only in stage_.
        while (pulled < max || staged != 0) {
            // Room for a whole burst of records and descriptors, so whatever is dequeued fits.
            const uint64_t free_recs = rec_mask_ + 1 - (tail_ - head_);
            const uint32_t free_descs = desc_mask_ + 1 - (desc_tail_ - desc_head_);
            if (staged == 0 && (free_recs < stage_burst ||
                                free_descs < stage_burst + pipeline::max_descs_per_msg ||
                                (lim_.block && pinned_ - exempt_ >= lim_.buffer_bytes))) {
                next_source_ = (next_source_ + k) % n_src; // start here next time
                free_pending();
                return pulled;
            }
            // A record the burst cut is completed one descriptor at a time: the room checked
            // above covers one burst of records, not the records behind the cut one.
            const unsigned n =
                rte_ring_dequeue_burst_elem(s.ring, &stage_[staged], sizeof(pipeline::msg_desc),
                                            staged == 0 ? stage_burst : 1, nullptr);
            if (n == 0) {
                if (staged == 0) {
                    break; // this ring is empty
                }
                rte_pause(); // the worker is enqueueing the rest of this message right now
                continue;
            }
            const uint32_t end = staged + n;
            uint32_t start = 0;
            for (uint32_t i = 0; i < end; ++i) {
                if (i == start && extend_run(s, stage_[i])) {
                    ++pulled; // an appended record that joined the run at the tail
                    start = i + 1;
                    continue;
                }
                if (stage_[i].more != 0) {
                    continue;
                }
                queued_record r;
                r.first = start; // into stage_ until kept
                r.n = static_cast<uint16_t>(i + 1 - start);
                r.src = static_cast<uint8_t>(&s - sources_.data());
                for (uint32_t j = start; j <= i; ++j) {
                    const pipeline::msg_desc& d = stage_[j];
                    if (d.key == 0) {
                        r.bytes += d.len;
                    }
                    if (d.gen != 0) {
                        s.seen_end =
                            s.arena->position(s.seen_end, d.off) + pipeline::arena_bytes(d);
                        r.arena_end = s.seen_end;
                    }
                }
                r.cost = cost_of(r);
                ++pulled;
                if (lim_.block || pinned_ - exempt_ + r.cost <= lim_.buffer_bytes ||
                    (lim_.drop_oldest && make_room(r.cost))) {
                    keep(s, r, &stage_[start]);
                    const pipeline::msg_desc& d = stage_[start];
                    if (run_msgs_ != 0 && r.n == 1 && d.own != 0 && d.octet == 0) {
                        // An appended LF-framed record: the next ones may join it.
                        run_end_ = tail_;
                        run_src_ = &s;
                        run_rx_ = d.rx_tsc;
                        run_next_off_ = d.off + static_cast<uint32_t>(d.len) + 1;
                    }
                } else {
                    drop_newest(s, r);
                }
                start = i + 1;
            }
            staged = end - start; // an incomplete record: move it to the front
            if (staged != 0 && start != 0) {
                std::copy(stage_.begin() + start, stage_.begin() + end, stage_.begin());
            }
        }
    }
    if (n_src != 0) {
        next_source_ = (next_source_ + 1) % n_src; // rings take turns at going first
    }
    if (head_ == tail_) {
        desc_head_ = desc_tail_; // descriptors of dropped records are free again
    }
    // Generated bytes of dropped records of a source with nothing queued go straight back.
    for (source& s : sources_) {
        if (s.queued == 0 && s.released != s.seen_end) {
            s.released = s.seen_end;
            s.arena->released.store(s.released, std::memory_order_release);
        }
    }
    free_pending();
    return pulled;
}

void record_queue::mark_sent(uint64_t s) noexcept {
    for (uint64_t i = sent_; i < s; ++i) {
        const queued_record& r = recs_[i & rec_mask_];
        if (r.dropped == 0) {
            waiting_ -= r.msgs();
            waiting_bytes_ -= r.bytes;
        }
    }
    sent_ = s;
    if (waiting_ != 0) {
        oldest_tsc_ = rte_rdtsc(); // the rest arrived no earlier than their predecessors left
    }
}

uint64_t record_queue::rewind() noexcept {
    uint64_t n = 0;
    for (uint64_t i = head_; i < sent_; ++i) {
        const queued_record& r = recs_[i & rec_mask_];
        if (r.dropped == 0) {
            waiting_ += r.msgs();
            waiting_bytes_ += r.bytes;
            n += r.msgs();
        }
    }
    sent_ = head_;
    drop_cursor_ = head_; // drop=oldest may take the rewound records again
    if (n != 0) {
        oldest_tsc_ = rte_rdtsc();
    }
    return n;
}

void record_queue::time_one(const queued_record& r, uint64_t now) noexcept {
    // An appended record carries its RX time; a referenced one reads it from its packet.
    const pipeline::msg_desc& d = descs_[r.first & desc_mask_];
    const uint64_t rx = d.own != 0 ? d.rx_tsc : pipeline::meta_of(d.pkt, meta_off_)->rx_tsc;
    // A run's messages share one RX time (coalesce()): each is counted with it.
    stats_.latency_us[pipeline::latency_bucket(now > rx ? (now - rx) / tsc_per_us_ : 0)].add(
        r.msgs());
}

void record_queue::time(uint64_t from, uint64_t to) noexcept {
    if (meta_off_ < 0) {
        return;
    }
    const uint64_t now = rte_rdtsc();
    for (uint64_t i = from; i < to; ++i) {
        const queued_record& r = recs_[i & rec_mask_];
        if (r.dropped == 0) {
            time_one(r, now);
        }
    }
}

record_queue::totals record_queue::release(uint64_t upto, config::framing_kind f,
                                           bool timed) noexcept {
    totals t;
    const bool timing = timed && meta_off_ >= 0;
    const uint64_t now = timing ? rte_rdtsc() : 0;
    for (uint64_t i = head_; i < upto; ++i) {
        const queued_record& r = recs_[i & rec_mask_];
        source& s = sources_[r.src];
        if (r.dropped == 0) {
            pinned_ -= r.cost;
            if (i >= sent_) {
                waiting_ -= r.msgs();
                waiting_bytes_ -= r.bytes;
            }
            const uint32_t msgs = r.msgs();
            t.records += msgs;
            t.bytes += r.bytes;
            // A run's messages are LF-framed (coalesce()): one framing byte each.
            t.framed += r.bytes + (r.run != 0 ? msgs * config::framing_overhead(f, 0)
                                              : config::framing_overhead(f, r.bytes));
            if (timing) {
                time_one(r, now);
            }
        }
        // A run's descriptors are appended records: none releases a packet.
        for (uint16_t k = 0; r.run == 0 && k < r.n; ++k) {
            const pipeline::msg_desc& d = descs_[(r.first + k) & desc_mask_];
            if (d.release != 0) {
                to_free_[n_free_++] = d.pkt;
                if (n_free_ == to_free_.size()) {
                    free_pending();
                }
            }
        }
        --s.queued;
        const uint64_t to = s.queued == 0 ? s.seen_end : r.arena_end;
        if (to > s.released) {
            s.released = to;
            s.arena->released.store(to, std::memory_order_release);
        }
    }
    free_pending();
    head_ = upto;
    sent_ = std::max(sent_, head_);
    drop_cursor_ = std::max(drop_cursor_, head_);
    desc_head_ = head_ < tail_ ? recs_[head_ & rec_mask_].first : desc_tail_;
    return t;
}

void record_queue::confirm(uint64_t upto, config::framing_kind f, bool timed_already) noexcept {
    const totals t = release(upto, f, !timed_already);
    if (t.records != 0) {
        stats_.delivered.add(t.records);
        stats_.bytes.add(t.framed);
    }
}

void record_queue::settle(uint64_t upto, uint64_t delivered, uint64_t delivered_bytes,
                          pipeline::sink_drop why, config::framing_kind f) noexcept {
    const totals t = release(upto, f, true);
    const uint64_t ok = std::min(delivered, t.records);
    if (ok != 0) {
        stats_.delivered.add(ok);
        stats_.bytes.add(delivered_bytes);
    }
    if (t.records > ok) {
        stats_.drop(why, t.records - ok,
                    t.framed > delivered_bytes ? t.framed - delivered_bytes : 0);
    }
}

void record_queue::drop_front(uint64_t upto, pipeline::sink_drop why) noexcept {
    const totals t = release(upto, config::framing_kind::none, false); // not delivered: not timed
    if (t.records != 0) {
        stats_.drop(why, t.records, t.bytes);
    }
}

void record_queue::reject(uint64_t i, pipeline::sink_drop why) noexcept {
    queued_record& r = recs_[i & rec_mask_];
    if (r.dropped != 0 || i < sent_ || i >= tail_) {
        return;
    }
    r.dropped = 1;
    pinned_ -= r.cost;
    waiting_ -= r.msgs();
    waiting_bytes_ -= r.bytes;
    stats_.drop(why, r.msgs(), r.bytes);
}

void record_queue::drop_all(pipeline::sink_drop why) noexcept {
    drop_front(tail_, why);
    // What the rings still hold: whole records, dropped the same way.
    for (source& s : sources_) {
        pipeline::msg_desc d;
        uint64_t bytes = 0; // of the record being drained, its key piece excluded
        while (rte_ring_dequeue_elem(s.ring, &d, sizeof d) == 0) {
            bytes += d.key == 0 ? d.len : 0;
            if (d.more == 0) {
                stats_.drop(why, 1, bytes);
                bytes = 0;
            }
            if (d.gen != 0) {
                s.seen_end = s.arena->position(s.seen_end, d.off) + pipeline::arena_bytes(d);
            }
            if (d.release != 0) {
                rte_pktmbuf_free(d.pkt);
            }
        }
        if (s.released != s.seen_end) {
            s.released = s.seen_end;
            s.arena->released.store(s.released, std::memory_order_release);
        }
    }
}

} // namespace logagg::sink
