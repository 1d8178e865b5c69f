// SPDX-License-Identifier: BSD-3-Clause
// Side: bench tool (the sender and checker of scripts/bench's peer comparison; not part of logagg).
//
// One definition of the benchmark's messages, used three ways:
//
//   logagg-udp-blast send --dst IP:PORT [--src IP] --count N [--rate R] [--seconds S] [--batch B]
//       sends messages 0..N-1, one per UDP datagram, with sendmmsg(2) in batches of up to B
//       (default 64). With --rate R (messages/s) each batch is due at a fixed instant on
//       CLOCK_MONOTONIC and the sender sleeps (clock_nanosleep, absolute) until then; a late
//       batch goes at once, so the average rate holds without busy waiting. Without --rate (or
//       0) it sends flat out. --seconds stops earlier. Prints one JSON line: what it sent, how
//       long it took and its own CPU (getrusage: user and system seconds).
//   logagg-udp-blast send --tcp [--conns C] --dst IP:PORT [--src IP] --count N [--rate R] ...
//       the same messages over C kernel TCP connections (default 1), each followed by LF (RFC 6587
//       non-transparent framing), a batch of B messages per write(2), batches round robin over
//       the connections (so each connection's messages are in sequence order); then shuts each
//       connection down and waits for the receiver's FIN, so every byte was acknowledged when it
//       returns. Same JSON line, plus "conns" and "bytes".
//   logagg-udp-blast pcap --out FILE --count N --dst IP:PORT --src IP:PORT
//       writes the same N datagrams as a classic pcap (Ethernet, IPv4, UDP with its checksum).
//   logagg-udp-blast check --count N FILE...
//       reads what a collector wrote (one message per line) and prints one JSON line: lines,
//       valid (byte for byte one of messages 0..N-1), distinct, duplicates, invalid, and whether
//       the valid ones came in order.
//
// A message is exactly kMessageSize bytes of RFC 5424 (no trailer: RFC 5426 puts one message in
// a datagram); its sequence number is the 10 digits after "seq=", and every other varying field
// (timestamp, order id, sizes) is derived from it, so any line can be checked against its number.
#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <netinet/in.h>
#include <string>
#include <string_view>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace {

/// Bytes in every message: the size issue 11's comparison is stated in.
constexpr size_t kMessageSize = 250;

/// The fixed parts of a message; '#' runs are filled per message (see render()).
constexpr std::string_view kTemplate =
    "<134>1 2026-11-19T##:##:##.######Z gw-07.example.net checkout 4242 ORDER "
    "[req@32473 order=\"######\" bytes=\"#####\"] seq=########## GET /api/v1/orders HTTP/1.1 "
    "200 ms=### ua=\"Mozilla/5.0 (X11; Linux x86_64)\" upstream=10.1.2.3:8080 "
    "cache=MISS tls=TLSv1.3";
static_assert(kTemplate.size() == kMessageSize, "a message is the template with its fields filled");

struct field {
    size_t at;
    size_t width;
};

/// Where each '#' run starts, in template order: hh, mm, ss, us, order, bytes, seq, ms.
std::vector<field> fields() {
    std::vector<field> out;
    for (size_t i = 0; i < kTemplate.size();) {
        if (kTemplate[i] != '#') {
            ++i;
            continue;
        }
        size_t j = i;
        while (j < kTemplate.size() && kTemplate[j] == '#') {
            ++j;
        }
        out.push_back({i, j - i});
        i = j;
    }
    return out;
}

const std::vector<field> kFields = fields();

void put_digits(char* p, size_t width, uint64_t v) {
    for (size_t i = width; i-- > 0;) {
        p[i] = static_cast<char>('0' + v % 10);
        v /= 10;
    }
}

/// Writes message @p seq (kMessageSize bytes) to @p out.
void render(uint64_t seq, char* out) {
    std::memcpy(out, kTemplate.data(), kMessageSize);
    const uint64_t us = seq * 37; // 37 us apart: the timestamps move and stay distinct
    const uint64_t secs = us / 1000000;
    const uint64_t vals[] = {(8 + secs / 3600) % 24, (secs / 60) % 60,  secs % 60, us % 1000000,
                             seq % 1000000,          100 + seq % 90000, seq,       seq % 997};
    for (size_t i = 0; i < kFields.size(); ++i) {
        put_digits(out + kFields[i].at, kFields[i].width, vals[i]);
    }
}

