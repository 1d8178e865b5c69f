// SPDX-License-Identifier: BSD-3-Clause
// Side: tests (fuzz oracle). A small, strict RFC 8259 reader written apart from the code under
// test (which uses simdjson On-Demand): it keeps what a checker needs and a library reader drops
// or refuses: numbers as written, whatever their size (simdjson's DOM refuses integers beyond 64
// bits and doubles beyond range), and every member of an object in order, repeated keys included.
// Strings must be UTF-8 (RFC 3629) and their escapes must decode to Unicode scalar values (an
// escaped lone surrogate has no UTF-8 form; logagg refuses it too: docs/formats.md, JSON lines).
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace logagg::testing::json {

struct member;

struct value {
    enum class kind : uint8_t { null, boolean, number, string, array, object };
    kind k = kind::null;
    std::string text; ///< number: as written; string: decoded; boolean: "true" or "false"
    std::vector<value> items;
    std::vector<member> members; ///< in order, repeated keys included
};

struct member {
    std::string key;
    value v;
};

class reader {
public:
    /// Deepest nesting followed (deeper documents are refused, too_deep() says so).
    static constexpr int max_nesting = 512;

    /// Reads all of @p s as one JSON text (whitespace around it allowed). @return false when it
    /// is not one.
    [[nodiscard]] bool parse(std::string_view s, value& out) {
        s_ = s;
        p_ = 0;
        deepest_ = 0;
        too_deep_ = false;
        if (!simdjson::validate_utf8(s.data(), s.size())) {
            return false;
        }
        ws();
        if (!val(out, 1)) {
            return false;
        }
        ws();
        return p_ == s_.size();
    }

    /// Deepest container nesting of the last parse() (an object or array at the top is 1).
    [[nodiscard]] int deepest() const noexcept { return deepest_; }
    /// The last parse() stopped at max_nesting (it says nothing about validity then).
    [[nodiscard]] bool too_deep() const noexcept { return too_deep_; }

private:
    [[nodiscard]] bool more() const noexcept { return p_ < s_.size(); }
    [[nodiscard]] char at() const noexcept { return s_[p_]; }

    void ws() {
        while (more() && (at() == ' ' || at() == '\t' || at() == '\n' || at() == '\r')) {
            ++p_;
        }
    }

    bool lit(std::string_view w) {
        if (s_.substr(p_, w.size()) != w) {
            return false;
        }
        p_ += w.size();
        return true;
    }

    std::size_t digits() {
        const std::size_t from = p_;
        while (more() && at() >= '0' && at() <= '9') {
            ++p_;
        }
        return p_ - from;
    }

    bool number(value& v) {
        const std::size_t from = p_;
        if (more() && at() == '-') {
            ++p_;
        }
        if (more() && at() == '0') {
            ++p_;
        } else if (digits() == 0) {
            return false;
        }
        if (more() && at() == '.') {
            ++p_;
            if (digits() == 0) {
                return false;
            }
        }
        if (more() && (at() == 'e' || at() == 'E')) {
            ++p_;
            if (more() && (at() == '+' || at() == '-')) {
                ++p_;
            }
            if (digits() == 0) {
                return false;
            }
        }
        v.k = value::kind::number;
        v.text = std::string(s_.substr(from, p_ - from));
        return true;
    }

    bool hex4(uint32_t& cp) {
        if (s_.size() - p_ < 4) {
            return false;
        }
        cp = 0;
        for (int i = 0; i < 4; ++i) {
            const char c = s_[p_++];
            const int d = c >= '0' && c <= '9'   ? c - '0'
                          : c >= 'a' && c <= 'f' ? c - 'a' + 10
                          : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                 : -1;
            if (d < 0) {
                return false;
            }
            cp = cp * 16 + static_cast<uint32_t>(d);
        }
        return true;
    }

    static void put_utf8(uint32_t cp, std::string& out) {
        if (cp < 0x80) {
            out.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
            out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else if (cp < 0x10000) {
            out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else {
            out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
    }

    bool string(std::string& out) {
        if (!more() || at() != '"') {
            return false;
        }
        ++p_;
        for (;;) {
            if (!more()) {
                return false;
            }
            const auto c = static_cast<unsigned char>(s_[p_++]);
            if (c == '"') {
                return true;
            }
            if (c < 0x20) {
                return false;
            }
            if (c != '\\') {
                out.push_back(static_cast<char>(c));
                continue;
            }
            if (!more()) {
                return false;
            }
            const char e = s_[p_++];
            switch (e) {
            case '"':
            case '\\':
            case '/':
                out.push_back(e);
                break;
            case 'b':
                out.push_back('\b');
                break;
            case 'f':
                out.push_back('\f');
                break;
            case 'n':
                out.push_back('\n');
                break;
            case 'r':
                out.push_back('\r');
                break;
            case 't':
                out.push_back('\t');
                break;
            case 'u': {
                uint32_t cp = 0;
                if (!hex4(cp)) {
                    return false;
                }
                if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    return false; // a low surrogate without a high one
                }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    uint32_t lo = 0;
                    if (!lit("\\u") || !hex4(lo) || lo < 0xDC00 || lo > 0xDFFF) {
                        return false;
                    }
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                put_utf8(cp, out);
                break;
            }
            default:
                return false;
            }
        }
    }

    bool val(value& v, int depth) {
        if (!more()) {
            return false;
        }
        switch (at()) {
        case '{':
        case '[': {
            if (depth > max_nesting) {
                too_deep_ = true;
                return false;
            }
            deepest_ = depth > deepest_ ? depth : deepest_;
            const bool obj = at() == '{';
            const char close = obj ? '}' : ']';
            v.k = obj ? value::kind::object : value::kind::array;
            ++p_;
            ws();
            if (more() && at() == close) {
                ++p_;
                return true;
            }
            for (;;) {
                if (obj) {
                    std::string key;
                    if (!string(key)) {
                        return false;
                    }
                    ws();
                    if (!more() || at() != ':') {
                        return false;
                    }
                    ++p_;
                    ws();
                    v.members.push_back(member{std::move(key), value{}});
                    if (!val(v.members.back().v, depth + 1)) {
                        return false;
                    }
                } else {
                    v.items.emplace_back();
                    if (!val(v.items.back(), depth + 1)) {
                        return false;
                    }
                }
                ws();
                if (!more()) {
                    return false;
                }
                if (at() == close) {
                    ++p_;
                    return true;
                }
                if (at() != ',') {
                    return false;
                }
                ++p_;
                ws();
            }
        }
        case '"':
            v.k = value::kind::string;
            return string(v.text);
        case 't':
            v.k = value::kind::boolean;
            v.text = "true";
            return lit("true");
        case 'f':
            v.k = value::kind::boolean;
            v.text = "false";
            return lit("false");
        case 'n':
            v.k = value::kind::null;
            return lit("null");
        default:
            return number(v);
        }
    }

    std::string_view s_;
    std::size_t p_ = 0;
    int deepest_ = 0;
    bool too_deep_ = false;
};

/// @p v as minimal JSON text (strings escaped canonically, numbers as written, members in order):
/// two values are the same JSON when their texts are equal.
inline void write(const value& v, std::string& out) {
    auto str = [&out](std::string_view s) {
        out.push_back('"');
        for (const char c : s) {
            if (c == '"' || c == '\\') {
                out.push_back('\\');
                out.push_back(c);
            } else if (static_cast<unsigned char>(c) < 0x20) {
                static constexpr char hex[] = "0123456789abcdef";
                out.append("\\u00");
                out.push_back(hex[(c >> 4) & 15]);
                out.push_back(hex[c & 15]);
            } else {
                out.push_back(c);
            }
        }
        out.push_back('"');
    };
    switch (v.k) {
    case value::kind::null:
        out.append("null");
        break;
    case value::kind::boolean:
    case value::kind::number:
        out.append(v.text);
        break;
    case value::kind::string:
        str(v.text);
        break;
    case value::kind::array:
        out.push_back('[');
        for (std::size_t i = 0; i < v.items.size(); ++i) {
            if (i != 0) {
                out.push_back(',');
            }
            write(v.items[i], out);
        }
        out.push_back(']');
        break;
    case value::kind::object:
        out.push_back('{');
        for (std::size_t i = 0; i < v.members.size(); ++i) {
            if (i != 0) {
                out.push_back(',');
            }
            str(v.members[i].key);
            out.push_back(':');
            write(v.members[i].v, out);
        }
        out.push_back('}');
        break;
    }
}

/// The member @p key of object @p v, or nullptr (the first, should it repeat).
[[nodiscard]] inline const value* find(const value& v, std::string_view key) {
    for (const auto& [k, m] : v.members) {
        if (k == key) {
            return &m;
        }
    }
    return nullptr;
}

} // namespace logagg::testing::json
