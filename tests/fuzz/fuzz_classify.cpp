// SPDX-License-Identifier: BSD-3-Clause
// classify() (and the responder on what it recognises) over arbitrary frames split into up to four
// exactly-sized segments: nothing may read outside the chain (ASan), and every accepted frame's
// offsets must lie inside it.
#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "common/frames.hpp"
#include "net/classify.hpp"
#include "pipeline/responder.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 3) {
        return 0;
    }
    const uint8_t flags = data[0];
    const unsigned n_cuts = data[1] % 4;
    if (size < 2 + n_cuts) {
        return 0;
    }
    const logagg::testing::bytes frame(data + 2 + n_cuts, data + size);
    std::vector<uint32_t> cuts;
    for (unsigned i = 0; i < n_cuts && !frame.empty(); ++i) {
        const uint32_t c = data[2 + i] % frame.size();
        if (c != 0 && (cuts.empty() || c > cuts.back())) {
            cuts.push_back(c);
        }
    }
    static const logagg::net::local_addrs local = [] {
        logagg::net::local_addrs l;
        inet_pton(AF_INET, "198.18.0.1", l.v4[0].data());
        l.n_v4 = 1;
        inet_pton(AF_INET6, "2001:db8::1", l.v6[0].data());
        l.n_v6 = 1;
        return l;
    }();
    logagg::net::listen_ports ports;
    ports.add(514);
    logagg::net::classify_options opts;
    opts.verify_ipv4_checksum = (flags & 1) != 0;
    opts.verify_udp_checksum = (flags & 2) != 0;
    opts.local = (flags & 4) != 0 ? &local : nullptr;
    opts.reassemble = (flags & 8) != 0;
    opts.accept_partial_checksum = (flags & 0x40) != 0;
    opts.snap_len = (flags & 0x80) != 0 ? 1982 : 0;
    logagg::testing::chain c(frame, cuts, (flags & 0x30) == 0x10 ? RTE_MBUF_F_RX_L4_CKSUM_GOOD : 0);
    logagg::net::packet_info info;
    const auto r = logagg::net::classify(c.get(), ports, opts, info);
    if (r != logagg::net::drop_reason::none) {
        return 0;
    }
    const uint32_t len = c.get()->pkt_len;
    switch (info.kind) {
    case logagg::net::packet_kind::log:
        if (info.payload_off > len || info.payload_len > len - info.payload_off) {
            std::abort();
        }
        break;
    case logagg::net::packet_kind::fragment:
        if (info.frag.data_off > len || info.frag.len > len - info.frag.data_off) {
            std::abort();
        }
        break;
    default: {
        if (info.l4_off > len || info.l4_len > len - info.l4_off) {
            std::abort();
        }
        logagg::pipeline::responder resp;
        resp.local = &local;
        resp.tsc_hz = 1;
        (void)logagg::pipeline::answer(resp, const_cast<rte_mbuf*>(c.get()), info, 0);
        break;
    }
    }
    return 0;
}
