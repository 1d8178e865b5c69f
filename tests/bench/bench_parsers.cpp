// SPDX-License-Identifier: BSD-3-Clause
// ns per record of the log parsers and encoders over fixed, realistic corpora built here from a
// seeded generator (the same bytes on every run): RFC 5424 lines as rsyslog, sshd, nginx,
// haproxy, Cisco, Junos, postfix and kubelet send them, with and without STRUCTURED-DATA; JSON
// lines as Docker/Kubernetes, pino, bunyan, logrus, zap, ECS and logagg's own generator write
// them. Each benchmark iteration handles one record (the Time column is ns per record),
// cycling through its corpus.
//
// BM_simdjson_ondemand_bare is the baseline json_extractor is judged against: plain simdjson
// On-Demand extracting the same fields from the same documents, written as simply as one would
// by hand (one pass over the top-level object, key names hardcoded per document shape, raw
// views kept, nothing converted). This file is built with json.cpp's instruction-set flags
// (json_isa_args) so that both sides run the same simdjson code (see main()).
#include <benchmark/benchmark.h>

#include <simdjson.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "log/encode.hpp"
#include "log/json.hpp"
#include "log/record.hpp"
#include "log/rfc5424.hpp"

namespace {

namespace lg = logagg::log;

/// Records per corpus. Why 384: a few hundred varied messages (every shape many times, with
/// different values) that, at 150-600 bytes each, fit in L2 like a worker's recent traffic does.
constexpr std::size_t corpus_size = 384;

/// Concatenates. A braced list is evaluated left to right (unlike function arguments), so the
/// generator draws its numbers in the same order with every compiler.
std::string cat(std::initializer_list<std::string_view> parts) {
    std::string s;
    for (std::string_view p : parts) {
        s.append(p);
    }
    return s;
}

/// splitmix64: a fixed sequence for a fixed seed on every platform (std distributions are not).
struct rng {
    uint64_t s;
    uint64_t next() noexcept {
        uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
    uint64_t below(uint64_t n) noexcept { return next() % n; }
    std::string num(uint64_t lo, uint64_t hi) { return std::to_string(lo + below(hi - lo + 1)); }
    template <std::size_t N>
    std::string_view pick(const std::array<std::string_view, N>& a) noexcept {
        return a[below(N)];
    }
    std::string hex(std::size_t digits) {
        std::string s;
        for (std::size_t i = 0; i < digits; ++i) {
            s.push_back(lg::detail::hex_digits[below(16)]);
        }
        return s;
    }
    std::string ipv4(uint64_t a, uint64_t b) {
        return cat({std::to_string(a), ".", std::to_string(b), ".", num(0, 255), ".", num(1, 254)});
    }
};

constexpr int64_t s_ns = 1'000'000'000;
/// 2024-03-01T10:00:00Z
constexpr int64_t t0_ns = (lg::days_from_civil(2024, 3, 1) * 86400 + 10 * 3600) * s_ns;

/// RFC 3339 with @p frac fraction digits, "Z" or a +/-hh:mm offset of @p off_min minutes.
std::string rfc3339(int64_t ns, int frac, int off_min) {
    char buf[48];
    std::string s(buf, lg::format_rfc3339(ns + off_min * 60 * s_ns, frac, buf));
    if (off_min != 0) {
        s.pop_back();
        const int a = off_min < 0 ? -off_min : off_min;
        char o[8] = {off_min < 0 ? '-' : '+',
                     static_cast<char>('0' + a / 600),
                     static_cast<char>('0' + a / 60 % 10),
                     ':',
                     static_cast<char>('0' + a % 60 / 10),
                     static_cast<char>('0' + a % 10)};
        s.append(o, 6);
    }
    return s;
}

/// Epoch seconds with 7 fraction digits, as zap's "ts".
std::string epoch_s(int64_t ns) {
    char b[32];
    const int n = std::snprintf(b, sizeof b, "%lld.%07lld", static_cast<long long>(ns / s_ns),
                                static_cast<long long>(ns % s_ns / 100));
    return std::string(b, static_cast<std::size_t>(n));
}

/// "01/Mar/2024:10:00:00" (+ ".mmm" when @p ms) as nginx and haproxy print local time.
std::string clf_time(int64_t ns, bool ms) {
    std::string t = rfc3339(ns, ms ? 3 : 0, 0); // 2024-03-01T10:00:00.123Z
    std::string out = cat({t.substr(8, 2), "/Mar/", t.substr(0, 4), ":", t.substr(11, 8)});
    if (ms) {
        out += t.substr(19, 4);
    }
    return out;
}

constexpr std::array<std::string_view, 12> hosts{"web-01",     "web-02.prod.example.com",
                                                 "db-master",  "cache-3",
                                                 "edge-rtr-1", "core-sw-2",
                                                 "lb-haproxy", "k8s-node-7",
                                                 "mail-gw",    "bastion-1",
                                                 "srx-fw-1",   "app-17"};
constexpr std::array<std::string_view, 8> paths{"/",
                                                "/api/v1/users?id=4411",
                                                "/api/v1/orders/9f3c/items",
                                                "/healthz",
                                                "/static/js/app.4f2a9c.js",
                                                "/login",
                                                "/cart?session=ab12cd34",
                                                "/metrics"};
constexpr std::array<std::string_view, 5> agents{
    "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.3 Safari/605.1.15",
    "curl/8.5.0", "kube-probe/1.29", "Prometheus/2.50.1"};
constexpr std::array<std::string_view, 6> statuses{"200", "200", "201", "304", "404", "502"};
constexpr std::array<std::string_view, 5> users{"deploy", "alice", "root", "ci-runner", "backup"};

/// RFC 5424 line number @p i of the corpus (shape i % 12).
std::string rfc5424_line(rng& g, std::size_t i) {
    const int64_t ns = t0_ns + static_cast<int64_t>(i) * 1'137'000'000 +
                       static_cast<int64_t>(g.below(1'000'000)) * 1000;
    static constexpr std::array<int, 6> facs{1, 3, 4, 10, 16, 23};
    const int fac = facs[g.below(facs.size())];
    const int sev = static_cast<int>(g.below(8));
    const std::string pri = cat({"<", std::to_string(fac * 8 + sev), ">1 "});
    const std::string_view host = g.pick(hosts);
    const int frac = g.below(2) == 0 ? 6 : 3;
    const std::string ts = rfc3339(ns, frac, g.below(3) == 0 ? 60 : 0);
    switch (i % 12) {
    case 0: // rsyslog forwarding systemd (RSYSLOG_SyslogProtocol23Format)
    {
        const std::string session = cat({"Started Session ", g.num(1, 90000), " of User alice."});
        const std::array<std::string_view, 4> texts{
            session, "Starting Daily apt upgrade and clean activities...",
            "logrotate.service: Deactivated successfully.",
            "Finished Cleanup of Temporary Directories."};
        return cat({pri, ts, " ", host, " systemd 1 - - ", g.pick(texts)});
    }
    case 1: { // sshd
        const std::string ip = g.ipv4(203, 0);
        const std::string port = g.num(1024, 65535);
        const std::string_view user = g.pick(users);
        const uint64_t kind = g.below(3);
        const std::string m = kind == 0   ? cat({"Accepted publickey for ", user, " from ", ip,
                                                 " port ", port, " ssh2: ED25519 SHA256:", g.hex(43)})
                              : kind == 1 ? cat({"Failed password for invalid user ", user,
                                                 " from ", ip, " port ", port, " ssh2"})
                                          : cat({"pam_unix(sshd:session): session opened for user ",
                                                 user, "(uid=", g.num(1000, 1999), ") by (uid=0)"});
        return cat({pri, ts, " ", host, " sshd ", g.num(1000, 60000), " - - ", m});
    }
    case 2: // nginx access, relayed by rsyslog
        return cat({pri, ts, " ", host, " nginx - access - ", g.ipv4(10, 1), " - - [",
                    clf_time(ns, false), " +0000] \"GET ", g.pick(paths), " HTTP/1.1\" ",
                    g.pick(statuses), " ", g.num(120, 90000), " \"-\" \"", g.pick(agents),
                    "\" rt=0.0", g.num(10, 99), " uct=\"0.001\""});
    case 3: // nginx error
        return cat({pri, ts, " ", host, " nginx ", g.num(800, 9000), " error - ",
                    rfc3339(ns, 0, 0).substr(0, 10), " ", rfc3339(ns, 0, 0).substr(11, 8),
                    " [error] 1234#1234: *", g.num(1, 99999),
                    " upstream timed out (110: Connection timed out) while reading response header "
                    "from upstream, client: ",
                    g.ipv4(10, 2), ", server: api.example.com, request: \"GET ", g.pick(paths),
                    " HTTP/1.1\", upstream: \"http://10.0.3.4:8080/\", host: \"api.example.com\""});
    case 4: // haproxy HTTP log
        return cat({pri,
                    ts,
                    " lb-haproxy haproxy ",
                    g.num(2000, 4000),
                    " - - ",
                    g.ipv4(198, 51),
                    ":",
                    g.num(1024, 65535),
                    " [",
                    clf_time(ns, true),
                    "] fe_https~ be_api/api-",
                    g.num(1, 9),
                    " 0/0/",
                    g.num(0, 3),
                    "/",
                    g.num(1, 300),
                    "/",
                    g.num(1, 310),
                    " ",
                    g.pick(statuses),
                    " ",
                    g.num(200, 20000),
                    " - - ---- ",
                    g.num(10, 999),
                    "/90/5/2/0 0/0 \"GET ",
                    g.pick(paths),
                    " HTTP/1.1\""});
    case 5: // Cisco IOS XE, "logging host ... rfc5424"
        return cat({pri, ts, " ", host, " - - - [meta sequenceId=\"", g.num(1, 999999),
                    "\"] %LINEPROTO-5-UPDOWN: Line protocol on Interface GigabitEthernet0/0/",
                    g.num(0, 47), ", changed state to ", g.below(2) == 0 ? "up" : "down"});
    case 6: // Junos structured-data, session create
        return cat({pri, ts,
                    " srx-fw-1 RT_FLOW - RT_FLOW_SESSION_CREATE [junos@2636.1.1.1.2.129 "
                    "source-address=\"",
                    g.ipv4(10, 0), "\" source-port=\"", g.num(1024, 65535),
                    "\" destination-address=\"", g.ipv4(8, 8),
                    "\" destination-port=\"443\" "
                    "service-name=\"junos-https\" "
                    "nat-source-address=\"",
                    g.ipv4(192, 0), "\" nat-source-port=\"", g.num(1024, 65535),
                    "\" src-nat-rule-name=\"snat-out\" protocol-id=\"6\" policy-name=\"allow-web\" "
                    "source-zone-name=\"trust\" destination-zone-name=\"untrust\" session-id-32=\"",
                    g.num(10000, 999999),
                    "\" packets-from-client=\"1\" bytes-from-client=\"60\"] "
                    "session created"});
    case 7: // Junos structured-data, commit (a quoted value with escapes)
        return cat({pri, ts, " srx-fw-1 mgd ", g.num(2000, 9000),
                    " UI_COMMIT [junos@2636.1.1.1.2.129 username=\"", g.pick(users),
                    "\" command=\"commit\" message=\"none \\\"change ", g.num(100, 999),
                    "\\\" \\]\"] User '", g.pick(users),
                    "' requested 'commit' operation (comment: none)"});
    case 8: // rsyslog's own, with origin SD and a BOM message
        return cat({pri, ts, " ", host,
                    " rsyslogd - - [origin software=\"rsyslogd\" swVersion=\"8.2302.0\" "
                    "x-pid=\"",
                    g.num(300, 2000),
                    "\" x-info=\"https://www.rsyslog.com\"][timeQuality tzKnown=\"1\" "
                    "isSynced=\"1\" syncAccuracy=\"",
                    g.num(1000, 90000), "\"] \xEF\xBB\xBF", "start"});
    case 9: // postfix
        return cat({pri, ts, " mail-gw postfix/smtp ", g.num(1000, 60000), " - - ", g.hex(10),
                    ": to=<", g.pick(users), "@example.org>, relay=mx.example.org[", g.ipv4(203, 0),
                    "]:25, delay=1.", g.num(0, 9),
                    ", delays=0.1/0/0.5/0.6, dsn=2.0.0, status=sent "
                    "(250 2.0.0 OK ",
                    g.hex(8), ")"});
    case 10: // kubelet (klog) through journald and rsyslog
        return cat({pri,
                    ts,
                    " k8s-node-7 kubelet ",
                    g.num(1000, 3000),
                    " - - I0301 ",
                    rfc3339(ns, 6, 0).substr(11, 15),
                    "    2345 prober.go:107] \"Probe failed\" "
                    "probeType=\"Readiness\" pod=\"default/api-",
                    g.hex(10),
                    "-",
                    g.hex(5),
                    "\" podUID=\"",
                    g.hex(8),
                    "-",
                    g.hex(4),
                    "-",
                    g.hex(4),
                    "-",
                    g.hex(4),
                    "-",
                    g.hex(12),
                    "\" containerName=\"api\" probeResult=\"failure\" output=\"HTTP probe failed "
                    "with statuscode: 503\""});
    default: // RFC 5424 section 6.5 style: a NIL timestamp, several SD-ELEMENTs
        return cat({pri, g.below(2) == 0 ? "-" : ts, " ", host,
                    " evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" "
                    "eventID=\"",
                    g.num(1000, 1999),
                    "\"][examplePriority@32473 class=\"high\"] An application "
                    "event log entry..."});
    }
}

/// The document shapes of the JSON corpus.
enum class json_shape : uint8_t { docker, kubernetes, pino, bunyan, logrus, zap, ecs, logagg, n_ };

/// The top-level keys the default json_field_map picks for each role in each shape (what a
/// hand-written extractor for these loggers would hardcode); empty when the shape has none.
using role_keys = std::array<std::string_view, static_cast<std::size_t>(lg::json_role::count_)>;
//                      ts             sev          host         app             procid
//                      msgid          msg
constexpr std::array<role_keys, static_cast<std::size_t>(json_shape::n_)> shape_keys{{
    {"time", "", "", "", "", "", "log"},
    {"time", "", "", "", "", "", "log"},
    {"time", "level", "hostname", "name", "pid", "", "msg"},
    {"time", "level", "hostname", "name", "pid", "", "msg"},
    {"time", "level", "", "", "", "", "msg"},
    {"ts", "level", "", "", "", "", "msg"},
    {"@timestamp", "log.level", "host.name", "service.name", "process.pid", "event.action",
     "message"},
    {"time", "level", "host", "service", "", "", "msg"},
}};

/// One JSON line of shape i % n_ (150-600 bytes, minified as the loggers write them).
std::string json_line(rng& g, std::size_t i, json_shape& shape) {
    shape = static_cast<json_shape>(i % static_cast<std::size_t>(json_shape::n_));
    const int64_t ns = t0_ns + static_cast<int64_t>(i) * 1'137'000'000 +
                       static_cast<int64_t>(g.below(1'000'000'000));
    const std::string_view host = g.pick(hosts);
    constexpr std::array<std::string_view, 4> levels{"info", "warning", "error", "debug"};
    const std::string access =
        cat({g.ipv4(10, 244), " - - [", clf_time(ns, false), " +0000] \\\"GET ", g.pick(paths),
             " HTTP/1.1\\\" ", g.pick(statuses), " ", g.num(100, 90000), " \\\"-\\\" \\\"",
             g.pick(agents), "\\\"\\n"});
    switch (shape) {
    case json_shape::docker:
        return cat(
            {R"({"log":")", access, R"(","stream":"stdout","time":")", rfc3339(ns, 9, 0), R"("})"});
    case json_shape::kubernetes: {
        const std::string pod = cat({"checkout-", g.hex(10), "-", g.hex(5)});
        return cat(
            {R"({"log":")",
             g.below(2) == 0 ? access
                             : "E0301 10:00:00.123456       1 reflector.go:147] "
                               "failed to list *v1.Pod: context deadline exceeded\\n",
             R"(","stream":")",
             g.below(2) == 0 ? "stdout" : "stderr",
             R"(","time":")",
             rfc3339(ns, 9, 0),
             R"(","kubernetes":{"pod_name":")",
             pod,
             R"(","namespace_name":"shop","pod_id":")",
             g.hex(8),
             "-",
             g.hex(4),
             "-",
             g.hex(4),
             "-",
             g.hex(4),
             "-",
             g.hex(12),
             R"(","host":"k8s-node-)",
             g.num(1, 40),
             R"(","container_name":"checkout","labels":{"app":"checkout","pod-template-hash":")",
             g.hex(10),
             R"("}}})"});
    }
    case json_shape::pino: {
        static constexpr std::array<std::string_view, 4> lv{"30", "30", "40", "50"};
        return cat({R"({"level":)",
                    g.pick(lv),
                    R"(,"time":)",
                    std::to_string(ns / 1'000'000),
                    R"(,"pid":)",
                    g.num(7, 60000),
                    R"(,"hostname":")",
                    host,
                    R"(","name":"orders-api","reqId":"req-)",
                    g.hex(6),
                    R"(","req":{"method":"GET","url":")",
                    g.pick(paths),
                    R"(","remoteAddress":"::ffff:)",
                    g.ipv4(10, 1),
                    R"(","remotePort":)",
                    g.num(1024, 65535),
                    R"(},"res":{"statusCode":)",
                    g.pick(statuses),
                    R"(},"responseTime":)",
                    g.num(1, 900),
                    R"(,"msg":"request completed"})"});
    }
    case json_shape::bunyan:
        return cat({R"({"name":"billing","hostname":")", host, R"(","pid":)", g.num(7, 60000),
                    R"(,"level":)", g.below(2) == 0 ? "30" : "40",
                    R"(,"component":"invoice","invoice":{"id":"inv_)", g.hex(12), R"(","amount":)",
                    g.num(1, 99999), ".", g.num(10, 99),
                    R"(,"currency":"EUR"},"msg":"invoice \"finalized\" for customer cus_)",
                    g.hex(8), R"(","time":")", rfc3339(ns, 3, 0), R"(","v":0})"});
    case json_shape::logrus:
        return cat({R"({"component":"scheduler","job":"reindex-)", g.num(1, 99), R"(","level":")",
                    g.pick(levels), R"(","msg":"job finished in )", g.num(1, 999), R"(ms, )",
                    g.num(0, 5000), R"( documents","time":")", rfc3339(ns, 0, 60),
                    R"(","user_id":)", g.num(1, 99999), "}"});
    case json_shape::zap:
        return cat({R"({"level":")", g.pick(levels), R"(","ts":)", epoch_s(ns),
                    R"(,"caller":"server/handler.go:)", g.num(10, 400),
                    R"(","msg":"upstream request","method":"POST","path":")", g.pick(paths),
                    R"(","status":)", g.pick(statuses), R"(,"latency":0.0)", g.num(100000, 999999),
                    R"(,"trace_id":")", g.hex(32), R"("})"});
    case json_shape::ecs:
        return cat(
            {R"({"@timestamp":")",
             rfc3339(ns, 3, 0),
             R"(","log.level":")",
             g.pick(levels),
             R"(","message":"GET )",
             g.pick(paths),
             " ",
             g.pick(statuses),
             R"(","ecs.version":"1.6.0","service.name":"opbeans-java","host.name":")",
             host,
             R"(","process.pid":)",
             g.num(7, 60000),
             R"(,"process.thread.name":"http-nio-8080-exec-)",
             g.num(1, 20),
             R"(","event.dataset":"opbeans-java.log","event.action":"http-request","log.logger":"co.elastic.apm.opbeans.ApiController","trace.id":")",
             g.hex(32),
             R"(","transaction.id":")",
             g.hex(16),
             R"(","http.request.method":"GET","url.path":")",
             g.pick(paths),
             R"(","client.ip":")",
             g.ipv4(10, 1),
             R"("})"});
    case json_shape::logagg:
    case json_shape::n_:
        break;
    }
    // scripts/gen_capture.py make_message() kind 3
    constexpr std::array<std::string_view, 4> msgs{"order placed", "cache miss",
                                                   "retrying upstream", "user login"};
    return cat({R"({"time":")", rfc3339(ns, 3, 0), R"(","level":")", g.pick(levels),
                R"(","service":"checkout","host":")", host, R"(","msg":")", g.pick(msgs),
                R"(","trace_id":")", g.hex(16), R"(","req_id":")", host, "-",
                std::to_string(100000 + i), R"(","latency_ms":)", g.num(1, 900), "}"});
}

