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
//   logagg-udp-blast check --count N --json ROLE=PATH[,ROLE=PATH...] [--source IP] FILE...
//       the same for a collector that parsed each message and wrote one JSON object per line
//       (ndjson): a line is valid when it is one strict JSON object (RFC 8259; no repeated key,
//       nothing after it) whose fields, found by PATH (keys joined by '.'), hold exactly what
//       message SEQ carries, SEQ read from the decoded message text. ROLEs: message (MSG, the
//       text after STRUCTURED-DATA), ts (TIMESTAMP: an RFC 3339 string for the same instant, any
//       offset, at least the sender's 6 fraction digits), received (any RFC 3339 string),
//       host, app, procid, msgid (the header fields, strings), severity and facility (numbers
//       from PRI), source (the sender's address: --source IP, alone or as IP:PORT), and sd
//       (STRUCTURED-DATA: either a string holding it as sent, or an object
//       {"SD-ID": {"PARAM": "value"}} with exactly its parameters). The output adds "roles" (how
//       many were checked per line) and the shortest and longest line.
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
#include <optional>
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
    std::string json;   ///< check: ROLE=PATH,... (ndjson output); empty: raw lines
    std::string source; ///< check --json: the sender's address the source role must hold
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
        } else if (a == "--json") {
            o.json = value("--json");
        } else if (a == "--source") {
            o.source = value("--source");
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

/// Calls @p on_line for every line of every file (without its LF); a line longer than the
/// buffer or a last line without LF is passed as std::nullopt (invalid). false: a file could
/// not be read.
template <typename F>
bool for_each_line(const std::vector<std::string>& files, F&& on_line) {
    std::vector<char> buf(1 << 20);
    for (const auto& path : files) {
        FILE* f = std::fopen(path.c_str(), "rb");
        if (f == nullptr) {
            std::fprintf(stderr, "logagg-udp-blast: %s: %s\n", path.c_str(), std::strerror(errno));
            return false;
        }
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
                on_line(std::optional<std::string_view>(std::string_view(buf.data() + pos, len)));
                pos += len + 1;
            }
            if (pos == 0 && have == buf.size()) { // a line longer than the buffer: invalid
                on_line(std::optional<std::string_view>());
                have = 0;
                continue;
            }
            std::memmove(buf.data(), buf.data() + pos, have - pos);
            have -= pos;
            if (eof && have > 0) { // a last line without LF
                on_line(std::optional<std::string_view>());
                have = 0;
            }
        }
        std::fclose(f);
    }
    return true;
}

/// Counts of a check, printed as one JSON line.
struct tally {
    std::vector<uint8_t> seen;
    uint64_t lines = 0;
    uint64_t valid = 0;
    uint64_t distinct = 0;
    uint64_t invalid = 0;
    uint64_t out_of_order = 0;
    uint64_t last = 0;
    bool any = false;

    void take(uint64_t seq) {
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

    void print(const char* more) const {
        std::printf(
            "{\"lines\": %lu, \"valid\": %lu, \"distinct\": %lu, \"duplicates\": %lu, "
            "\"invalid\": %lu, \"out_of_order\": %lu%s}\n",
            static_cast<unsigned long>(lines), static_cast<unsigned long>(valid),
            static_cast<unsigned long>(distinct), static_cast<unsigned long>(valid - distinct),
            static_cast<unsigned long>(invalid), static_cast<unsigned long>(out_of_order), more);
    }
};

/// The sequence number in the 10 digits after "seq=" in @p text, if there are 10 digits.
std::optional<uint64_t> seq_of(std::string_view text) {
    const auto at = text.find("seq=");
    if (at == std::string_view::npos || at + 14 > text.size()) {
        return std::nullopt;
    }
    uint64_t seq = 0;
    for (size_t i = 0; i < 10; ++i) {
        const char c = text[at + 4 + i];
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        seq = seq * 10 + static_cast<uint64_t>(c - '0');
    }
    return seq;
}

// ---- ndjson output ---------------------------------------------------------------------

/// One scalar of a parsed JSON line: its path (keys joined by '.'), kind and decoded value.
struct leaf {
    std::string path;
    char kind = 's'; ///< 's' string (value decoded), 'n' number, 'l' true/false/null (as written)
    std::string value;
};

/// A strict reader of one JSON object per line (RFC 8259): every value flattened into leaves,
/// strings decoded (escapes, surrogate pairs), a repeated key within an object refused.
class json_line {
public:
    bool parse(std::string_view line) {
        s_ = line;
        i_ = 0;
        n_ = 0;
        path_.clear();
        ws();
        if (!object(0)) {
            return false;
        }
        ws();
        return i_ == s_.size();
    }

