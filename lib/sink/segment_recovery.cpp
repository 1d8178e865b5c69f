// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane (recovery at start-up); write_sink_state() also on the sink's lcore.
#include "sink/segment_recovery.hpp"
#include "util/unique_fd.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include <fmt/core.h>

namespace logagg::sink {
namespace {

/// Why 1 MiB: few reads per segment (a 256 MiB segment is walked in 256 preads), little memory.
constexpr std::size_t io_chunk = 1u << 20;
/// Most digits of an octet count: a record is far below 10^10 bytes. Why 10: as RFC 6587
/// allows any length, a longer count is taken for garbage rather than for a frame.
constexpr std::size_t max_len_digits = 10;
/// The state file's first line: its name and the version of its format.
constexpr std::string_view state_magic = "logagg-file-sink-state 1";

[[nodiscard]] std::string err_text(int err) {
    return std::strerror(err);
}

/// pread of exactly @p n bytes (short only at EOF). @return bytes read, or -1 (errno set).
ssize_t pread_full(int fd, char* buf, std::size_t n, uint64_t off) {
    std::size_t got = 0;
    while (got < n) {
        const ssize_t r = ::pread(fd, buf + got, n - got, static_cast<off_t>(off + got));
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        if (r == 0) {
            break;
        }
        got += static_cast<std::size_t>(r);
    }
    return static_cast<ssize_t>(got);
}

[[nodiscard]] bool write_full(int fd, const char* p, std::size_t n) {
    while (n != 0) {
        const ssize_t r = ::write(fd, p, n);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return false;
        }
        if (r == 0) {
            errno = EIO;
            return false;
        }
        p += r;
        n -= static_cast<std::size_t>(r);
    }
    return true;
}

/// LF framing: the offset after the last LF of the file's first @p size bytes (0 if none),
/// read backwards, so a whole segment costs one read. @return -1 on a read error (errno set).
int64_t lf_whole_end(int fd, uint64_t size, std::vector<char>& buf) {
    uint64_t end = size;
    while (end != 0) {
        const uint64_t start = end > buf.size() ? end - buf.size() : 0;
        const auto n = static_cast<std::size_t>(end - start);
        const ssize_t r = pread_full(fd, buf.data(), n, start);
        if (r < 0) {
            return -1;
        }
        if (static_cast<std::size_t>(r) != n) {
            errno = EIO; // the file shrank under us
            return -1;
        }
        const void* lf = ::memrchr(buf.data(), '\n', n);
        if (lf != nullptr) {
            return static_cast<int64_t>(start) + (static_cast<const char*>(lf) - buf.data()) + 1;
        }
        end = start;
    }
    return 0;
}

/// Octet counting: walks the frames from the start through a window of the file. @return the
/// end of the last whole frame, or -1 on a read error (errno set).
int64_t octet_whole_end(int fd, uint64_t size, std::vector<char>& buf) {
    uint64_t pos = 0;  // start of the frame being examined
    uint64_t wbeg = 0; // the window holds the file's bytes [wbeg, wbeg + wlen)
    std::size_t wlen = 0;
    while (pos < size) {
        // The header: up to max_len_digits digits and a SP.
        const uint64_t need = std::min<uint64_t>(max_len_digits + 1, size - pos);
        if (pos < wbeg || pos + need > wbeg + wlen) {
            const ssize_t r = pread_full(fd, buf.data(), buf.size(), pos);
            if (r < 0) {
                return -1;
            }
            wbeg = pos;
            wlen = static_cast<std::size_t>(r);
            if (wlen < need) {
                errno = EIO;
                return -1;
            }
        }
        const std::string_view hdr(buf.data() + (pos - wbeg), static_cast<std::size_t>(need));
        uint64_t len = 0;
        std::size_t i = 0;
        for (; i < hdr.size() && hdr[i] >= '0' && hdr[i] <= '9'; ++i) {
            len = len * 10 + static_cast<uint64_t>(hdr[i] - '0');
        }
        if (i == 0 || hdr[0] == '0' || i > max_len_digits) {
            return static_cast<int64_t>(pos); // malformed
        }
        if (i == hdr.size()) {
            return static_cast<int64_t>(pos); // the file ends inside the count (or it is too long)
        }
        if (hdr[i] != ' ') {
            return static_cast<int64_t>(pos); // malformed
        }
        const uint64_t next = pos + i + 1 + len;
        if (next > size) {
            return static_cast<int64_t>(pos); // the message is cut
        }
        pos = next;
    }
    return static_cast<int64_t>(pos);
}

/// The end of the whole records of an open file. @return -1 on a read error (errno set).
int64_t whole_end(int fd, uint64_t size, config::framing_kind f) {
    std::vector<char> buf(io_chunk);
    return f == config::framing_kind::octet ? octet_whole_end(fd, size, buf)
                                            : lf_whole_end(fd, size, buf);
}

/// True when the file at @p path holds exactly the bytes [from, from + n) of @p src_fd.
[[nodiscard]] bool same_bytes(const std::string& path, int src_fd, uint64_t from, uint64_t n) {
    util::unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
        static_cast<uint64_t>(st.st_size) != n) {
        return false;
    }
    std::vector<char> a(io_chunk);
    std::vector<char> b(io_chunk);
    for (uint64_t off = 0; off < n;) {
        const auto k = static_cast<std::size_t>(std::min<uint64_t>(io_chunk, n - off));
        if (pread_full(fd.get(), a.data(), k, off) != static_cast<ssize_t>(k) ||
            pread_full(src_fd, b.data(), k, from + off) != static_cast<ssize_t>(k) ||
            std::memcmp(a.data(), b.data(), k) != 0) {
            return false;
        }
        off += k;
    }
    return true;
}

