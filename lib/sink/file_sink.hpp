// SPDX-License-Identifier: BSD-3-Clause
// Side: sink (runs on the sink lcore; never on an RX lcore unless only one lcore exists).
//
// Drains the workers' descriptor rings and writes the messages with pwritev over iovecs that point
// straight into the received packets; releases each packet reference after the write returned.
#pragma once

#include <sys/uio.h>

#include <array>
#include <cstdint>
#include <limits.h>
#include <span>
#include <vector>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "pipeline/counters.hpp"
#include "pipeline/message.hpp"
#include "sink/segment_writer.hpp"

namespace logagg::sink {

/// Iovecs per write. Why IOV_MAX (1024 on Linux): the most one pwritev takes.
inline constexpr uint32_t batch_iov = IOV_MAX;
/// Descriptors dequeued per ring operation. Why 256: amortises the ring's atomics while a batch
/// of single-segment messages (1-2 iovecs each) still fills most of batch_iov.
inline constexpr uint32_t sink_dequeue_burst = 256;

/// The file sink. One instance, used by one lcore after set-up.
class file_sink {
public:
    /// @param writer where messages go (owned by the caller, outlives the sink)
    /// @param rings  one SPSC descriptor ring per worker (owned by the caller)
    /// @param stats  counters of the lcore the sink runs on
    /// @param delay_us testing only: sleep this long after each write (0 in production)
    /// @param arenas one per ring: the worker's gen_arena (encoded output), or nullptr
    file_sink(segment_writer& writer, std::vector<rte_ring*> rings, pipeline::lcore_stats& stats,
              uint32_t delay_us = 0, std::vector<pipeline::gen_arena*> arenas = {});

    /// Takes what the rings hold now (up to one batch per ring), writes it, releases packets.
    /// @return the number of descriptors consumed.
    uint32_t poll() noexcept;

    /// True when every ring is empty.
    [[nodiscard]] bool rings_empty() const noexcept;

private:
    struct ring_state {
        rte_ring* ring;
        pipeline::gen_arena* arena;
        uint64_t seen_end = 0;     ///< arena position after the last piece added
        uint64_t complete_end = 0; ///< ... after the last piece of a complete message
        uint64_t written_end = 0;  ///< ... released to the worker
    };
    void add(ring_state& r, const pipeline::msg_desc& d) noexcept;
    void write_batch() noexcept;
    void push(const char* p, std::size_t len) noexcept;

    segment_writer& writer_;
    std::vector<ring_state> rings_;
    pipeline::lcore_stats& stats_;
    uint32_t delay_us_ = 0;
    uint32_t n_iov_ = 0;
    uint32_t n_msgs_ = 0;
    uint32_t n_free_ = 0;
    uint32_t cur_len_ = 0;   ///< bytes of the message being added (encoded: several pieces)
    bool in_msg_ = false;    ///< a message's first piece was added, its last not yet
    std::array<iovec, batch_iov> iov_{};
    std::array<uint32_t, batch_iov> msg_sizes_{};
    std::array<rte_mbuf*, batch_iov> to_free_{};
    std::array<pipeline::msg_desc, sink_dequeue_burst> descs_{};
};

} // namespace logagg::sink
