// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane (start-up, before the lcores launch), plus the state file helpers the
// segment writer calls on its own lcore when it opens or closes a segment. Plain C++ and POSIX
// file I/O; no DPDK, so it is unit-testable on crafted files.
//
// Recovery of a file sink's directory after an unclean shutdown, the way Kafka recovers its log:
// the segments that may have been written when the process or the machine died are checked, and
// a torn last record (a write cut short by SIGKILL, a power loss, a kernel crash) is cut off and
// kept beside the segment in `<segment>.torn`. Which segments may be torn is recorded in a small
// state file the writer keeps (`.logagg-state`, see docs/sinks.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/sink_spec.hpp"
#include "util/result.hpp"

namespace logagg::sink {

/// The writer's state file in the sink directory (hidden: not a segment, skipped by `cat DIR/*`).
inline constexpr std::string_view state_file_name = ".logagg-state";
/// Where the bytes cut off a segment go: `<segment>.torn` (then `.torn.1`, `.torn.2`, ... when
/// that name already holds other bytes).
inline constexpr std::string_view torn_suffix = ".torn";

/// True when @p name has the form of the segments the writer creates:
/// `logagg-YYYYMMDDTHHMMSS.uuuuuuZ-NNNNNNNN.log` (8 or more sequence digits).
[[nodiscard]] bool is_segment_name(std::string_view name) noexcept;

/// The bytes of @p data that form whole records under @p f, from the start: LF framing ends
/// after the last LF; octet counting walks `LEN SP MSG` frames (LEN: a non-zero digit and at most
/// 9 more) and stops at the first frame that is incomplete or malformed. Pure.
[[nodiscard]] uint64_t whole_records_prefix(std::string_view data, config::framing_kind f) noexcept;

/// What the state file says (see docs/sinks.md, "Crash recovery").
struct sink_state {
    bool valid = false;                                      ///< the file exists and parses
    config::framing_kind framing = config::framing_kind::lf; ///< framing of the segment named below
    bool open = false;   ///< a segment was being written (no clean stop since)
    std::string segment; ///< open: that segment; closed: the newest whole one ("" if none)
    std::string note;    ///< !valid: why a file that exists was not used ("" when there is none)
};

/// Writes the state file atomically and durably (a temporary file, fdatasync, rename, fsync of
/// the directory): @p open says whether @p segment (a name, may be empty when closed) is being
/// written. Used by the writer on its lcore: no allocation (paths are given, the text is built
/// in a stack buffer). @p dir_fd is the directory, open. The framing is written by its name
/// (config::name(framing_kind)), as read_sink_state() reads it. @return 0 or an errno value.
int write_sink_state(int dir_fd, const char* state_path, const char* tmp_path,
                     config::framing_kind f, bool open, const char* segment) noexcept;

/// Reads DIR/.logagg-state. A missing file gives valid == false and no note; one that does not
/// parse gives valid == false and a note saying why. @return the state, or a runtime failure
/// naming the path when the file cannot be read.
[[nodiscard]] util::result<sink_state> read_sink_state(const std::string& dir);

/// One segment recovery cut.
struct torn_segment {
    std::string path;      ///< the segment
    std::string torn_path; ///< the file that holds the cut bytes
    uint64_t kept = 0;     ///< the segment's size now: its whole records
    uint64_t cut = 0;      ///< bytes moved to torn_path
    config::framing_kind framing = config::framing_kind::lf;
};

/// Checks one segment file and, when it ends in a torn record, copies the bytes after its last
/// whole record to `<path>.torn` (fsynced, with the directory), then truncates the segment to its
/// whole records (fsynced). Idempotent: a segment that ends on a record boundary is not touched
/// (not even opened for writing); a `.torn` file that a crash left holding exactly these bytes
/// is reused. @return the cut made (nullopt when the segment was whole), or a runtime failure
/// naming the path.
[[nodiscard]] util::result<std::optional<torn_segment>> recover_segment(const std::string& path,
                                                                        config::framing_kind f);

/// What start-up recovery of one directory found and did.
struct recovery_report {
    std::string note;     ///< why everything was checked (no or unreadable state file), if so
    bool unclean = false; ///< the state file says a segment was being written
    uint32_t scanned = 0; ///< segments checked
    std::vector<torn_segment> torn; ///< segments cut
    std::string newest;             ///< name of the newest segment in the directory ("" if none)

    [[nodiscard]] uint64_t torn_bytes() const noexcept {
        uint64_t n = 0;
        for (const torn_segment& t : torn) {
            n += t.cut;
        }
        return n;
    }
};

/// Recovers the segments of @p dir that may be torn: with a state file, the segment it names as
/// open (with the framing it names) and any segment whose name sorts after the one it names
/// (with @p configured framing: a writer that kept no state); without a usable state file, every
/// segment (@p configured framing). Files that are not segments are left alone. Then records
/// the directory as clean (the newest segment whole). Control plane.
/// @return what it found and did, or a runtime failure naming the path.
[[nodiscard]] util::result<recovery_report> recover_directory(const std::string& dir,
                                                              config::framing_kind configured);

} // namespace logagg::sink