[[nodiscard]] std::string parent_of(const std::string& path) {
    const std::size_t slash = path.rfind('/');
    if (slash == std::string::npos) {
        return ".";
    }
    return slash == 0 ? "/" : path.substr(0, slash);
}

[[nodiscard]] int fsync_dir(const std::string& dir) {
    util::unique_fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (d.get() < 0) {
        return errno;
    }
    return ::fsync(d.get()) == 0 ? 0 : errno;
}

[[nodiscard]] bool all_digits(std::string_view s) noexcept {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

} // namespace

bool is_segment_name(std::string_view n) noexcept {
    // logagg-YYYYMMDDTHHMMSS.uuuuuuZ-NNNNNNNN.log (the sequence is printed with at least 8 digits)
    constexpr std::string_view prefix = "logagg-";
    constexpr std::string_view suffix = ".log";
    constexpr std::size_t stamp = 24; // "YYYYMMDDTHHMMSS.uuuuuuZ-"
    if (n.size() < prefix.size() + stamp + 8 + suffix.size() || !n.starts_with(prefix) ||
        !n.ends_with(suffix)) {
        return false;
    }
    const std::string_view t = n.substr(prefix.size(), stamp);
    const std::string_view seq =
        n.substr(prefix.size() + stamp, n.size() - prefix.size() - stamp - suffix.size());
    return all_digits(t.substr(0, 8)) && t[8] == 'T' && all_digits(t.substr(9, 6)) &&
           t[15] == '.' && all_digits(t.substr(16, 6)) && t[22] == 'Z' && t[23] == '-' &&
           all_digits(seq);
}

uint64_t whole_records_prefix(std::string_view data, config::framing_kind f) noexcept {
    if (f != config::framing_kind::octet) {
        const std::size_t lf = data.rfind('\n');
        return lf == std::string_view::npos ? 0 : lf + 1;
    }
    uint64_t pos = 0;
    while (pos < data.size()) {
        std::size_t i = 0;
        uint64_t len = 0;
        for (; pos + i < data.size() && i <= max_len_digits && data[pos + i] >= '0' &&
               data[pos + i] <= '9';
             ++i) {
            len = len * 10 + static_cast<uint64_t>(data[pos + i] - '0');
        }
        if (i == 0 || data[pos] == '0' || i > max_len_digits || pos + i == data.size() ||
            data[pos + i] != ' ') {
            return pos;
        }
        const uint64_t next = pos + i + 1 + len;
        if (next > data.size()) {
            return pos;
        }
        pos = next;
    }
    return pos;
}