[[noreturn]] void usage(const char* what) {
    std::fprintf(stderr, "logagg-udp-blast: %s\n", what);
    std::exit(2);
}

bool parse_u64(const char* s, uint64_t& out) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-') {
        return false;
    }
    out = v;
    return true;
}

bool parse_endpoint(const std::string& s, sockaddr_in& sa, bool need_port) {
    const auto colon = s.rfind(':');
    std::string host = colon == std::string::npos ? s : s.substr(0, colon);
    uint64_t port = 0;
    if (colon != std::string::npos) {
        if (!parse_u64(s.c_str() + colon + 1, port) || port == 0 || port > 65535) {
            return false;
        }
    } else if (need_port) {
        return false;
    }
    sa = {};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    return inet_pton(AF_INET, host.c_str(), &sa.sin_addr) == 1;
}

double tv_seconds(const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

double mono_now() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct options {
    std::string dst;
    std::string src;
    std::string out;
    uint64_t count = 0;
    uint64_t rate = 0;
    uint64_t batch = 64;
    uint64_t conns = 1;
    bool tcp = false;
    double seconds = 0;
    std::vector<std::string> files;
};

options parse(int argc, char** argv, int first) {
    options o;
    for (int i = first; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&](const char* name) -> const char* {
            if (i + 1 >= argc) {
                usage((std::string(name) + " needs a value").c_str());
            }
            return argv[++i];
        };
        auto number = [&](const char* name) {
            uint64_t v = 0;
            if (!parse_u64(value(name), v)) {
                usage((std::string(name) + " is not a number").c_str());
            }
            return v;
        };
        if (a == "--dst") {
            o.dst = value("--dst");
        } else if (a == "--src") {
            o.src = value("--src");
        } else if (a == "--out") {
            o.out = value("--out");
        } else if (a == "--count") {
            o.count = number("--count");
        } else if (a == "--rate") {
            o.rate = number("--rate");
        } else if (a == "--batch") {
            o.batch = number("--batch");
            if (o.batch == 0 || o.batch > 1024) {
                usage("--batch must be 1..1024");
            }
        } else if (a == "--tcp") {
            o.tcp = true;
        } else if (a == "--conns") {
            o.conns = number("--conns");
            if (o.conns == 0 || o.conns > 1024) {
                usage("--conns must be 1..1024");
            }
        } else if (a == "--seconds") {
            char* end = nullptr;
            o.seconds = std::strtod(value("--seconds"), &end);
            if (*end != '\0' || !(o.seconds > 0)) {
                usage("--seconds is not a positive number");
            }
        } else if (!a.empty() && a[0] == '-') {
            usage(("unknown option " + a).c_str());
        } else {
            o.files.push_back(a);
        }
    }
    return o;
}

/// Sleeps until batch @p batches is due at @p interval seconds per batch from @p t0.
bool pace(double interval, uint64_t batches, const timespec& t0, double start) {
    if (interval <= 0) {
        return false;
    }
    const double due = static_cast<double>(batches) * interval;
    const auto due_ns = static_cast<int64_t>(due * 1e9) + t0.tv_nsec;
    timespec at{t0.tv_sec + static_cast<time_t>(due_ns / 1000000000),
                static_cast<long>(due_ns % 1000000000)};
    if (mono_now() - start >= due) {
        return false;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, nullptr) == EINTR) {
    }
    return true;
}

