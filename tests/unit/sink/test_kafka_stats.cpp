// SPDX-License-Identifier: BSD-3-Clause
// The figures the Kafka sink reads from librdkafka statistics documents.
#include <gtest/gtest.h>

#include <string_view>

#include "sink/detail/kafka_stats.hpp"

namespace {

using logagg::sink::detail::brokers_up;
using logagg::sink::detail::sum_txretries;
using logagg::sink::detail::top_level_u64;

// The shape of a librdkafka 2.0.2 producer document (STATISTICS.md), cut down: "txmsgs" appears
// per partition before the top-level one, a client.id may hold escaped quotes.
constexpr std::string_view doc =
    R"({"name": "rdkafka#producer-1", "client_id": "a \"txmsgs\": 7", "type": "producer",)"
    R"( "msg_cnt": 12, "brokers":{ "127.0.0.1:9092/1": { "name":"127.0.0.1:9092/1",)"
    R"( "txretries":3, "txerrs":0, "req": { "Produce": 41 } }, "127.0.0.1:9093/2": {)"
    R"( "txretries": 4 } }, "topics":{ "logs": { "partitions": { "0": { "partition": 0,)"
    R"( "txmsgs": 500, "msgs": 600 }, "-1": { "txmsgs": 0 } } } }, "tx":44, "txmsgs":64637,)"
    R"( "txmsg_bytes":9000000, "rxmsgs":0})";

TEST(kafka_stats, TopLevelMemberNotTheNestedOnes) {
    EXPECT_EQ(top_level_u64(doc, "txmsgs"), 64637u);
    EXPECT_EQ(top_level_u64(doc, "msg_cnt"), 12u);
    EXPECT_EQ(top_level_u64(doc, "tx"), 44u);
}

TEST(kafka_stats, AbsentOrTruncatedIsZero) {
    EXPECT_EQ(top_level_u64(doc, "rxmsg_bytes"), 0u);
    EXPECT_EQ(top_level_u64(R"({"partitions": {"0": {"txmsgs": 5}}})", "txmsgs"), 0u);
    EXPECT_EQ(top_level_u64(R"({"name": "unterminated)", "txmsgs"), 0u);
    EXPECT_EQ(top_level_u64("", "txmsgs"), 0u);
}

TEST(kafka_stats, TxretriesSummedOverBrokers) {
    EXPECT_EQ(sum_txretries(doc), 7u);
    EXPECT_EQ(sum_txretries(R"({"brokers": {}})"), 0u);
}

TEST(kafka_stats, BrokersUpCountsOnlyTheBrokersObject) {
    // librdkafka 2.0.2's shape: an internal broker (never up), bootstrap and learned brokers; a
    // client.id and a topic name that look like a state member do not count.
    constexpr std::string_view three =
        R"({"client_id": "x \"state\":\"UP\"", "brokers":{ ":0/internal": {"name":":0/internal",)"
        R"("source":"internal","state":"INIT","rtt":{"min":0}}, "127.0.0.1:1/bootstrap":)"
        R"({"source":"configured","state":"UP","toppars":{}}, "127.0.0.1:2/2": {"state": "UP",)"
        R"("req":{"Produce":4}}, "127.0.0.1:3/3": {"state":"CONNECT"}, "h}": {"state":"UP"}},)"
        R"( "topics":{"state":"UP"}})";
    EXPECT_EQ(brokers_up(three), 3u);
    EXPECT_EQ(
        brokers_up(R"({"brokers":{"a/1":{"state":"DOWN"},"b/2":{"state":"APIVERSION_QUERY"}}})"),
        0u);
    EXPECT_EQ(brokers_up(R"({"brokers":{}})"), 0u);
    EXPECT_EQ(brokers_up(R"({"brokers":{"a/1":{"state":"UP")"), 0u) << "truncated";
    EXPECT_EQ(brokers_up(R"({"name":"p"})"), 0u);
    EXPECT_EQ(brokers_up(""), 0u);
}

} // namespace
