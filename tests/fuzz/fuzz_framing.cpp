// SPDX-License-Identifier: BSD-3-Clause
// frame_payload() in every mode over arbitrary payloads cut into pieces: messages must lie inside
// the payload, in order, never longer than max_msg.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "log/framing.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 3) {
        return 0;
    }
    logagg::log::framing_options o;
    o.mode = static_cast<logagg::log::framing_mode>(data[0] % 4);
    o.max_msg = 16u + data[1] * 4u;
    o.drop_oversize = (data[0] & 0x80) != 0;
    const unsigned n_cuts = data[2] % 5;
    if (size < 3 + n_cuts) {
        return 0;
    }
    const char* payload = reinterpret_cast<const char*>(data + 3 + n_cuts);
    const auto len = static_cast<uint32_t>(size - 3 - n_cuts);
    constexpr uint32_t base = 42;
    std::vector<logagg::log::piece> pieces;
    uint32_t prev = 0;
    for (unsigned i = 0; i <= n_cuts; ++i) {
        const uint32_t c = i == n_cuts || len == 0 ? len : data[3 + i] % len;
        if (c > prev || (i == n_cuts && pieces.empty())) {
            pieces.push_back({payload + prev, base + prev, c - prev});
            prev = c;
        }
    }
    uint32_t last_end = base;
    const auto res =
        logagg::log::frame_payload(pieces, o, [&](uint32_t off, uint32_t n, bool, bool) noexcept {
            if (off < last_end || n == 0 || n > o.max_msg || off + n > base + len) {
                std::abort();
            }
            last_end = off + n;
        });
    if (res.framing_errors > 1) {
        std::abort();
    }
    return 0;
}
