// SPDX-License-Identifier: BSD-3-Clause
// Side: sink. Builds iovecs that point into mbuf data: no payload byte is copied.
#include "sink/file_sink.hpp"

#include <algorithm>
#include <climits>

#include <fmt/core.h>

#include <rte_cycles.h>

#include "util/json_text.hpp"

namespace logagg::sink {

file_sink::file_sink(const config::sink_spec& spec, std::vector<rte_ring*> rings,
                     std::vector<pipeline::gen_arena*> arenas, bool block, uint32_t delay_us,
                     uint64_t stall_at)
    : sink(spec, std::move(rings), std::move(arenas), block),
      writer_(spec.dir, spec.rotate_bytes, spec.framing), delay_us_(delay_us) {
    writer_.test_stall_at(stall_at);
    // Appended records of one RX burst sit back to back in the lane's arena: queued, costed,
    // timed, written and released as one run each (record_queue::coalesce()). Not with
    // drop=oldest: it drops whole queued records, and would drop a run to make room for one.
    if (spec.framing == config::framing_kind::lf && !spec.drop_oldest) {
        // At most what one batch takes (batch-records, and IOV_MAX record sizes per write): a
        // batch always takes a run whole.
        q_.coalesce(std::min<uint32_t>(spec.batch.records, IOV_MAX), spec.batch.bytes);
    }
}

util::result<void> file_sink::start() {
    if (auto prepared = writer_.prepare(); !prepared) {
        return util::failure(fmt::format("--sink {}: {}", spec_.name, prepared.error().text));
    }
    auto recovered = writer_.recover();
    if (!recovered) {
        return util::failure(fmt::format("--sink {}: recovering the segments: {}", spec_.name,
                                         recovered.error().text));
    }
    const recovery_report& r = recovered.value();
    recovery_scanned_ = r.scanned;
    torn_segments_ = static_cast<uint32_t>(r.torn.size());
    torn_bytes_ = r.torn_bytes();
    for (const torn_segment& t : r.torn) {
        util::report("  sink {}: torn record: cut {} bytes off '{}' (kept {} bytes of whole {} "
                     "records) into '{}'",
                     spec_.name, t.cut, t.path, t.kept,
                     t.framing == config::framing_kind::octet ? "octet-counted" : "LF-terminated",
                     t.torn_path);
    }
    if (r.scanned != 0 && r.torn.empty()) {
        util::report("  sink {}: checked {} segment(s) {}: none torn", spec_.name, r.scanned,
                     r.unclean         ? std::string("after an unclean stop")
                     : !r.note.empty() ? fmt::format("({})", r.note)
                                       : std::string("newer than the state file records"));
    }
    return util::ok();
}

uint32_t file_sink::poll(uint64_t now_tsc) noexcept {
    uint32_t moved = q_.pull();
    // Whole batches while they are due (a write covers at most IOV_MAX iovecs); at most a few
    // per poll, so other sinks on this lcore get their turn.
    for (int round = 0; round < 4 && batch_due(now_tsc); ++round) {
        batch_.clear();
        const uint64_t i = fill_batch(batch_, q_.head());
        const write_result r =
            batch_.n_msgs() == 0
                ? write_result{}
                : writer_.write(std::span<iovec>(batch_.iov(), batch_.n_iov()),
                                std::span<const uint32_t>(batch_.sizes(), batch_.n_msgs()));
        stats_.batch(batch_.n_msgs());
        // The write returned: the kernel holds its own copy now, so the packets and the arena
        // bytes of the records written (or failed, counted) can go back.
        q_.settle(i, r.written, r.bytes, pipeline::sink_drop::write_error, spec_.framing);
        moved += batch_.n_msgs();
        if (delay_us_ != 0) {
            rte_delay_us_sleep(delay_us_);
        }
        moved += q_.pull();
    }
    return moved;
}

int file_sink::finish() noexcept {
    return writer_.finish();
}

std::string file_sink::report_json() const {
    return fmt::format("\"dir\": {}, \"segments\": {}, \"write_errors\": {}, "
                       "\"recovery_scanned\": {}, \"torn_segments\": {}, \"torn_bytes\": {}",
                       util::json_quote(writer_.dir()), writer_.segments(), writer_.write_errors(),
                       recovery_scanned_, torn_segments_, torn_bytes_);
}

std::string file_sink::report_text() const {
    std::string t = fmt::format("dir {}, {} segments, {} write errors", writer_.dir(),
                                writer_.segments(), writer_.write_errors());
    if (recovery_scanned_ != 0) {
        t += fmt::format("; recovery at start: {} segments checked, {} torn, {} bytes cut into "
                         ".torn files",
                         recovery_scanned_, torn_segments_, torn_bytes_);
    }
    return t;
}

} // namespace logagg::sink