    /// The leaf at @p path, or nullptr.
    const leaf* find(std::string_view path) const {
        for (size_t k = 0; k < n_; ++k) {
            if (leaves_[k].path == path) {
                return &leaves_[k];
            }
        }
        return nullptr;
    }

    /// The leaves under @p prefix + '.', in document order.
    template <typename F>
    size_t under(std::string_view prefix, F&& each) const {
        size_t count = 0;
        for (size_t k = 0; k < n_; ++k) {
            const std::string& p = leaves_[k].path;
            if (p.size() > prefix.size() && p.compare(0, prefix.size(), prefix) == 0 &&
                p[prefix.size()] == '.') {
                each(std::string_view(p).substr(prefix.size() + 1), leaves_[k]);
                ++count;
            }
        }
        return count;
    }

private:
    /// Why: the lines checked here have a dozen fields, a few levels deep.
    static constexpr int kMaxDepth = 16;

    void ws() {
        while (i_ < s_.size() &&
               (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r' || s_[i_] == '\n')) {
            ++i_;
        }
    }

    leaf& next_leaf() {
        if (n_ == leaves_.size()) {
            leaves_.emplace_back();
        }
        leaf& l = leaves_[n_++];
        l.path = path_;
        l.value.clear();
        return l;
    }

    static void put_utf8(std::string& out, uint32_t cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }

    bool hex4(uint32_t& v) {
        if (i_ + 4 > s_.size()) {
            return false;
        }
        v = 0;
        for (int k = 0; k < 4; ++k) {
            const char c = s_[i_++];
            v <<= 4;
            if (c >= '0' && c <= '9') {
                v |= static_cast<uint32_t>(c - '0');
            } else if (c >= 'a' && c <= 'f') {
                v |= static_cast<uint32_t>(c - 'a' + 10);
            } else if (c >= 'A' && c <= 'F') {
                v |= static_cast<uint32_t>(c - 'A' + 10);
            } else {
                return false;
            }
        }
        return true;
    }

    /// A string at i_ (its opening quote), decoded into @p out.
    bool string(std::string& out) {
        if (i_ >= s_.size() || s_[i_] != '"') {
            return false;
        }
        ++i_;
        while (i_ < s_.size()) {
            const char c = s_[i_++];
            if (c == '"') {
                return true;
            }
            if (static_cast<unsigned char>(c) < 0x20) {
                return false;
            }
            if (c != '\\') {
                out += c;
                continue;
            }
            if (i_ >= s_.size()) {
                return false;
            }
            const char e = s_[i_++];
            switch (e) {
            case '"':
            case '\\':
            case '/':
                out += e;
                break;
            case 'b':
                out += '\b';
                break;
            case 'f':
                out += '\f';
                break;
            case 'n':
                out += '\n';
                break;
            case 'r':
                out += '\r';
                break;
            case 't':
                out += '\t';
                break;
            case 'u': {
                uint32_t cp = 0;
                if (!hex4(cp)) {
                    return false;
                }
                if (cp >= 0xD800 && cp < 0xDC00) {
                    uint32_t lo = 0;
                    if (i_ + 2 > s_.size() || s_[i_] != '\\' || s_[i_ + 1] != 'u') {
                        return false;
                    }
                    i_ += 2;
                    if (!hex4(lo) || lo < 0xDC00 || lo >= 0xE000) {
                        return false;
                    }
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else if (cp >= 0xDC00 && cp < 0xE000) {
                    return false;
                }
                put_utf8(out, cp);
                break;
            }
            default:
                return false;
            }
        }
        return false;
    }

    bool number(std::string& out) {
        const size_t from = i_;
        if (i_ < s_.size() && s_[i_] == '-') {
            ++i_;
        }
        auto digits = [&] {
            const size_t d = i_;
            while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
                ++i_;
            }
            return i_ - d;
        };
        const size_t lead = i_;
        const size_t int_digits = digits();
        if (int_digits == 0 || (int_digits > 1 && s_[lead] == '0')) {
            return false;
        }
        if (i_ < s_.size() && s_[i_] == '.') {
            ++i_;
            if (digits() == 0) {
                return false;
            }
        }
        if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
            ++i_;
            if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) {
                ++i_;
            }
            if (digits() == 0) {
                return false;
            }
        }
        out.assign(s_.substr(from, i_ - from));
        return true;
    }

