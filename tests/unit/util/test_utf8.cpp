// SPDX-License-Identifier: BSD-3-Clause
// UTF-8 validation: the all-ASCII pass (16-byte blocks, overlapping last loads) against a byte by
// byte walk, for every length around its block sizes with a non-ASCII byte at every position,
// each string in a heap block of its exact size (so ASan sees a read past its end).
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>

#include "util/utf8.hpp"

namespace {

using logagg::util::all_ascii;
using logagg::util::utf8_error_at;
using logagg::util::utf8_len;

/// utf8_error_at() as a walk of utf8_len(), one character at a time.
std::size_t reference_error_at(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const std::size_t n = utf8_len(s, i);
        if (n == 0) {
            return i;
        }
        i += n;
    }
    return s.size();
}

struct exact_block {
    std::unique_ptr<char[]> bytes;
    std::string_view view;
    explicit exact_block(const std::string& s) : bytes(std::make_unique<char[]>(s.size())) {
        std::copy(s.begin(), s.end(), bytes.get());
        view = std::string_view(bytes.get(), s.size());
    }
};

TEST(Utf8, AllAsciiAtEveryLengthAndPosition) {
    for (std::size_t n = 0; n <= 70; ++n) {
        const std::string plain(n, 'a');
        const exact_block b(plain);
        EXPECT_TRUE(all_ascii(b.view.data(), n)) << n;
        for (std::size_t at = 0; at < n; ++at) {
            for (const char c : {'\x80', '\xff', '\xc3'}) {
                std::string s = plain;
                s[at] = c;
                const exact_block bb(s);
                EXPECT_FALSE(all_ascii(bb.view.data(), n)) << n << " at " << at;
            }
        }
    }
}

TEST(Utf8, ErrorAtLikeReference) {
    // Valid sequences of every length, invalid ones (overlong, surrogate, above U+10FFFF, lone
    // continuation, cut), at every position of ASCII text of lengths around 8 and 16.
    const std::string inserts[] = {"\xc3\xa9",     "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                   "\xc0\xaf",     "\xed\xa0\x80", "\xf4\x90\x80\x80",
                                   "\x80",         "\xe2\x82",     "\xff",
                                   "\xe0\x9f\xbf", "\x7f"};
    for (std::size_t n = 0; n <= 40; ++n) {
        for (std::size_t at = 0; at <= n; ++at) {
            for (const std::string& ins : inserts) {
                std::string s(n, 'x');
                s.insert(at, ins);
                const exact_block b(s);
                EXPECT_EQ(utf8_error_at(b.view), reference_error_at(b.view))
                    << testing::PrintToString(s);
                // The same cut at every length: a sequence cut by the end of the string.
                const exact_block cut(s.substr(0, at + ins.size() - 1));
                EXPECT_EQ(utf8_error_at(cut.view), reference_error_at(cut.view))
                    << testing::PrintToString(s);
            }
        }
    }
}

} // namespace
