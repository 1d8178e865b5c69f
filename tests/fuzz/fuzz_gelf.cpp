// SPDX-License-Identifier: BSD-3-Clause
// GELF chunk reassembly and inflation over arbitrary datagram sequences with small bounds: every
// refusal is a status, completed messages fit the output, and the block accounting never drifts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "log/gelf.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace logagg::log::gelf;
    limits l;
    l.slots = 8;
    l.blocks = 16;
    l.block_size = 256;
    l.timeout_ns = 1000;
    static reassembler* r = nullptr; // one instance across runs also exercises long-lived state
    static inflater* inf = nullptr;
    if (r == nullptr) {
        r = new reassembler(l);
        inf = new inflater(1 << 16);
    }
    static uint64_t now = 0;
    std::string_view in(reinterpret_cast<const char*>(data), size);
    // Datagrams: [len byte][bytes...]; the message ids in the chunks come from the input.
    while (in.size() >= 1) {
        const std::size_t n = static_cast<uint8_t>(in[0]);
        in.remove_prefix(1);
        const std::string_view d = in.substr(0, n);
        in.remove_prefix(d.size());
        now += 100;
        std::string_view msg;
        if (r->feed(d, now, msg) == chunk_status::complete) {
            if (msg.size() > std::size_t{l.block_size} * max_chunks) {
                std::abort();
            }
            std::string_view out;
            (void)inf->inflate(msg, out);
        }
        (void)r->expire(now);
        if (r->free_blocks() > l.blocks) {
            std::abort();
        }
    }
    std::string_view out;
    (void)inf->inflate(std::string_view(reinterpret_cast<const char*>(data), size), out);
    return 0;
}
