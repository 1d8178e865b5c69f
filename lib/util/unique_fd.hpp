// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane and sink lcore (file and socket set-up, recovery). Header-only.
//
// A file descriptor owned by a scope: closed when the owner goes, never twice.
#pragma once

#include <unistd.h>

#include <utility>

namespace logagg::util {

/// Owns one file descriptor (or none: -1). Move-only.
class unique_fd {
public:
    unique_fd() noexcept = default;
    explicit unique_fd(int fd) noexcept : fd_(fd) {}
    ~unique_fd() { reset(); }
    unique_fd(unique_fd&& o) noexcept : fd_(o.release()) {}
    unique_fd& operator=(unique_fd&& o) noexcept {
        if (this != &o) {
            reset(o.release());
        }
        return *this;
    }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;

    /// The descriptor, still owned here (-1 when none).
    [[nodiscard]] int get() const noexcept { return fd_; }
    [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
    /// Gives the descriptor up without closing it.
    [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
    /// Closes the descriptor held (its close() error is not reported: callers that must know
    /// whether data reached the disk fsync before), then owns @p fd.
    void reset(int fd = -1) noexcept {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

} // namespace logagg::util
