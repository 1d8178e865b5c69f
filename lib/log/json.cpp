// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath (json_extractor::parse and the mapping helpers), control plane (json_field_map).
#include "log/json.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <string>

#include <simdjson.h>

#include "log/names.hpp"
#include "log/rfc5424.hpp"

namespace logagg::log {
namespace ondemand = simdjson::ondemand;
static_assert(json_padding == simdjson::SIMDJSON_PADDING);

namespace {

constexpr std::size_t n_roles = static_cast<std::size_t>(json_role::count_);

[[nodiscard]] json_status status_of(simdjson::error_code e) noexcept {
    switch (e) {
    case simdjson::SUCCESS:
        return json_status::ok;
    case simdjson::UTF8_ERROR:
        return json_status::bad_utf8;
    default:
        return json_status::invalid;
    }
}

[[nodiscard]] bool is_ws(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/// The raw text of a scalar token without the whitespace simdjson counts with it.
[[nodiscard]] std::string_view trim_token(std::string_view t) noexcept {
    while (!t.empty() && is_ws(t.back())) {
        t.remove_suffix(1);
    }
    return t;
}

/// Deepest nesting the validating walk follows (deeper documents are `invalid`). Why 64: log
/// objects are shallow; the bound keeps the recursion's stack small and far below simdjson's own
/// depth limit (1024), which On-Demand only asserts in debug builds.
constexpr int max_depth = 64;

/// Is @p t a JSON number (RFC 8259 section 6: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?)?
/// Only the grammar: RFC 8259 sets no limit on digits or range, and logagg passes numbers
/// through as written (docs/formats.md#numbers), so a number no double or 64-bit integer holds
/// is still valid JSON.
[[nodiscard]] bool json_number(std::string_view t) noexcept {
    std::size_t i = 0;
    auto digits = [&] {
        const std::size_t from = i;
        while (i < t.size() && t[i] >= '0' && t[i] <= '9') {
            ++i;
        }
        return i - from;
    };
    if (i < t.size() && t[i] == '-') {
        ++i;
    }
    if (i < t.size() && t[i] == '0') {
        ++i;
    } else if (digits() == 0) {
        return false;
    }
    if (i < t.size() && t[i] == '.') {
        ++i;
        if (digits() == 0) {
            return false;
        }
    }
    if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
        ++i;
        if (i < t.size() && (t[i] == '+' || t[i] == '-')) {
            ++i;
        }
        if (digits() == 0) {
            return false;
        }
    }
    return i == t.size();
}

/// What the validating walk needs to find repeated keys: the names seen per object and where
/// the repeated ones are.
struct key_walk {
    name_set* names;
    key_rename* renames; ///< room for every key of a document
    uint32_t n_renames;
    const char* base; ///< the message
    const char* end;
};

/// The closing quote of the key whose text starts at @p k (stage 1 found the string, so it
/// closes before @p end), or @p end.
[[nodiscard]] const char* key_end(const char* k, const char* end) noexcept {
    while (k < end && *k != '"') {
        k += *k == '\\' ? 2 : 1;
    }
    return k < end ? k : end;
}

/// Adds a key (@p text decoded; written at @p raw, after its opening quote) to object @p scope;
/// a repeated one becomes a rename. @return false when the walk has no room (not for a document
/// of at most the extractor's max_len: it holds fewer keys than that).
[[nodiscard]] bool add_key(key_walk& w, uint32_t scope, std::string_view text,
                           const char* raw) noexcept {
    const uint32_t n = w.names->add(scope, text);
    if (n == name_set::full) {
        return false;
    }
    if (n != 0) {
        const char* close = key_end(raw, w.end);
        w.renames[w.n_renames++] = key_rename{static_cast<uint32_t>(close - w.base), n};
    }
    return true;
}

/// Walks a whole value so that simdjson checks every token of it (numbers by their grammar), and
/// notes the repeated keys of its objects.
simdjson::error_code check_value(ondemand::value v, key_walk& w, int depth = 1) noexcept {
    if (depth > max_depth) {
        return simdjson::DEPTH_ERROR;
    }
    ondemand::json_type type{};
    if (auto e = v.type().get(type)) {
        return e;
    }
    switch (type) {
    case ondemand::json_type::object: {
        ondemand::object o;
        if (auto e = v.get_object().get(o)) {
            return e;
        }
        const uint32_t scope = w.names->open_scope();
        for (auto f : o) {
            ondemand::field field;
            if (auto e = std::move(f).get(field)) {
                return e;
            }
            const char* raw = field.key().raw(); // first: unescaped_key() consumes the key
            std::string_view k;
            if (auto e = field.unescaped_key().get(k)) {
                return e;
            }
            if (!add_key(w, scope, k, raw)) {
                return simdjson::CAPACITY;
            }
            if (auto e = check_value(field.value(), w, depth + 1)) {
                return e;
            }
        }
        return simdjson::SUCCESS;
    }
    case ondemand::json_type::array: {
        ondemand::array a;
        if (auto e = v.get_array().get(a)) {
            return e;
        }
        for (auto el : a) {
            ondemand::value child;
            if (auto e = el.get(child)) {
                return e;
            }
            if (auto e = check_value(child, w, depth + 1)) {
                return e;
            }
        }
        return simdjson::SUCCESS;
    }
    case ondemand::json_type::string: {
        std::string_view s;
        return v.get_string().get(s);
    }
    case ondemand::json_type::number:
        return json_number(trim_token(v.raw_json_token())) ? simdjson::SUCCESS
                                                           : simdjson::NUMBER_ERROR;
    case ondemand::json_type::boolean: {
        bool b = false;
        return v.get_bool().get(b);
    }
    case ondemand::json_type::null: {
        bool is_null = false;
        if (auto e = v.is_null().get(is_null)) {
            return e;
        }
        return is_null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    }
    }
    return simdjson::INCORRECT_TYPE;
}

[[nodiscard]] char lower(char c) noexcept {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

[[nodiscard]] bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != b[i]) {
            return false;
        }
    }
    return true;
}

