// SPDX-License-Identifier: BSD-3-Clause
// The Prometheus exposition and the health verdict, from hand-made snapshots (no EAL).
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "control/metrics.hpp"

namespace {

using namespace logagg::control;

/// A snapshot with one port and one TCP sink whose latency histogram holds @p lat (us -> n).
snapshot make(const std::map<uint64_t, uint64_t>& lat = {}) {
    snapshot s;
    s.received = 10;
    s.framed = 7;
    s.routed = 7;
    s.pkt_drops[static_cast<std::size_t>(logagg::net::drop_reason::not_ip)] = 3;
    port_snapshot p;
    p.port_id = 0;
    p.name = "net_pcap0";
    p.link_up = true;
    p.ipackets = 10;
    s.ports.push_back(p);
    sink_snapshot k;
    k.name = "c\"1";
    k.type = "tcp";
    k.target = "127.0.0.1:6514";
    k.in = 7;
    k.delivered = 5;
    k.connected = 1;
    k.reconnect_max_ms = 1000;
    for (const auto& [us, n] : lat) {
        k.latency_us[logagg::pipeline::latency_bucket(us)] += n;
    }
    s.sinks.push_back(k);
    lcore_snapshot l;
    l.lcore_id = 1;
    l.roles = "rx+worker";
    l.busy_s = 2.5;
    l.sleeps = 40;
    s.lcores.push_back(l);
    return s;
}

/// name{labels} -> value of every sample; the # TYPE of every family.
struct parsed {
    std::map<std::string, double> samples;
    std::map<std::string, std::string> types;
    std::set<std::string> helps;
};

parsed parse(const std::string& text) {
    parsed p;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("# TYPE ", 0) == 0) {
            const std::string rest = line.substr(7);
            p.types[rest.substr(0, rest.find(' '))] = rest.substr(rest.find(' ') + 1);
        } else if (line.rfind("# HELP ", 0) == 0) {
            const std::string rest = line.substr(7);
            p.helps.insert(rest.substr(0, rest.find(' ')));
        } else if (!line.empty()) {
            const std::size_t sp = line.rfind(' ');
            p.samples[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
        }
    }
    return p;
}

TEST(Metrics, EveryFamilyHasHelpAndTypeAndCountersEndInTotal) {
    const parsed p = parse(prometheus_text(make({{5, 1}})));
    const std::regex name_re("^([a-zA-Z_:][a-zA-Z0-9_:]*)");
    for (const auto& [sample, v] : p.samples) {
        std::smatch m;
        ASSERT_TRUE(std::regex_search(sample, m, name_re)) << sample;
        std::string family = m[1];
        for (const char* suffix : {"_bucket", "_sum", "_count"}) {
            const std::string base = family.substr(0, family.size() - std::string(suffix).size());
            if (family.size() > std::string(suffix).size() &&
                family.compare(base.size(), std::string::npos, suffix) == 0 &&
                p.types.count(base) != 0 && p.types.at(base) == "histogram") {
                family = base;
            }
        }
        ASSERT_EQ(p.types.count(family), 1u) << "no # TYPE for " << sample;
        EXPECT_EQ(p.helps.count(family), 1u) << "no # HELP for " << sample;
    }
    for (const auto& [family, type] : p.types) {
        const bool total = family.size() > 6 && family.compare(family.size() - 6, 6, "_total") == 0;
        EXPECT_EQ(type == "counter", total) << family << " is a " << type;
    }
}

TEST(Metrics, ValuesComeFromTheSnapshotAndLabelsAreEscaped) {
    const parsed p = parse(prometheus_text(make()));
    EXPECT_EQ(p.samples.at("logagg_packets_total{stage=\"received\"}"), 10);
    EXPECT_EQ(p.samples.at("logagg_packets_dropped_total{reason=\"not_ip\"}"), 3);
    EXPECT_EQ(p.samples.at("logagg_messages_total{stage=\"delivered\"}"), 5);
    EXPECT_EQ(p.samples.at("logagg_sink_in_flight_records{sink=\"c\\\"1\",type=\"tcp\"}"), 2);
    EXPECT_EQ(p.samples.at("logagg_sink_connected{sink=\"c\\\"1\",type=\"tcp\"}"), 1);
    EXPECT_EQ(p.samples.at("logagg_port_link_up{port=\"0\",name=\"net_pcap0\"}"), 1);
    EXPECT_EQ(p.samples.at(fmt::format("logagg_build_info{{version=\"{}\",dpdk=\"{}.{:02}.{}\"}}",
                                       LOGAGG_VERSION, RTE_VER_YEAR, RTE_VER_MONTH, RTE_VER_MINOR)),
              1);
    EXPECT_EQ(p.samples.at("logagg_lcore_busy_seconds_total{lcore=\"1\",roles=\"rx+worker\"}"),
              2.5);
    EXPECT_EQ(p.samples.at("logagg_lcore_sleeps_total{lcore=\"1\",roles=\"rx+worker\"}"), 40);
}