struct rfc5424_corpus {
    std::vector<std::string> lines;
    std::size_t bytes = 0;
};

const rfc5424_corpus& rfc5424_lines() {
    static const rfc5424_corpus c = [] {
        rfc5424_corpus out;
        rng g{5424};
        for (std::size_t i = 0; i < corpus_size; ++i) {
            out.lines.push_back(rfc5424_line(g, i));
            out.bytes += out.lines.back().size();
        }
        return out;
    }();
    return c;
}

/// JSON lines in one block, each followed by json_padding bytes of spaces (as an mbuf's
/// tailroom would be: readable, any content).
struct json_corpus {
    std::vector<char> block;
    std::vector<std::size_t> off;
    std::vector<std::size_t> len;
    std::vector<json_shape> shapes;
    std::size_t bytes = 0;
    std::size_t max_len = 0;
};

const json_corpus& json_lines() {
    static const json_corpus c = [] {
        json_corpus out;
        rng g{8259};
        for (std::size_t i = 0; i < corpus_size; ++i) {
            json_shape shape{};
            const std::string line = json_line(g, i, shape);
            out.off.push_back(out.block.size());
            out.len.push_back(line.size());
            out.shapes.push_back(shape);
            out.block.insert(out.block.end(), line.begin(), line.end());
            out.block.insert(out.block.end(), lg::json_padding, ' ');
            out.bytes += line.size();
            out.max_len = std::max(out.max_len, line.size());
        }
        return out;
    }();
    return c;
}