/// Largest epoch in ns that epoch_to_ns() accepts (the int64 range, with the same margin).
constexpr uint64_t max_epoch_ns = 9'200'000'000'000'000'000ULL;

/// An epoch number token written as plain decimal digits (DIGITS[.DIGITS], at most 19 before
/// the point) to ns exactly, by epoch_to_ns()'s magnitude rule; fraction digits beyond the unit's
/// nanoseconds are rounded (half up). Why: a double holds 1700000000.123 as 1700000000.1229999,
/// so GELF's seconds-with-milliseconds came out as .122999907.
/// @return false when @p t is not in that form (sign, exponent) or out of range: the caller
/// falls back to epoch_to_ns() on the double.
[[nodiscard]] bool decimal_epoch_to_ns(std::string_view t, int64_t& ns) noexcept {
    std::size_t i = 0;
    uint64_t whole = 0;
    for (; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i) {
        if (i == 19) {
            return false;
        }
        whole = whole * 10 + static_cast<uint64_t>(t[i] - '0');
    }
    std::string_view frac;
    if (i < t.size()) {
        frac = t.substr(i + 1);
        if (t[i] != '.' || frac.empty() ||
            !std::all_of(frac.begin(), frac.end(), [](char c) { return c >= '0' && c <= '9'; })) {
            return false;
        }
    }
    if (i == 0) {
        return false;
    }
    uint64_t scale = 1;     // ns per unit
    std::size_t digits = 0; // fraction digits that are whole ns
    if (whole < 100'000'000'000ULL) {
        scale = 1'000'000'000;
        digits = 9;
    } else if (whole < 100'000'000'000'000ULL) {
        scale = 1'000'000;
        digits = 6;
    } else if (whole < 100'000'000'000'000'000ULL) {
        scale = 1'000;
        digits = 3;
    }
    if (whole >= max_epoch_ns / scale) {
        return false;
    }
    uint64_t sub = 0;
    for (std::size_t k = 0; k < digits; ++k) {
        sub = sub * 10 + (k < frac.size() ? static_cast<uint64_t>(frac[k] - '0') : 0);
    }
    if (frac.size() > digits && frac[digits] >= '5') {
        ++sub;
    }
    ns = static_cast<int64_t>(whole * scale + sub);
    return true;
}

