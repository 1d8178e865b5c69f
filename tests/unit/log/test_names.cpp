// SPDX-License-Identifier: BSD-3-Clause
// log::name_set against a plain reference (std::set per scope, the smallest free NAME#N by
// trying N = 2, 3, ...): random names from a small alphabet (so they repeat, and some are written
// "a#2" by the sender), several scopes at once, fewer and more names than the small array holds,
// the set reused across reset() as the JSON extractor reuses it, and the full answer.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "log/names.hpp"

namespace {

using logagg::log::name_set;

/// The rule as docs/formats.md states it, the slow way.
struct reference {
    std::map<uint32_t, std::set<std::string>> used;
    uint32_t add(uint32_t scope, const std::string& name) {
        auto& u = used[scope];
        if (u.insert(name).second) {
            return 0;
        }
        for (uint32_t n = 2;; ++n) {
            if (u.insert(name + "#" + std::to_string(n)).second) {
                return n;
            }
        }
    }
};

TEST(Names, AgreesWithTheRuleAsWritten) {
    std::mt19937 g(5424);
    std::vector<name_set::slot> slots(1024);
    name_set set(slots.data(), slots.size());
    std::vector<std::string> pool = {"a", "b", "ip", "a#2", "a#3", "ip#2", "ip#2#2", "", "#", "a#"};
    for (int i = 0; i < 30; ++i) {
        pool.push_back(std::string(1 + g() % 70, static_cast<char>('c' + g() % 3))); // long ones
    }
    for (int doc = 0; doc < 300; ++doc) {
        set.reset();
        reference ref;
        std::vector<uint32_t> scopes = {set.open_scope()};
        const int n = static_cast<int>(g() % 120); // below and far above name_set::small
        std::vector<std::string> keep;             // the set holds views: keep the names alive
        keep.reserve(n);
        for (int k = 0; k < n; ++k) {
            if (g() % 8 == 0) {
                scopes.push_back(set.open_scope());
            }
            const uint32_t scope = scopes[g() % scopes.size()];
            keep.push_back(pool[g() % pool.size()]);
            ASSERT_EQ(set.add(scope, keep.back()), ref.add(scope, keep.back()))
                << "doc " << doc << " name " << k << " '" << keep.back() << "'";
        }
        EXPECT_EQ(set.size(), static_cast<std::size_t>(n));
    }
}

TEST(Names, OneNameRepeatedManyTimes) {
    std::vector<name_set::slot> slots(4096);
    name_set set(slots.data(), slots.size());
    const uint32_t s = set.open_scope();
    EXPECT_EQ(set.add(s, "x"), 0u);
    for (uint32_t n = 2; n <= 2000; ++n) {
        ASSERT_EQ(set.add(s, "x"), n);
    }
    EXPECT_EQ(set.add(s, "x#7"), 2u); // taken by the seventh "x": written x#7#2
    EXPECT_EQ(set.add(s, "x#2001"), 0u);
    EXPECT_EQ(set.add(s, "x"), 2002u);
}

TEST(Names, FullIsAnAnswerNotAnOverflow) {
    name_set::slot slots[8];
    name_set set(slots, 8);
    const uint32_t s = set.open_scope();
    for (const char* n : {"a", "b", "c", "d"}) {
        EXPECT_EQ(set.add(s, n), 0u);
    }
    EXPECT_EQ(set.add(s, "e"), name_set::full);
    EXPECT_EQ(set.add(s, "a"), name_set::full);
    set.reset();
    EXPECT_EQ(set.add(set.open_scope(), "a"), 0u); // room again after reset()
}

} // namespace