    bool value(int depth) {
        if (i_ >= s_.size()) {
            return false;
        }
        const char c = s_[i_];
        if (c == '{') {
            return object(depth + 1);
        }
        if (c == '[') {
            return array(depth + 1);
        }
        if (c == '"') {
            leaf& l = next_leaf();
            l.kind = 's';
            return string(l.value);
        }
        for (const std::string_view lit : {"true", "false", "null"}) {
            if (s_.substr(i_, lit.size()) == lit) {
                leaf& l = next_leaf();
                l.kind = 'l';
                l.value.assign(lit);
                i_ += lit.size();
                return true;
            }
        }
        leaf& l = next_leaf();
        l.kind = 'n';
        return number(l.value);
    }

    bool array(int depth) {
        if (depth > kMaxDepth) {
            return false;
        }
        ++i_; // '['
        ws();
        if (i_ < s_.size() && s_[i_] == ']') {
            ++i_;
            return true;
        }
        const size_t base = path_.size();
        for (size_t k = 0;; ++k) {
            path_.resize(base);
            path_ += (base == 0 ? "" : ".") + std::to_string(k);
            ws();
            if (!value(depth)) {
                return false;
            }
            ws();
            if (i_ < s_.size() && s_[i_] == ',') {
                ++i_;
                continue;
            }
            path_.resize(base);
            if (i_ < s_.size() && s_[i_] == ']') {
                ++i_;
                return true;
            }
            return false;
        }
    }

    bool object(int depth) {
        if (depth > kMaxDepth || i_ >= s_.size() || s_[i_] != '{') {
            return false;
        }
        ++i_;
        ws();
        if (i_ < s_.size() && s_[i_] == '}') {
            ++i_;
            return true;
        }
        const size_t base = path_.size();
        std::vector<std::string> keys; // this object's, to refuse a repeated one
        for (;;) {
            std::string key;
            ws();
            if (!string(key)) {
                return false;
            }
            if (std::find(keys.begin(), keys.end(), key) != keys.end()) {
                return false;
            }
            keys.push_back(key);
            ws();
            if (i_ >= s_.size() || s_[i_] != ':') {
                return false;
            }
            ++i_;
            ws();
            path_.resize(base);
            path_ += (base == 0 ? "" : ".") + key;
            if (!value(depth)) {
                return false;
            }
            path_.resize(base);
            ws();
            if (i_ < s_.size() && s_[i_] == ',') {
                ++i_;
                continue;
            }
            if (i_ < s_.size() && s_[i_] == '}') {
                ++i_;
                return true;
            }
            return false;
        }
    }

    std::string_view s_;
    size_t i_ = 0;
    size_t n_ = 0;
    std::string path_;
    std::vector<leaf> leaves_;
};

/// Days from 1970-01-01 to the civil date (H. Hinnant's algorithm).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2 ? 1 : 0;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