/// Concatenates (GCC 12 warns falsely, -Wrestrict, on chains of std::string operator+).
[[nodiscard]] std::string cat(std::initializer_list<std::string_view> parts) {
    std::string out;
    for (std::string_view p : parts) {
        out.append(p);
    }
    return out;
}

} // namespace

json_field_map::json_field_map() {
    auto set = [this](json_role r, std::initializer_list<const char*> names) {
        auto& v = names_[static_cast<std::size_t>(r)];
        v.assign(names.begin(), names.end());
    };
    set(json_role::ts, {"@timestamp", "timestamp", "time", "ts", "t", "@t"});
    set(json_role::sev, {"severity", "level", "log.level", "levelname", "lvl", "loglevel", "@l"});
    set(json_role::host, {"host", "hostname", "host.name", "source_host"});
    set(json_role::app,
        {"app", "service", "service.name", "application", "appname", "name", "_app"});
    set(json_role::procid, {"pid", "process.pid", "procid"});
    set(json_role::msgid, {"msgid", "event.action"});
    set(json_role::msg, {"message", "msg", "log", "short_message", "text", "@m", "@mt"});
    rebuild();
}

json_field_map json_field_map::gelf() {
    json_field_map m;
    const util::result<void> r = m.apply("ts=timestamp,sev=level,host=host,"
                                         "app=_app|_application|_service|_service_name|facility,"
                                         "procid=_pid|_process_id,msgid=_msgid|_event,"
                                         "msg=short_message|full_message");
    (void)r; // a constant spec: parses (tested)
    return m;
}

void json_field_map::rebuild() {
    keys_.clear();
    for (std::size_t r = 0; r < n_roles; ++r) {
        for (std::size_t i = 0; i < names_[r].size(); ++i) {
            keys_.push_back(
                key{names_[r][i], static_cast<json_role>(r), static_cast<uint8_t>(i), -1});
        }
    }
    for (std::size_t c = 0; c < captures_.size(); ++c) {
        const auto slot = static_cast<int8_t>(c);
        auto it = std::find_if(keys_.begin(), keys_.end(),
                               [&](const key& k) { return k.name == captures_[c]; });
        if (it != keys_.end()) {
            it->capture = slot; // a role key that filters also read
        } else {
            keys_.push_back(key{captures_[c], json_role::count_, 0, slot});
        }
    }
    index();
}

json_field_map::json_field_map(const json_field_map& o) : names_(o.names_), captures_(o.captures_) {
    rebuild(); // keys view this object's strings, not o's
}

json_field_map& json_field_map::operator=(const json_field_map& o) {
    if (this != &o) {
        names_ = o.names_;
        captures_ = o.captures_;
        rebuild();
    }
    return *this;
}

void json_field_map::index() {
    by_len_ = keys_;
    std::stable_sort(by_len_.begin(), by_len_.end(), [](const key& a, const key& b) {
        return std::min(a.name.size(), max_bucketed) < std::min(b.name.size(), max_bucketed);
    });
    std::size_t i = 0;
    for (std::size_t len = 0; len <= max_bucketed; ++len) {
        bucket_[len] = static_cast<uint16_t>(i);
        while (i < by_len_.size() && std::min(by_len_[i].name.size(), max_bucketed) == len) {
            ++i;
        }
    }
    bucket_[max_bucketed + 1] = static_cast<uint16_t>(i);
}

void json_field_map::set_captures(const std::vector<std::string>& names) {
    captures_ = names;
    if (captures_.size() > max_json_captures) {
        captures_.resize(max_json_captures);
    }
    rebuild();
}