TEST(Metrics, LatencyIsACumulativeHistogramInSeconds) {
    // 1 record at 0 us, 2 at 3 us, 4 at 1000 us (bucket [896, 1024) us), 1 beyond the last bound.
    const parsed p = parse(prometheus_text(make({{0, 1}, {3, 2}, {1000, 4}, {UINT64_MAX, 1}})));
    const std::string lbl = "sink=\"c\\\"1\",type=\"tcp\",le=";
    EXPECT_EQ(p.samples.at("logagg_sink_latency_seconds_bucket{" + lbl + "\"1e-06\"}"), 1);
    EXPECT_EQ(p.samples.at("logagg_sink_latency_seconds_bucket{" + lbl + "\"2e-06\"}"), 1);
    EXPECT_EQ(p.samples.at("logagg_sink_latency_seconds_bucket{" + lbl + "\"4e-06\"}"), 3);
    EXPECT_EQ(p.samples.at("logagg_sink_latency_seconds_bucket{" + lbl + "\"0.000512\"}"), 3);
    EXPECT_EQ(p.samples.at("logagg_sink_latency_seconds_bucket{" + lbl + "\"0.001024\"}"), 7);
    EXPECT_EQ(p.samples.at("logagg_sink_latency_seconds_bucket{" + lbl + "\"+Inf\"}"), 8);
    EXPECT_EQ(p.samples.at("logagg_sink_latency_seconds_count{sink=\"c\\\"1\",type=\"tcp\"}"), 8);
    // Buckets never decrease, +Inf is last and equals _count.
    double prev = -1;
    std::size_t n = 0;
    std::string last;
    std::istringstream in(prometheus_text(make({{0, 1}, {3, 2}, {1000, 4}, {UINT64_MAX, 1}})));
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("logagg_sink_latency_seconds_bucket", 0) == 0) {
            const double v = std::stod(line.substr(line.rfind(' ') + 1));
            EXPECT_GE(v, prev) << line;
            prev = v;
            last = line;
            ++n;
        }
    }
    EXPECT_NE(last.find("le=\"+Inf\""), std::string::npos);
    EXPECT_EQ(n, 34u); // 1 and 2 us, one bound per octave from 4 us, +Inf
    // _sum is estimated from bucket midpoints:
    const double sum =
        p.samples.at("logagg_sink_latency_seconds_sum{sink=\"c\\\"1\",type=\"tcp\"}");
    // 0.5 us (bucket [0,1)), 2 x 3.5 us, 4 x 960 us (bucket [896, 1024)), and the last bucket's
    // floor (7 << 30 us) plus 12.5%.
    EXPECT_NEAR(sum, (0.5 + 7.0 + 3840.0 + 7.0 * (1ull << 30) * 1.125) / 1e6, 1e-6);
}

TEST(Health, PortsMustBeUpAndSinksConnectedOrWithinTheirBackoff) {
    health_tracker h;
    snapshot s = make();
    h.observe(s, 1000);
    EXPECT_TRUE(h.problems(s, 1000).empty());
    EXPECT_EQ(health_json(h.problems(s, 1000)), "{\"status\": \"ok\"}\n");

    s.sinks[0].connected = 0; // the collector went away at t = 2000 ms
    h.observe(s, 2000);
    EXPECT_TRUE(h.problems(s, 2000).empty());
    EXPECT_TRUE(h.problems(s, 3000).empty()); // exactly reconnect-max-ms: still retrying
    h.observe(s, 3001);
    const std::vector<std::string> p = h.problems(s, 3001);
    ASSERT_EQ(p.size(), 1u);
    EXPECT_NE(p[0].find("sink c\"1: not connected to 127.0.0.1:6514 for 1001 ms"),
              std::string::npos)
        << p[0];
    EXPECT_EQ(health_json(p).rfind("{\"status\": \"unhealthy\", \"reasons\": [\"sink c\\\"1", 0),
              0u);

    s.sinks[0].connected = 1; // back
    h.observe(s, 3500);
    EXPECT_TRUE(h.problems(s, 3500).empty());

    s.ports[0].link_up = false;
    h.observe(s, 4000);
    ASSERT_EQ(h.problems(s, 4000).size(), 1u);
    EXPECT_EQ(h.problems(s, 4000)[0], "port 0 (net_pcap0): link down");

    s.ports[0].link_up = true;
    s.sinks[0].connected = -1; // a file sink has no connection
    h.observe(s, 5000);
    EXPECT_TRUE(h.problems(s, 99999).empty());
}

TEST(Health, KafkaSinkWithoutABrokerUpNamesItsBrokers) {
    health_tracker h;
    snapshot s = make();
    s.sinks[0].type = "kafka";
    s.sinks[0].target = "127.0.0.1:1,127.0.0.1:2/logs,key=host";
    s.sinks[0].reconnect_max_ms = 300; // librdkafka's reconnect.backoff.max.ms
    s.sinks[0].connected = 0;
    h.observe(s, 1000);
    EXPECT_TRUE(h.problems(s, 1300).empty());
    h.observe(s, 1301);
    const std::vector<std::string> p = h.problems(s, 1301);
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(p[0], "sink c\"1: no Kafka broker of 127.0.0.1:1,127.0.0.1:2 up for 301 ms (longer "
                    "than librdkafka's reconnect.backoff.max.ms 300)");
}

} // namespace
