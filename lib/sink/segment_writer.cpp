// SPDX-License-Identifier: BSD-3-Clause
// Side: sink. System calls here are the sink's own I/O.
#include "sink/segment_writer.hpp"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <system_error>

#include <fmt/core.h>

namespace logagg::sink {
namespace {

[[nodiscard]] uint64_t now_ns(clockid_t clk) noexcept {
    timespec ts{};
    clock_gettime(clk, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

} // namespace

segment_writer::segment_writer(std::string dir, uint64_t rotate_bytes, config::framing_kind framing)
    : dir_(std::move(dir)), rotate_bytes_(rotate_bytes), framing_(framing),
      state_path_(dir_ + "/" + std::string(state_file_name)),
      state_tmp_path_(state_path_ + ".tmp") {}

segment_writer::~segment_writer() = default;

util::result<void> segment_writer::prepare() {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) {
        return util::failure(fmt::format("cannot create directory '{}': {}", dir_, ec.message()));
    }
    if (!std::filesystem::is_directory(dir_, ec)) {
        return util::failure(fmt::format("'{}' is not a directory", dir_));
    }
    if (::access(dir_.c_str(), W_OK | X_OK) != 0) {
        return util::failure(
            fmt::format("directory '{}' is not writable: {}", dir_, std::strerror(errno)));
    }
    if (!dir_fd_.valid()) {
        dir_fd_.reset(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!dir_fd_.valid()) {
            return util::failure(
                fmt::format("cannot open directory '{}': {}", dir_, std::strerror(errno)));
        }
    }
    return util::ok();
}

util::result<recovery_report> segment_writer::recover() {
    auto r = recover_directory(dir_, framing_);
    if (r && r.value().newest.size() < sizeof name_) {
        std::memcpy(name_, r.value().newest.c_str(), r.value().newest.size() + 1);
    }
    return r;
}

void segment_writer::report(const char* what, int err, const char* consequence) noexcept {
    const std::string& where = path_.empty() ? dir_ : path_;
    limiter_.error("file sink: {} '{}': {}; {}", what, where, std::strerror(err),
                   consequence != nullptr ? consequence
                                          : "messages dropped (sinks[].dropped.write_error)");
}

bool segment_writer::open_segment() noexcept {
    for (int attempt = 0; attempt < 16; ++attempt) {
        const uint64_t ns = now_ns(CLOCK_REALTIME);
        const time_t secs = static_cast<time_t>(ns / 1'000'000'000ULL);
        tm utc{};
        gmtime_r(&secs, &utc);
        char name[sizeof name_];
        // Fixed-width fields: lexical order of names == creation order.
        std::snprintf(name, sizeof name, "logagg-%04d%02d%02dT%02d%02d%02d.%06luZ-%08lu.log",
                      utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                      utc.tm_sec, static_cast<unsigned long>((ns / 1000) % 1'000'000),
                      static_cast<unsigned long>(seq_++));
        path_ = dir_ + "/" + name;
        fd_.reset(::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
        if (fd_.valid()) {
            size_ = 0;
            ++segments_;
            std::memcpy(name_, name, sizeof name_);
            // Before any byte goes in: the state names this segment as the one a crash may tear
            // (the previous one was fdatasynced when it was closed). Once a segment may not be
            // whole (unsure_), the state keeps naming it: recovery checks it and every later one.
            if (const int e =
                    unsure_ ? 0
                            : write_sink_state(dir_fd_.get(), state_path_.c_str(),
                                               state_tmp_path_.c_str(), framing_, true, name_);
                e != 0) {
                report("cannot record the open segment in", e,
                       "a crash may leave a torn record that only a full check at start finds");
            }
            return true;
        }
        if (errno != EEXIST) {
            report("cannot create segment", errno);
            path_.clear();
            return false;
        }
    }
    report("cannot create a new segment name", EEXIST);
    path_.clear();
    return false;
}

void segment_writer::close_segment() noexcept {
    if (!fd_.valid()) {
        return;
    }
    if (::fdatasync(fd_.get()) != 0) {
        report("fdatasync failed on", errno, "a crash of the machine may tear it");
        unsure_ = true;
    }
    fd_.reset();
    path_.clear();
}

bool segment_writer::write_chunk(const iovec* iov, int cnt, uint64_t bytes,
                                 uint64_t& done) noexcept {
    // pwritev at our own offset: after a failure the file is cut back with ftruncate and no seek
    // is needed. Partial writes resume mid-iovec on a local copy of the boundary entry.
    done = 0;
    int i = 0;
    iovec head{};
    bool have_head = false;
    while (done < bytes) {
        iovec local[IOV_MAX];
        int n = 0;
        if (have_head) {
            local[n++] = head;
        }
        for (int j = i; j < cnt && n < IOV_MAX; ++j) {
            local[n++] = iov[j];
        }
        const ssize_t r = ::pwritev(fd_.get(), local, n, static_cast<off_t>(size_ + done));
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            const int err = errno;
            ++write_errors_;
            report("write failed on", err);
            return false;
        }
        if (r == 0) {
            ++write_errors_;
            report("write made no progress on", EIO);
            return false;
        }
        done += static_cast<uint64_t>(r);
        // Advance (have_head ? head : iov[i]) ... by r bytes.
        auto left = static_cast<uint64_t>(r);
        if (have_head) {
            if (left < head.iov_len) {
                head.iov_base = static_cast<char*>(head.iov_base) + left;
                head.iov_len -= left;
                continue;
            }
            left -= head.iov_len;
            have_head = false;
        }
        while (left != 0 && i < cnt) {
            if (left < iov[i].iov_len) {
                head.iov_base = static_cast<char*>(iov[i].iov_base) + left;
                head.iov_len = iov[i].iov_len - left;
                have_head = true;
                ++i;
                left = 0;
                break;
            }
            left -= iov[i].iov_len;
            ++i;
        }
    }
    size_ += bytes;
    return true;
}

write_result segment_writer::write(std::span<iovec> iov,
                                   std::span<const uint32_t> msg_sizes) noexcept {
    write_result res;
    std::size_t m = 0;
    std::size_t vi = 0; // first iovec not yet consumed
    while (m < msg_sizes.size()) {
        if (!fd_.valid() && !open_segment()) {
            res.failed += static_cast<uint32_t>(msg_sizes.size() - m);
            return res;
        }
        // Whole messages that fit in this segment (at least one in an empty segment).
        uint64_t bytes = 0;
        std::size_t k = 0;
        while (m + k < msg_sizes.size() && size_ + bytes + msg_sizes[m + k] <= rotate_bytes_) {
            bytes += msg_sizes[m + k];
            ++k;
        }
        if (k == 0) {
            if (size_ != 0) {
                close_segment();
                continue;
            }
            bytes = msg_sizes[m];
            k = 1;
        }
        // The iovecs that carry exactly `bytes`; split the boundary entry if it carries more.
        std::size_t end = vi;
        uint64_t acc = 0;
        while (acc < bytes) {
            acc += iov[end].iov_len;
            ++end;
        }
        iovec tail{};
        const uint64_t over = acc - bytes;
        if (over != 0) {
            iovec& b = iov[end - 1];
            tail.iov_base = static_cast<char*>(b.iov_base) + (b.iov_len - over);
            tail.iov_len = over;
            b.iov_len -= over;
        }
        if (stall_at_ >= run_bytes_ && stall_at_ - run_bytes_ < bytes) {
            stall(&iov[vi], static_cast<int>(end - vi), stall_at_ - run_bytes_);
        }
        uint64_t done = 0;
        if (write_chunk(&iov[vi], static_cast<int>(end - vi), bytes, done)) {
            res.written += static_cast<uint32_t>(k);
            res.bytes += bytes;
            run_bytes_ += bytes;
        } else {
            // Keep the whole messages the write got in before it failed (a disk that fills up
            // part-way through a batch), cut the rest off.
            uint64_t keep = 0;
            std::size_t whole = 0;
            while (whole < k && keep + msg_sizes[m + whole] <= done) {
                keep += msg_sizes[m + whole];
                ++whole;
            }
            if (::ftruncate(fd_.get(), static_cast<off_t>(size_ + keep)) != 0) {
                report("cannot cut back", errno);
                unsure_ = true;
            }
            size_ += keep;
            res.written += static_cast<uint32_t>(whole);
            res.bytes += keep;
            run_bytes_ += keep;
            res.failed += static_cast<uint32_t>(k - whole);
        }
        m += k;
        if (over != 0) {
            iov[end - 1] = tail;
            vi = end - 1;
        } else {
            vi = end;
        }
        if (size_ >= rotate_bytes_) {
            close_segment();
        }
    }
    return res;
}

void segment_writer::stall(const iovec* iov, int cnt, uint64_t bytes) noexcept {
    stall_at_ = UINT64_MAX; // once
    iovec local[IOV_MAX];
    int n = 0;
    for (uint64_t left = bytes; left != 0 && n < cnt; ++n) {
        local[n] = iov[n];
        local[n].iov_len = std::min<uint64_t>(local[n].iov_len, left);
        left -= local[n].iov_len;
    }
    const ssize_t r = n == 0 ? 0 : ::pwritev(fd_.get(), local, n, static_cast<off_t>(size_));
    util::notice("test: file sink stalled mid-write at byte {} of its output: '{}' holds {} "
                 "bytes ({} written of this write); waiting to be killed",
                 run_bytes_ + bytes, path_, size_ + static_cast<uint64_t>(std::max<ssize_t>(r, 0)),
                 r);
    // Why 60 s: far longer than a test needs to kill it, short enough not to busy the machine's
    // other lcores for long when a test died before killing it.
    for (int i = 0; i < 60; ++i) {
        ::sleep(1);
    }
}

int segment_writer::finish() noexcept {
    int err = 0;
    if (fd_.valid()) {
        if (::fdatasync(fd_.get()) != 0) {
            err = errno;
        }
        fd_.reset();
        path_.clear();
    }
    if (!dir_fd_.valid()) {
        return err;
    }
    if (::fsync(dir_fd_.get()) != 0 && err == 0) {
        err = errno;
    }
    // A clean stop: every segment is whole and durable, the next start checks none of them.
    // Unless one may not be (a failed sync, a write that could not be cut back): the state then
    // still names a segment as open, and the next start checks it and every later one.
    if (err == 0 && !unsure_) {
        err = write_sink_state(dir_fd_.get(), state_path_.c_str(), state_tmp_path_.c_str(),
                               framing_, false, name_);
    }
    return err;
}

} // namespace logagg::sink