/// An RFC 3339 date-time as nanoseconds since the epoch (UTC), or nullopt.
std::optional<int64_t> parse_rfc3339(std::string_view t) {
    auto num = [&](size_t at, size_t width, int64_t& out) {
        if (at + width > t.size()) {
            return false;
        }
        out = 0;
        for (size_t k = 0; k < width; ++k) {
            const char c = t[at + k];
            if (c < '0' || c > '9') {
                return false;
            }
            out = out * 10 + (c - '0');
        }
        return true;
    };
    int64_t y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
    if (!num(0, 4, y) || t.size() < 20 || t[4] != '-' || !num(5, 2, mo) || t[7] != '-' ||
        !num(8, 2, d) || (t[10] != 'T' && t[10] != 't') || !num(11, 2, h) || t[13] != ':' ||
        !num(14, 2, mi) || t[16] != ':' || !num(17, 2, se) || mo < 1 || mo > 12 || d < 1 ||
        d > 31 || h > 23 || mi > 59 || se > 60) {
        return std::nullopt;
    }
    size_t i = 19;
    int64_t ns = 0;
    if (i < t.size() && t[i] == '.') {
        ++i;
        size_t digits = 0;
        while (i < t.size() && t[i] >= '0' && t[i] <= '9') {
            if (digits < 9) {
                ns = ns * 10 + (t[i] - '0');
            }
            ++digits;
            ++i;
        }
        if (digits == 0) {
            return std::nullopt;
        }
        for (; digits < 9; ++digits) {
            ns *= 10;
        }
    }
    int64_t offset = 0;
    if (i < t.size() && (t[i] == 'Z' || t[i] == 'z')) {
        ++i;
    } else if (i < t.size() && (t[i] == '+' || t[i] == '-')) {
        int64_t oh = 0, om = 0;
        if (!num(i + 1, 2, oh) || i + 3 >= t.size() || t[i + 3] != ':' || !num(i + 4, 2, om)) {
            return std::nullopt;
        }
        offset = (oh * 60 + om) * 60 * (t[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return std::nullopt;
    }
    if (i != t.size()) {
        return std::nullopt;
    }
    const int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
    return (((days * 24 + h) * 60 + mi) * 60 + se - offset) * 1000000000 + ns;
}

/// What a collector's JSON line must hold for message SEQ: its RFC 5424 parts, from render().
struct expected {
    char bytes[kMessageSize];
    int severity = 0;
    int facility = 0;
    std::string_view ts, host, app, procid, msgid, sd, msg;
    std::string_view sd_id;
    std::vector<std::pair<std::string_view, std::string_view>> params;

    /// Splits message @p seq; false if render() no longer makes the shape this expects.
    bool of(uint64_t seq) {
        render(seq, bytes);
        const std::string_view m(bytes, kMessageSize);
        const auto gt = m.find('>');
        if (m[0] != '<' || gt == std::string_view::npos) {
            return false;
        }
        const int pri = std::atoi(std::string(m.substr(1, gt - 1)).c_str());
        severity = pri % 8;
        facility = pri / 8;
        std::string_view* header[] = {&ts, &host, &app, &procid, &msgid};
        size_t at = m.find(' ', gt) + 1; // after the version
        for (auto* f : header) {
            const auto sp = m.find(' ', at);
            if (sp == std::string_view::npos) {
                return false;
            }
            *f = m.substr(at, sp - at);
            at = sp + 1;
        }
        const auto end = m.find("] ", at); // one SD-ELEMENT, no ']' in its values
        if (m[at] != '[' || end == std::string_view::npos) {
            return false;
        }
        sd = m.substr(at, end + 1 - at);
        msg = m.substr(end + 2);
        std::string_view e = sd.substr(1, sd.size() - 2);
        const auto sp = e.find(' ');
        sd_id = e.substr(0, sp);
        params.clear();
        while (sp != std::string_view::npos && !e.empty()) {
            const auto start = e.find(' ');
            if (start == std::string_view::npos) {
                break;
            }
            e = e.substr(start + 1);
            const auto eq = e.find("=\"");
            const auto close = e.find('"', eq + 2);
            if (eq == std::string_view::npos || close == std::string_view::npos) {
                return false;
            }
            params.emplace_back(e.substr(0, eq), e.substr(eq + 2, close - eq - 2));
            e = e.substr(close + 1);
        }
        return true;
    }
};

struct role {
    std::string name;
    std::string path;
};

/// Whether role @p r of @p doc holds what @p want says.
bool role_ok(const role& r, const json_line& doc, const expected& want, const std::string& src) {
    const leaf* l = doc.find(r.path);
    const auto str = [&](std::string_view v) {
        return l != nullptr && l->kind == 's' && l->value == v;
    };
    const auto num = [&](int v) {
        return l != nullptr && l->kind == 'n' && l->value == std::to_string(v);
    };
    if (r.name == "message") {
        return str(want.msg);
    }
    if (r.name == "host") {
        return str(want.host);
    }
    if (r.name == "app") {
        return str(want.app);
    }
    if (r.name == "procid") {
        return str(want.procid);
    }
    if (r.name == "msgid") {
        return str(want.msgid);
    }
    if (r.name == "severity") {
        return num(want.severity);
    }
    if (r.name == "facility") {
        return num(want.facility);
    }
    if (r.name == "ts" || r.name == "received") {
        if (l == nullptr || l->kind != 's') {
            return false;
        }
        const auto got = parse_rfc3339(l->value);
        return got && (r.name == "received" || got == parse_rfc3339(want.ts));
    }
    if (r.name == "source") {
        if (l == nullptr || l->kind != 's' || l->value.empty()) {
            return false;
        }
        if (src.empty() || l->value == src) {
            return true;
        }
        return l->value.size() > src.size() + 1 && l->value.compare(0, src.size(), src) == 0 &&
               l->value[src.size()] == ':' &&
               l->value.find_first_not_of("0123456789", src.size() + 1) == std::string::npos;
    }
    if (r.name == "sd") {
        if (l != nullptr) {
            return str(want.sd);
        }
        // An object {"SD-ID": {"PARAM": "value", ...}}: exactly the parameters sent, in order.
        size_t k = 0;
        bool ok = true;
        const std::string prefix = r.path + "." + std::string(want.sd_id);
        const size_t all = doc.under(r.path, [&](std::string_view, const leaf&) {});
        doc.under(prefix, [&](std::string_view name, const leaf& v) {
            ok = ok && k < want.params.size() && name == want.params[k].first && v.kind == 's' &&
                 v.value == want.params[k].second;
            ++k;
        });
        return ok && k == want.params.size() && all == k;
    }
    return false;
}

int cmd_check_json(const options& o) {
    std::vector<role> roles;
    static const std::string_view kRoles[] = {"message",  "ts",     "received", "host",
                                              "app",      "procid", "msgid",    "severity",
                                              "facility", "source", "sd"};
    std::string_view spec = o.json;
    while (!spec.empty()) {
        const auto comma = spec.find(',');
        const std::string_view item = spec.substr(0, comma);
        spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
        const auto eq = item.find('=');
        if (eq == std::string_view::npos || eq == 0 || eq + 1 == item.size() ||
            std::find(std::begin(kRoles), std::end(kRoles), item.substr(0, eq)) ==
                std::end(kRoles)) {
            usage("--json takes ROLE=PATH,... with ROLE one of message, ts, received, host, app, "
                  "procid, msgid, severity, facility, source, sd");
        }
        roles.push_back({std::string(item.substr(0, eq)), std::string(item.substr(eq + 1))});
    }
    const auto msg =
        std::find_if(roles.begin(), roles.end(), [](const role& r) { return r.name == "message"; });
    if (msg == roles.end()) {
        usage("--json needs the message role (it carries the sequence number)");
    }
    tally t;
    t.seen.assign(o.count, 0);
    json_line doc;
    expected want;
    size_t min_len = SIZE_MAX;
    size_t max_len = 0;
    uint64_t bytes = 0;
    std::string first_bad; // the first invalid line's failing role, for the report
    const bool read = for_each_line(o.files, [&](std::optional<std::string_view> l) {
        ++t.lines;
        if (!l) {
            ++t.invalid;
            return;
        }
        bytes += l->size() + 1;
        min_len = std::min(min_len, l->size());
        max_len = std::max(max_len, l->size());
        const char* why = nullptr;
        std::optional<uint64_t> seq;
        if (!doc.parse(*l)) {
            why = "not one strict JSON object";
        } else if (const leaf* m = doc.find(msg->path); m == nullptr || m->kind != 's') {
            why = "no message";
        } else if (seq = seq_of(m->value); !seq || *seq >= o.count) {
            why = "no sequence number in the message";
        } else if (!want.of(*seq)) {
            why = "render";
        } else {
            for (const role& r : roles) {
                if (!role_ok(r, doc, want, o.source)) {
                    why = r.name.c_str();
                    break;
                }
            }
        }
        if (why != nullptr) {
            ++t.invalid;
            if (first_bad.empty()) {
                first_bad = std::string(why) + " (line " + std::to_string(t.lines) + ")";
            }
            return;
        }
        t.take(*seq);
    });
    if (!read) {
        return 1;
    }
    std::string more =
        ", \"roles\": " + std::to_string(roles.size()) + ", \"bytes\": " + std::to_string(bytes) +
        ", \"min_len\": " + std::to_string(t.lines > 0 ? min_len : 0) +
        ", \"max_len\": " + std::to_string(max_len) + ", \"first_invalid\": \"" + first_bad + "\"";
    t.print(more.c_str());
    return 0;
}

int cmd_check(const options& o) {
    if (o.count == 0) {
        usage("check needs --count");
    }
    if (!o.json.empty()) {
        return cmd_check_json(o);
    }
    tally t;
    t.seen.assign(o.count, 0);
    char want[kMessageSize];
    const bool read = for_each_line(o.files, [&](std::optional<std::string_view> l) {
        ++t.lines;
        const auto seq = l && l->size() == kMessageSize ? seq_of(*l) : std::nullopt;
        bool ok = seq && *seq < o.count;
        if (ok) {
            render(*seq, want);
            ok = std::memcmp(want, l->data(), kMessageSize) == 0;
        }
        if (!ok) {
            ++t.invalid;
            return;
        }
        t.take(*seq);
    });
    if (!read) {
        return 1;
    }
    t.print("");
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
