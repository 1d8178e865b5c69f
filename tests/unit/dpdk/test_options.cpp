// SPDX-License-Identifier: BSD-3-Clause
// Option parsing and lcore role resolution (both pure: no EAL).
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "dpdk/options.hpp"
#include "dpdk/roles.hpp"

namespace {

using namespace logagg::dpdk;

parse_result parse(std::vector<std::string_view> args) {
    return parse_options(args);
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
    EXPECT_EQ(r.cfg.on_sink_full, full_policy::drop);
    EXPECT_EQ(r.cfg.framing, logagg::log::framing_mode::lf);
    EXPECT_EQ(r.cfg.max_msg, 65536u);
    EXPECT_TRUE(r.cfg.verify_checksums);
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
                          "drop"});
    ASSERT_EQ(r.what, parse_result::action::run) << r.error;
    const config& c = r.cfg;
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
    const config& c = r.cfg;
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
    const config& c = r.cfg;
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
    const config& c = r.cfg;
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
    for (std::size_t i = 0; i < logagg::sink::max_sinks; ++i) {
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
    EXPECT_EQ(parse_lcore_list("1,3-5"), (std::vector<unsigned>{1, 3, 4, 5}));
    EXPECT_FALSE(parse_lcore_list("1,"));
    EXPECT_FALSE(parse_lcore_list("a"));
    EXPECT_FALSE(parse_lcore_list("1024"));
}

config cfg(std::vector<unsigned> rx = {}, std::vector<unsigned> w = {},
           std::optional<unsigned> sink = {}) {
    config c;
    c.rx_lcores = std::move(rx);
    c.worker_lcores = std::move(w);
    c.sink_lcore = sink;
    return c;
}

TEST(Roles, DefaultsByLcoreCount) {
    auto one = resolve_roles(cfg(), 0, {0});
    ASSERT_EQ(one.error, "");
    EXPECT_TRUE(one.plan.fused);
    EXPECT_EQ(one.plan.rx, std::vector<unsigned>{0});
    EXPECT_FALSE(one.plan.notes.empty());
    auto two = resolve_roles(cfg(), 0, {0, 1});
    ASSERT_EQ(two.error, "");
    EXPECT_TRUE(two.plan.fused);
    EXPECT_EQ(two.plan.rx, std::vector<unsigned>{1});
    EXPECT_EQ(two.plan.sink, 0u);
    EXPECT_EQ(two.plan.roles_of(0), "main+sink");
    EXPECT_EQ(two.plan.roles_of(1), "rx+worker");
    auto four = resolve_roles(cfg(), 0, {0, 1, 2, 3});
    ASSERT_EQ(four.error, "");
    EXPECT_FALSE(four.plan.fused);
    EXPECT_EQ(four.plan.rx, std::vector<unsigned>{1});
    EXPECT_EQ(four.plan.workers, (std::vector<unsigned>{2, 3}));
}

TEST(Roles, ExplicitPlacements) {
    auto fused = resolve_roles(cfg({1, 2}, {2, 1}), 0, {0, 1, 2});
    ASSERT_EQ(fused.error, "");
    EXPECT_TRUE(fused.plan.fused);
    auto pipe = resolve_roles(cfg({1}, {2, 3}, 3), 0, {0, 1, 2, 3});
    ASSERT_EQ(pipe.error, "");
    EXPECT_FALSE(pipe.plan.fused);
    EXPECT_EQ(pipe.plan.roles_of(3), "worker+sink");
    auto wonly = resolve_roles(cfg({}, {2}), 0, {0, 1, 2});
    ASSERT_EQ(wonly.error, "");
    EXPECT_EQ(wonly.plan.rx, std::vector<unsigned>{1});
    auto rxonly = resolve_roles(cfg({1}), 0, {0, 1});
    ASSERT_EQ(rxonly.error, "");
    EXPECT_TRUE(rxonly.plan.fused);
}

TEST(Roles, ErrorsNameTheOption) {
    EXPECT_NE(resolve_roles(cfg({1}, {1, 2}), 0, {0, 1, 2}).error.find("--worker-lcores"),
              std::string::npos);
    EXPECT_NE(resolve_roles(cfg({5}), 0, {0, 1}).error.find("--rx-lcores"), std::string::npos);
    EXPECT_NE(resolve_roles(cfg({0}), 0, {0, 1}).error.find("main lcore"), std::string::npos);
    EXPECT_NE(resolve_roles(cfg({1}, {}, 1), 0, {0, 1}).error.find("--sink-lcore"),
              std::string::npos);
    EXPECT_NE(resolve_roles(cfg({}, {}, 7), 0, {0, 1}).error.find("--sink-lcore"),
              std::string::npos);
    EXPECT_NE(resolve_roles(cfg({}, {1}), 0, {0, 1}).error.find("--worker-lcores"),
              std::string::npos);
}

} // namespace
