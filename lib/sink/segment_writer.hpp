// SPDX-License-Identifier: BSD-3-Clause
// Side: sink (its own I/O only: open, pwritev, ftruncate, fdatasync, the state file); prepare()
// and recover() are control plane. No DPDK here, so it is unit-testable with plain buffers.
//
// Appends messages to segment files under a directory: size rotation at message boundaries,
// names that sort in write order, partial writes resumed, failed writes cut back to the last
// whole message. A state file records which segment is being written, so that recover() at the
// next start knows which segment a crash may have torn (sink/segment_recovery.hpp).
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <span>
#include <string>

#include "config/sink_spec.hpp"
#include "sink/segment_recovery.hpp"
#include "util/log.hpp"
#include "util/result.hpp"
#include "util/unique_fd.hpp"

namespace logagg::sink {

/// Outcome of segment_writer::write().
struct write_result {
    uint32_t written = 0; ///< messages now in a segment file, whole
    uint32_t failed = 0;  ///< messages not written (error logged, file cut back to whole messages)
    uint64_t bytes = 0;   ///< bytes of the written messages
};

/// Writes framed messages (each with its LF or octet count) to
/// DIR/logagg-<UTC time>-<seq>.log segments.
/// Thread-safety: one thread (the sink's) uses an instance after set-up.
class segment_writer {
public:
    /// @param dir          directory for the segments (created by prepare())
    /// @param rotate_bytes a segment never exceeds this, unless one message alone is larger
    /// @param framing      how the messages are framed (recorded for recovery)
    segment_writer(std::string dir, uint64_t rotate_bytes,
                   config::framing_kind framing = config::framing_kind::lf);
    ~segment_writer();
    segment_writer(const segment_writer&) = delete;
    segment_writer& operator=(const segment_writer&) = delete;

    /// Creates the directory (and parents) if needed and checks it is writable.
    /// Control plane. @return success, or a runtime failure naming the path.
    [[nodiscard]] util::result<void> prepare();

    /// After prepare(), before the first write: recovers the segments an unclean shutdown may
    /// have torn (recover_directory()). Control plane. @return what it found, or a runtime
    /// failure naming the path.
    [[nodiscard]] util::result<recovery_report> recover();

    /// Testing only: the write that would take this run's output past @p byte writes only up to
    /// it (a write cut short, as SIGKILL cuts a pwritev between pages), prints a line on stdout
    /// and waits (up to 60 s) to be killed before it goes on.
    void test_stall_at(uint64_t byte) noexcept { stall_at_ = byte; }

    /// Writes whole messages. @p iov holds their bytes in order (it is modified: entries are
    /// consumed); @p msg_sizes holds each message's size including its LF, and their sum equals
    /// the iovecs' total. Messages are never split across segments. noexcept: errors are counted
    /// and logged (rate limited), never thrown.
    [[nodiscard]] write_result write(std::span<iovec> iov,
                                     std::span<const uint32_t> msg_sizes) noexcept;

    /// Makes the current segment durable (fdatasync), closes it, syncs the directory and records
    /// the stop as clean in the state file. @return 0 or an errno value.
    int finish() noexcept;

    [[nodiscard]] uint64_t segments() const noexcept { return segments_; }
    [[nodiscard]] uint64_t write_errors() const noexcept { return write_errors_; }
    [[nodiscard]] const std::string& dir() const noexcept { return dir_; }
    /// Path of the segment being written (empty when none is open).
    [[nodiscard]] const std::string& current_path() const noexcept { return path_; }

private:
    bool open_segment() noexcept;
    void close_segment() noexcept;
    /// Writes @p bytes at the end of the segment. @return false on a failure, @p done then holds
    /// the bytes written before it (the caller cuts the file back).
    bool write_chunk(const iovec* iov, int cnt, uint64_t bytes, uint64_t& done) noexcept;
    void stall(const iovec* iov, int cnt, uint64_t bytes) noexcept;
    void report(const char* what, int err, const char* consequence = nullptr) noexcept;

    std::string dir_;
    uint64_t rotate_bytes_;
    config::framing_kind framing_;
    std::string path_;
    std::string state_path_;     ///< DIR/.logagg-state
    std::string state_tmp_path_; ///< written, then renamed over state_path_
    util::unique_fd fd_;         ///< the open segment (none between segments)
    util::unique_fd dir_fd_;     ///< the directory, for fsync after creating and renaming files
    uint64_t size_ = 0;          ///< bytes of whole messages in the current segment
    uint64_t seq_ = 0;
    uint64_t segments_ = 0;
    uint64_t write_errors_ = 0;
    uint64_t run_bytes_ = 0;         ///< bytes written whole by this run
    uint64_t stall_at_ = UINT64_MAX; ///< testing only (test_stall_at)
    bool unsure_ = false;            ///< a failed write could not be cut back
    char name_[96] = {};             ///< the newest segment's name (kept after it is closed)
    util::log_limiter limiter_;
};

} // namespace logagg::sink
