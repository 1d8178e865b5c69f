// SPDX-License-Identifier: BSD-3-Clause
// --sink values: every sink type with every parameter, the common parameters, the defaults of
// each type, every error (each names its parameter), and default names.
#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <string>
#include <vector>

#include "config/sink_spec.hpp"

namespace {

using namespace logagg::config;
using logagg::log::output_format;

sink_spec ok(std::string_view text) {
    auto r = parse_sink_spec(text);
    EXPECT_EQ(r ? "" : r.error().text, "") << text;
    return r ? std::move(r).value() : sink_spec{};
}

std::string error_of(std::string_view text) {
    const auto r = parse_sink_spec(text);
    EXPECT_TRUE(r || r.error().usage) << text;
    return r ? std::string() : r.error().text;
}

/// name_sinks()'s usage error, or empty.
std::string naming_error(std::vector<sink_spec>& sinks) {
    const auto r = name_sinks(sinks);
    EXPECT_TRUE(r || r.error().usage);
    return r ? std::string() : r.error().text;
}

std::vector<uint8_t> v4(const char* a) {
    std::vector<uint8_t> out(16, 0);
    EXPECT_EQ(inet_pton(AF_INET, a, out.data()), 1);
    return out;
}

std::vector<uint8_t> v6(const char* a) {
    std::vector<uint8_t> out(16, 0);
    EXPECT_EQ(inet_pton(AF_INET6, a, out.data()), 1);
    return out;
}

std::vector<uint8_t> bytes(const uint8_t (&a)[16]) {
    return {a, a + 16};
}

constexpr uint64_t mib = 1ull << 20;

TEST(SinkSpec, FileDefaults) {
    const sink_spec s = ok("file:./out");
    EXPECT_EQ(s.type, sink_type::file);
    EXPECT_EQ(s.text, "file:./out");
    EXPECT_EQ(s.dir, "./out");
    EXPECT_EQ(s.name, "");
    EXPECT_EQ(s.format, output_format::raw);
    EXPECT_EQ(s.framing, framing_kind::lf);
    EXPECT_EQ(s.buffer_bytes, 16 * mib);
    EXPECT_FALSE(s.drop_oldest);
    EXPECT_EQ(s.rotate_bytes, 256 * mib);
    EXPECT_EQ(s.append_max, 512u);
    EXPECT_EQ(s.batch.records, 1024u);
    EXPECT_EQ(s.batch.bytes, 1 * mib);
    EXPECT_EQ(s.batch.max_age_us, 1000u);
    EXPECT_EQ(s.key, key_field::none);
}

TEST(SinkSpec, FileEveryParameter) {
    const sink_spec s =
        ok("file:/var/log/agg,rotate-bytes=64M,name=archive_1,format=ndjson,framing=octet,"
           "buffer=1G,drop=oldest,batch-records=10,batch-bytes=512K,batch-ms=20");
    EXPECT_EQ(s.dir, "/var/log/agg");
    EXPECT_EQ(s.rotate_bytes, 64 * mib);
    EXPECT_EQ(s.name, "archive_1");
    EXPECT_EQ(s.format, output_format::ndjson);
    EXPECT_EQ(s.framing, framing_kind::octet);
    EXPECT_EQ(s.buffer_bytes, 1ull << 30);
    EXPECT_TRUE(s.drop_oldest);
    EXPECT_EQ(s.batch.records, 10u);
    EXPECT_EQ(s.batch.bytes, 512u << 10);
    EXPECT_EQ(s.batch.max_age_us, 20000u);
    EXPECT_EQ(ok("file:x,rotate-bytes=4096").rotate_bytes, 4096u);
    EXPECT_EQ(ok("file:x,append-max=0").append_max, 0u);
    EXPECT_EQ(ok("file:x,append-max=1K").append_max, 1024u);
    EXPECT_EQ(ok("file:x,append-max=64K").append_max, 65536u);
    EXPECT_EQ(ok("tcp:h:1,append-max=0").append_max, 0u);
    EXPECT_EQ(ok("tcp:h:1,append-max=2K").append_max, 2048u);
    EXPECT_EQ(ok("file:x,rotate-bytes=2G").rotate_bytes, 2ull << 30);
    EXPECT_EQ(ok("file:x,drop=newest").drop_oldest, false);
    EXPECT_EQ(ok("file:x,format=raw").format, output_format::raw);
    EXPECT_EQ(ok("file:x,batch-ms=0").batch.max_age_us, 0u);
    EXPECT_EQ(ok("file:x,batch-ms=60000").batch.max_age_us, 60'000'000u);
    EXPECT_EQ(ok("file:x,batch-records=1").batch.records, 1u);
    EXPECT_EQ(ok("file:x,batch-records=65536").batch.records, 65536u);
    EXPECT_EQ(ok("file:x,batch-bytes=1").batch.bytes, 1u);
    EXPECT_EQ(ok("file:x,batch-bytes=64M").batch.bytes, 64 * mib);
    EXPECT_EQ(ok("file:x,name=" + std::string(32, 'n')).name, std::string(32, 'n'));
    EXPECT_EQ(ok("file:x,name=A-z_09").name, "A-z_09");
}

TEST(SinkSpec, FileRfc5424IsOctetCountedUnlessFramingIsGiven) {
    EXPECT_EQ(ok("file:x,format=rfc5424").framing, framing_kind::octet);
    EXPECT_EQ(ok("file:x,format=rfc5424,framing=lf").framing, framing_kind::lf);
    EXPECT_EQ(ok("file:x,framing=lf,format=rfc5424").framing, framing_kind::lf);
    EXPECT_EQ(ok("file:x,format=ndjson").framing, framing_kind::lf);
}

TEST(SinkSpec, BufferSizes) {
    EXPECT_EQ(ok("file:x,buffer=64K").buffer_bytes, 64u << 10);
    EXPECT_EQ(ok("file:x,buffer=64k").buffer_bytes, 64u << 10);
    EXPECT_EQ(ok("file:x,buffer=65536").buffer_bytes, 65536u);
    EXPECT_EQ(ok("file:x,buffer=2M").buffer_bytes, 2 * mib);
    EXPECT_EQ(ok("file:x,buffer=3m").buffer_bytes, 3 * mib);
    EXPECT_EQ(ok("file:x,buffer=1G").buffer_bytes, 1ull << 30);
    EXPECT_EQ(ok("file:x,buffer=64G").buffer_bytes, 64ull << 30);
    EXPECT_EQ(ok("tcp:h:1,buffer=1M").buffer_bytes, 1 * mib);
    EXPECT_EQ(ok("kafka:b/t,buffer=2M").buffer_bytes, 2 * mib);
    EXPECT_EQ(ok("port:0,dst=1.2.3.4:5,buffer=4M").buffer_bytes, 4 * mib);
}

TEST(SinkSpec, TcpTargets) {
    const sink_spec s = ok("tcp:collector.example.com:6514");
    EXPECT_EQ(s.type, sink_type::tcp);
    EXPECT_EQ(s.host, "collector.example.com");
    EXPECT_EQ(s.tcp_port, 6514);
    EXPECT_EQ(s.framing, framing_kind::octet);
    EXPECT_EQ(s.buffer_bytes, 32 * mib);
    EXPECT_EQ(s.reconnect_min_ms, 100u);
    EXPECT_EQ(s.reconnect_max_ms, 10'000u);
    EXPECT_EQ(s.batch.max_age_us, 1000u);
    const sink_spec a = ok("tcp:198.18.0.1:514");
    EXPECT_EQ(a.host, "198.18.0.1");
    EXPECT_EQ(a.tcp_port, 514);
    const sink_spec b = ok("tcp:[2001:db8::1]:65535");
    EXPECT_EQ(b.host, "2001:db8::1");
    EXPECT_EQ(b.tcp_port, 65535);
    EXPECT_EQ(ok("tcp:localhost:1").host, "localhost");
    EXPECT_EQ(ok("tcp:h:1,framing=lf").framing, framing_kind::lf);
    EXPECT_EQ(ok("tcp:h:1,format=rfc5424").framing, framing_kind::octet);
}

TEST(SinkSpec, TcpReconnect) {
    const sink_spec s = ok("tcp:h:514,reconnect-max-ms=30000");
    EXPECT_EQ(s.reconnect_max_ms, 30'000u);
    EXPECT_EQ(s.reconnect_min_ms, 100u);
    // A ceiling below the first delay lowers the first delay too.
    const sink_spec low = ok("tcp:h:514,reconnect-max-ms=10");
    EXPECT_EQ(low.reconnect_max_ms, 10u);
    EXPECT_EQ(low.reconnect_min_ms, 10u);
    EXPECT_EQ(ok("tcp:h:514,reconnect-max-ms=600000").reconnect_max_ms, 600'000u);
}

TEST(SinkSpec, KafkaEveryParameter) {
    const sink_spec d = ok("kafka:b1:9092,b2:9092,b3:9092/app-logs.v1");
    EXPECT_EQ(d.type, sink_type::kafka);
    EXPECT_EQ(d.brokers, "b1:9092,b2:9092,b3:9092");
    EXPECT_EQ(d.topic, "app-logs.v1");
    EXPECT_EQ(d.framing, framing_kind::none);
    EXPECT_EQ(d.buffer_bytes, 32 * mib);
    EXPECT_EQ(d.batch.max_age_us, 5000u);
    EXPECT_EQ(d.key, key_field::none);
    EXPECT_EQ(d.compression, "none");
    EXPECT_EQ(d.acks, "all");
    EXPECT_TRUE(d.kafka_props.empty());
    const sink_spec s = ok("kafka:k1:9092,k2:9092/logs,key=host,compression=zstd,acks=1,"
                           "kafka-prop=linger.ms=5,kafka-prop=sasl.jaas.config=a=b,"
                           "kafka-prop=client.id=,batch-ms=2,format=ndjson");
    EXPECT_EQ(s.brokers, "k1:9092,k2:9092");
    EXPECT_EQ(s.topic, "logs");
    EXPECT_EQ(s.key, key_field::host);
    EXPECT_EQ(s.compression, "zstd");
    EXPECT_EQ(s.acks, "1");
    const std::vector<std::pair<std::string, std::string>> props = {
        {"linger.ms", "5"}, {"sasl.jaas.config", "a=b"}, {"client.id", ""}};
    EXPECT_EQ(s.kafka_props, props);
    EXPECT_EQ(s.batch.max_age_us, 2000u);
    EXPECT_EQ(s.format, output_format::ndjson);
    EXPECT_EQ(s.framing, framing_kind::none);
    EXPECT_EQ(ok("kafka:b/t,key=app").key, key_field::app);
    EXPECT_EQ(ok("kafka:b/t,key=source").key, key_field::source);
    for (const char* c : {"none", "gzip", "snappy", "lz4", "zstd"}) {
        EXPECT_EQ(ok(std::string("kafka:b/t,compression=") + c).compression, c);
    }
    EXPECT_EQ(ok("kafka:b/t,acks=0").acks, "0");
    EXPECT_EQ(ok("kafka:b/t,acks=-1").acks, "all");
    EXPECT_EQ(ok("kafka:b/t,acks=all").acks, "all");
    EXPECT_EQ(ok("kafka:b/t,format=rfc5424").framing, framing_kind::none);
    EXPECT_EQ(ok("kafka:b/" + std::string(249, 't')).topic.size(), 249u);
}

TEST(SinkSpec, PortEveryParameter) {
    const sink_spec d = ok("port:0,dst=198.18.0.9:514");
    EXPECT_EQ(d.type, sink_type::port);
    EXPECT_EQ(d.port_id, 0);
    EXPECT_EQ(d.family, AF_INET);
    EXPECT_EQ(bytes(d.dst_addr), v4("198.18.0.9"));
    EXPECT_EQ(d.dst_port, 514);
    EXPECT_FALSE(d.has_src);
    EXPECT_EQ(d.src_port, 514);
    EXPECT_FALSE(d.has_dmac);
    EXPECT_EQ(d.mtu, 1500);
    EXPECT_EQ(d.framing, framing_kind::lf);
    EXPECT_EQ(d.buffer_bytes, 16 * mib);

    const sink_spec s = ok("port:3,dst=[2001:db8::2]:5514,src=[2001:db8::1]:40000,"
                           "dmac=02:00:5e:0A:fF:01,mtu=9000");
    EXPECT_EQ(s.port_id, 3);
    EXPECT_EQ(s.family, AF_INET6);
    EXPECT_EQ(bytes(s.dst_addr), v6("2001:db8::2"));
    EXPECT_EQ(s.dst_port, 5514);
    EXPECT_TRUE(s.has_src);
    EXPECT_EQ(bytes(s.src_addr), v6("2001:db8::1"));
    EXPECT_EQ(s.src_port, 40000);
    EXPECT_TRUE(s.has_dmac);
    const uint8_t mac[6] = {0x02, 0x00, 0x5e, 0x0a, 0xff, 0x01};
    EXPECT_EQ(std::vector<uint8_t>(s.dmac, s.dmac + 6), std::vector<uint8_t>(mac, mac + 6));
    EXPECT_EQ(s.mtu, 9000);

    // src without a port keeps 514; src may come first.
    const sink_spec a = ok("port:1023,src=198.18.0.2,dst=198.18.0.9:6514,mtu=576");
    EXPECT_EQ(a.port_id, 1023);
    EXPECT_EQ(a.family, AF_INET);
    EXPECT_TRUE(a.has_src);
    EXPECT_EQ(bytes(a.src_addr), v4("198.18.0.2"));
    EXPECT_EQ(a.src_port, 514);
    EXPECT_EQ(bytes(a.dst_addr), v4("198.18.0.9"));
    EXPECT_EQ(a.dst_port, 6514);
    EXPECT_EQ(a.mtu, 576);
    const sink_spec b = ok("port:0,dst=[::1]:1,src=[fe80::1]");
    EXPECT_EQ(b.family, AF_INET6);
    EXPECT_EQ(bytes(b.src_addr), v6("fe80::1"));
    EXPECT_EQ(b.src_port, 514);
    EXPECT_EQ(b.dst_port, 1);
    EXPECT_EQ(ok("port:0,dst=1.2.3.4:5,src=1.2.3.5:65535").src_port, 65535);
}

TEST(SinkSpec, ErrorsNameTheParameter) {
    // Each error must contain every listed part (the parameter and the offending value).
    const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
        {"bogus:x", {"'bogus:x' is not TYPE:TARGET"}},
        {"file", {"'file' is not TYPE:TARGET"}},
        {"", {"'' is not TYPE:TARGET"}},
        {"file:", {"file sink", "directory"}},
        {"file:,name=a", {"file sink", "directory"}},
        {"file:x,noequals", {"parameter 'noequals' is not NAME=VALUE"}},
        {"file:x,,name=a", {"parameter '' is not NAME=VALUE"}},
        {"file:x,bogus=1", {"unknown parameter 'bogus'"}},
        {"file:x,reconnect-max-ms=100", {"unknown parameter 'reconnect-max-ms'"}},
        {"file:x,key=host", {"unknown parameter 'key'"}},
        {"file:x,dst=1.2.3.4:5", {"unknown parameter 'dst'"}},
        {"tcp:h:1,rotate-bytes=1M", {"tcp sink", "unknown parameter 'rotate-bytes'"}},
        {"kafka:b/t,mtu=1500", {"kafka sink", "unknown parameter 'mtu'"}},
        {"port:0,dst=1.2.3.4:5,kafka-prop=a=b", {"port sink", "unknown parameter 'kafka-prop'"}},
        {"file:x,rotate-bytes=4095", {"rotate-bytes '4095' is too small: at least 4K"}},
        {"file:x,rotate-bytes=17179869184G",
         {"rotate-bytes '17179869184G' is too large: at most 16384G"}},
        {"file:x,rotate-bytes=16385G", {"rotate-bytes '16385G' is too large: at most 16384G"}},
        {"file:x,rotate-bytes=99999999999999999999", {"is too large: at most 16384G"}},
        {"file:x,buffer=99999999999999999999K", {"buffer '99999999999999999999K' is too large"}},
        {"file:x,batch-records=99999999999999999999", {"is too large: at most 65536"}},
        {"tcp:h:1,replay=2G", {"replay '2G' is too large: at most 1G"}},
        {"port:0,dst=1.2.3.4:5,mtu=99999999999999999999", {"mtu", "is too large: at most 9000"}},
        {"file:x,framing=octet,framing=lf", {"file sink", "parameter 'framing' given twice"}},
        {"file:x,name=a,name=b", {"parameter 'name' given twice"}},
        {"file:x,rotate-bytes=1M,rotate-bytes=1M", {"parameter 'rotate-bytes' given twice"}},
        {"tcp:h:1,replay=0,replay=1K", {"parameter 'replay' given twice"}},
        {"kafka:b/t,key=host,key=none", {"kafka sink", "parameter 'key' given twice"}},
        {"kafka:b/t,kafka-prop=linger.ms=5,kafka-prop=linger.ms=6",
         {"kafka-prop linger.ms given twice"}},
        {"kafka:b/t,kafka-prop=dr_cb=x", {"kafka-prop dr_cb cannot be set"}},
        {"kafka:b/t,kafka-prop=delivery.report.only.error=true",
         {"kafka-prop delivery.report.only.error cannot be set"}},
        {"port:0,dst=1.2.3.4:5,dst=1.2.3.4:6", {"parameter 'dst' given twice"}},
        {"port:0,gw=[::1],dst=1.2.3.4:5", {"gw and dst are of different address families"}},
        {"port:0,dst=1.2.3.4:5,gw=[::1]", {"gw and dst are of different address families"}},
        {"port:0,dst=1.2.3.4:5,gw=router", {"gw 'router' is not an IP address"}},
        {"file:x,rotate-bytes=12Q", {"rotate-bytes '12Q'"}},
        {"file:x,rotate-bytes=", {"rotate-bytes ''"}},
        {"file:x,name=", {"name ''"}},
        {"file:x,name=a.b", {"name 'a.b'"}},
        {"file:x,name=a b", {"name 'a b'"}},
        {"file:x,name=" + std::string(33, 'n'), {"name '" + std::string(33, 'n') + "'"}},
        {"file:x,format=xml", {"format 'xml'"}},
        {"file:x,format=NDJSON", {"format 'NDJSON'"}},
        {"file:x,framing=crlf", {"framing 'crlf'"}},
        {"file:x,framing=none", {"framing 'none'"}},
        {"file:x,buffer=63K", {"buffer '63K'"}},
        {"file:x,buffer=65G", {"buffer '65G'"}},
        {"file:x,buffer=1T", {"buffer '1T'"}},
        {"file:x,buffer=", {"buffer ''"}},
        {"file:x,drop=random", {"drop 'random'"}},
        {"file:x,batch-records=0", {"batch-records '0'"}},
        {"file:x,batch-records=65537", {"batch-records '65537'"}},
        {"file:x,batch-records=1K", {"batch-records '1K'"}},
        {"file:x,batch-bytes=0", {"batch-bytes '0'"}},
        {"file:x,batch-bytes=65M", {"batch-bytes '65M'"}},
        {"file:x,batch-ms=60001", {"batch-ms '60001'"}},
        {"file:x,batch-ms=-1", {"batch-ms '-1'"}},
        {"file:x,batch-ms=1.5", {"batch-ms '1.5'"}},
        {"tcp:host", {"tcp sink", "'host' is not HOST:PORT"}},
        {"tcp:", {"tcp sink", "'' is not HOST:PORT"}},
        {"tcp:2001:db8::1:514", {"'2001:db8::1:514' is not HOST:PORT"}},
        {"tcp:h:0", {"'h:0': PORT must be 1-65535"}},
        {"tcp:h:65536", {"'h:65536': PORT must be 1-65535"}},
        {"tcp:h:", {"'h:': PORT must be 1-65535"}},
        {"tcp:h:x", {"'h:x': PORT must be 1-65535"}},
        {"tcp::514", {"':514': PORT must be 1-65535 after a host"}},
        {"tcp:[::1]", {"'[::1]' is not [IPV6]:PORT"}},
        {"tcp:[::1]514", {"'[::1]514' is not [IPV6]:PORT"}},
        {"tcp:[::1:514", {"'[::1:514' is not [IPV6]:PORT"}},
        {"tcp:[]:514", {"'[]:514': PORT must be 1-65535 after a host"}},
        {"tcp:[::1]:0", {"'[::1]:0': PORT must be 1-65535"}},
        {"tcp:h:1,reconnect-max-ms=9", {"reconnect-max-ms '9'"}},
        {"tcp:h:1,reconnect-max-ms=600001", {"reconnect-max-ms '600001'"}},
        {"kafka:b:9092", {"kafka sink", "'kafka:b:9092' is not kafka:BROKERS/TOPIC"}},
        {"kafka:/t", {"kafka sink", "'kafka:/t': needs BROKERS/TOPIC"}},
        {"kafka:b/", {"'kafka:b/': needs BROKERS/TOPIC"}},
        {"kafka:b/,key=host", {"'kafka:b/,key=host': needs BROKERS/TOPIC"}},
        {"kafka:b/bad topic", {"needs BROKERS/TOPIC"}},
        {"kafka:b/a/b", {"needs BROKERS/TOPIC"}},
        {"kafka:b/" + std::string(250, 't'), {"needs BROKERS/TOPIC"}},
        {"kafka:b/t,key=pod", {"key 'pod'"}},
        {"kafka:b/t,compression=brotli", {"compression 'brotli'"}},
        {"kafka:b/t,acks=2", {"acks '2'"}},
        {"kafka:b/t,kafka-prop=noeq", {"kafka-prop 'noeq'"}},
        {"kafka:b/t,kafka-prop==v", {"kafka-prop '=v'"}},
        {"kafka:b/t,framing=lf", {"kafka sink", "framing does not apply"}},
        {"kafka:b/t,framing=octet", {"framing does not apply"}},
        {"port:x,dst=1.2.3.4:5", {"port sink", "'x' is not a DPDK port id"}},
        {"port:1024,dst=1.2.3.4:5", {"'1024' is not a DPDK port id"}},
        {"port:,dst=1.2.3.4:5", {"'' is not a DPDK port id"}},
        {"port:0", {"port sink", "needs dst="}},
        {"port:0,src=1.2.3.4", {"needs dst="}},
        {"port:0,dst=1.2.3.4", {"dst '1.2.3.4'"}},
        {"port:0,dst=1.2.3.4:", {"dst '1.2.3.4:'"}},
        {"port:0,dst=1.2.3.4:0", {"dst '1.2.3.4:0'"}},
        {"port:0,dst=1.2.3.4:65536", {"dst '1.2.3.4:65536'"}},
        {"port:0,dst=1.2.3:514", {"dst '1.2.3:514'"}},
        {"port:0,dst=collector:514", {"dst 'collector:514'"}},
        {"port:0,dst=::1:514", {"dst '::1:514'"}},
        {"port:0,dst=[::1]", {"dst '[::1]'"}},
        {"port:0,dst=[::1]:", {"dst '[::1]:'"}},
        {"port:0,dst=[::1]514", {"dst '[::1]514'"}},
        {"port:0,dst=[::1:514", {"dst '[::1:514'"}},
        {"port:0,dst=[zz::1]:514", {"dst '[zz::1]:514'"}},
        {"port:0,dst=1.2.3.4:5,src=1.2.3.4:x", {"src '1.2.3.4:x'"}},
        {"port:0,dst=1.2.3.4:5,src=1.2.3.4:", {"src '1.2.3.4:'"}},
        {"port:0,dst=[::2]:5,src=[::1]:", {"src '[::1]:'"}},
        {"port:0,dst=1.2.3.4:5,src=1.2.3.4:0", {"src '1.2.3.4:0'"}},
        {"port:0,dst=1.2.3.4:5,src=host", {"src 'host'"}},
        {"port:0,dst=1.2.3.4:5,src=[::1]", {"src and dst are of different address families"}},
        {"port:0,src=[::1],dst=1.2.3.4:5", {"src and dst are of different address families"}},
        {"port:0,dst=1.2.3.4:5,dmac=02:00:00:00:00", {"dmac '02:00:00:00:00'"}},
        {"port:0,dst=1.2.3.4:5,dmac=02-00-00-00-00-01", {"dmac '02-00-00-00-00-01'"}},
        {"port:0,dst=1.2.3.4:5,dmac=0g:00:00:00:00:01", {"dmac '0g:00:00:00:00:01'"}},
        {"port:0,dst=1.2.3.4:5,dmac=02:00:00:00:00:001", {"dmac '02:00:00:00:00:001'"}},
        {"port:0,dst=1.2.3.4:5,mtu=575", {"mtu '575'"}},
        {"port:0,dst=1.2.3.4:5,mtu=9001", {"mtu '9001'"}},
        {"port:0,dst=1.2.3.4:5,mtu=", {"mtu ''"}},
        {"file:x,append-max=65537", {"append-max '65537'"}},
        {"file:x,append-max=-1", {"append-max '-1'"}},
        {"file:x,append-max=", {"append-max ''"}},
        {"kafka:b:9092/t,append-max=10", {"append-max"}},
    };
    for (const auto& [text, parts] : cases) {
        const std::string e = error_of(text);
        EXPECT_NE(e, "") << "'" << text << "' was accepted";
        for (const std::string& p : parts) {
            EXPECT_NE(e.find(p), std::string::npos)
                << "'" << text << "' gave '" << e << "', expected it to contain '" << p << "'";
        }
    }
}

TEST(SinkSpec, FramingOverhead) {
    EXPECT_EQ(framing_overhead(framing_kind::lf, 0), 1u);
    EXPECT_EQ(framing_overhead(framing_kind::lf, 12345), 1u);
    EXPECT_EQ(framing_overhead(framing_kind::none, 12345), 0u);
    EXPECT_EQ(framing_overhead(framing_kind::octet, 0), 2u); // "0 "
    EXPECT_EQ(framing_overhead(framing_kind::octet, 9), 2u);
    EXPECT_EQ(framing_overhead(framing_kind::octet, 10), 3u);
    EXPECT_EQ(framing_overhead(framing_kind::octet, 99), 3u);
    EXPECT_EQ(framing_overhead(framing_kind::octet, 100), 4u);
    EXPECT_EQ(framing_overhead(framing_kind::octet, 65507), 6u);
    EXPECT_EQ(framing_overhead(framing_kind::octet, 4294967295u), 11u);
}

std::vector<sink_spec> specs(std::vector<std::string_view> texts) {
    std::vector<sink_spec> out;
    for (std::string_view t : texts) {
        out.push_back(ok(t));
    }
    return out;
}

std::vector<std::string> names_of(const std::vector<sink_spec>& v) {
    std::vector<std::string> out;
    for (const sink_spec& s : v) {
        out.push_back(s.name);
    }
    return out;
}

TEST(SinkSpec, DefaultNames) {
    auto v = specs(
        {"file:a", "tcp:h:1", "file:b", "kafka:k/t", "tcp:h:2", "port:0,dst=1.2.3.4:5", "file:c"});
    ASSERT_EQ(naming_error(v), "");
    EXPECT_EQ(names_of(v),
              (std::vector<std::string>{"file", "tcp", "file2", "kafka", "tcp2", "port", "file3"}));
    // Explicit names are kept and do not use up a default number.
    auto w = specs({"file:a,name=archive", "file:b", "tcp:h:1,name=siem", "file:c"});
    ASSERT_EQ(naming_error(w), "");
    EXPECT_EQ(names_of(w), (std::vector<std::string>{"archive", "file", "siem", "file2"}));
    // Naming twice changes nothing.
    ASSERT_EQ(naming_error(w), "");
    EXPECT_EQ(names_of(w), (std::vector<std::string>{"archive", "file", "siem", "file2"}));
    std::vector<sink_spec> none;
    EXPECT_EQ(naming_error(none), "");
}

TEST(SinkSpec, DuplicateNamesAreRejected) {
    auto a = specs({"file:a,name=x", "tcp:h:1,name=x"});
    const std::string e = naming_error(a);
    EXPECT_NE(e.find("two sinks are named 'x'"), std::string::npos) << e;
    EXPECT_NE(e.find("--sink"), std::string::npos) << e;
    // An explicit name equal to a default one.
    auto b = specs({"file:a", "tcp:h:1,name=file"});
    EXPECT_NE(naming_error(b).find("'file'"), std::string::npos);
    auto c = specs({"file:a,name=file2", "file:b", "file:c"});
    EXPECT_NE(naming_error(c).find("'file2'"), std::string::npos);
}

} // namespace