int write_sink_state(int dir_fd, const char* state_path, const char* tmp_path,
                     config::framing_kind f, bool open, const char* segment) noexcept {
    char text[512];
    const std::string_view framing = config::name(f);
    const int len = std::snprintf(text, sizeof text, "%.*s\nframing %.*s\n%s %s\n",
                                  static_cast<int>(state_magic.size()), state_magic.data(),
                                  static_cast<int>(framing.size()), framing.data(),
                                  open ? "open" : "closed", segment[0] != '\0' ? segment : "-");
    if (len < 0 || static_cast<std::size_t>(len) >= sizeof text) {
        return ENAMETOOLONG;
    }
    int err = 0;
    {
        const util::unique_fd fd(::open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        if (!fd.valid()) {
            return errno;
        }
        if (!write_full(fd.get(), text, static_cast<std::size_t>(len)) ||
            ::fdatasync(fd.get()) != 0) {
            err = errno;
        }
    } // closed before the rename
    if (err == 0 && ::rename(tmp_path, state_path) != 0) {
        err = errno;
    }
    if (err == 0 && ::fsync(dir_fd) != 0) {
        err = errno;
    }
    return err;
}

util::result<sink_state> read_sink_state(const std::string& dir) {
    sink_state st;
    const std::string path = dir + "/" + std::string(state_file_name);
    util::unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
        if (errno != ENOENT) {
            return util::failure(fmt::format("cannot read '{}': {}", path, err_text(errno)));
        }
        return st;
    }
    char buf[1024];
    const ssize_t r = pread_full(fd.get(), buf, sizeof buf, 0);
    if (r < 0) {
        return util::failure(fmt::format("cannot read '{}': {}", path, err_text(errno)));
    }
    std::string_view text(buf, static_cast<std::size_t>(r));
    std::vector<std::string_view> lines;
    while (!text.empty()) {
        const std::size_t lf = text.find('\n');
        if (lf == std::string_view::npos) {
            break; // a last line without LF: not written whole
        }
        lines.push_back(text.substr(0, lf));
        text.remove_prefix(lf + 1);
    }
    const auto bad = [&](std::string_view why) {
        sink_state unused;
        unused.note = fmt::format("'{}' {}", path, why);
        return unused;
    };
    if (lines.size() != 3 || !text.empty() || lines[0] != state_magic) {
        return bad("is not a state file this logagg writes");
    }
    constexpr std::string_view framing_key = "framing ";
    const auto framing =
        lines[1].starts_with(framing_key)
            ? util::enum_from_name<config::framing_kind, config::framing_kind_names.size()>(
                  lines[1].substr(framing_key.size()))
            : std::nullopt;
    if (!framing) {
        return bad("names no framing");
    }
    st.framing = *framing;
    std::string_view seg;
    if (lines[2].starts_with("open ")) {
        st.open = true;
        seg = lines[2].substr(5);
    } else if (lines[2].starts_with("closed ")) {
        seg = lines[2].substr(7);
    } else {
        return bad("says neither open nor closed");
    }
    if (seg != "-" && !is_segment_name(seg)) {
        return bad("names no segment");
    }
    if (seg == "-" && st.open) {
        return bad("names no open segment");
    }
    st.segment = seg == "-" ? std::string() : std::string(seg);
    st.valid = true;
    return st;
}

util::result<std::optional<torn_segment>> recover_segment(const std::string& path,
                                                          config::framing_kind f) {
    const std::optional<torn_segment> whole; // nothing to cut
    util::unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (fd.get() < 0) {
        return util::failure(fmt::format("cannot open segment '{}': {}", path, err_text(errno)));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        return util::failure(fmt::format("cannot stat segment '{}': {}", path, err_text(errno)));
    }
    if (!S_ISREG(st.st_mode)) {
        return whole; // not a file the writer made: left alone
    }
    const auto size = static_cast<uint64_t>(st.st_size);
    const int64_t end = whole_end(fd.get(), size, f);
    if (end < 0) {
        return util::failure(fmt::format("cannot read segment '{}': {}", path, err_text(errno)));
    }
    const auto keep = static_cast<uint64_t>(end);
    if (keep == size) {
        return whole;
    }
    const uint64_t n = size - keep;
    // The cut bytes first, durably, in a file of their own; only then the segment is cut. A
    // crash in between leaves the .torn file holding these very bytes: reused next time.
    std::string torn;
    for (int k = 0;; ++k) {
        torn =
            k == 0 ? path + std::string(torn_suffix) : fmt::format("{}{}.{}", path, torn_suffix, k);
        struct stat ts {};
        if (::lstat(torn.c_str(), &ts) != 0) {
            if (errno != ENOENT) {
                return util::failure(fmt::format("cannot stat '{}': {}", torn, err_text(errno)));
            }
            util::unique_fd out_fd(
                ::open(torn.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644));
            if (out_fd.get() < 0) {
                return util::failure(fmt::format("cannot create '{}': {}", torn, err_text(errno)));
            }
            std::vector<char> buf(io_chunk);
            for (uint64_t off = keep; off < size;) {
                const auto want =
                    static_cast<std::size_t>(std::min<uint64_t>(io_chunk, size - off));
                const ssize_t r = pread_full(fd.get(), buf.data(), want, off);
                if (r != static_cast<ssize_t>(want)) {
                    const int e = r < 0 ? errno : EIO;
                    ::unlink(torn.c_str());
                    return util::failure(
                        fmt::format("cannot read segment '{}': {}", path, err_text(e)));
                }
                if (!write_full(out_fd.get(), buf.data(), want)) {
                    const int e = errno;
                    ::unlink(torn.c_str());
                    return util::failure(fmt::format("cannot write '{}': {}", torn, err_text(e)));
                }
                off += want;
            }
            if (::fsync(out_fd.get()) != 0) {
                const int e = errno;
                ::unlink(torn.c_str());
                return util::failure(fmt::format("cannot sync '{}': {}", torn, err_text(e)));
            }
            break;
        }
        if (same_bytes(torn, fd.get(), keep, n)) {
            break; // an earlier recovery wrote it and stopped before cutting the segment
        }
        if (k == 1000) {
            return util::failure(
                fmt::format("cannot find a free name for the torn bytes of '{}'", path));
        }
    }
    if (const int e = fsync_dir(parent_of(torn)); e != 0) {
        return util::failure(
            fmt::format("cannot sync the directory of '{}': {}", torn, err_text(e)));
    }
    util::unique_fd wfd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
    if (wfd.get() < 0) {
        return util::failure(fmt::format("cannot open segment '{}' to cut it back to {} bytes: {}",
                                         path, keep, err_text(errno)));
    }
    if (::ftruncate(wfd.get(), static_cast<off_t>(keep)) != 0) {
        return util::failure(fmt::format("cannot cut segment '{}' back to {} bytes: {}", path, keep,
                                         err_text(errno)));
    }
    if (::fsync(wfd.get()) != 0) {
        return util::failure(fmt::format("cannot sync segment '{}': {}", path, err_text(errno)));
    }
    torn_segment out;
    out.path = path;
    out.torn_path = torn;
    out.kept = keep;
    out.cut = n;
    out.framing = f;
    return std::optional<torn_segment>(std::move(out));
}

