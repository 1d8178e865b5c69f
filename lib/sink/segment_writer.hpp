// SPDX-License-Identifier: BSD-3-Clause
// Side: sink (its own I/O only: open, pwritev, ftruncate, fdatasync). No DPDK here, so it is
// unit-testable with plain buffers.
//
// Appends messages to segment files under a directory: size rotation at message boundaries,
// names that sort in write order, partial writes resumed, failed writes cut back to the last
// whole message.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <span>
#include <string>

#include "util/log_limiter.hpp"

namespace logagg::sink {

/// Outcome of segment_writer::write().
struct write_result {
    uint32_t written = 0; ///< messages now in a segment file, whole
    uint32_t failed = 0;  ///< messages not written (error logged, file cut back to whole messages)
    uint64_t bytes = 0;   ///< bytes of the written messages
};

/// Writes LF-terminated messages to DIR/logagg-<UTC time>-<seq>.log segments.
/// Thread-safety: one thread (the sink's) uses an instance after set-up.
class segment_writer {
public:
    /// @param dir          directory for the segments (created by prepare())
    /// @param rotate_bytes a segment never exceeds this, unless one message alone is larger
    segment_writer(std::string dir, uint64_t rotate_bytes);
    ~segment_writer();
    segment_writer(const segment_writer&) = delete;
    segment_writer& operator=(const segment_writer&) = delete;

    /// Creates the directory (and parents) if needed and checks it is writable.
    /// Control plane. @return an empty string on success, else an error message naming the path.
    [[nodiscard]] std::string prepare();

    /// Writes whole messages. @p iov holds their bytes in order (it is modified: entries are
    /// consumed); @p msg_sizes holds each message's size including its LF, and their sum equals
    /// the iovecs' total. Messages are never split across segments. noexcept: errors are counted
    /// and logged (rate limited), never thrown.
    [[nodiscard]] write_result write(std::span<iovec> iov,
                                     std::span<const uint32_t> msg_sizes) noexcept;

    /// Makes the current segment durable (fdatasync), closes it and syncs the directory.
    /// @return 0 or an errno value.
    int finish() noexcept;

    [[nodiscard]] uint64_t segments() const noexcept { return segments_; }
    [[nodiscard]] uint64_t write_errors() const noexcept { return write_errors_; }
    [[nodiscard]] const std::string& dir() const noexcept { return dir_; }
    /// Path of the segment being written (empty when none is open).
    [[nodiscard]] const std::string& current_path() const noexcept { return path_; }

private:
    bool open_segment() noexcept;
    void close_segment() noexcept;
    bool write_chunk(const iovec* iov, int cnt, uint64_t bytes) noexcept;
    void report(const char* what, int err) noexcept;

    std::string dir_;
    uint64_t rotate_bytes_;
    std::string path_;
    int fd_ = -1;
    uint64_t size_ = 0; ///< bytes of whole messages in the current segment
    uint64_t seq_ = 0;
    uint64_t segments_ = 0;
    uint64_t write_errors_ = 0;
    util::log_limiter limiter_;
};

} // namespace logagg::sink