util::result<void> json_field_map::apply(std::string_view spec) {
    auto next = [](std::string_view& s, char sep) {
        const std::size_t p = s.find(sep);
        std::string_view head = s.substr(0, p);
        s = p == std::string_view::npos ? std::string_view{} : s.substr(p + 1);
        return head;
    };
    auto copy = names_;
    std::array<bool, n_roles> seen{};
    while (!spec.empty()) {
        std::string_view item = next(spec, ',');
        const std::size_t eq = item.find('=');
        if (eq == std::string_view::npos) {
            return util::usage_failure(cat({"'", item, "' is not ROLE=NAME"}));
        }
        const std::string_view role = item.substr(0, eq);
        std::string_view names = item.substr(eq + 1);
        const std::size_t r = util::enum_index<json_role, n_roles>(role);
        if (r == n_roles) {
            return util::usage_failure(
                cat({"unknown role '", role, "' (ts, sev, host, app, procid, msgid, msg)"}));
        }
        if (seen[r]) {
            return util::usage_failure(cat({"role '", role, "' given twice"}));
        }
        seen[r] = true;
        copy[r].clear();
        while (!names.empty() || copy[r].empty()) {
            const std::string_view n = next(names, '|');
            if (n.empty() || n.size() > 64 || n.find_first_of("\"\\") != std::string_view::npos) {
                return util::usage_failure(
                    cat({"bad key name in '", item, "' (1-64 characters, no \" or \\)"}));
            }
            if (copy[r].size() == 8) {
                return util::usage_failure(cat({"more than 8 names for role '", role, "'"}));
            }
            copy[r].emplace_back(n);
        }
    }
    names_ = std::move(copy);
    rebuild();
    return util::ok();
}

int severity_from_name(std::string_view n) noexcept {
    static constexpr std::array<std::pair<std::string_view, int>, 22> names{{
        {"emerg", 0},  {"emergency", 0}, {"panic", 0},       {"alert", 1},
        {"crit", 2},   {"critical", 2},  {"fatal", 2},       {"err", 3},
        {"error", 3},  {"eror", 3},      {"warn", 4},        {"warning", 4},
        {"notice", 5}, {"info", 6},      {"information", 6}, {"informational", 6},
        {"debug", 7},  {"dbug", 7},      {"trace", 7},       {"verbose", 7},
        {"e", 3},      {"w", 4},
    }};
    for (const auto& [name, sev] : names) {
        if (iequals(n, name)) {
            return sev;
        }
    }
    return -1;
}

int severity_from_number(int64_t n) noexcept {
    if (n >= 0 && n <= 7) {
        return static_cast<int>(n);
    }
    switch (n) {
    case 10:
    case 20:
        return 7;
    case 30:
        return 6;
    case 40:
        return 4;
    case 50:
        return 3;
    case 60:
        return 2;
    default:
        return -1;
    }
}

bool epoch_to_ns(double v, int64_t& ns) noexcept {
    if (!std::isfinite(v) || v < 0) {
        return false;
    }
    double scale = 1.0;
    if (v < 1e11) {
        scale = 1e9;
    } else if (v < 1e14) {
        scale = 1e6;
    } else if (v < 1e17) {
        scale = 1e3;
    }
    if (v * scale >= 9.2e18) {
        return false;
    }
    // Whole and fractional parts apart, so integral milliseconds stay exact.
    const double whole = std::floor(v);
    ns = static_cast<int64_t>(whole) * static_cast<int64_t>(scale) +
         static_cast<int64_t>(std::llround((v - whole) * scale));
    return true;
}

struct json_extractor::impl {
    ondemand::parser parser;
    /// Repeated keys: a document of n bytes holds at most n / 5 + 1 keys (each takes '"":', a
    /// value and a ',' or a brace), and the set needs twice as many slots.
    std::size_t max_keys = 0;
    std::unique_ptr<name_set::slot[]> slots;
    std::unique_ptr<name_set> names;
    std::unique_ptr<key_rename[]> renames;
};

std::string_view json_extractor::implementation() noexcept {
    return simdjson::builtin_implementation()->name();
}

json_extractor::~json_extractor() = default;

json_extractor::json_extractor(const json_field_map& fields)
    : fields_(fields), impl_(std::make_unique<impl>()) {}

