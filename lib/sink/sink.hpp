// SPDX-License-Identifier: BSD-3-Clause
// Side: sink. Construction and report() are control plane; poll(), begin_drain() and abandon()
// run on the sink's lcore (datapath rules: no allocation; I/O only to the sink's own backend).
//
// The interface every sink implements, the batching rule they share, and an iovec builder that
// points into the received packets.
#pragma once

#include <sys/uio.h>

#include <array>
#include <climits>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "config/sink_spec.hpp"
#include "pipeline/counters.hpp"
#include "sink/record_queue.hpp"
#include "util/result.hpp"

namespace logagg::sink {

class iov_batch;

/// A sink: drains its rings, batches, delivers, confirms.
class sink {
public:
    /// @param rings  one SPSC ring per worker (owned by the runtime)
    /// @param arenas the matching worker lanes' arenas
    /// @param block  --on-sink-full block (stop taking records rather than drop them)
    sink(const config::sink_spec& spec, std::vector<rte_ring*> rings,
         std::vector<pipeline::gen_arena*> arenas, bool block);
    virtual ~sink();
    sink(const sink&) = delete;
    sink& operator=(const sink&) = delete;

    /// Control plane, before the lcores start: opens files, resolves names, connects... Errors
    /// that make the sink unusable are returned (naming the sink; usage errors when the sink's
    /// settings are at fault); a backend that is only down is not an error (the sink retries).
    [[nodiscard]] virtual util::result<void> start() = 0;

    /// Datapath: takes records from the rings, sends due batches, collects confirmations.
    /// @return records moved (taken, sent or confirmed), for idle detection.
    virtual uint32_t poll(uint64_t now_tsc) noexcept = 0;

    /// Sink lcore (--poll adaptive): records wait in the rings to be taken.
    [[nodiscard]] bool has_input() const noexcept { return !q_.rings_empty(); }

    /// Sink lcore (--poll adaptive): the earliest TSC at which poll() has something to do
    /// without new input (a batch's age, a retry, a periodic check); UINT64_MAX: nothing until
    /// records arrive. A time already past means "soon" (see hold_check_tsc_), never a spin.
    [[nodiscard]] virtual uint64_t next_due_tsc(uint64_t now_tsc) const noexcept;

    /// The batch age bound (batch-ms) in TSC ticks.
    [[nodiscard]] uint64_t batch_age_tsc() const noexcept { return age_tsc_; }

    /// Sink lcore (--poll adaptive): records come in runs worth waiting for (the last pull
    /// brought at least flowing_records), so napping a batch age between looks at the rings
    /// costs no latency a write per run would not; fewer (a trickle) and the lcore listens to
    /// its producers instead, so a lone record is written as it comes.
    [[nodiscard]] bool flowing() const noexcept { return q_.last_pulled() >= flowing_records; }
    /// Why 4: a pull every batch age (1 ms) finding 4 records is ~4 k records/s; below that a
    /// nap would add up to a batch age to records that batching would not have grouped anyway.
    static constexpr uint32_t flowing_records = 4;

    /// Shutdown: from now on every waiting record is due at once.
    void begin_drain() noexcept { draining_ = true; }

    /// True when nothing is in the rings, queued or in flight.
    [[nodiscard]] virtual bool idle() const noexcept;

    /// Drain deadline passed: everything still held is dropped (sink_drop::shutdown, counted)
    /// and released.
    virtual void abandon() noexcept;

    /// Last call on the sink's lcore: final sync. @return 0 or an errno value.
    virtual int finish() noexcept { return 0; }

    /// Control plane: type-specific figures for the summary and --stats-json, as JSON members
    /// ("\"segments\": 3, ...") and as summary text.
    [[nodiscard]] virtual std::string report_json() const { return {}; }
    [[nodiscard]] virtual std::string report_text() const { return {}; }

    [[nodiscard]] const config::sink_spec& spec() const noexcept { return spec_; }
    [[nodiscard]] const pipeline::sink_stats& stats() const noexcept { return stats_; }
    /// Records and bytes held by the sink now (queued, waiting or in flight).
    [[nodiscard]] uint64_t queued() const noexcept { return q_.tail() - q_.head(); }
    [[nodiscard]] uint64_t pinned() const noexcept { return q_.pinned(); }
    /// Control plane: time released records from the RX time packets carry (pkt_meta).
    void time_from(int meta_off) noexcept;

