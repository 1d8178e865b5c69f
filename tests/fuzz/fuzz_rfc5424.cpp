// SPDX-License-Identifier: BSD-3-Clause
// parse_rfc5424() over arbitrary bytes: every view it returns lies inside the input, scalars in
// range.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "log/rfc5424.hpp"

namespace {
void inside(std::string_view in, std::string_view v) {
    if (!v.empty() && (v.data() < in.data() || v.data() + v.size() > in.data() + in.size())) {
        std::abort();
    }
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    logagg::log::log_record r;
    if (logagg::log::parse_rfc5424(in, r) != logagg::log::rfc5424_status::ok) {
        return 0;
    }
    if (r.severity < 0 || r.severity > 7 || r.facility < 0 || r.facility > 23) {
        std::abort();
    }
    for (std::string_view v : {r.timestamp_text, r.hostname, r.app_name, r.procid, r.msgid,
                               r.structured_data, r.message}) {
        inside(in, v);
    }
    return 0;
}
