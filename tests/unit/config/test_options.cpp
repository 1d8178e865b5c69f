// SPDX-License-Identifier: BSD-3-Clause
// Option parsing and lcore role resolution (both pure: no EAL).
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "config/options.hpp"
#include "config/roles.hpp"

namespace {

using namespace logagg::config;

/// parse_options()'s outcome, flattened for the checks below (an error is a usage error).
struct parse_result {
    enum class action { run, help, version, usage_error };
    action what = action::usage_error;
    settings cfg;
    std::string error;
};

parse_result parse(std::vector<std::string_view> args) {
    auto r = parse_options(args);
    if (!r) {
        EXPECT_TRUE(r.error().usage) << r.error().text;
        return {.what = parse_result::action::usage_error, .cfg = {}, .error = r.error().text};
    }
    command c = std::move(r).value();
    const parse_result::action what = c.what == command::action::help ? parse_result::action::help
                                      : c.what == command::action::version
                                          ? parse_result::action::version
                                          : parse_result::action::run;
    return {.what = what, .cfg = std::move(c.cfg), .error = {}};
}

TEST(Options, DefaultsNeedOnlyASink) {
    const auto r = parse({"--sink", "file:out"});
    ASSERT_EQ(r.what, parse_result::action::run) << r.error;
    EXPECT_EQ(r.cfg.listen, std::vector<uint16_t>{514});
    EXPECT_TRUE(r.cfg.ports.contains(514));
    EXPECT_FALSE(r.cfg.ports.contains(515));
    ASSERT_EQ(r.cfg.sinks.size(), 1u);
    EXPECT_EQ(r.cfg.sinks[0].dir, "out");
    EXPECT_EQ(r.cfg.sinks[0].name, "file");
    EXPECT_EQ(r.cfg.sinks[0].rotate_bytes, 256ull << 20);
    EXPECT_EQ(r.cfg.default_sinks, 1u);
    EXPECT_EQ(r.cfg.drain_timeout_ms, 5000u);
    EXPECT_FALSE(r.cfg.on_sink_full.has_value()); // decided by the ports once EAL probed them
    EXPECT_EQ(r.cfg.framing, logagg::log::framing_mode::lf);
    EXPECT_EQ(r.cfg.max_msg, 65536u);
    EXPECT_TRUE(r.cfg.verify_checksums);
    EXPECT_EQ(r.cfg.poll, logagg::pipeline::poll_mode::adaptive);
}

TEST(Options, TcpListeners) {
    const auto r =
        parse({"--sink", "file:out", "--ip", "0:198.18.0.1/24", "--listen", "tcp:514", "--listen",
               "tcp:6514:rfc5424,framing=octet", "--listen", "tcp:12201:gelf", "--listen",
               "udp:514,framing=lf", "--tcp-max-conns", "100"});
    ASSERT_EQ(r.what, parse_result::action::run) << r.error;
    const settings& c = r.cfg;
    EXPECT_EQ(c.listen, std::vector<uint16_t>{514}); // UDP 514 is another listener
    EXPECT_EQ(c.tcp_listen, (std::vector<uint16_t>{514, 6514, 12201}));
    ASSERT_EQ(c.tcp_listen_framing.size(), 3u);
    EXPECT_FALSE(c.tcp_listen_framing[0].has_value()); // auto, decided per connection
    EXPECT_EQ(c.tcp_listen_framing[1], logagg::log::framing_mode::octet);
    EXPECT_EQ(c.tcp_listen_format[1], logagg::pipeline::listen_format::rfc5424);
    EXPECT_EQ(c.tcp_listen_format[2], logagg::pipeline::listen_format::gelf);
    EXPECT_TRUE(c.tcp_ports.contains(6514));
    EXPECT_FALSE(c.ports.contains(6514));
    EXPECT_EQ(c.tcp_max_conns, 100u);
    // Only TCP listeners: no UDP listener is added behind the user's back.
    const auto t = parse({"--sink", "file:out", "--ip", "0:198.18.0.1/24", "--listen", "tcp:1"});
    ASSERT_EQ(t.what, parse_result::action::run) << t.error;
    EXPECT_TRUE(t.cfg.listen.empty());
    EXPECT_EQ(t.cfg.tcp_max_conns, 4096u);
    const std::vector<std::pair<std::vector<std::string_view>, std::string>> bad = {
        {{"--sink", "file:x", "--listen", "tcp:514"},
         "--listen tcp:514: TCP needs --ip (an address to accept connections on"},
        {{"--sink", "file:x", "--ip", "0:198.18.0.1/24", "--listen", "tcp:514,framing=datagram"},
         "--listen: 'tcp:514,framing=datagram': a TCP stream has no datagrams"},
        {{"--sink", "file:x", "--ip", "0:198.18.0.1/24", "--listen", "tcp:5", "--listen", "tcp:5"},
         "--listen: tcp port 5 given twice"},
        {{"--sink", "file:x", "--ip", "0:198.18.0.1/24", "--listen", "tcp:12201:gelf,framing=lf"},
         "framing does not apply to gelf (NUL-delimited over TCP)"},
        {{"--sink", "file:x", "--ip", "0:198.18.0.1/24", "--listen", "tcp:0"},
         "--listen: 'tcp:0': PORT must be 1-65535"},
        {{"--sink", "file:x", "--ip", "0:198.18.0.1/24", "--listen", "sctp:5"},
         "--listen: 'sctp:5' is not udp:PORT or tcp:PORT"},
        {{"--sink", "file:x", "--tcp-max-conns", "0"}, "--tcp-max-conns: '0' is too small"},
    };
    for (const auto& [args, text] : bad) {
        const auto e = parse(args);
        EXPECT_EQ(e.what, parse_result::action::usage_error) << text;
        EXPECT_NE(e.error.find(text), std::string::npos) << e.error;
    }
}

TEST(Options, EveryOptionParsesInBothSpellings) {
    const auto r = parse({"--listen",
                          "udp:514",
                          "--listen=udp:6514,framing=octet",
                          "--sink=file:/x,rotate-bytes=64K",
                          "--rx-lcores",
                          "1-2",
                          "--worker-lcores=3,4",
                          "--sink-lcore",
                          "5",
                          "--stats-interval",
                          "2.5",
                          "--stats-json",
                          "/s.json",
                          "--exit-on-idle",
                          "300",
                          "--on-sink-full",
                          "block",
                          "--burst",
                          "64",
                          "--rx-desc",
                          "2048",
                          "--ring-size",
                          "1024",
                          "--sink-ring-size",
                          "8192",
                          "--mbufs",
                          "65535",
                          "--no-checksum",
                          "--framing",
                          "auto",
                          "--max-msg",
                          "8K",
                          "--on-oversize",
                          "drop",
                          "--poll",
                          "busy"});
    ASSERT_EQ(r.what, parse_result::action::run) << r.error;
    const settings& c = r.cfg;
    EXPECT_EQ(c.listen, (std::vector<uint16_t>{514, 6514}));
    ASSERT_EQ(c.listen_framing.size(), 2u);
    EXPECT_FALSE(c.listen_framing[0].has_value());
    EXPECT_EQ(c.listen_framing[1], logagg::log::framing_mode::octet);
    ASSERT_EQ(c.sinks.size(), 1u);
    EXPECT_EQ(c.sinks[0].dir, "/x");
    EXPECT_EQ(c.sinks[0].rotate_bytes, 65536u);
    EXPECT_EQ(c.rx_lcores, (std::vector<unsigned>{1, 2}));
    EXPECT_EQ(c.worker_lcores, (std::vector<unsigned>{3, 4}));
    EXPECT_EQ(c.sink_lcore, 5u);
    EXPECT_DOUBLE_EQ(c.stats_interval_s, 2.5);
    EXPECT_EQ(c.stats_json, "/s.json");
    EXPECT_EQ(c.exit_on_idle_ms, 300u);
    EXPECT_EQ(c.on_sink_full, full_policy::block);
    EXPECT_EQ(c.burst, 64);
    EXPECT_EQ(c.rx_desc, 2048);
    EXPECT_EQ(c.worker_ring, 1024u);
    EXPECT_EQ(c.sink_ring, 8192u);
    EXPECT_EQ(c.mbufs, 65535u);
    EXPECT_FALSE(c.verify_checksums);
    EXPECT_EQ(c.framing, logagg::log::framing_mode::auto_detect);
    EXPECT_EQ(c.max_msg, 8192u);
    EXPECT_TRUE(c.drop_oversize);
    EXPECT_EQ(c.poll, logagg::pipeline::poll_mode::busy);
    EXPECT_EQ(parse({"--sink", "file:x", "--poll=adaptive"}).cfg.poll,
              logagg::pipeline::poll_mode::adaptive);
    EXPECT_EQ(parse({"--sink", "file:x"}).cfg.pmd_power, logagg::config::pmd_power::off);
    EXPECT_EQ(parse({"--sink", "file:x", "--poll", "busy", "--pmd-power", "monitor"}).cfg.pmd_power,
              logagg::config::pmd_power::monitor);
}

TEST(Options, MetricsTakesIpv4AndBracketedIpv6) {
    EXPECT_FALSE(parse({"--sink", "file:x"}).cfg.metrics.has_value()); // off by default
    const auto v4 = parse({"--sink", "file:x", "--metrics", "127.0.0.1:9514"});
    ASSERT_EQ(v4.what, parse_result::action::run) << v4.error;
    ASSERT_TRUE(v4.cfg.metrics.has_value());
    EXPECT_EQ(v4.cfg.metrics->family, AF_INET);
    EXPECT_EQ(v4.cfg.metrics->port, 9514);
    EXPECT_EQ(v4.cfg.metrics->addr[0], 127);
    EXPECT_EQ(v4.cfg.metrics->addr[3], 1);
    const auto v6 = parse_metrics_addr("[::1]:0");
    ASSERT_TRUE(v6.has_value());
    EXPECT_EQ(v6->family, AF_INET6);
    EXPECT_EQ(v6->port, 0); // any free port
    EXPECT_EQ(v6->addr[15], 1);
    for (const char* bad : {"", ":9514", "[::1]", "[::1]9514", "[127.0.0.1]:80", "1.2.3.4:-1",
                            "1.2.3.4:80x", "[::1]:", "0.0.0.0:99999"}) {
        EXPECT_FALSE(parse_metrics_addr(bad).has_value()) << bad;
    }
}

TEST(Options, ErrorsNameTheOption) {
    const std::vector<std::pair<std::vector<std::string_view>, std::string>> cases = {
        {{"--sink", "file:x", "--bogus"}, "--bogus"},
        {{"--sink", "file:x", "--listen"}, "--listen"},
        {{"--sink", "file:x", "--listen", "tcp:514"}, "--listen"},
        {{"--sink", "file:x", "--listen", "udp:0"}, "--listen"},
        {{"--sink", "file:x", "--listen", "udp:65536"}, "--listen"},
        {{"--sink", "file:x", "--listen", "udp:514", "--listen", "udp:514"}, "--listen"},
        {{"--sink", "file:x", "--listen", "udp:514,framing=x"}, "--listen"},
        {{"--sink", "file:x", "--listen", "udp:514,color=red"}, "--listen"},
        {{}, "--sink"},
        {{"--sink", "kafka:x"}, "--sink"},
        {{"--sink", "file:"}, "--sink"},
        {{"--sink", "file:x,rotate-bytes=1"}, "--sink"},
        {{"--sink", "file:x,rotate-bytes=12Q"}, "--sink"},
        {{"--sink", "file:x,bogus=1"}, "--sink"},
        {{"--sink", "file:x,name=a", "--sink", "file:y,name=a"}, "--sink"},
        {{"--sink", "file:x", "--rx-lcores", "1-"}, "--rx-lcores"},
        {{"--sink", "file:x", "--rx-lcores", "3-1"}, "--rx-lcores"},
        {{"--sink", "file:x", "--worker-lcores", "1,1"}, "--worker-lcores"},
        {{"--sink", "file:x", "--stats-interval", "-1"}, "--stats-interval"},
        {{"--sink", "file:x", "--stats-interval", "nan"}, "--stats-interval"},
        {{"--sink", "file:x", "--exit-on-idle", "0"}, "--exit-on-idle"},
        {{"--sink", "file:x", "--on-sink-full", "maybe"}, "--on-sink-full"},
        {{"--sink", "file:x", "--poll", "sometimes"}, "--poll"},
        {{"--sink", "file:x", "--poll", ""}, "--poll"},
        {{"--sink", "file:x", "--poll", "busy", "--pmd-power", "nap"}, "--pmd-power"},
        {{"--sink", "file:x", "--pmd-power", "pause"}, "--pmd-power"}, // needs --poll busy
        {{"--sink", "file:x", "--burst", "513"}, "--burst"},
        {{"--sink", "file:x", "--ring-size", "1000"}, "--ring-size"},
        {{"--sink", "file:x", "--sink-ring-size", "32"}, "--sink-ring-size"},
        {{"--sink", "file:x", "--max-msg", "70000"}, "--max-msg"},
        {{"--sink", "file:x", "--framing", "often"}, "--framing"},
        {{"--sink", "file:x", "--on-oversize", "ignore"}, "--on-oversize"},
        {{"--sink", "file:x", "--ip", "0:1.2.3/24"}, "--ip"},
        {{"--sink", "file:x", "--ip", "0:198.18.0.1/24", "--ip", "0:198.18.0.1/24"}, "--ip"},
        {{"--sink", "file:x", "--ip", "0:2001:db8::1/129"}, "--ip"},
        {{"--sink", "file:x", "--link-timeout", "9999"}, "--link-timeout"},
        {{"--sink", "file:x", "--metrics", "127.0.0.1"}, "--metrics"},
        {{"--sink", "file:x", "--metrics", "::1:9514"}, "--metrics"},
        {{"--sink", "file:x", "--metrics", "[::1]:65536"}, "--metrics"},
        {{"--sink", "file:x", "--metrics", "localhost:9514"}, "--metrics"},
    };
    for (const auto& [args, name] : cases) {
        const auto r = parse(args);
        EXPECT_EQ(r.what, parse_result::action::usage_error) << name;
        EXPECT_NE(r.error.find(name), std::string::npos)
            << "'" << r.error << "' should name " << name;
    }
}

TEST(Options, RoutesResolveToSinkMasks) {
    const auto r = parse(
        {"--sink", "file:all,name=alerts", "--sink", "file:rest", "--route", "sev<=err=>alerts"});
    ASSERT_EQ(r.what, parse_result::action::run) << r.error;
    const settings& c = r.cfg;
    ASSERT_EQ(c.sinks.size(), 2u);
    EXPECT_EQ(c.sinks[0].name, "alerts");
    EXPECT_EQ(c.sinks[1].name, "file");
    ASSERT_EQ(c.routes.size(), 1u);
    EXPECT_EQ(c.routes[0].sinks, 1u);
    EXPECT_EQ(c.routes[0].match.text, "sev<=err");
    ASSERT_EQ(c.routes[0].match.terms.size(), 1u);
    EXPECT_EQ(c.routes[0].match.terms[0].field, logagg::log::filter_field::severity);
    EXPECT_EQ(c.routes[0].match.terms[0].op, logagg::log::filter_op::le);
    EXPECT_EQ(c.routes[0].match.terms[0].number, 3);
    EXPECT_EQ(c.default_sinks, 2u); // the sink no route names takes the rest
}

TEST(Options, RoutesToSeveralSinksAndEverySinkNamed) {
    const auto r = parse({"--sink", "file:a", "--sink", "file:b", "--sink", "tcp:h:514",
                          "--route=app==nginx=>file, tcp", "--route", "host^=web-=>file2",
                          "--route", R"(msg=="a=>b"=>tcp)"});
    ASSERT_EQ(r.what, parse_result::action::run) << r.error;
    const settings& c = r.cfg;
    ASSERT_EQ(c.routes.size(), 3u);
    EXPECT_EQ(c.routes[0].sinks, 0b101u);
    EXPECT_EQ(c.routes[0].match.terms[0].value, "nginx");
    EXPECT_EQ(c.routes[1].sinks, 0b010u);
    EXPECT_EQ(c.routes[1].match.terms[0].value, "web-");
    EXPECT_EQ(c.routes[2].sinks, 0b100u);
    EXPECT_EQ(c.routes[2].match.terms[0].value, "a=>b");
    EXPECT_EQ(c.default_sinks, 0u); // every sink is named by a route: unrouted records drop
    // Without --route every sink takes everything.
    const auto all = parse({"--sink", "file:a", "--sink", "file:b", "--sink", "tcp:h:514"});
    ASSERT_EQ(all.what, parse_result::action::run) << all.error;
    EXPECT_EQ(all.cfg.default_sinks, 0b111u);
    EXPECT_TRUE(all.cfg.routes.empty());
}

TEST(Options, RouteErrors) {
    const auto unknown =
        parse({"--sink", "file:a,name=alerts", "--sink", "file:b", "--route", "sev<=err=>pager"});
    EXPECT_EQ(unknown.what, parse_result::action::usage_error);
    EXPECT_NE(unknown.error.find("--route"), std::string::npos) << unknown.error;
    EXPECT_NE(unknown.error.find("'pager'"), std::string::npos) << unknown.error;
    EXPECT_NE(unknown.error.find("sinks: alerts, file"), std::string::npos) << unknown.error;
    const auto second = parse({"--sink", "file:a", "--route", "sev<3=>file,nope"});
    EXPECT_NE(second.error.find("'nope'"), std::string::npos) << second.error;
    const auto no_arrow = parse({"--sink", "file:a", "--route", "sev<3"});
    EXPECT_EQ(no_arrow.what, parse_result::action::usage_error);
    EXPECT_NE(no_arrow.error.find("--route: 'sev<3' is not FILTER=>SINK"), std::string::npos)
        << no_arrow.error;
    const auto bad_filter = parse({"--sink", "file:a", "--route", "lvl<3=>file"});
    EXPECT_NE(bad_filter.error.find("--route: unknown field 'lvl'"), std::string::npos)
        << bad_filter.error;
    const auto empty_target = parse({"--sink", "file:a", "--route", "sev<3=>"});
    EXPECT_NE(empty_target.error.find("no sink named ''"), std::string::npos) << empty_target.error;
    std::vector<std::string_view> many = {"--sink", "file:a"};
    for (std::size_t i = 0; i <= logagg::log::max_routes; ++i) {
        many.push_back("--route");
        many.push_back("sev<3=>file");
    }
    const auto too_many = parse(many);
    EXPECT_NE(too_many.error.find("--route: at most 16 routes"), std::string::npos)
        << too_many.error;
}

TEST(Options, FiltersRepeatAndShareJsonCaptures) {
    const auto r = parse({"--sink", "file:a", "--filter", "sev<=warning", "--filter",
                          "json.ns==prod && json.team^=pay", "--filter=json.ns!=dev", "--route",
                          "json.zone==eu=>file"});
    ASSERT_EQ(r.what, parse_result::action::run) << r.error;
    const settings& c = r.cfg;
    ASSERT_EQ(c.filters.size(), 3u);
    EXPECT_EQ(c.filters[0].text, "sev<=warning");
    EXPECT_EQ(c.filters[0].terms[0].number, 4);
    EXPECT_EQ(c.filters[1].terms.size(), 2u);
    EXPECT_EQ(c.filters[2].text, "json.ns!=dev");
    EXPECT_EQ(c.filters[2].terms[0].capture, 0);
    EXPECT_EQ(c.json_captures, (std::vector<std::string>{"ns", "team", "zone"}));
    EXPECT_EQ(c.routes[0].match.terms[0].capture, 2);
    const auto bad = parse({"--sink", "file:a", "--filter", "sev<=loud"});
    EXPECT_EQ(bad.what, parse_result::action::usage_error);
    EXPECT_NE(bad.error.find("--filter: 'loud' is not a severity"), std::string::npos) << bad.error;
    std::vector<std::string_view> many = {"--sink", "file:a"};
    for (std::size_t i = 0; i <= logagg::log::max_filters; ++i) {
        many.push_back("--filter");
        many.push_back("sev<3");
    }
    const auto too_many = parse(many);
    EXPECT_NE(too_many.error.find("--filter: at most 16 filters"), std::string::npos)
        << too_many.error;
}

TEST(Options, DrainTimeout) {
    const auto r = parse({"--sink", "file:a", "--drain-timeout", "250"});
    ASSERT_EQ(r.what, parse_result::action::run) << r.error;
    EXPECT_EQ(r.cfg.drain_timeout_ms, 250u);
    EXPECT_EQ(parse({"--sink", "file:a", "--drain-timeout=0"}).cfg.drain_timeout_ms, 0u);
    EXPECT_EQ(parse({"--sink", "file:a", "--drain-timeout", "3600000"}).cfg.drain_timeout_ms,
              3'600'000u);
    for (const char* bad : {"3600001", "-1", "1s", ""}) {
        const auto e = parse({"--sink", "file:a", "--drain-timeout", bad});
        EXPECT_EQ(e.what, parse_result::action::usage_error) << bad;
        EXPECT_NE(e.error.find("--drain-timeout"), std::string::npos) << e.error;
    }
}

TEST(Options, SinkLimit) {
    std::vector<std::string_view> args;
    const std::vector<std::string> dirs = {"file:0", "file:1", "file:2", "file:3", "file:4",
                                           "file:5", "file:6", "file:7", "file:8"};
    for (std::size_t i = 0; i < logagg::config::max_sinks; ++i) {
        args.push_back("--sink");
        args.push_back(dirs[i]);
    }
    const auto eight = parse(args);
    ASSERT_EQ(eight.what, parse_result::action::run) << eight.error;
    EXPECT_EQ(eight.cfg.default_sinks, 0xffu);
    EXPECT_EQ(eight.cfg.sinks[7].name, "file8");
    args.push_back("--sink");
    args.push_back(dirs[8]);
    EXPECT_NE(parse(args).error.find("--sink: at most 8 sinks"), std::string::npos);
}

TEST(Options, ListenerLimit) {
    // One listener_table slot each (the per-listener counters are indexed by it): 255 fit.
    std::vector<std::string> ports;
    for (int i = 0; i < 256; ++i) {
        ports.push_back("udp:" + std::to_string(1000 + i));
    }
    std::vector<std::string_view> args = {"--sink", "file:x"};
    for (std::size_t i = 0; i < 255; ++i) {
        args.push_back("--listen");
        args.push_back(ports[i]);
    }
    const auto most = parse(args);
    ASSERT_EQ(most.what, parse_result::action::run) << most.error;
    EXPECT_EQ(most.cfg.listen.size(), 255u);
    args.push_back("--listen");
    args.push_back(ports[255]);
    EXPECT_NE(parse(args).error.find("--listen: at most 255 listeners"), std::string::npos);
}

// TCP listeners have their own 255 slots (per-listener counters, pipeline::lcore_stats): one
// more is a usage error, not a listener silently counted nowhere.
TEST(Options, AtMost255TcpListeners) {
    std::vector<std::string> ports;
    for (int i = 0; i < 256; ++i) {
        ports.push_back("tcp:" + std::to_string(1000 + i));
    }
    std::vector<std::string_view> args = {"--sink", "file:x", "--ip", "0:198.18.0.1/24"};
    for (std::size_t i = 0; i < 255; ++i) {
        args.push_back("--listen");
        args.push_back(ports[i]);
    }
    const auto most = parse(args);
    ASSERT_EQ(most.what, parse_result::action::run) << most.error;
    EXPECT_EQ(most.cfg.tcp_listen.size(), 255u);
    args.push_back("--listen");
    args.push_back(ports[255]);
    EXPECT_NE(parse(args).error.find("--listen: at most 255 tcp listeners"), std::string::npos);
}

TEST(Options, HelpAndVersion) {
    EXPECT_EQ(parse({"--sink", "file:x", "--help"}).what, parse_result::action::help);
    EXPECT_EQ(parse({"-h"}).what, parse_result::action::help);
    EXPECT_EQ(parse({"--version"}).what, parse_result::action::version);
    const std::string h = help_text();
    for (const char* opt : {"--listen",
                            "--sink",
                            "--rx-lcores",
                            "--worker-lcores",
                            "--sink-lcore",
                            "--stats-interval",
                            "--stats-json",
                            "--exit-on-idle",
                            "--on-sink-full",
                            "--burst",
                            "--rx-desc",
                            "--ring-size",
                            "--sink-ring-size",
                            "--mbufs",
                            "--no-checksum",
                            "--framing",
                            "--max-msg",
                            "--on-oversize",
                            "--test-sink-delay-us",
                            "--test-file-stall-at",
                            "--ip",
                            "--reply-rate",
                            "--link-timeout",
                            "--promisc",
                            "--reassembly",
                            "--frag-timeout",
                            "--version",
                            "--help"}) {
        EXPECT_NE(h.find(opt), std::string::npos) << opt;
    }
}

TEST(Options, SizesAndLists) {
    EXPECT_EQ(parse_size("4096"), 4096u);
    EXPECT_EQ(parse_size("64K"), 65536u);
    EXPECT_EQ(parse_size("2m"), 2u << 20);
    EXPECT_EQ(parse_size("1G"), 1ull << 30);
    EXPECT_FALSE(parse_size(""));
    EXPECT_FALSE(parse_size("K"));
    EXPECT_FALSE(parse_size("-1"));
    EXPECT_FALSE(parse_size("99999999999999999999G"));
    EXPECT_EQ(parse_lcore_list("1,3-5").value(), (std::vector<unsigned>{1, 3, 4, 5}));
    EXPECT_FALSE(parse_lcore_list("1,"));
    EXPECT_FALSE(parse_lcore_list("a"));
    EXPECT_FALSE(parse_lcore_list("1024"));
}

TEST(Options, UsageErrorsSayWhatIsWrong) {
    // Each error must contain the listed text: the option and what exactly is wrong.
    const std::vector<std::pair<std::vector<std::string_view>, std::string>> cases = {
        {{"--sink", "file:x", "--rx-lcores", "1,1"}, "--rx-lcores: '1,1': lcore 1 is listed twice"},
        {{"--sink", "file:x", "--worker-lcores", "1-3,2"}, "lcore 2 is listed twice"},
        {{"--sink", "file:x", "--rx-lcores", "3-1"}, "'3-1' counts down (write 1-3)"},
        {{"--sink", "file:x", "--rx-lcores", "1024"}, "lcore 1024 is out of range (0-1023)"},
        {{"--sink", "file:x", "--rx-lcores", "1,"}, "the list has an empty item"},
        {{"--sink", "file:x", "--rx-lcores", "x"}, "'x' is not an lcore id"},
        {{"--sink", "file:x", "--on-sink-full", "maybe"},
         "--on-sink-full: 'maybe' is not drop or block"},
        {{"--sink", "file:x", "--poll", "sometimes"},
         "--poll: 'sometimes' is not busy or adaptive"},
        {{"--sink", "file:x", "--lcore-affinity", "loose"},
         "--lcore-affinity: 'loose' is not pinned or shared"},
        {{"--sink", "file:x", "--pmd-power", "nap"},
         "--pmd-power: 'nap' is not off, pause, monitor or scale"},
        {{"--sink", "file:x,rotate-bytes=17179869184G"},
         "--sink: file sink: rotate-bytes '17179869184G' is too large: at most 16384G"},
        {{"--sink", "file:x", "--filter", "app==a || app==b"},
         "--filter: 'app==a || app==b': '||' is not supported"},
        {{"--sink", "file:x", "--filter", "app==a||app==b"}, "--route 'A=>SINK' --route 'B=>SINK'"},
        {{"--sink", "file:x", "--route", "app==a || app==b=>file"},
         "--route: 'app==a || app==b': '||' is not supported"},
        {{"--sink", "file:x,framing=octet,framing=lf"},
         "--sink: file sink: parameter 'framing' given twice"},
        {{"--sink", "file:x", "--listen", "udp:514,framing=lf,framing=octet"},
         "--listen: parameter 'framing' given twice"},
        {{"--sink", "file:x", "--drain-timeout", "99999999999999999999"},
         "--drain-timeout: '99999999999999999999' is too large: at most 3600000"},
        {{"--sink", "file:x", "--max-msg", "64G"}, "--max-msg: '64G' is too large: at most 64K"},
        {{"--sink", "file:x", "--max-msg", "99999999999999999999G"}, "is too large: at most 64K"},
        {{"--sink", "file:x", "--burst", "0"}, "--burst: '0' is too small: at least 1"},
        {{"--sink", "file:x", "--mbufs", "lots"}, "--mbufs: 'lots' is not a whole number"},
        {{"--sink", "file:x", "--stats-interval", "100000"},
         "--stats-interval: '100000' is too large: at most 86400"},
        {{"--sink", "file:x", "--stats-json", "a", "--stats-json", "b"},
         "--stats-json: given twice"},
        {{"--sink", "file:x", "--on-sink-full", "drop", "--on-sink-full=block"},
         "--on-sink-full: given twice"},
        {{"--sink", "file:x", "--framing", "lf", "--framing", "octet"}, "--framing: given twice"},
        {{"--sink", "file:x", "--listen", "udp:12201:gelf,framing=lf"},
         "--listen: 'udp:12201:gelf,framing=lf': framing does not apply to gelf"},
        {{"--sink", "file:x", "--ip", "5000:198.18.0.1/24"},
         "--ip: port 5000 is out of range (DPDK port ids 0-1023)"},
        {{"--sink", "kafka:127.0.0.1:9092/t,kafka-prop=bogus.prop=1"},
         "--sink: kafka sink: kafka-prop bogus.prop=1: No such configuration property"},
        {{"--sink", "kafka:b/t,kafka-prop=linger.ms=soon"},
         "--sink: kafka sink: kafka-prop "
         "linger.ms=soon"},
        {{"--sink", "kafka:b/t,kafka-prop=dr_cb=x"}, "kafka-prop dr_cb cannot be set"},
        {{"--sink", "port:0,dst=198.18.0.9:514,dmac=02:00:00:00:00:09"},
         "--sink port: needs src=IP, or an --ip IPv4 address on port 0"},
        {{"--sink", "port:0,dst=198.18.0.9:514,dmac=02:00:00:00:00:09", "--ip", "0:2001:db8::1/64"},
         "--sink port: needs src=IP, or an --ip IPv4 address on port 0"},
        {{"--sink", "port:0,dst=198.18.0.9:514,src=198.18.0.1", "--ip", "1:198.18.0.1/24"},
         "--sink port: needs dmac=MAC, or an --ip on port 0"},
        {{"--sink", "port:0,dst=198.19.0.9:514", "--ip", "0:198.18.0.1/24"},
         "--sink port: dst is not on a subnet of port 0's --ip IPv4 addresses"},
        {{"--sink", "port:0,dst=203.0.113.9:514,gw=198.19.0.1", "--ip", "0:198.18.0.1/24"},
         "--sink port: gw is not on a subnet"},
    };
    for (const auto& [args, text] : cases) {
        const auto r = parse(args);
        EXPECT_EQ(r.what, parse_result::action::usage_error) << text;
        EXPECT_NE(r.error.find(text), std::string::npos)
            << "'" << r.error << "' should contain '" << text << "'";
    }
    // What they refuse, they accept written right.
    for (const std::vector<std::string_view>& args : std::vector<std::vector<std::string_view>>{
             {"--sink", "file:x", "--rx-lcores", "1-3,5"},
             {"--sink", "file:x,rotate-bytes=16384G"},
             {"--sink", "file:x", "--filter", "msg*=\"a||b\""},
             {"--sink", "port:0,dst=198.18.0.9:514", "--ip", "0:198.18.0.1/24"},
             {"--ip", "0:198.18.0.1/24", "--sink", "port:0,dst=198.18.0.9:514"},
             {"--sink", "port:0,dst=203.0.113.9:514,gw=198.18.0.254", "--ip", "0:198.18.0.1/24"},
             {"--sink", "port:1,dst=[2001:db8::9]:514,dmac=02:00:00:00:00:09,src=[2001:db8::1]"},
             {"--sink", "kafka:b/t,kafka-prop=linger.ms=7,kafka-prop=client.id=logagg"},
             {"--sink", "file:x", "--listen", "udp:514", "--listen", "udp:515,framing=octet"}}) {
        const auto r = parse(args);
        EXPECT_EQ(r.what, parse_result::action::run) << r.error;
    }
}

/// A directory of its own, removed with everything in it.
struct temp_dir {
    std::filesystem::path path;
    temp_dir() {
        char tmpl[] = "/tmp/logagg-test-paths-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~temp_dir() { std::filesystem::remove_all(path); }
    [[nodiscard]] std::string operator/(std::string_view name) const {
        return (path / name).string();
    }
};

std::string paths_error(std::vector<std::string_view> args) {
    const auto r = parse(std::move(args));
    EXPECT_EQ(r.what, parse_result::action::run) << r.error;
    const auto checked = check_paths(r.cfg);
    EXPECT_TRUE(checked || checked.error().usage);
    return checked ? std::string() : checked.error().text;
}

TEST(Paths, StatsJsonMustBeWritableAtStart) {
    const temp_dir t;
    std::ofstream(t / "file") << "x";
    const std::string missing = t / "nonexistent/s.json";
    const std::string under_file = t / "file/s.json";
    const std::string good = t / "s.json";
    const std::string sink = "file:" + (t / "out");
    std::string e = paths_error({"--sink", sink, "--stats-json", missing});
    EXPECT_NE(e.find("--stats-json: cannot write '" + missing + "': directory '" +
                     (t / "nonexistent") + "' does not exist"),
              std::string::npos)
        << e;
    e = paths_error({"--sink", sink, "--stats-json", under_file});
    EXPECT_NE(e.find("--stats-json: cannot write"), std::string::npos) << e;
    EXPECT_NE(e.find("is not a directory"), std::string::npos) << e;
    e = paths_error({"--sink", sink, "--stats-json", t.path.string()});
    EXPECT_NE(e.find("--stats-json: '" + t.path.string() + "' is a directory"), std::string::npos)
        << e;
    EXPECT_EQ(paths_error({"--sink", sink, "--stats-json", good}), "");
    // Nothing is left behind: neither the file nor the temporary one the exit writes.
    EXPECT_FALSE(std::filesystem::exists(good));
    EXPECT_FALSE(std::filesystem::exists(good + ".tmp"));
    // A temporary file an earlier run left is opened, not removed.
    std::ofstream(good + ".tmp") << "left";
    EXPECT_EQ(paths_error({"--sink", sink, "--stats-json", good}), "");
    EXPECT_TRUE(std::filesystem::exists(good + ".tmp"));
    // Relative to the working directory.
    const std::filesystem::path cwd = std::filesystem::current_path();
    std::filesystem::current_path(t.path);
    EXPECT_EQ(paths_error({"--sink", "file:out", "--stats-json", "rel.json"}), "");
    // Into a file sink's directory, which the sink creates at start.
    EXPECT_EQ(paths_error({"--sink", "file:out", "--stats-json", "out/stats.json"}), "");
    EXPECT_EQ(
        paths_error({"--sink", "file:" + (t / "made"), "--stats-json", t / "made/./stats.json"}),
        "");
    std::filesystem::current_path(cwd);
    EXPECT_FALSE(std::filesystem::exists(t / "out")); // checked, not created
    e = paths_error({"--sink", "file:" + (t / "made"), "--stats-json", t / "other/stats.json"});
    EXPECT_NE(e.find("does not exist"), std::string::npos) << e;
}

TEST(Paths, FileSinkDirectoriesAtStart) {
    const temp_dir t;
    std::ofstream(t / "file") << "x";
    std::string e = paths_error({"--sink", "file:" + (t / "file")});
    EXPECT_NE(e.find("--sink file: '" + (t / "file") + "' is not a directory"), std::string::npos)
        << e;
    e = paths_error({"--sink", "file:" + (t / "file/sub/dir")});
    EXPECT_NE(e.find("--sink file: cannot create directory '" + (t / "file/sub/dir") + "'"),
              std::string::npos)
        << e;
    EXPECT_EQ(paths_error({"--sink", "file:" + (t / "new/deeper")}), "");
    EXPECT_FALSE(std::filesystem::exists(t / "new")); // created by the sink at start, not here
    if (::geteuid() != 0) {                           // root writes anywhere
        std::filesystem::create_directory(t / "ro");
        ::chmod((t / "ro").c_str(), 0555);
        e = paths_error({"--sink", "file:" + (t / "ro")});
        EXPECT_NE(e.find("is not writable"), std::string::npos) << e;
    }
}

TEST(Paths, TwoFileSinksMayNotShareADirectory) {
    const temp_dir t;
    std::filesystem::create_directory(t / "d");
    std::filesystem::create_directory_symlink(t / "d", t / "link");
    const std::vector<std::pair<std::string, std::string>> same = {
        {t / "d", t / "d/"},           // the same text but for a slash
        {t / "d", t / "d/../d"},       // lexically
        {t / "d", t / "link"},         // a symbolic link to it
        {t / "new", t / "./new/"},     // not there yet: by normalised path
        {t / "link/new", t / "d/new"}, // not there yet, under a link
    };
    for (const auto& [a, b] : same) {
        const std::string sa = "file:" + a + ",name=first";
        const std::string sb = "file:" + b + ",name=second";
        const std::string e = paths_error({"--sink", sa, "--sink", sb});
        EXPECT_NE(e.find("--sink second: directory '" + b + "' is also sink first's ('" + a + "')"),
                  std::string::npos)
            << a << " / " << b << ": " << e;
    }
    const std::string da = "file:" + (t / "d");
    const std::string db = "file:" + (t / "d/sub");
    const std::string dc = "file:" + (t / "other");
    EXPECT_EQ(paths_error({"--sink", da, "--sink", db, "--sink", dc}), "");
    EXPECT_EQ(paths_error({"--sink", da, "--sink", "tcp:127.0.0.1:514"}), "");
}

TEST(Ports, CaptureFilesAreToldFromLiveSources) {
    const temp_dir t;
    const std::string pcap = t / "in.pcap";
    std::ofstream(pcap) << "not really a capture";
    const std::string fifo = t / "fifo";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    EXPECT_EQ(port_rx_source("net_pcap", "rx_pcap=" + pcap), rx_source::capture_file);
    EXPECT_EQ(port_rx_source("net_pcap", "rx_pcap=" + pcap + ",tx_pcap=/dev/null"),
              rx_source::capture_file);
    EXPECT_EQ(port_rx_source("net_pcap", "rx_pcap=" + pcap + ",rx_pcap=" + pcap),
              rx_source::capture_file);
    EXPECT_EQ(port_rx_source("net_pcap", "rx_pcap=" + pcap + ",infinite_rx=0"),
              rx_source::capture_file);
    EXPECT_EQ(port_rx_source("net_pcap", "rx_pcap=" + pcap + ",infinite_rx=1"), rx_source::live);
    EXPECT_EQ(port_rx_source("net_pcap", "rx_pcap=" + pcap + ",rx_iface=lo"), rx_source::live);
    EXPECT_EQ(port_rx_source("net_pcap", "iface=lo"), rx_source::live);
    EXPECT_EQ(port_rx_source("net_pcap", "rx_iface_in=lo,tx_pcap=/dev/null"), rx_source::live);
    EXPECT_EQ(port_rx_source("net_pcap", "rx_pcap=" + fifo), rx_source::live);
    EXPECT_EQ(port_rx_source("net_pcap", "rx_pcap=/dev/stdin"), rx_source::live);
    EXPECT_EQ(port_rx_source("net_pcap", "rx_pcap=" + (t / "missing.pcap")), rx_source::live);
    EXPECT_EQ(port_rx_source("net_pcap", "tx_pcap=/dev/null"), rx_source::none);
    EXPECT_EQ(port_rx_source("net_af_packet", "iface=eth0"), rx_source::live);
    EXPECT_EQ(port_rx_source("net_ring", ""), rx_source::live);
    EXPECT_EQ(port_rx_source("net_ixgbe", ""), rx_source::live);
}

settings cfg(std::vector<unsigned> rx = {}, std::vector<unsigned> w = {},
             std::optional<unsigned> sink = {}) {
    settings c;
    c.rx_lcores = std::move(rx);
    c.worker_lcores = std::move(w);
    c.sink_lcore = sink;
    return c;
}

/// resolve_roles()'s outcome, flattened for the checks below (an error is a usage error).
struct role_result {
    role_plan plan;
    std::string error;
};

role_result roles(const settings& c, unsigned main_lcore, const std::vector<unsigned>& enabled) {
    auto r = resolve_roles(c, main_lcore, enabled);
    if (!r) {
        EXPECT_TRUE(r.error().usage) << r.error().text;
        return {.plan = {}, .error = r.error().text};
    }
    return {.plan = std::move(r).value(), .error = {}};
}

TEST(Roles, DefaultsByLcoreCount) {
    auto one = roles(cfg(), 0, {0});
    ASSERT_EQ(one.error, "");
    EXPECT_TRUE(one.plan.fused);
    EXPECT_EQ(one.plan.rx, std::vector<unsigned>{0});
    EXPECT_FALSE(one.plan.notes.empty());
    auto two = roles(cfg(), 0, {0, 1});
    ASSERT_EQ(two.error, "");
    EXPECT_TRUE(two.plan.fused);
    EXPECT_EQ(two.plan.rx, std::vector<unsigned>{1});
    EXPECT_EQ(two.plan.sink, 0u);
    EXPECT_EQ(two.plan.roles_of(0), "main+sink");
    EXPECT_EQ(two.plan.roles_of(1), "rx+worker");
    auto four = roles(cfg(), 0, {0, 1, 2, 3});
    ASSERT_EQ(four.error, "");
    EXPECT_FALSE(four.plan.fused);
    EXPECT_EQ(four.plan.rx, std::vector<unsigned>{1});
    EXPECT_EQ(four.plan.workers, (std::vector<unsigned>{2, 3}));
}

TEST(Roles, ExplicitPlacements) {
    auto fused = roles(cfg({1, 2}, {2, 1}), 0, {0, 1, 2});
    ASSERT_EQ(fused.error, "");
    EXPECT_TRUE(fused.plan.fused);
    auto pipe = roles(cfg({1}, {2, 3}, 3), 0, {0, 1, 2, 3});
    ASSERT_EQ(pipe.error, "");
    EXPECT_FALSE(pipe.plan.fused);
    EXPECT_EQ(pipe.plan.roles_of(3), "worker+sink");
    auto wonly = roles(cfg({}, {2}), 0, {0, 1, 2});
    ASSERT_EQ(wonly.error, "");
    EXPECT_EQ(wonly.plan.rx, std::vector<unsigned>{1});
    auto rxonly = roles(cfg({1}), 0, {0, 1});
    ASSERT_EQ(rxonly.error, "");
    EXPECT_TRUE(rxonly.plan.fused);
}

TEST(Roles, ErrorsNameTheOption) {
    EXPECT_NE(roles(cfg({1}, {1, 2}), 0, {0, 1, 2}).error.find("--worker-lcores"),
              std::string::npos);
    EXPECT_NE(roles(cfg({5}), 0, {0, 1}).error.find("--rx-lcores"), std::string::npos);
    EXPECT_NE(roles(cfg({0}), 0, {0, 1}).error.find("main lcore"), std::string::npos);
    EXPECT_NE(roles(cfg({1}, {}, 1), 0, {0, 1}).error.find("--sink-lcore"), std::string::npos);
    EXPECT_NE(roles(cfg({}, {}, 7), 0, {0, 1}).error.find("--sink-lcore"), std::string::npos);
    EXPECT_NE(roles(cfg({}, {1}), 0, {0, 1}).error.find("--worker-lcores"), std::string::npos);
}

} // namespace