int cmd_send_tcp(const options& o, const sockaddr_in& dst, const sockaddr_in* src) {
    std::vector<int> fds;
    for (uint64_t c = 0; c < o.conns; ++c) {
        const int fd = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in from = src != nullptr ? *src : sockaddr_in{};
        from.sin_port = 0;
        if (fd < 0 ||
            (src != nullptr && bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) ||
            connect(fd, reinterpret_cast<const sockaddr*>(&dst), sizeof dst) != 0) {
            std::fprintf(stderr, "logagg-udp-blast: TCP connection %lu: %s\n",
                         static_cast<unsigned long>(c), std::strerror(errno));
            return 1;
        }
        fds.push_back(fd);
    }
    const uint64_t batch = o.rate == 0 ? o.batch : std::clamp<uint64_t>(o.rate / 2000, 1, o.batch);
    constexpr size_t line = kMessageSize + 1;
    std::vector<char> buf(batch * line);
    const double interval =
        o.rate == 0 ? 0 : static_cast<double>(batch) / static_cast<double>(o.rate);
    timespec t0{};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const double start = mono_now();
    uint64_t sent = 0;
    uint64_t sleeps = 0;
    uint64_t batches = 0;
    uint64_t bytes = 0;
    while (sent < o.count) {
        if (o.seconds > 0 && mono_now() - start >= o.seconds) {
            break;
        }
        sleeps += pace(interval, batches, t0, start) ? 1 : 0;
        const uint64_t n = std::min(batch, o.count - sent);
        for (uint64_t i = 0; i < n; ++i) {
            render(sent + i, buf.data() + i * line);
            buf[i * line + kMessageSize] = '\n';
        }
        const int fd = fds[batches % fds.size()];
        size_t done = 0;
        while (done < n * line) {
            const ssize_t r = write(fd, buf.data() + done, n * line - done);
            if (r < 0) {
                if (errno == EINTR) {
                    continue;
                }
                std::fprintf(stderr, "logagg-udp-blast: write: %s\n", std::strerror(errno));
                return 1;
            }
            done += static_cast<size_t>(r);
        }
        bytes += done;
        sent += n;
        ++batches;
    }
    // Every byte acknowledged and taken: our FIN, then the receiver's (read() returns 0).
    for (const int fd : fds) {
        shutdown(fd, SHUT_WR);
        char c;
        while (read(fd, &c, 1) > 0) {
        }
        close(fd);
    }
    const double secs = mono_now() - start;
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    std::printf("{\"sent\": %lu, \"seconds\": %.6f, \"rate\": %.1f, \"batch\": %lu, "
                "\"batches\": %lu, \"sleeps\": %lu, \"errors\": 0, \"conns\": %lu, "
                "\"bytes\": %lu, \"utime_s\": %.6f, \"stime_s\": %.6f}\n",
                static_cast<unsigned long>(sent), secs, static_cast<double>(sent) / secs,
                static_cast<unsigned long>(batch), static_cast<unsigned long>(batches),
                static_cast<unsigned long>(sleeps), static_cast<unsigned long>(fds.size()),
                static_cast<unsigned long>(bytes), tv_seconds(ru.ru_utime),
                tv_seconds(ru.ru_stime));
    return 0;
}

int cmd_send(const options& o) {
    sockaddr_in dst{};
    sockaddr_in src{};
    if (!parse_endpoint(o.dst, dst, true)) {
        usage("--dst must be IPv4:PORT");
    }
    if (!o.src.empty() && !parse_endpoint(o.src, src, false)) {
        usage("--src must be IPv4[:PORT]");
    }
    if (o.count == 0) {
        usage("--count must be at least 1");
    }
    if (o.tcp) {
        return cmd_send_tcp(o, dst, o.src.empty() ? nullptr : &src);
    }
    const int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 ||
        (!o.src.empty() && bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) ||
        connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
        std::fprintf(stderr, "logagg-udp-blast: socket set-up: %s\n", std::strerror(errno));
        return 1;
    }
    // At a fixed rate, a batch every half millisecond or so: small enough to keep the offered
    // load smooth, large enough that sendmmsg amortises the system call.
    const uint64_t batch = o.rate == 0 ? o.batch : std::clamp<uint64_t>(o.rate / 2000, 1, o.batch);
    std::vector<char> bufs(batch * kMessageSize);
    std::vector<iovec> iov(batch);
    std::vector<mmsghdr> msgs(batch);
    for (uint64_t i = 0; i < batch; ++i) {
        iov[i] = {bufs.data() + i * kMessageSize, kMessageSize};
        msgs[i] = {};
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const double interval =
        o.rate == 0 ? 0 : static_cast<double>(batch) / static_cast<double>(o.rate);
    timespec t0{};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const double start = mono_now();
    uint64_t sent = 0;
    uint64_t errors = 0;
    uint64_t sleeps = 0;
    uint64_t batches = 0;
    while (sent < o.count) {
        if (o.seconds > 0 && mono_now() - start >= o.seconds) {
            break;
        }
        if (interval > 0) {
            const double due = static_cast<double>(batches) * interval;
            const auto due_ns = static_cast<int64_t>(due * 1e9) + t0.tv_nsec;
            timespec at{t0.tv_sec + static_cast<time_t>(due_ns / 1000000000),
                        static_cast<long>(due_ns % 1000000000)};
            if (mono_now() - start < due) {
                ++sleeps;
                while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, nullptr) == EINTR) {
                }
            }
        }
        const uint64_t n = std::min(batch, o.count - sent);
        for (uint64_t i = 0; i < n; ++i) {
            render(sent + i, bufs.data() + i * kMessageSize);
        }
        uint64_t done = 0;
        while (done < n) {
            const int r = sendmmsg(fd, msgs.data() + done, static_cast<unsigned>(n - done), 0);
            if (r < 0) {
                // A connected UDP socket reports an ICMP error once (e.g. ECONNREFUSED while a
                // collector restarts); the datagram was not sent, so send it again.
                ++errors;
                if (errors > 1000000) {
                    std::fprintf(stderr, "logagg-udp-blast: sendmmsg: %s\n", std::strerror(errno));
                    return 1;
                }
                continue;
            }
            done += static_cast<uint64_t>(r);
        }
        sent += n;
        ++batches;
    }
    const double secs = mono_now() - start;
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    std::printf(
        "{\"sent\": %lu, \"seconds\": %.6f, \"rate\": %.1f, \"batch\": %lu, \"batches\": %lu, "
        "\"sleeps\": %lu, \"errors\": %lu, \"utime_s\": %.6f, \"stime_s\": %.6f}\n",
        static_cast<unsigned long>(sent), secs, static_cast<double>(sent) / secs,
        static_cast<unsigned long>(batch), static_cast<unsigned long>(batches),
        static_cast<unsigned long>(sleeps), static_cast<unsigned long>(errors),
        tv_seconds(ru.ru_utime), tv_seconds(ru.ru_stime));
    close(fd);
    return 0;
}

