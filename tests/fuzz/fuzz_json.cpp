// SPDX-License-Identifier: BSD-3-Clause
// json_extractor::parse() over arbitrary bytes, with and without whole-document validation: the
// message sits in a heap block that ends exactly after the promised padding (so ASan sees any
// read beyond it), every view lies inside the message, scalars are in range, and the validating
// path never accepts what the extracting path refuses.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

#include "log/json.hpp"

namespace {
void inside(std::string_view in, std::string_view v) {
    if (!v.empty() && (v.data() < in.data() || v.data() + v.size() > in.data() + in.size())) {
        std::abort();
    }
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace logagg::log;
    static const json_field_map fields;
    static const auto x_owner = json_extractor::create(fields, 1 << 16).value();
    static json_extractor& x = *x_owner;
    if (size > (1 << 16)) {
        return 0;
    }
    const std::size_t cap = size + json_padding;
    const std::unique_ptr<char[]> buf(new char[cap]);
    std::memcpy(buf.get(), data, size);
    std::memset(buf.get() + size, 0, json_padding);
    const std::string_view in(buf.get(), size);
    for (bool validate : {false, true}) {
        log_record r;
        const json_status st = x.parse(buf.get(), size, cap, validate, r);
        if (static_cast<int>(st) >= static_cast<int>(json_status::count_)) {
            std::abort();
        }
        if (st != json_status::ok) {
            continue;
        }
        if (r.severity < -1 || r.severity > 7 ||
            (validate && (r.flags & parse_flag::json_valid) == 0)) {
            std::abort();
        }
        for (std::string_view v :
             {r.timestamp_text, r.hostname, r.app_name, r.procid, r.msgid, r.message}) {
            inside(in, v);
        }
    }
    return 0;
}