util::result<recovery_report> recover_directory(const std::string& dir,
                                                config::framing_kind configured) {
    recovery_report rep;
    auto read = read_sink_state(dir);
    if (!read) {
        return read.error();
    }
    const sink_state state = std::move(read).value();
    rep.note = state.note;
    std::vector<std::string> names;
    {
        std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
        if (!d) {
            return util::failure(
                fmt::format("cannot list directory '{}': {}", dir, err_text(errno)));
        }
        errno = 0;
        while (const dirent* e = ::readdir(d.get())) {
            const std::string_view n(e->d_name);
            if (!is_segment_name(n)) {
                continue;
            }
            if (e->d_type != DT_REG) {
                struct stat st {};
                const std::string p = dir + "/" + std::string(n);
                if (e->d_type != DT_UNKNOWN || ::lstat(p.c_str(), &st) != 0 ||
                    !S_ISREG(st.st_mode)) {
                    continue; // not a regular file: not ours, left alone
                }
            }
            names.emplace_back(n);
            errno = 0;
        }
        if (errno != 0) {
            return util::failure(
                fmt::format("cannot list directory '{}': {}", dir, err_text(errno)));
        }
    }
    std::sort(names.begin(), names.end()); // names sort in write order
    if (!names.empty()) {
        rep.newest = names.back();
    }
    rep.unclean = state.valid && state.open;
    if (!state.valid && !names.empty() && rep.note.empty()) {
        rep.note = fmt::format("no {} in '{}'", state_file_name, dir);
    }
    for (const std::string& n : names) {
        config::framing_kind f = configured;
        if (state.valid) {
            if (n == state.segment && state.open) {
                f = state.framing; // the framing it was written with
            } else if (n <= state.segment) {
                continue; // whole: closed (fdatasynced) before the state moved past it
            }
        }
        ++rep.scanned;
        auto t = recover_segment(dir + "/" + n, f);
        if (!t) {
            return t.error();
        }
        if (t.value()) {
            rep.torn.push_back(std::move(*t.value()));
        }
    }
    // Every segment is whole now: say so, so that the next start checks nothing of this.
    util::unique_fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dfd.get() < 0) {
        return util::failure(fmt::format("cannot open directory '{}': {}", dir, err_text(errno)));
    }
    const std::string state_path = dir + "/" + std::string(state_file_name);
    const std::string tmp_path = state_path + ".tmp";
    if (const int e = write_sink_state(dfd.get(), state_path.c_str(), tmp_path.c_str(), configured,
                                       false, rep.newest.c_str());
        e != 0) {
        return util::failure(fmt::format("cannot write '{}': {}", state_path, err_text(e)));
    }
    return rep;
}

} // namespace logagg::sink
