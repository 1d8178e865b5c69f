// SPDX-License-Identifier: BSD-3-Clause
// ns per frame of classify() for typical frames, with and without software checksums.
#include <benchmark/benchmark.h>

#include "common/frames.hpp"
#include "net/classify.hpp"

namespace {

using logagg::testing::spec;

void run(benchmark::State& state, const spec& s, bool checksums) {
    const auto b = logagg::testing::build(s);
    const logagg::testing::chain c(b.frame);
    logagg::net::listen_ports ports;
    ports.add(514);
    const logagg::net::classify_options opts{checksums, checksums};
    logagg::net::packet_info info;
    for (auto _ : state) {
        benchmark::DoNotOptimize(logagg::net::classify(c.get(), ports, opts, info));
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(b.frame.size()));
}

spec syslog_v4(std::size_t payload) {
    spec s;
    s.payload = std::string(payload, 'x');
    return s;
}

spec v6_ext() {
    spec s;
    s.ip = 6;
    s.ext = {60};
    s.payload = std::string(200, 'x');
    return s;
}

spec qinq() {
    spec s;
    s.tags = {0x88a8, 0x8100};
    s.payload = std::string(200, 'x');
    return s;
}

void BM_ipv4_200B(benchmark::State& st) {
    run(st, syslog_v4(200), st.range(0) != 0);
}
void BM_ipv4_1400B(benchmark::State& st) {
    run(st, syslog_v4(1400), st.range(0) != 0);
}
void BM_ipv6_ext_200B(benchmark::State& st) {
    run(st, v6_ext(), st.range(0) != 0);
}
void BM_qinq_ipv4_200B(benchmark::State& st) {
    run(st, qinq(), st.range(0) != 0);
}

// Arg: 1 = software IPv4 and UDP checksums (no NIC offload), 0 = off (--no-checksum or offload).
BENCHMARK(BM_ipv4_200B)->Arg(1)->Arg(0);
BENCHMARK(BM_ipv4_1400B)->Arg(1)->Arg(0);
BENCHMARK(BM_ipv6_ext_200B)->Arg(1)->Arg(0);
BENCHMARK(BM_qinq_ipv4_200B)->Arg(1)->Arg(0);

} // namespace

BENCHMARK_MAIN();