uint16_t csum_fold(uint32_t sum) {
    while ((sum >> 16) != 0) {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    return static_cast<uint16_t>(~sum & 0xFFFF);
}

uint32_t csum_add(uint32_t sum, const uint8_t* p, size_t n) {
    for (size_t i = 0; i + 1 < n; i += 2) {
        sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
    }
    if ((n & 1) != 0) {
        sum += static_cast<uint32_t>(p[n - 1] << 8);
    }
    return sum;
}

void put16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}

int cmd_pcap(const options& o) {
    sockaddr_in dst{};
    sockaddr_in src{};
    if (!parse_endpoint(o.dst, dst, true) || !parse_endpoint(o.src, src, true)) {
        usage("--dst and --src must be IPv4:PORT");
    }
    if (o.out.empty() || o.count == 0) {
        usage("pcap needs --out and --count");
    }
    FILE* f = std::fopen(o.out.c_str(), "wb");
    if (f == nullptr) {
        std::fprintf(stderr, "logagg-udp-blast: %s: %s\n", o.out.c_str(), std::strerror(errno));
        return 1;
    }
    const uint32_t ghdr[] = {0xA1B2C3D4, 0x00040002, 0, 0, 65535, 1};
    std::fwrite(ghdr, sizeof ghdr, 1, f);
    constexpr size_t kHdr = 14 + 20 + 8;
    uint8_t frame[kHdr + kMessageSize];
    for (uint64_t seq = 0; seq < o.count; ++seq) {
        uint8_t* e = frame;
        const uint8_t macs[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};
        std::memcpy(e, macs, 12);
        put16(e + 12, 0x0800);
        uint8_t* ip = e + 14;
        ip[0] = 0x45;
        ip[1] = 0;
        put16(ip + 2, static_cast<uint16_t>(20 + 8 + kMessageSize));
        put16(ip + 4, static_cast<uint16_t>(seq));
        put16(ip + 6, 0x4000); // DF
        ip[8] = 64;
        ip[9] = 17;
        put16(ip + 10, 0);
        std::memcpy(ip + 12, &src.sin_addr, 4);
        std::memcpy(ip + 16, &dst.sin_addr, 4);
        put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
        uint8_t* udp = ip + 20;
        std::memcpy(udp, &src.sin_port, 2);
        std::memcpy(udp + 2, &dst.sin_port, 2);
        put16(udp + 4, static_cast<uint16_t>(8 + kMessageSize));
        put16(udp + 6, 0);
        render(seq, reinterpret_cast<char*>(udp + 8));
        uint32_t sum = csum_add(0, ip + 12, 8);
        sum += 17 + 8 + kMessageSize;
        const uint16_t c = csum_fold(csum_add(sum, udp, 8 + kMessageSize));
        put16(udp + 6, c == 0 ? 0xFFFF : c);
        const uint32_t rec[] = {static_cast<uint32_t>(1795000000 + seq / 100000),
                                static_cast<uint32_t>(seq % 100000 * 10), sizeof frame,
                                sizeof frame};
        std::fwrite(rec, sizeof rec, 1, f);
        std::fwrite(frame, sizeof frame, 1, f);
    }
    if (std::fclose(f) != 0) {
        std::fprintf(stderr, "logagg-udp-blast: %s: write failed\n", o.out.c_str());
        return 1;
    }
    return 0;
}

