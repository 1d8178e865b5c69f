// SPDX-License-Identifier: BSD-3-Clause
// Side: test code (a peer for tests/sinks/sinks.py; not part of logagg).
//
// The Kafka end of the sink tests, built on librdkafka itself:
//
//   kafka_peer cluster --brokers 3 --partitions 6 --topic T [--errors N]
//       starts librdkafka's mock cluster (in-process brokers on loopback ports), creates T,
//       optionally makes the next N Produce requests fail with transient errors, prints the
//       bootstrap servers on line 1 of stdout and serves until stdin closes or SIGTERM. Lines on
//       stdin control it: "down" takes every broker down (connections closed, new ones refused),
//       "up" brings them back; each is answered with one line, "down ok" or "up ok", once done.
//   kafka_peer consume --bootstrap B --topic T --expect N --timeout-s S [--linger-ms L]
//       a real consumer (group, auto.offset.reset=earliest) that reads until N messages arrived
//       (then L ms more, so duplicates beyond N are seen too) or S seconds passed, and writes one
//       JSON line per message: {"partition": P, "offset": O, "key": "K" or null, "key_b64": ...,
//       "value_b64": "..."}.
//
// Exit status: 0 done (consume: N messages seen), 1 runtime failure or too few messages, 2 usage.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

namespace {

/// The Kafka protocol's ApiKey of ProduceRequest (RD_KAFKAP_Produce is not in the public
/// headers).
constexpr int16_t produce_api_key = 0;

volatile sig_atomic_t g_stop = 0;

void on_signal(int /*sig*/) {
    g_stop = 1;
}

[[nodiscard]] std::string base64(std::string_view in) {
    static constexpr char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= in.size(); i += 3) {
        const auto v = (static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16) |
                       (static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
        out += digits[(v >> 18) & 63];
        out += digits[(v >> 12) & 63];
        out += digits[(v >> 6) & 63];
        out += digits[v & 63];
    }
    if (i < in.size()) {
        uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16;
        if (i + 1 < in.size()) {
            v |= static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
        }
        out += digits[(v >> 18) & 63];
        out += digits[(v >> 12) & 63];
        out += i + 1 < in.size() ? digits[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

/// A JSON string for printable ASCII keys (the tests' host names); anything else is escaped
/// byte by byte as \u00XX (key_b64 carries the exact bytes).
[[nodiscard]] std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') {
            char b[8];
            std::snprintf(b, sizeof b, "\\u%04x", u);
            out += b;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

/// --name value pairs after the subcommand.
struct args {
    std::vector<std::pair<std::string, std::string>> kv;

    [[nodiscard]] const char* get(const char* name, const char* dflt = nullptr) const {
        for (const auto& [k, v] : kv) {
            if (k == name) {
                return v.c_str();
            }
        }
        return dflt;
    }
};

[[nodiscard]] bool conf_set(rd_kafka_conf_t* c, const char* k, const char* v) {
    char err[256];
    if (rd_kafka_conf_set(c, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
        std::fprintf(stderr, "kafka_peer: %s=%s: %s\n", k, v, err);
        return false;
    }
    return true;
}

int run_cluster(const args& a) {
    const int brokers = std::atoi(a.get("--brokers", "3"));
    const int partitions = std::atoi(a.get("--partitions", "6"));
    const char* topic = a.get("--topic");
    const long errors = std::atol(a.get("--errors", "0"));
    if (topic == nullptr || brokers < 1 || partitions < 1 || errors < 0) {
        std::fprintf(stderr, "kafka_peer cluster: needs --topic, --brokers >= 1, --partitions "
                             ">= 1\n");
        return 2;
    }
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    // The handle only anchors the mock cluster; it never connects anywhere.
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (rk == nullptr) {
        std::fprintf(stderr, "kafka_peer: rd_kafka_new: %s\n", err);
        return 1;
    }
    rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (mc == nullptr) {
        std::fprintf(stderr, "kafka_peer: cannot start a mock cluster of %d brokers\n", brokers);
        rd_kafka_destroy(rk);
        return 1;
    }
    const int replicas = brokers < 3 ? brokers : 3;
    const rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, topic, partitions, replicas);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        std::fprintf(stderr, "kafka_peer: topic %s: %s\n", topic, rd_kafka_err2str(e));
        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(rk);
        return 1;
    }
    if (errors > 0) {
        // Transient errors a real cluster gives during a leader change or under load; the
        // producer must retry them without losing or duplicating a record.
        std::vector<rd_kafka_resp_err_t> errs;
        for (long i = 0; i < errors; ++i) {
            errs.push_back(i % 2 == 0 ? RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION
                                      : RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
        }
        rd_kafka_mock_push_request_errors_array(mc, produce_api_key, errs.size(), errs.data());
    }
    std::printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    std::fflush(stdout);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    std::string line;
    while (g_stop == 0) {
        pollfd p{STDIN_FILENO, POLLIN, 0};
        if (::poll(&p, 1, 200) > 0) {
            char b[256];
            const ssize_t n = ::read(STDIN_FILENO, b, sizeof b);
            if (n <= 0) {
                break; // stdin closed: the test is done with us
            }
            line.append(b, static_cast<std::size_t>(n));
            for (std::size_t nl = line.find('\n'); nl != std::string::npos; nl = line.find('\n')) {
                const std::string cmd = line.substr(0, nl);
                line.erase(0, nl + 1);
                // -1: every broker of the cluster.
                const rd_kafka_resp_err_t r = cmd == "down" ? rd_kafka_mock_broker_set_down(mc, -1)
                                              : cmd == "up" ? rd_kafka_mock_broker_set_up(mc, -1)
                                                            : RD_KAFKA_RESP_ERR__INVALID_ARG;
                if (r != RD_KAFKA_RESP_ERR_NO_ERROR) {
                    std::fprintf(stderr, "kafka_peer: '%s': %s\n", cmd.c_str(),
                                 rd_kafka_err2str(r));
                    std::printf("%s failed\n", cmd.c_str());
                } else {
                    std::printf("%s ok\n", cmd.c_str());
                }
                std::fflush(stdout);
            }
        }
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}

int run_consume(const args& a) {
    const char* bootstrap = a.get("--bootstrap");
    const char* topic = a.get("--topic");
    const long expect = std::atol(a.get("--expect", "0"));
    const double timeout_s = std::atof(a.get("--timeout-s", "60"));
    const long linger_ms = std::atol(a.get("--linger-ms", "1000"));
    if (bootstrap == nullptr || topic == nullptr || expect < 0) {
        std::fprintf(stderr, "kafka_peer consume: needs --bootstrap, --topic, --expect N\n");
        return 2;
    }
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    const std::string group = "logagg-test-" + std::to_string(getpid());
    if (!conf_set(conf, "bootstrap.servers", bootstrap) ||
        !conf_set(conf, "group.id", group.c_str()) ||
        !conf_set(conf, "auto.offset.reset", "earliest") ||
        !conf_set(conf, "enable.auto.commit", "false")) {
        rd_kafka_conf_destroy(conf);
        return 2;
    }
    char err[256];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (rk == nullptr) {
        std::fprintf(stderr, "kafka_peer: rd_kafka_new: %s\n", err);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    (void)rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
    (void)rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA);
    const rd_kafka_resp_err_t se = rd_kafka_subscribe(rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (se != RD_KAFKA_RESP_ERR_NO_ERROR) {
        std::fprintf(stderr, "kafka_peer: subscribe %s: %s\n", topic, rd_kafka_err2str(se));
        rd_kafka_destroy(rk);
        return 1;
    }
    signal(SIGTERM, on_signal);
    using clock = std::chrono::steady_clock;
    const auto deadline = clock::now() + std::chrono::duration<double>(timeout_s);
    auto linger_end = clock::time_point::max();
    long got = 0;
    while (g_stop == 0 && clock::now() < deadline && clock::now() < linger_end) {
        rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
        if (m == nullptr) {
            continue;
        }
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            std::fprintf(stderr, "kafka_peer: consume: %s\n", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        const std::string_view value(static_cast<const char*>(m->payload), m->len);
        std::string line = "{\"partition\": " + std::to_string(m->partition) +
                           ", \"offset\": " + std::to_string(m->offset) + ", \"key\": ";
        if (m->key != nullptr) {
            const std::string_view key(static_cast<const char*>(m->key), m->key_len);
            line += json_string(key) + ", \"key_b64\": \"" + base64(key) + "\"";
        } else {
            line += "null, \"key_b64\": null";
        }
        line += ", \"value_b64\": \"" + base64(value) + "\"}\n";
        std::fwrite(line.data(), 1, line.size(), stdout);
        rd_kafka_message_destroy(m);
        if (++got == expect) {
            linger_end = clock::now() + std::chrono::milliseconds(linger_ms);
        }
    }
    std::fflush(stdout);
    (void)rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    std::fprintf(stderr, "kafka_peer: consumed %ld of %ld messages\n", got, expect);
    return got >= expect ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: kafka_peer cluster|consume --name value ...\n");
        return 2;
    }
    args a;
    for (int i = 2; i + 1 < argc; i += 2) {
        a.kv.emplace_back(argv[i], argv[i + 1]);
    }
    const std::string_view cmd = argv[1];
    if (cmd == "cluster") {
        return run_cluster(a);
    }
    if (cmd == "consume") {
        return run_consume(a);
    }
    std::fprintf(stderr, "kafka_peer: unknown subcommand '%s'\n", argv[1]);
    return 2;
}
