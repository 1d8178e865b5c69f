// SPDX-License-Identifier: BSD-3-Clause
// Side: sink (runs on a sink lcore; never on an RX lcore unless only one lcore exists).
//
// Appends records to segment files with pwritev over iovecs that point straight into the
// received packets; releases each packet reference after the write returned.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sink/segment_writer.hpp"
#include "sink/sink.hpp"

namespace logagg::sink {

/// --sink file:DIR,...
class file_sink final : public sink {
public:
    /// @param delay_us testing only: sleep this long after each write (0 in production)
    /// @param stall_at testing only: stop mid-write at this byte of the output
    ///                 (segment_writer::test_stall_at; UINT64_MAX in production)
    file_sink(const config::sink_spec& spec, std::vector<rte_ring*> rings,
              std::vector<pipeline::gen_arena*> arenas, bool block, uint32_t delay_us = 0,
              uint64_t stall_at = UINT64_MAX);

    /// Prepares the directory and recovers what an unclean shutdown may have torn (one line on
    /// stdout per segment cut). Control plane, before the lcores start.
    [[nodiscard]] util::result<void> start() override;
    uint32_t poll(uint64_t now_tsc) noexcept override;
    int finish() noexcept override;
    [[nodiscard]] std::string report_json() const override;
    [[nodiscard]] std::string report_text() const override;

private:
    segment_writer writer_;
    iov_batch batch_;
    uint32_t delay_us_ = 0;
    // Start-up recovery, for the report.
    uint32_t recovery_scanned_ = 0; ///< segments checked
    uint32_t torn_segments_ = 0;    ///< segments that ended in a torn record (cut)
    uint64_t torn_bytes_ = 0;       ///< bytes cut off them, kept in .torn files
};

} // namespace logagg::sink