int cmd_check(const options& o) {
    if (o.count == 0) {
        usage("check needs --count");
    }
    std::vector<uint8_t> seen(o.count, 0);
    uint64_t lines = 0;
    uint64_t valid = 0;
    uint64_t distinct = 0;
    uint64_t invalid = 0;
    uint64_t out_of_order = 0;
    uint64_t last = 0;
    bool any = false;
    char want[kMessageSize];
    std::string line;
    for (const auto& path : o.files) {
        FILE* f = std::fopen(path.c_str(), "rb");
        if (f == nullptr) {
            std::fprintf(stderr, "logagg-udp-blast: %s: %s\n", path.c_str(), std::strerror(errno));
            return 1;
        }
        std::vector<char> buf(1 << 20);
        size_t have = 0;
        bool eof = false;
        while (!eof || have > 0) {
            if (!eof) {
                const size_t r = std::fread(buf.data() + have, 1, buf.size() - have, f);
                have += r;
                eof = r == 0;
            }
            size_t pos = 0;
            for (;;) {
                const void* nl = std::memchr(buf.data() + pos, '\n', have - pos);
                if (nl == nullptr) {
                    break;
                }
                const size_t len =
                    static_cast<size_t>(static_cast<const char*>(nl) - buf.data()) - pos;
                const std::string_view l(buf.data() + pos, len);
                pos += len + 1;
                ++lines;
                const auto at = l.find("seq=");
                uint64_t seq = 0;
                bool ok = len == kMessageSize && at != std::string_view::npos && at + 14 <= len;
                for (size_t i = 0; ok && i < 10; ++i) {
                    const char c = l[at + 4 + i];
                    ok = c >= '0' && c <= '9';
                    seq = seq * 10 + static_cast<uint64_t>(c - '0');
                }
                if (ok && seq < o.count) {
                    render(seq, want);
                    ok = std::memcmp(want, l.data(), kMessageSize) == 0;
                } else {
                    ok = false;
                }
                if (!ok) {
                    ++invalid;
                    continue;
                }
                ++valid;
                if (seen[seq] == 0) {
                    seen[seq] = 1;
                    ++distinct;
                }
                if (any && seq <= last) {
                    ++out_of_order;
                }
                last = seq;
                any = true;
            }
            if (pos == 0 && have == buf.size()) { // a line longer than the buffer: invalid
                ++lines;
                ++invalid;
                have = 0;
                continue;
            }
            std::memmove(buf.data(), buf.data() + pos, have - pos);
            have -= pos;
            if (eof && have > 0) { // a last line without LF
                ++lines;
                ++invalid;
                have = 0;
            }
        }
        std::fclose(f);
    }
    std::printf("{\"lines\": %lu, \"valid\": %lu, \"distinct\": %lu, \"duplicates\": %lu, "
                "\"invalid\": %lu, \"out_of_order\": %lu}\n",
                static_cast<unsigned long>(lines), static_cast<unsigned long>(valid),
                static_cast<unsigned long>(distinct), static_cast<unsigned long>(valid - distinct),
                static_cast<unsigned long>(invalid), static_cast<unsigned long>(out_of_order));
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        usage("usage: logagg-udp-blast send|pcap|check [options] (see the source's header)");
    }
    const std::string cmd = argv[1];
    const options o = parse(argc, argv, 2);
    if (cmd == "send") {
        return cmd_send(o);
    }
    if (cmd == "pcap") {
        return cmd_pcap(o);
    }
    if (cmd == "check") {
        return cmd_check(o);
    }
    usage(("unknown command " + cmd).c_str());
}
