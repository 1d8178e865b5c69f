// SPDX-License-Identifier: BSD-3-Clause
// parse_rfc3164() over arbitrary bytes: every view it returns lies inside the input, the message
// ends where the input does, msgid and structured_data stay empty, lengths are within their caps,
// scalars are in range, and a timestamp comes with its text. detect_format() never returns raw.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "log/detect.hpp"
#include "log/rfc3164.hpp"

namespace {
void inside(std::string_view in, std::string_view v) {
    if (!v.empty() && (v.data() < in.data() || v.data() + v.size() > in.data() + in.size())) {
        std::abort();
    }
}
/// 2023-10-12T00:00:00Z
constexpr int64_t now_ns = 1697068800LL * 1'000'000'000;
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    if (logagg::log::detect_format(in) == logagg::log::input_format::raw) {
        std::abort();
    }
    logagg::log::log_record r;
    const logagg::log::rfc3164_status s = logagg::log::parse_rfc3164(in, now_ns, r);
    if (static_cast<std::size_t>(s) >= logagg::log::rfc3164_status_names.size()) {
        std::abort();
    }
    if (s != logagg::log::rfc3164_status::ok) {
        return 0;
    }
    if (r.format != logagg::log::input_format::rfc3164 || r.severity < -1 || r.severity > 7 ||
        r.facility < -1 || r.facility > 23 || (r.severity < 0) != (r.facility < 0)) {
        std::abort();
    }
    if (!r.msgid.empty() || !r.structured_data.empty() || r.app_name.size() > 48 ||
        r.procid.size() > 128 || r.hostname.size() > 255) {
        std::abort();
    }
    for (std::string_view v : {r.timestamp_text, r.hostname, r.app_name, r.procid, r.message}) {
        inside(in, v);
    }
    if (r.message.data() != nullptr &&
        r.message.data() + r.message.size() != in.data() + in.size()) {
        std::abort();
    }
    if (r.has_timestamp == r.timestamp_text.empty()) {
        std::abort();
    }
    return 0;
}