    /// Sink lcore: publishes queued() and pinned() for the control plane, and the part of
    /// pinned() buffer= bounds for the workers (TCP windows).
    void publish_gauges() noexcept { stats_.gauges(queued(), pinned(), q_.bounded()); }

    /// How long the first record of a batch may wait for the batch to grow, when the batch
    /// follows a quiet spell of @p gap ticks (since the pull before the one that took that
    /// record; UINT64_MAX: none before), records have lately been coming @p mean_gap ticks apart
    /// (record_queue::arrival_gap_tsc()) and the batch age is @p age.
    /// - Records coming fewer than two per age on average (a trickle: 1 k msgs/s at the default
    ///   1 ms) are written as they come, even one close behind a write: waiting would rarely add
    ///   a record to its batch, it would only add a timer wake-up and up to an age of latency.
    /// - Faster, the batch is due what is left of a batch age since that previous pull, so a
    ///   batch is due a batch age after the one before it began to be written at the earliest,
    ///   and never later than a batch age after its first record: records after a quiet spell
    ///   of an age go at once, a steady stream (gaps of a pass) is written once an age.
    [[nodiscard]] static constexpr uint64_t batch_wait(uint64_t gap, uint64_t mean_gap,
                                                       uint64_t age) noexcept {
        return gap >= age || mean_gap >= age / 2 ? 0 : age - gap;
    }

protected:
    /// True when the waiting records should go out now (batch bounds, age, drain).
    [[nodiscard]] bool batch_due(uint64_t now_tsc) const noexcept;
    /// How long the oldest waiting record may wait for its batch to grow: batch_wait() of the
    /// quiet spell its batch follows and of the recent arrival rate.
    [[nodiscard]] uint64_t batch_wait_tsc() const noexcept;
    /// How long the oldest waiting record has waited at @p now_tsc (0 if it came after now_tsc).
    [[nodiscard]] uint64_t waited_tsc(uint64_t now_tsc) const noexcept;
    /// Fills @p b with records from @p first on, at most one batch (batch-records, batch-bytes,
    /// IOV_MAX iovecs); dropped records are skipped. @return the index after the last one taken.
    uint64_t fill_batch(iov_batch& b, uint64_t first) const noexcept;

    config::sink_spec spec_;
    pipeline::sink_stats stats_;
    record_queue q_;
    bool draining_ = false;
    uint64_t age_tsc_ = 0; ///< batch max age in TSC ticks
    /// How soon a sink that holds records it could not send yet (or not confirmed yet) looks
    /// again. Why 1 ms: the batch age default; such a sink waits on its backend, not on us.
    uint64_t hold_check_tsc_ = 0;
};

/// Iovecs for a batch of framed records, pointing into packets and arenas; framing bytes (LF,
/// "LEN ") come from constants or a small per-batch buffer.
class iov_batch {
public:
    /// Adds record @p i of @p q with @p f framing. @return false (nothing added) when its
    /// iovecs might not fit; the batch is then full.
    bool add(const record_queue& q, uint64_t i, config::framing_kind f) noexcept;

    void clear() noexcept {
        n_iov_ = 0;
        n_msgs_ = 0;
        prefix_used_ = 0;
        bytes_ = 0;
    }
    [[nodiscard]] iovec* iov() noexcept { return iov_.data(); }
    [[nodiscard]] uint32_t n_iov() const noexcept { return n_iov_; }
    [[nodiscard]] const uint32_t* sizes() const noexcept { return sizes_.data(); }
    [[nodiscard]] uint32_t n_msgs() const noexcept { return n_msgs_; }
    [[nodiscard]] uint64_t bytes() const noexcept { return bytes_; }

private:
    void push(const char* p, std::size_t len) noexcept;
    /// add() for a run of appended LF-framed records (queued_record::run): one iovec.
    bool add_run(const record_queue& q, const queued_record& r) noexcept;

    std::array<iovec, IOV_MAX> iov_{};
    std::array<uint32_t, IOV_MAX> sizes_{};
    std::array<char, IOV_MAX * 12> prefix_{};
    uint32_t n_iov_ = 0;
    uint32_t n_msgs_ = 0;
    uint32_t prefix_used_ = 0;
    uint64_t bytes_ = 0;
};

} // namespace logagg::sink
