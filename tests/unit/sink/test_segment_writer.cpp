// SPDX-License-Identifier: BSD-3-Clause
// segment_writer on real files: exact bytes, rotation at message boundaries (also when one iovec
// carries several messages), names in write order, errors cut back to whole messages.
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "sink/segment_writer.hpp"

namespace {

namespace fs = std::filesystem;
using logagg::sink::segment_writer;

struct tmpdir {
    fs::path path;
    tmpdir() {
        char tmpl[] = "/tmp/logagg-sw-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~tmpdir() { fs::remove_all(path); }
};

/// The segment files (the directory also holds the writer's state file).
std::vector<fs::path> segments(const fs::path& dir) {
    std::vector<fs::path> v;
    for (const auto& e : fs::directory_iterator(dir)) {
        if (e.path().filename().string().starts_with("logagg-")) {
            v.push_back(e.path());
        }
    }
    std::sort(v.begin(), v.end());
    return v;
}

std::string slurp(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::string all_of(const fs::path& dir) {
    std::string out;
    for (const auto& s : segments(dir)) {
        out += slurp(s);
    }
    return out;
}

/// Messages "m<i>-xxx\n" of varying sizes, as one iovec per message or packed several per iovec.
struct batch {
    std::string bytes;
    std::vector<uint32_t> sizes;
    std::vector<iovec> iov;
    batch(int n, int per_iov, int start = 0) {
        for (int i = start; i < start + n; ++i) {
            std::string m = "m" + std::to_string(i) + "-" +
                            std::string(static_cast<std::size_t>(i % 37), 'x') + "\n";
            sizes.push_back(static_cast<uint32_t>(m.size()));
            bytes += m;
        }
        std::size_t off = 0;
        for (std::size_t i = 0; i < sizes.size(); i += static_cast<std::size_t>(per_iov)) {
            std::size_t len = 0;
            for (std::size_t j = i;
                 j < std::min(sizes.size(), i + static_cast<std::size_t>(per_iov)); ++j) {
                len += sizes[j];
            }
            iov.push_back(iovec{bytes.data() + off, len});
            off += len;
        }
    }
};

TEST(SegmentWriter, WritesMessagesExactly) {
    tmpdir d;
    segment_writer w(d.path.string(), 1 << 20);
    ASSERT_TRUE(w.prepare().ok());
    batch b(100, 1);
    const auto r = w.write(b.iov, b.sizes);
    EXPECT_EQ(r.written, 100u);
    EXPECT_EQ(r.failed, 0u);
    EXPECT_EQ(r.bytes, b.bytes.size());
    EXPECT_EQ(w.finish(), 0);
    EXPECT_EQ(all_of(d.path), b.bytes);
    EXPECT_EQ(w.segments(), 1u);
}

TEST(SegmentWriter, RotatesAtMessageBoundariesEvenInsideAnIovec) {
    for (int per_iov : {1, 3, 7, 1000}) {
        tmpdir d;
        segment_writer w(d.path.string(), 4096);
        ASSERT_TRUE(w.prepare().ok());
        std::string expect;
        for (int round = 0; round < 5; ++round) {
            batch b(300, per_iov, round * 300);
            const auto r = w.write(b.iov, b.sizes);
            ASSERT_EQ(r.written, 300u);
            expect += b.bytes;
        }
        ASSERT_EQ(w.finish(), 0);
        const auto segs = segments(d.path);
        ASSERT_GT(segs.size(), 5u) << "per_iov " << per_iov;
        EXPECT_EQ(w.segments(), segs.size());
        for (const auto& s : segs) {
            const std::string c = slurp(s);
            EXPECT_LE(c.size(), 4096u);
            EXPECT_EQ(c.back(), '\n') << s << " does not end on a message";
            EXPECT_EQ(c.front(), 'm') << s << " does not start on a message";
        }
        EXPECT_EQ(all_of(d.path), expect) << "per_iov " << per_iov; // name order == write order
    }
}

TEST(SegmentWriter, AMessageLargerThanASegmentGetsOneToItself) {
    tmpdir d;
    segment_writer w(d.path.string(), 4096);
    ASSERT_TRUE(w.prepare().ok());
    std::string big(10000, 'b');
    big += "\n";
    std::string small = "s\n";
    std::vector<iovec> iov{
        {small.data(), small.size()}, {big.data(), big.size()}, {small.data(), small.size()}};
    std::vector<uint32_t> sizes{2, static_cast<uint32_t>(big.size()), 2};
    EXPECT_EQ(w.write(iov, sizes).written, 3u);
    ASSERT_EQ(w.finish(), 0);
    const auto segs = segments(d.path);
    ASSERT_EQ(segs.size(), 3u);
    EXPECT_EQ(slurp(segs[1]), big);
}

TEST(SegmentWriter, PrepareNamesTheBadPath) {
    tmpdir d;
    const fs::path file = d.path / "a-file";
    std::ofstream(file) << "x";
    segment_writer w((file / "sub").string(), 4096);
    const auto prepared = w.prepare();
    ASSERT_FALSE(prepared.ok());
    const std::string& err = prepared.error().text;
    EXPECT_NE(err.find((file / "sub").string()), std::string::npos) << err;
}

TEST(SegmentWriter, WriteErrorsCutTheFileBackToWholeMessages) {
    // In a child: a file size limit makes writes fail with EFBIG part-way through.
    tmpdir d;
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        std::signal(SIGXFSZ, SIG_IGN);
        rlimit rl{10000, 10000};
        setrlimit(RLIMIT_FSIZE, &rl);
        segment_writer w(d.path.string(), 1 << 20);
        if (!w.prepare().ok()) {
            _exit(10);
        }
        uint32_t written = 0;
        uint32_t failed = 0;
        for (int round = 0; round < 20; ++round) {
            batch b(50, 4, round * 50);
            const auto r = w.write(b.iov, b.sizes);
            written += r.written;
            failed += r.failed;
        }
        (void)w.finish();
        std::ofstream(d.path / "result") << written << " " << failed << " " << w.write_errors();
        _exit(0);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    std::istringstream res(slurp(d.path / "result"));
    fs::remove(d.path / "result");
    uint32_t written = 0, failed = 0, errors = 0;
    res >> written >> failed >> errors;
    EXPECT_EQ(written + failed, 1000u);
    EXPECT_GT(written, 0u);
    EXPECT_GT(failed, 0u);
    EXPECT_GT(errors, 0u);
    const std::string got = all_of(d.path);
    EXPECT_LE(got.size(), 10000u);
    ASSERT_FALSE(got.empty());
    EXPECT_EQ(got.back(), '\n');
    // Exactly the first `written` messages, whole.
    batch all(1000, 1);
    std::size_t prefix = 0;
    for (uint32_t i = 0; i < written; ++i) {
        prefix += all.sizes[i];
    }
    EXPECT_EQ(got, all.bytes.substr(0, prefix));
}

TEST(SegmentWriter, AWriteThatFailsPartWayKeepsTheWholeMessagesBeforeTheFailure) {
    // One batch larger than what the file may still take (a disk filling up under a big batch):
    // the messages the write got in whole stay, the file is cut back to the last of them.
    tmpdir d;
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        std::signal(SIGXFSZ, SIG_IGN);
        rlimit rl{10000, 10000};
        setrlimit(RLIMIT_FSIZE, &rl);
        segment_writer w(d.path.string(), 1 << 20);
        if (!w.prepare().ok()) {
            _exit(10);
        }
        batch b(1000, 1);
        const auto r = w.write(b.iov, b.sizes);
        (void)w.finish();
        std::ofstream(d.path / "result") << r.written << " " << r.failed << " " << r.bytes;
        _exit(0);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    std::istringstream res(slurp(d.path / "result"));
    fs::remove(d.path / "result");
    uint32_t written = 0, failed = 0;
    uint64_t bytes = 0;
    res >> written >> failed >> bytes;
    EXPECT_EQ(written + failed, 1000u);
    EXPECT_GT(written, 0u) << "the messages before the failure were dropped with the batch";
    EXPECT_GT(failed, 0u);
    batch all(1000, 1);
    std::size_t prefix = 0;
    for (uint32_t i = 0; i < written; ++i) {
        prefix += all.sizes[i];
    }
    EXPECT_EQ(bytes, prefix);
    EXPECT_GT(prefix + all.sizes[written], 10000u) << "the next message would not have fit";
    EXPECT_EQ(all_of(d.path), all.bytes.substr(0, prefix));
}

} // namespace