util::result<std::unique_ptr<json_extractor>> json_extractor::create(const json_field_map& fields,
                                                                     std::size_t max_len) {
#if defined(__AVX2__)
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("bmi2")) {
        return util::failure("this logagg was built with -Djson_isa=haswell (AVX2, BMI2) but "
                             "this CPU lacks them; rebuild with -Djson_isa=westmere");
    }
#elif defined(__PCLMUL__)
    if (!__builtin_cpu_supports("sse4.2") || !__builtin_cpu_supports("pclmul")) {
        return util::failure("this logagg was built with -Djson_isa=westmere (SSE4.2, "
                             "PCLMULQDQ) but this CPU lacks them");
    }
#endif
    const std::string no_parser =
        "simdjson: cannot allocate a parser for " + std::to_string(max_len) + "-byte documents";
    // The allocations below may throw std::bad_alloc: caught here, returned as the failure.
    try {
        std::unique_ptr<json_extractor> x(new json_extractor(fields));
        impl& im = *x->impl_;
        if (im.parser.allocate(max_len + 1) != simdjson::SUCCESS) {
            return util::failure(no_parser);
        }
        im.max_keys = max_len / 5 + 1;
        const std::size_t n_slots = pow2_at_least(2 * im.max_keys);
        im.slots = std::make_unique<name_set::slot[]>(n_slots);
        im.names = std::make_unique<name_set>(im.slots.get(), n_slots);
        im.renames = std::make_unique<key_rename[]>(im.max_keys);
        return x;
    } catch (const std::bad_alloc&) {
        return util::failure(no_parser);
    }
}

