// SPDX-License-Identifier: BSD-3-Clause
// Crash recovery of a file sink directory on crafted files: the whole-record prefix per framing
// (LF, ndjson, octet counting) cut at every position, the .torn file, idempotence, the state
// file that says which segments to check, files that are not segments, and errors that name
// the path.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "sink/segment_recovery.hpp"
#include "sink/segment_writer.hpp"
#include "util/unique_fd.hpp"

namespace {

namespace fs = std::filesystem;
using logagg::config::framing_kind;
using logagg::sink::is_segment_name;
using logagg::sink::read_sink_state;
using logagg::sink::recover_directory;
using logagg::sink::recover_segment;
using logagg::sink::recovery_report;
using logagg::sink::segment_writer;
using logagg::sink::sink_state;
using logagg::sink::torn_segment;
using logagg::sink::whole_records_prefix;

struct tmpdir {
    fs::path path;
    tmpdir() {
        char tmpl[] = "/tmp/logagg-rec-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~tmpdir() { fs::remove_all(path); }
};

std::string slurp(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

void spit(const fs::path& p, const std::string& s) {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f << s;
}

/// Sorted names of the directory's entries.
std::vector<std::string> names(const fs::path& dir) {
    std::vector<std::string> v;
    for (const auto& e : fs::directory_iterator(dir)) {
        v.push_back(e.path().filename().string());
    }
    std::sort(v.begin(), v.end());
    return v;
}

/// recover_segment() on @p seg, failing the test on an error: the cut made, or nullopt.
std::optional<torn_segment> cut_of(const fs::path& seg, framing_kind f) {
    auto r = recover_segment(seg.string(), f);
    EXPECT_TRUE(r.ok()) << seg << ": " << (r ? std::string() : r.error().text);
    return r ? std::move(r).value() : std::nullopt;
}

/// recover_directory() on @p dir, failing the test on an error.
recovery_report recovered(const fs::path& dir, framing_kind f = framing_kind::lf) {
    auto r = recover_directory(dir.string(), f);
    EXPECT_TRUE(r.ok()) << dir << ": " << (r ? std::string() : r.error().text);
    return r ? std::move(r).value() : recovery_report{};
}

/// The error of recover_directory() on @p dir ("" when it succeeded).
std::string recovery_error(const fs::path& dir, framing_kind f = framing_kind::lf) {
    const auto r = recover_directory(dir.string(), f);
    return r ? std::string() : r.error().text;
}

/// read_sink_state() on @p dir, failing the test on an error.
sink_state state_of(const fs::path& dir) {
    auto r = read_sink_state(dir.string());
    EXPECT_TRUE(r.ok()) << dir << ": " << (r ? std::string() : r.error().text);
    return r ? std::move(r).value() : sink_state{};
}

const char* const seg_a = "logagg-20260101T000000.000001Z-00000000.log";
const char* const seg_b = "logagg-20260101T000001.000001Z-00000001.log";
const char* const seg_c = "logagg-20260101T000002.000001Z-00000002.log";

/// Records and their framed bytes; boundaries[i] is where record i ends.
struct framed {
    std::string bytes;
    std::vector<std::size_t> boundaries{0};
    void add(const std::string& rec, framing_kind f) {
        bytes += f == framing_kind::octet ? std::to_string(rec.size()) + " " + rec : rec + "\n";
        boundaries.push_back(bytes.size());
    }
    /// The last record boundary at or before @p p.
    [[nodiscard]] std::size_t whole_at(std::size_t p) const {
        return *(std::upper_bound(boundaries.begin(), boundaries.end(), p) - 1);
    }
};

/// Records whose octet counts have 1, 2 and 3 digits (so a cut can fall inside any of them),
/// with LFs, spaces and digits inside messages (octet frames may carry them).
framed sample(framing_kind f, bool ndjson = false) {
    framed s;
    if (ndjson) {
        s.add(R"({"message":"a","n":1})", f);
        s.add(R"({"message":"second record, a bit longer","sd":{"x":{"k":"v"}}})", f);
        s.add(R"({"message":")" + std::string(120, 'z') + R"("})", f);
        s.add(R"({"m":""})", f);
        return s;
    }
    s.add("x", f);
    s.add("<13>1 - - - - - hello world", f);
    s.add(f == framing_kind::octet ? "12 34\nline two\n5 " : "12 34 not a count", f);
    s.add(std::string(150, 'y'), f);
    s.add("9", f);
    return s;
}

TEST(SegmentRecovery, SegmentNames) {
    EXPECT_TRUE(is_segment_name(seg_a));
    EXPECT_TRUE(is_segment_name("logagg-20260101T000000.000001Z-123456789.log"));
    EXPECT_FALSE(is_segment_name(std::string(seg_a) + ".torn"));
    EXPECT_FALSE(is_segment_name(std::string(seg_a) + ".torn.1"));
    EXPECT_FALSE(is_segment_name("logagg-20260101T000000.000001Z-0000000.log"));
    EXPECT_FALSE(is_segment_name("logagg-2026010xT000000.000001Z-00000000.log"));
    EXPECT_FALSE(is_segment_name("logagg-notes.log"));
    EXPECT_FALSE(is_segment_name(".logagg-state"));
    EXPECT_FALSE(is_segment_name("app.log"));
}

TEST(SegmentRecovery, NamesTheWriterMakesAreSegmentNames) {
    tmpdir d;
    segment_writer w(d.path.string(), 4096);
    ASSERT_TRUE(w.prepare().ok());
    std::string m(3000, 'm');
    m += "\n";
    for (int i = 0; i < 3; ++i) {
        iovec v{m.data(), m.size()};
        std::vector<uint32_t> sizes{static_cast<uint32_t>(m.size())};
        ASSERT_EQ(w.write(std::span<iovec>(&v, 1), sizes).written, 1u);
    }
    ASSERT_EQ(w.finish(), 0);
    int segs = 0;
    for (const std::string& n : names(d.path)) {
        if (n != ".logagg-state") {
            EXPECT_TRUE(is_segment_name(n)) << n;
            ++segs;
        }
    }
    EXPECT_EQ(segs, 3);
}

TEST(SegmentRecovery, WholePrefixLf) {
    EXPECT_EQ(whole_records_prefix("", framing_kind::lf), 0u);
    EXPECT_EQ(whole_records_prefix("abc", framing_kind::lf), 0u);
    EXPECT_EQ(whole_records_prefix("abc\n", framing_kind::lf), 4u);
    EXPECT_EQ(whole_records_prefix("abc\nde", framing_kind::lf), 4u);
    EXPECT_EQ(whole_records_prefix(std::string("a\nb\n\0\0\0\0", 8), framing_kind::lf), 4u);
}

TEST(SegmentRecovery, WholePrefixOctet) {
    const auto o = [](std::string_view s) { return whole_records_prefix(s, framing_kind::octet); };
    EXPECT_EQ(o(""), 0u);
    EXPECT_EQ(o("3 abc"), 5u);
    EXPECT_EQ(o("3 abc1"), 5u);   // inside the next count
    EXPECT_EQ(o("3 abc12"), 5u);  // inside a two-digit count
    EXPECT_EQ(o("3 abc12 "), 5u); // count, no message yet
    EXPECT_EQ(o("3 abc12 hello"), 5u);
    EXPECT_EQ(o("3 abc0 "), 5u);                       // a count starts with a non-zero digit
    EXPECT_EQ(o("3 abc3x"), 5u);                       // no SP after the count
    EXPECT_EQ(o("3 abc x"), 5u);                       // no count
    EXPECT_EQ(o("3 abc12345678901 x"), 5u);            // 11 digits: garbage, not a frame
    EXPECT_EQ(o(std::string("3 abc\0\0\0\0", 9)), 5u); // a zero-filled tail
    EXPECT_EQ(o("3 a\nc2 \n\n"), 9u);                  // LFs inside frames are message bytes
}

/// Every cut position of a sample: the segment keeps exactly the whole records before the cut,
/// the .torn file exactly the rest; a second recovery changes nothing.
void every_cut(framing_kind f, bool ndjson) {
    const framed s = sample(f, ndjson);
    for (std::size_t p = 0; p <= s.bytes.size(); ++p) {
        tmpdir d;
        const fs::path seg = d.path / seg_a;
        spit(seg, s.bytes.substr(0, p));
        const std::size_t keep = s.whole_at(p);
        ASSERT_EQ(whole_records_prefix(s.bytes.substr(0, p), f), keep) << p;
        const auto t = cut_of(seg, f);
        EXPECT_EQ(t.has_value(), keep != p) << p;
        EXPECT_EQ(slurp(seg), s.bytes.substr(0, keep)) << "cut at " << p;
        const fs::path torn = d.path / (std::string(seg_a) + ".torn");
        if (t) {
            EXPECT_EQ(t->path, seg.string());
            EXPECT_EQ(t->torn_path, torn.string());
            EXPECT_EQ(t->kept, keep);
            EXPECT_EQ(t->cut, p - keep);
            EXPECT_EQ(slurp(torn), s.bytes.substr(keep, p - keep)) << "cut at " << p;
        } else {
            EXPECT_FALSE(fs::exists(torn)) << p;
        }
        // Idempotent: the segment now ends on a record boundary.
        const auto before = names(d.path);
        EXPECT_FALSE(cut_of(seg, f));
        EXPECT_EQ(names(d.path), before);
        EXPECT_EQ(slurp(seg), s.bytes.substr(0, keep));
    }
}

TEST(SegmentRecovery, EveryCutLf) {
    every_cut(framing_kind::lf, false);
}
TEST(SegmentRecovery, EveryCutNdjson) {
    every_cut(framing_kind::lf, true);
}
TEST(SegmentRecovery, EveryCutOctet) {
    every_cut(framing_kind::octet, false);
}
TEST(SegmentRecovery, EveryCutOctetNdjson) {
    every_cut(framing_kind::octet, true);
}

/// Files larger than the 1 MiB read window: octet frames that straddle window ends and one frame
/// larger than the window; a torn LF record longer than the window (read backwards in chunks).
TEST(SegmentRecovery, LargeFilesAcrossTheReadWindow) {
    for (framing_kind f : {framing_kind::lf, framing_kind::octet}) {
        framed s;
        for (int i = 0; s.bytes.size() < (3u << 20); ++i) {
            const std::size_t len =
                i == 7 ? (1u << 20) + 333 : 1000 + static_cast<std::size_t>(i * 7919) % 60000;
            s.add(std::string(len, static_cast<char>('a' + i % 26)), f);
        }
        const std::size_t n = s.bytes.size();
        const std::size_t window = 1u << 20;
        for (std::size_t p :
             {n, n - 1, n - 5, window - 1, window, window + 1, 2 * window + 3, s.boundaries[8] - 1,
              s.boundaries[8], s.boundaries[8] + 1, s.boundaries[7] + 2}) {
            tmpdir d;
            const fs::path seg = d.path / seg_a;
            spit(seg, s.bytes.substr(0, p));
            const std::size_t keep = s.whole_at(p);
            EXPECT_EQ(cut_of(seg, f).has_value(), keep != p) << p;
            EXPECT_EQ(fs::file_size(seg), keep)
                << "framing " << static_cast<int>(f) << " cut at " << p;
            if (keep != p) {
                EXPECT_EQ(slurp(d.path / (std::string(seg_a) + ".torn")),
                          s.bytes.substr(keep, p - keep));
            }
        }
    }
}

/// A zero-filled tail (what some file systems leave after a power loss): cut off, kept.
TEST(SegmentRecovery, ZeroFilledTail) {
    for (framing_kind f : {framing_kind::lf, framing_kind::octet}) {
        tmpdir d;
        const fs::path seg = d.path / seg_a;
        const std::string whole = sample(f).bytes;
        const std::string zeros(8192, '\0');
        spit(seg, whole + zeros);
        EXPECT_TRUE(cut_of(seg, f));
        EXPECT_EQ(slurp(seg), whole);
        EXPECT_EQ(slurp(d.path / (std::string(seg_a) + ".torn")), zeros);
    }
}

TEST(SegmentRecovery, AWholeSegmentIsNotTouched) {
    for (framing_kind f : {framing_kind::lf, framing_kind::octet}) {
        tmpdir d;
        const fs::path seg = d.path / seg_a;
        spit(seg, sample(f).bytes);
        struct stat before {};
        ASSERT_EQ(::stat(seg.c_str(), &before), 0);
        ::usleep(20'000); // so that a write would show in the modification time
        EXPECT_FALSE(cut_of(seg, f));
        struct stat after {};
        ASSERT_EQ(::stat(seg.c_str(), &after), 0);
        EXPECT_EQ(after.st_size, before.st_size);
        EXPECT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
        EXPECT_EQ(after.st_ctim.tv_nsec, before.st_ctim.tv_nsec);
        EXPECT_EQ(names(d.path), std::vector<std::string>{seg_a});
    }
}

TEST(SegmentRecovery, EmptySegmentAndOneTornRecord) {
    tmpdir d;
    const fs::path seg = d.path / seg_a;
    spit(seg, "");
    EXPECT_FALSE(cut_of(seg, framing_kind::lf));
    EXPECT_EQ(names(d.path), std::vector<std::string>{seg_a});
    // A segment that is one torn record: cut to nothing, and the segment stays (empty).
    spit(seg, "<13>1 - - - - - no end");
    EXPECT_TRUE(cut_of(seg, framing_kind::lf));
    EXPECT_EQ(slurp(seg), "");
    EXPECT_EQ(slurp(d.path / (std::string(seg_a) + ".torn")), "<13>1 - - - - - no end");
    spit(seg, "120 <13>1 - - -");
    fs::remove(d.path / (std::string(seg_a) + ".torn"));
    const auto t = cut_of(seg, framing_kind::octet);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->kept, 0u);
    EXPECT_EQ(slurp(seg), "");
    EXPECT_EQ(slurp(d.path / (std::string(seg_a) + ".torn")), "120 <13>1 - - -");
}

TEST(SegmentRecovery, TornFileNames) {
    tmpdir d;
    const fs::path seg = d.path / seg_a;
    const fs::path torn = d.path / (std::string(seg_a) + ".torn");
    // A crash after the .torn file was written, before the segment was cut: reused as it is.
    spit(seg, "one\ntwo\nthr");
    spit(torn, "thr");
    const auto t = cut_of(seg, framing_kind::lf);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->torn_path, torn.string());
    EXPECT_EQ(slurp(seg), "one\ntwo\n");
    EXPECT_EQ(names(d.path), (std::vector<std::string>{seg_a, std::string(seg_a) + ".torn"}));
    // A .torn file holding other bytes is never overwritten: the next free name is used.
    spit(seg, "one\ntwo\nfour");
    const auto t1 = cut_of(seg, framing_kind::lf);
    ASSERT_TRUE(t1);
    EXPECT_EQ(t1->torn_path, torn.string() + ".1");
    EXPECT_EQ(slurp(torn), "thr");
    EXPECT_EQ(slurp(torn.string() + ".1"), "four");
    EXPECT_EQ(slurp(seg), "one\ntwo\n");
}

/// A directory as a crashed writer of an older version leaves it: no state file.
TEST(SegmentRecovery, DirectoryWithoutStateChecksEverySegmentAndLeavesOtherFilesAlone) {
    tmpdir d;
    spit(d.path / seg_a, "a1\na2\na3-torn");
    spit(d.path / seg_b, "b1\n");
    spit(d.path / seg_c, "c1\nc2-torn");
    spit(d.path / "notes.txt", "not ours, no LF");
    spit(d.path / "logagg-notes.log", "not a segment name");
    spit(d.path / (std::string(seg_a) + ".torn.9"), "a .torn file is not a segment");
    fs::create_directory(d.path / "logagg-20260101T000003.000001Z-00000003.log");
    const recovery_report r = recovered(d.path);
    EXPECT_NE(r.note.find(".logagg-state"), std::string::npos) << r.note;
    EXPECT_FALSE(r.unclean);
    EXPECT_EQ(r.scanned, 3u);
    ASSERT_EQ(r.torn.size(), 2u);
    EXPECT_EQ(r.torn_bytes(), 7u + 7u);
    EXPECT_EQ(r.newest, seg_c);
    EXPECT_EQ(slurp(d.path / seg_a), "a1\na2\n");
    EXPECT_EQ(slurp(d.path / seg_b), "b1\n");
    EXPECT_EQ(slurp(d.path / seg_c), "c1\n");
    EXPECT_EQ(slurp(d.path / (std::string(seg_a) + ".torn")), "a3-torn");
    EXPECT_EQ(slurp(d.path / (std::string(seg_c) + ".torn")), "c2-torn");
    EXPECT_EQ(slurp(d.path / "notes.txt"), "not ours, no LF");
    EXPECT_EQ(slurp(d.path / "logagg-notes.log"), "not a segment name");
    EXPECT_EQ(slurp(d.path / (std::string(seg_a) + ".torn.9")), "a .torn file is not a segment");
    // The directory is now recorded as clean: the next start checks nothing.
    const sink_state st = state_of(d.path);
    EXPECT_TRUE(st.valid && !st.open && st.segment == seg_c) << st.note;
    const recovery_report again = recovered(d.path);
    EXPECT_EQ(again.scanned, 0u);
    EXPECT_TRUE(again.torn.empty());
    EXPECT_EQ(again.note, "");
}

/// The state names the open segment and the framing it was written with; older segments are
/// whole (closed with fdatasync) and not read; newer ones (a writer without state) are checked.
TEST(SegmentRecovery, StateNamesTheOpenSegmentAndItsFraming) {
    tmpdir d;
    spit(d.path / seg_a, "old torn segment, never checked");
    spit(d.path / seg_b, "5 hello12 hel");
    spit(d.path / seg_c, "c1\nc2");
    spit(d.path / ".logagg-state",
         std::string("logagg-file-sink-state 1\nframing octet\nopen ") + seg_b + "\n");
    const recovery_report r = recovered(d.path);
    EXPECT_TRUE(r.unclean);
    EXPECT_EQ(r.scanned, 2u);
    ASSERT_EQ(r.torn.size(), 2u);
    EXPECT_EQ(r.torn[0].framing, framing_kind::octet);
    EXPECT_EQ(r.torn[1].framing, framing_kind::lf); // configured: no state named it
    EXPECT_EQ(slurp(d.path / seg_a), "old torn segment, never checked");
    EXPECT_EQ(slurp(d.path / seg_b), "5 hello");
    EXPECT_EQ(slurp(d.path / (std::string(seg_b) + ".torn")), "12 hel");
    EXPECT_EQ(slurp(d.path / seg_c), "c1\n");
}

TEST(SegmentRecovery, AClosedStateChecksNothingOlder) {
    tmpdir d;
    spit(d.path / seg_a, "a");
    spit(d.path / seg_b, "b");
    spit(d.path / ".logagg-state",
         std::string("logagg-file-sink-state 1\nframing lf\nclosed ") + seg_b + "\n");
    const recovery_report r = recovered(d.path);
    EXPECT_EQ(r.scanned, 0u);
    EXPECT_EQ(slurp(d.path / seg_b), "b");
}

TEST(SegmentRecovery, AnUnreadableStateChecksEverything) {
    for (const char* bad : {"garbage", "logagg-file-sink-state 1\nframing lf\nopen -\n",
                            "logagg-file-sink-state 1\nframing lf\nopen logagg-x.log\n",
                            "logagg-file-sink-state 1\nframing lf\nclosed -", // no final LF
                            "logagg-file-sink-state 1\nframing xml\nclosed -\n"}) {
        tmpdir d;
        spit(d.path / seg_a, "a\nb");
        spit(d.path / ".logagg-state", bad);
        const recovery_report r = recovered(d.path);
        EXPECT_NE(r.note.find(".logagg-state"), std::string::npos) << bad;
        EXPECT_EQ(r.scanned, 1u) << bad;
        EXPECT_EQ(slurp(d.path / seg_a), "a\n") << bad;
    }
}

/// The state file names the framing as config::name() spells it and reads it back through the
/// same table: every framing survives the round trip (framing_kind::none was once written "lf").
TEST(SegmentRecovery, StateFramingRoundTrips) {
    for (std::size_t i = 0; i < logagg::config::framing_kind_names.size(); ++i) {
        const auto f = static_cast<framing_kind>(i);
        tmpdir d;
        const logagg::util::unique_fd dir(::open(d.path.c_str(), O_RDONLY | O_DIRECTORY));
        ASSERT_TRUE(dir.valid());
        const std::string state = (d.path / ".logagg-state").string();
        ASSERT_EQ(logagg::sink::write_sink_state(dir.get(), state.c_str(), (state + ".tmp").c_str(),
                                                 f, true, seg_b),
                  0);
        EXPECT_NE(slurp(state).find("\nframing " + std::string(name(f)) + "\n"), std::string::npos)
            << slurp(state);
        const sink_state st = state_of(d.path);
        EXPECT_TRUE(st.valid) << name(f) << ": " << st.note;
        EXPECT_EQ(st.framing, f) << name(f);
        EXPECT_TRUE(st.open);
        EXPECT_EQ(st.segment, seg_b);
    }
}

/// State files as this version wrote them before the framing was named through config::name()
/// (byte for byte: "framing lf" or "framing octet") still recover: an open segment is cut with
/// the framing the file names, whatever the sink is configured with now.
TEST(SegmentRecovery, StateFilesOfThePreviousFormatStillRecover) {
    struct old_file {
        const char* framing;
        framing_kind f;
        framing_kind configured;
        std::string bytes;
        std::string whole;
    };
    for (const old_file& o :
         {old_file{"lf", framing_kind::lf, framing_kind::octet, "12 a\nb\nc", "12 a\nb\n"},
          old_file{"octet", framing_kind::octet, framing_kind::lf, "3 a\nb5 c\nd", "3 a\nb"}}) {
        tmpdir d;
        spit(d.path / seg_a, "whole, closed before\n");
        spit(d.path / seg_b, o.bytes);
        spit(d.path / ".logagg-state", std::string("logagg-file-sink-state 1\nframing ") +
                                           o.framing + "\nopen " + seg_b + "\n");
        const recovery_report r = recovered(d.path, o.configured);
        EXPECT_EQ(r.note, "") << o.framing;
        EXPECT_TRUE(r.unclean) << o.framing;
        EXPECT_EQ(r.scanned, 1u) << o.framing;
        ASSERT_EQ(r.torn.size(), 1u) << o.framing;
        EXPECT_EQ(r.torn[0].framing, o.f);
        EXPECT_EQ(slurp(d.path / seg_b), o.whole) << o.framing;
        EXPECT_EQ(slurp(d.path / seg_a), "whole, closed before\n");
    }
}

TEST(SegmentRecovery, EmptyDirectory) {
    tmpdir d;
    const recovery_report r = recovered(d.path);
    EXPECT_EQ(r.scanned, 0u);
    EXPECT_EQ(names(d.path), std::vector<std::string>{".logagg-state"});
}

/// The writer keeps the state: the segment it writes is named open before its first byte, a
/// clean finish closes it; a crash (no finish) and a torn tail are recovered by the next writer.
TEST(SegmentRecovery, TheWriterKeepsTheState) {
    for (framing_kind f : {framing_kind::lf, framing_kind::octet}) {
        tmpdir d;
        const std::string dir = d.path.string();
        const framed s = sample(f);
        const auto write_sample = [&](segment_writer& w) {
            std::vector<iovec> iov;
            std::vector<uint32_t> sizes;
            for (std::size_t i = 1; i < s.boundaries.size(); ++i) {
                iov.push_back(iovec{const_cast<char*>(s.bytes.data()) + s.boundaries[i - 1],
                                    s.boundaries[i] - s.boundaries[i - 1]});
                sizes.push_back(static_cast<uint32_t>(s.boundaries[i] - s.boundaries[i - 1]));
            }
            ASSERT_EQ(w.write(iov, sizes).written, sizes.size());
        };
        std::string first;
        {
            segment_writer w(dir, 1 << 20, f);
            ASSERT_TRUE(w.prepare().ok());
            ASSERT_TRUE(w.recover().ok());
            write_sample(w);
            first = fs::path(w.current_path()).filename().string();
            const sink_state st = state_of(dir);
            EXPECT_TRUE(st.valid && st.open && st.segment == first && st.framing == f);
            ASSERT_EQ(w.finish(), 0);
            const sink_state st2 = state_of(dir);
            EXPECT_TRUE(st2.valid && !st2.open && st2.segment == first);
        }
        std::string second;
        {
            segment_writer w(dir, 1 << 20, f);
            ASSERT_TRUE(w.prepare().ok());
            auto rec = w.recover();
            ASSERT_TRUE(rec.ok()) << rec.error().text;
            const recovery_report& r = rec.value();
            EXPECT_EQ(r.scanned, 0u); // after a clean stop
            write_sample(w);
            second = fs::path(w.current_path()).filename().string();
            // no finish(): the process dies here, in the middle of a record
        }
        { std::ofstream(d.path / second, std::ios::binary | std::ios::app) << "17 torn"; }
        segment_writer w(dir, 1 << 20, framing_kind::lf); // even if the configuration changed
        ASSERT_TRUE(w.prepare().ok());
        auto rec = w.recover();
        ASSERT_TRUE(rec.ok()) << rec.error().text;
        const recovery_report& r = rec.value();
        EXPECT_TRUE(r.unclean);
        EXPECT_EQ(r.scanned, 1u);
        ASSERT_EQ(r.torn.size(), 1u);
        EXPECT_EQ(r.torn[0].framing, f);
        EXPECT_EQ(r.torn[0].cut, 7u);
        EXPECT_EQ(slurp(d.path / second), s.bytes);
        EXPECT_EQ(slurp(d.path / (second + ".torn")), "17 torn");
        EXPECT_EQ(slurp(d.path / first), s.bytes);
        ASSERT_EQ(w.finish(), 0); // wrote nothing: the newest segment is still the last whole one
        const sink_state st = state_of(dir);
        EXPECT_TRUE(st.valid && !st.open && st.segment == second);
    }
}

TEST(SegmentRecovery, ATornFileThatCannotBeWrittenIsAnErrorAndTheSegmentStays) {
    // In a child: a file size limit makes the .torn write fail (EFBIG).
    tmpdir d;
    const std::string torn_bytes(5000, 't');
    spit(d.path / seg_a, "whole\n" + torn_bytes);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        std::signal(SIGXFSZ, SIG_IGN);
        rlimit rl{1000, 1000};
        setrlimit(RLIMIT_FSIZE, &rl);
        std::ofstream(d.path / "error.txt") << recovery_error(d.path);
        _exit(0);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    const std::string err = slurp(d.path / "error.txt");
    EXPECT_NE(err.find((d.path / seg_a).string() + ".torn"), std::string::npos) << err;
    EXPECT_NE(err.find("too large"), std::string::npos) << err;
    EXPECT_EQ(slurp(d.path / seg_a), "whole\n" + torn_bytes); // nothing cut, nothing lost
    EXPECT_FALSE(fs::exists(d.path / (std::string(seg_a) + ".torn")));
}

TEST(SegmentRecovery, ASegmentThatCannotBeCutIsAnErrorNamingIt) {
    // An immutable segment cannot be opened for writing, even by root.
    tmpdir d;
    const fs::path seg = d.path / seg_a;
    spit(seg, "whole\ntorn");
    const int fd = ::open(seg.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    int flags = 0;
    const bool immutable = ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 &&
                           (flags |= FS_IMMUTABLE_FL, ::ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0);
    ::close(fd);
    if (!immutable) {
        GTEST_SKIP() << "cannot make a file immutable here (needs CAP_LINUX_IMMUTABLE)";
    }
    const std::string err = recovery_error(d.path);
    const int fd2 = ::open(seg.c_str(), O_RDONLY);
    flags &= ~FS_IMMUTABLE_FL;
    ::ioctl(fd2, FS_IOC_SETFLAGS, &flags);
    ::close(fd2);
    EXPECT_NE(err.find(seg.string()), std::string::npos) << err;
    EXPECT_NE(err.find("Operation not permitted"), std::string::npos) << err;
    EXPECT_EQ(slurp(seg), "whole\ntorn");
}

} // namespace
