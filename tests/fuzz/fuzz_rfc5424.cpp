// SPDX-License-Identifier: BSD-3-Clause
// parse_rfc5424() over arbitrary bytes, as received and as cut to --max-msg: every view it
// returns lies inside the input, scalars in range, no SD-ID twice and at most max_sd_names names
// in the STRUCTURED-DATA, a MSG after a BOM is UTF-8 (checked with simdjson's validator; a
// character cut by the end allowed for a cut message), and the cut reading accepts whatever the
// whole one does.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string_view>

#include "log/rfc5424.hpp"

namespace {
void inside(std::string_view in, std::string_view v) {
    if (!v.empty() && (v.data() < in.data() || v.data() + v.size() > in.data() + in.size())) {
        std::abort();
    }
}

/// STRUCTURED-DATA that parsed: its SD-IDs are distinct and it has at most max_sd_names names.
void check_sd(std::string_view sd) {
    std::set<std::string_view> ids;
    std::size_t names = 0;
    std::size_t p = 0;
    while (p < sd.size()) {
        const std::size_t id_end = sd.find_first_of(" ]", p + 1);
        if (!ids.insert(sd.substr(p + 1, id_end - p - 1)).second) {
            std::abort();
        }
        ++names;
        std::size_t q = id_end;
        while (sd[q] == ' ') {
            ++names;
            std::size_t v = sd.find('=', q) + 2;
            while (sd[v] != '"') {
                v += sd[v] == '\\' ? 2 : 1;
            }
            q = v + 1;
        }
        p = q + 1;
    }
    if (names > logagg::log::max_sd_names) {
        std::abort();
    }
}

/// UTF-8, or UTF-8 followed by the start of one character (a lead byte and too few of the rest).
bool utf8_or_cut(std::string_view s) {
    if (simdjson::validate_utf8(s.data(), s.size())) {
        return true;
    }
    for (std::size_t k = 1; k <= 3 && k <= s.size(); ++k) {
        const auto lead = static_cast<unsigned char>(s[s.size() - k]);
        const std::size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
        if (lead >= 0xC2 && lead <= 0xF4 && k < want &&
            simdjson::validate_utf8(s.data(), s.size() - k)) {
            return true;
        }
    }
    return false;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    bool whole_ok = false;
    for (const bool cut : {false, true}) {
        logagg::log::log_record r;
        const logagg::log::rfc5424_status st = logagg::log::parse_rfc5424(in, r, cut);
        if (static_cast<std::size_t>(st) >= logagg::log::rfc5424_status_names.size()) {
            std::abort();
        }
        if (st != logagg::log::rfc5424_status::ok) {
            if (whole_ok) {
                std::abort(); // the cut reading refused what the whole one accepted
            }
            continue;
        }
        whole_ok = !cut;
        if (r.severity < 0 || r.severity > 7 || r.facility < 0 || r.facility > 23) {
            std::abort();
        }
        for (std::string_view v : {r.timestamp_text, r.hostname, r.app_name, r.procid, r.msgid,
                                   r.structured_data, r.message}) {
            inside(in, v);
        }
        check_sd(r.structured_data);
        if ((r.flags & logagg::log::parse_flag::bom) != 0 &&
            !(cut ? utf8_or_cut(r.message)
                  : simdjson::validate_utf8(r.message.data(), r.message.size()))) {
            std::abort();
        }
    }
    return 0;
}