void BM_rfc5424_parse(benchmark::State& state) {
    const rfc5424_corpus& c = rfc5424_lines();
    lg::log_record r;
    std::size_t i = 0;
    int64_t bytes = 0;
    for (auto _ : state) {
        const std::string& m = c.lines[i];
        benchmark::DoNotOptimize(lg::parse_rfc5424(m, r));
        benchmark::DoNotOptimize(r);
        bytes += static_cast<int64_t>(m.size());
        if (++i == c.lines.size()) {
            i = 0;
        }
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(bytes);
}

// BM_rfc3164_parse: lib/log/rfc3164.hpp is not on this branch yet (it is being written on
// h/rfc3164). When it lands, add here an RFC 3164 corpus (BSD syslog as sshd, postfix, cron,
// Cisco IOS "%LINK-3-UPDOWN" and Junos send it: "<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG", with
// and without the PID, with the year-less and the ISO stamps) and a benchmark shaped exactly like
// BM_rfc5424_parse, so the two parsers compare per record and per byte in one run.

void BM_json_extract_impl(benchmark::State& state, bool validate_all) {
    const json_corpus& c = json_lines();
    const lg::json_field_map fields;
    const auto x_owner = lg::json_extractor::create(fields, c.max_len).value();
    lg::json_extractor& x = *x_owner;
    lg::log_record r;
    std::size_t i = 0;
    int64_t bytes = 0;
    for (auto _ : state) {
        const char* d = c.block.data() + c.off[i];
        const std::size_t cap = c.block.size() - c.off[i];
        benchmark::DoNotOptimize(x.parse(d, c.len[i], cap, validate_all, r));
        benchmark::DoNotOptimize(r);
        bytes += static_cast<int64_t>(c.len[i]);
        if (++i == c.off.size()) {
            i = 0;
        }
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(bytes);
}

void BM_json_extract(benchmark::State& state) {
    BM_json_extract_impl(state, false);
}

void BM_json_extract_validate(benchmark::State& state) {
    BM_json_extract_impl(state, true);
}

/// What the hand-written baseline keeps: the raw JSON token of each role's value.
using bare_fields = std::array<std::string_view, static_cast<std::size_t>(lg::json_role::count_)>;

/// Plain simdjson On-Demand, the simplest correct extraction: one pass over the top-level
/// object, each key compared with the shape's names, the raw token of a match kept.
/// @return false when the document is not one well-formed object (as far as On-Demand looks).
bool bare_extract(simdjson::ondemand::parser& p, const char* d, std::size_t len, std::size_t cap,
                  const role_keys& keys, bare_fields& out) noexcept {
    out = bare_fields{};
    simdjson::ondemand::document doc;
    if (p.iterate(simdjson::padded_string_view(d, len, cap)).get(doc) != simdjson::SUCCESS) {
        return false;
    }
    simdjson::ondemand::object obj;
    if (doc.get_object().get(obj) != simdjson::SUCCESS) {
        return false;
    }
    for (auto f : obj) {
        simdjson::ondemand::field field;
        if (std::move(f).get(field) != simdjson::SUCCESS) {
            return false;
        }
        for (std::size_t r = 0; r < keys.size(); ++r) {
            if (!keys[r].empty() && field.key() == keys[r]) {
                out[r] = field.value().raw_json_token();
                break;
            }
        }
    }
    const char* where = nullptr; // nothing but whitespace after the object
    return doc.current_location().get(where) == simdjson::OUT_OF_BOUNDS;
}

void BM_simdjson_ondemand_bare(benchmark::State& state) {
    const json_corpus& c = json_lines();
    simdjson::ondemand::parser p;
    if (p.allocate(c.max_len + 1) != simdjson::SUCCESS) {
        state.SkipWithError("simdjson: cannot allocate");
        return;
    }
    bare_fields f;
    std::size_t i = 0;
    int64_t bytes = 0;
    for (auto _ : state) {
        const char* d = c.block.data() + c.off[i];
        const std::size_t cap = c.block.size() - c.off[i];
        benchmark::DoNotOptimize(bare_extract(
            p, d, c.len[i], cap, shape_keys[static_cast<std::size_t>(c.shapes[i])], f));
        benchmark::DoNotOptimize(f);
        bytes += static_cast<int64_t>(c.len[i]);
        if (++i == c.off.size()) {
            i = 0;
        }
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(bytes);
}

/// An Out as the worker's, minus descriptors: generated bytes copied to a buffer, references
/// only remembered.
struct bench_out {
    static constexpr std::size_t max_refs = 32;
    char* at = nullptr;
    std::array<std::string_view, max_refs> refs{};
    std::size_t n_refs = 0;
    std::size_t n_copied = 0;
    void gen(std::string_view b) noexcept {
        std::memcpy(at, b.data(), b.size());
        at += b.size();
    }
    [[nodiscard]] char* gen_reserve(std::size_t) const noexcept { return at; }
    void gen_commit(std::size_t n) noexcept { at += n; }
    void ref(std::string_view b) noexcept {
        if (n_refs < max_refs) {
            refs[n_refs] = b;
        }
        ++n_refs;
    }
    void copied(std::size_t n) noexcept { n_copied += n; }
};

template <bool ndjson>
void BM_encode(benchmark::State& state) {
    const rfc5424_corpus& c = rfc5424_lines();
    std::vector<lg::log_record> records(c.lines.size());
    std::size_t longest = 0;
    for (std::size_t k = 0; k < c.lines.size(); ++k) {
        if (lg::parse_rfc5424(c.lines[k], records[k]) != lg::rfc5424_status::ok) {
            state.SkipWithError(("corpus line does not parse: " + c.lines[k]).c_str());
            return;
        }
        longest = std::max(longest, c.lines[k].size());
    }
    std::vector<char> buf(lg::encode_bound(longest));
    std::size_t i = 0;
    int64_t bytes = 0;
    std::size_t refs = 0;
    std::size_t copied = 0;
    std::size_t generated = 0;
    for (auto _ : state) {
        bench_out o;
        o.at = buf.data();
        const lg::encode_context ctx{c.lines[i], "198.18.0.1:40000", t0_ns};
        if constexpr (ndjson) {
            lg::encode_ndjson(records[i], ctx, o);
        } else {
            lg::encode_rfc5424(records[i], ctx, o);
        }
        benchmark::DoNotOptimize(o);
        benchmark::ClobberMemory();
        refs += o.n_refs;
        copied += o.n_copied;
        generated += static_cast<std::size_t>(o.at - buf.data());
        bytes += static_cast<int64_t>(c.lines[i].size());
        if (++i == c.lines.size()) {
            i = 0;
        }
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(bytes);
    state.counters["refs/rec"] =
        benchmark::Counter(static_cast<double>(refs), benchmark::Counter::kAvgIterations);
    state.counters["copied_B/rec"] =
        benchmark::Counter(static_cast<double>(copied), benchmark::Counter::kAvgIterations);
    state.counters["gen_B/rec"] =
        benchmark::Counter(static_cast<double>(generated), benchmark::Counter::kAvgIterations);
}

void BM_encode_ndjson(benchmark::State& state) {
    BM_encode<true>(state);
}

void BM_encode_rfc5424(benchmark::State& state) {
    BM_encode<false>(state);
}

BENCHMARK(BM_rfc5424_parse);
BENCHMARK(BM_json_extract);
BENCHMARK(BM_json_extract_validate);
BENCHMARK(BM_simdjson_ondemand_bare);
BENCHMARK(BM_encode_ndjson);
BENCHMARK(BM_encode_rfc5424);

/// Checks the corpora before timing anything: every RFC 5424 line parses, and for every JSON
/// line json_extractor and the bare baseline find the same fields (so they do the same work).
/// @return an error message, or empty.
std::string check_corpora() {
    for (const std::string& m : rfc5424_lines().lines) {
        lg::log_record r;
        if (const auto st = lg::parse_rfc5424(m, r); st != lg::rfc5424_status::ok) {
            return cat({"rfc5424 corpus: ", lg::rfc5424_status_names[static_cast<std::size_t>(st)],
                        ": ", m});
        }
    }
    const json_corpus& c = json_lines();
    const lg::json_field_map fields;
    const auto x_owner = lg::json_extractor::create(fields, c.max_len).value();
    lg::json_extractor& x = *x_owner;
    simdjson::ondemand::parser p;
    if (p.allocate(c.max_len + 1) != simdjson::SUCCESS) {
        return "simdjson: cannot allocate";
    }
    for (std::size_t i = 0; i < c.off.size(); ++i) {
        const char* d = c.block.data() + c.off[i];
        const std::size_t cap = c.block.size() - c.off[i];
        const std::string_view line(d, c.len[i]);
        if (c.len[i] < 150 || c.len[i] > 600) {
            return cat({"json corpus: not 150-600 bytes: ", line});
        }
        lg::log_record r;
        if (const auto st = x.parse(d, c.len[i], cap, true, r); st != lg::json_status::ok) {
            return cat(
                {"json corpus: ", lg::json_status_names[static_cast<std::size_t>(st)], ": ", line});
        }
        bare_fields f;
        if (!bare_extract(p, d, c.len[i], cap, shape_keys[static_cast<std::size_t>(c.shapes[i])],
                          f)) {
            return cat({"json corpus: bare extraction failed: ", line});
        }
        auto unquoted = [](std::string_view t) {
            return t.size() >= 2 && t.front() == '"' ? t.substr(1, t.size() - 2) : t;
        };
        using lg::json_role;
        const std::array<std::pair<json_role, std::string_view>, 6> same{{
            {json_role::ts, r.timestamp_text},
            {json_role::host, r.hostname},
            {json_role::app, r.app_name},
            {json_role::procid, r.procid},
            {json_role::msgid, r.msgid},
            {json_role::msg, r.message},
        }};
        for (const auto& [role, v] : same) {
            const std::string_view b = unquoted(f[static_cast<std::size_t>(role)]);
            if (b.data() != v.data() || b.size() != v.size()) {
                return cat({"json corpus: bare and json_extractor differ on ",
                            lg::json_role_names[static_cast<std::size_t>(role)], ": ", line});
            }
        }
        if ((r.severity >= 0) != !f[static_cast<std::size_t>(json_role::sev)].empty()) {
            return cat({"json corpus: severity found by one side only: ", line});
        }
    }
    return {};
}

} // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 1;
    }
    if (const std::string err = check_corpora(); !err.empty()) {
        std::fprintf(stderr, "bench_parsers: %s\n", err.c_str());
        return 1;
    }
    // simdjson On-Demand runs in two parts. Stage 1 (structural indexing) is the shared
    // library's, chosen at run time (get_active_implementation()); stage 2 (the On-Demand walk) is
    // inlined into the caller and compiled for the instruction set the caller is built for
    // (SIMDJSON_BUILTIN_IMPLEMENTATION). json.cpp and this file get the same flags
    // (json_isa_args), so both sides run the same code for both stages.
    // json_extractor::implementation() is the library's own builtin (how the library was built),
    // printed for reference.
    benchmark::AddCustomContext("simdjson_ondemand_stage2",
                                SIMDJSON_STRINGIFY(SIMDJSON_BUILTIN_IMPLEMENTATION));
    benchmark::AddCustomContext("simdjson_stage1",
                                std::string(simdjson::get_active_implementation()->name()));
    benchmark::AddCustomContext("json_extractor_implementation",
                                std::string(lg::json_extractor::implementation()));
    const auto& rc = rfc5424_lines();
    const auto& jc = json_lines();
    benchmark::AddCustomContext("simdjson_version", SIMDJSON_STRINGIFY(SIMDJSON_VERSION));
    benchmark::AddCustomContext(
        "rfc5424_corpus", cat({std::to_string(rc.lines.size()), " records, ",
                               std::to_string(rc.bytes / rc.lines.size()), " bytes on average"}));
    benchmark::AddCustomContext(
        "json_corpus", cat({std::to_string(jc.off.size()), " records, ",
                            std::to_string(jc.bytes / jc.off.size()), " bytes on average"}));
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