// Why whole (~190 lines): the datapath's JSON parse, one pass over simdjson's On-Demand
// document (the document and its iterators must stay in one scope while fields are read), with
// the per-field work (known keys, captures, validation) in the loop body. Hot path: one call per
// message; helpers taking the iterator state would cost calls per field.
json_status json_extractor::parse(const char* data, std::size_t len, std::size_t capacity,
                                  bool validate_all, log_record& out,
                                  json_captures* captures) noexcept {
    out = log_record{};
    if (captures != nullptr) {
        captures->clear();
    }
    out.format = input_format::json;
    if (len > impl_->parser.capacity()) {
        return json_status::invalid; // unreachable: the worker bounds messages by --max-msg
    }
    ondemand::document doc;
    if (auto e = impl_->parser.iterate(data, len, capacity).get(doc)) {
        return e == simdjson::EMPTY ? json_status::not_object : status_of(e);
    }
    ondemand::object obj;
    if (auto e = doc.get_object().get(obj)) {
        return e == simdjson::INCORRECT_TYPE || e == simdjson::EMPTY ? json_status::not_object
                                                                     : status_of(e);
    }
    const char* const end = data + len;
    std::array<uint8_t, n_roles> best;
    best.fill(UINT8_MAX);
    key_walk w{impl_->names.get(), impl_->renames.get(), 0, data, end};
    uint32_t top_scope = 0;
    if (validate_all) {
        w.names->reset();
        top_scope = w.names->open_scope();
    }
    for (auto f : obj) {
        ondemand::field field;
        if (auto e = std::move(f).get(field)) {
            return status_of(e);
        }
        // The key as written, up to its first quote (stage 1 guarantees a closing one). A key
        // with escapes stops at or after a backslash here and matches no name; validation then
        // checks its escapes.
        const char* k = field.key().raw();
        const char* q = k;
        bool escaped = false;
        while (q < end && *q != '"') {
            escaped |= *q == '\\';
            ++q;
        }
        const json_field_map::key* match =
            q == end || escaped
                ? nullptr
                : fields_.find(std::string_view(k, static_cast<std::size_t>(q - k)));
        if (validate_all) {
            std::string_view name(k, static_cast<std::size_t>(q - k));
            if (escaped) {
                if (auto e = field.unescaped_key().get(name)) {
                    return status_of(e);
                }
            }
            if (!add_key(w, top_scope, name, k)) {
                return json_status::invalid;
            }
        }
        ondemand::value v = field.value();
        if (match != nullptr && match->capture >= 0 && captures != nullptr &&
            ((captures->found >> match->capture) & 1u) == 0) {
            // A value filters read: string content or a scalar token, as written. Objects and
            // arrays are not captured (a filter compares them as absent).
            ondemand::json_type type{};
            if (auto e = v.type().get(type)) {
                return status_of(e);
            }
            if (type != ondemand::json_type::object && type != ondemand::json_type::array) {
                std::string_view raw = trim_token(v.raw_json_token());
                if (type == ondemand::json_type::string && raw.size() >= 2) {
                    raw = raw.substr(1, raw.size() - 2);
                }
                captures->raw[static_cast<std::size_t>(match->capture)] = raw;
                captures->found |= static_cast<uint16_t>(1u << match->capture);
            }
        }
        const auto role = match == nullptr ? 0u : static_cast<std::size_t>(match->role);
        if (match == nullptr || match->role == json_role::count_ || match->priority >= best[role]) {
            if (validate_all) {
                if (auto e = check_value(v, w)) {
                    return status_of(e);
                }
            }
            continue;
        }
        ondemand::json_type type{};
        if (auto e = v.type().get(type)) {
            return status_of(e);
        }
        const std::string_view raw = trim_token(v.raw_json_token());
        bool used = false;
        if (type == ondemand::json_type::string && raw.size() >= 2) {
            const std::string_view text = raw.substr(1, raw.size() - 2);
            used = true;
            switch (match->role) {
            case json_role::ts: {
                int64_t ns = 0;
                out.timestamp_text = text;
                out.has_timestamp = parse_rfc3339(text, ns, 9);
                out.timestamp_ns = out.has_timestamp ? ns : 0;
                break;
            }
            case json_role::sev:
                out.severity = static_cast<int8_t>(severity_from_name(text));
                break;
            case json_role::host:
                out.hostname = text;
                break;
            case json_role::app:
                out.app_name = text;
                break;
            case json_role::procid:
                out.procid = text;
                break;
            case json_role::msgid:
                out.msgid = text;
                break;
            case json_role::msg:
            case json_role::count_:
                out.message = text;
                break;
            }
            if (validate_all) {
                std::string_view decoded;
                if (auto e = v.get_string().get(decoded)) {
                    return status_of(e);
                }
            }
        } else if (type == ondemand::json_type::number) {
            if (!json_number(raw)) {
                return json_status::invalid;
            }
            // A valid number a double cannot hold (1e400) is no time and no level, but the
            // document stays valid (docs/formats.md#numbers).
            double d = 0;
            const bool in_range = v.get_double().get(d) == simdjson::SUCCESS;
            used = true;
            switch (match->role) {
            case json_role::ts: {
                int64_t ns = 0;
                out.timestamp_text = raw;
                out.has_timestamp =
                    decimal_epoch_to_ns(raw, ns) || (in_range && epoch_to_ns(d, ns));
                out.timestamp_ns = out.has_timestamp ? ns : 0;
                break;
            }
            case json_role::sev:
                out.severity =
                    static_cast<int8_t>(in_range && d == std::floor(d) && std::fabs(d) < 1e6
                                            ? severity_from_number(static_cast<int64_t>(d))
                                            : -1);
                break;
            case json_role::procid:
                out.procid = raw;
                break;
            case json_role::msgid:
                out.msgid = raw;
                break;
            default:
                used = false; // a number is no host, app or message
                break;
            }
        }
        if (used) {
            best[role] = match->priority;
        } else if (validate_all) {
            if (auto e = check_value(v, w)) {
                return status_of(e);
            }
        }
    }
    // Past the object only the end may follow (simdjson reports the position out of bounds).
    const char* where = nullptr;
    if (doc.current_location().get(where) != simdjson::OUT_OF_BOUNDS) {
        return json_status::trailing;
    }
    if (validate_all) {
        out.flags |= parse_flag::json_valid;
        out.renames = w.renames;
        out.n_renames = w.n_renames;
    }
    if (!out.has_timestamp) {
        out.flags |= parse_flag::no_timestamp;
    }
    return json_status::ok;
}

} // namespace logagg::log
