// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath (no allocation: the slots are the caller's; the seed is set before main).
//
// Repeated names: an RFC 5424 SD-ID or PARAM-NAME, or a JSON key, that repeats within its object.
// The parser refuses a repeated SD-ID (RFC 5424 6.3.2) and the encoders never write a JSON object
// with a repeated key: a later occurrence of a name is written NAME#N with the smallest N >= 2
// that no earlier name of the same object has (docs/formats.md#repeated-names).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string_view>

namespace logagg::log {

namespace detail {
/// A per-process random seed for name hashing, so that a sender cannot choose names that collide
/// and make every lookup walk the whole table.
[[nodiscard]] inline uint64_t random_name_seed() noexcept {
    uint64_t s = reinterpret_cast<uintptr_t>(&s);
    try {
        std::random_device rd;
        s ^= (uint64_t{rd()} << 32) ^ rd();
    } catch (...) {
        // No entropy source: the stack address still differs between runs (ASLR).
    }
    return s;
}
inline const uint64_t name_seed = random_name_seed();
} // namespace detail

/// Finds repeated names within scopes (one scope per object) in linear time, and picks the name
/// a repeated one is written as. The first few names are kept in a small array and compared one
/// by one (most objects have a few names, and then nothing else is touched); past that, open
/// addressing over the caller's slots, which must number a power of two and at least twice the
/// names added between two reset() calls. The slots are cleared the first time they are needed.
class name_set {
public:
    /// Trivial, so that an array of them on the stack costs nothing until it is used.
    struct slot {
        const char* p; ///< the name's bytes
        uint32_t len;
        uint32_t suffix; ///< 0: the name as written; N: written as NAME#N
        uint32_t scope;  ///< the slot is live when scope >= first_
        uint32_t next;   ///< the next N to try for a name that repeats this one
    };

    /// Names compared one by one before the slots are used. Why 16: below that a linear scan
    /// (a scope and a length compared first) costs less than hashing every name.
    static constexpr std::size_t small = 16;

    /// Takes @p n_slots (a power of two) slots; O(1).
    name_set(slot* slots, std::size_t n_slots) noexcept : slots_(slots), mask_(n_slots - 1) {}

    /// Forgets every name: O(1). When the scope numbers wrap, the slots are cleared before their
    /// next use (an old scope could look live again).
    void reset() noexcept {
        if (next_scope_ > 0x7fffffffu) {
            next_scope_ = 1;
            cleared_ = false;
        }
        first_ = next_scope_;
        count_ = 0;
        hashed_ = false;
    }

    /// A new scope. @return its number.
    [[nodiscard]] uint32_t open_scope() noexcept { return next_scope_++; }

    /// Names added since reset().
    [[nodiscard]] std::size_t size() const noexcept { return count_; }
    /// How many names fit between two reset() calls (half the slots: probes stay short).
    [[nodiscard]] std::size_t capacity() const noexcept { return (mask_ + 1) / 2; }

    /// Value of add() when the set is full (more names than capacity()).
    static constexpr uint32_t full = UINT32_MAX;

    /// Adds @p name (bytes as written; two names are the same when these bytes are) to @p scope.
    /// @return 0 when no earlier name of the scope is the same; else N >= 2: the name is to be
    /// written NAME#N, the smallest such name the scope does not hold yet (it holds it now).
    /// full when the set has no room.
    [[nodiscard]] uint32_t add(uint32_t scope, std::string_view name) noexcept {
        if (count_ >= capacity()) {
            return full;
        }
        slot* first = find(scope, name, 0);
        if (first == nullptr) {
            put(scope, name, 0);
            return 0;
        }
        for (uint32_t n = first->next < 2 ? 2 : first->next;; ++n) {
            if (count_ >= capacity()) {
                return full;
            }
            if (find(scope, name, n) == nullptr) {
                put(scope, name, n);
                find(scope, name, 0)->next = n + 1; // found again: put() may have moved it
                return n;
            }
        }
    }

    /// Decimal digits of @p n into @p buf (at least 10 bytes). @return their count.
    static std::size_t digits(uint32_t n, char* buf) noexcept {
        char tmp[10];
        std::size_t k = 0;
        do {
            tmp[k++] = static_cast<char>('0' + n % 10);
            n /= 10;
        } while (n != 0);
        for (std::size_t i = 0; i < k; ++i) {
            buf[i] = tmp[k - 1 - i];
        }
        return k;
    }

private:
    void clear_slots() noexcept {
        for (std::size_t i = 0; i <= mask_; ++i) {
            slots_[i] = slot{nullptr, 0, 0, 0, 0};
        }
        cleared_ = true;
    }

    /// MurmurHash3's fmix64.
    [[nodiscard]] static uint64_t mix(uint64_t h) noexcept {
        h ^= h >> 33;
        h *= 0xFF51AFD7ED558CCDULL;
        h ^= h >> 33;
        h *= 0xC4CEB9FE1A85EC53ULL;
        h ^= h >> 33;
        return h;
    }

    /// @p text hashed eight bytes at a time from a per-process seed (the low bits that pick the
    /// slot depend on every byte and on the whole seed).
    [[nodiscard]] static uint64_t hash(uint32_t scope, std::string_view text) noexcept {
        uint64_t h = detail::name_seed ^ (uint64_t{scope} << 32) ^ text.size();
        std::size_t i = 0;
        for (; i + 8 <= text.size(); i += 8) {
            uint64_t w = 0;
            std::memcpy(&w, text.data() + i, 8);
            h = mix(h ^ w);
        }
        uint64_t w = 0;
        if (i < text.size()) {
            std::memcpy(&w, text.data() + i, text.size() - i);
        }
        return mix(h ^ w);
    }

    /// Does slot @p s hold the text NAME#N (NAME when @p suffix is 0)?
    [[nodiscard]] static bool same(const slot& s, std::string_view name, uint32_t suffix) noexcept {
        if (s.suffix == suffix) {
            return s.len == name.size() &&
                   (name.empty() || std::memcmp(s.p, name.data(), name.size()) == 0);
        }
        char a[11] = {'#'};
        char b[11] = {'#'};
        const std::size_t la = s.suffix == 0 ? 0 : 1 + digits(s.suffix, a + 1);
        const std::size_t lb = suffix == 0 ? 0 : 1 + digits(suffix, b + 1);
        if (s.len + la != name.size() + lb) {
            return false;
        }
        // Both texts byte by byte: name bytes, then the suffix text.
        const std::size_t total = s.len + la;
        for (std::size_t i = 0; i < total; ++i) {
            const char x = i < s.len ? s.p[i] : a[i - s.len];
            const char y = i < name.size() ? name[i] : b[i - name.size()];
            if (x != y) {
                return false;
            }
        }
        return true;
    }

    /// The slot whose text is NAME#suffix (NAME for 0) in @p scope, or nullptr. The same text can
    /// come from different (name, suffix) pairs ("a#2" as written, and "a" renamed #2), so a hash
    /// of the whole text is what a slot is found by.
    [[nodiscard]] slot* find(uint32_t scope, std::string_view name, uint32_t suffix) noexcept {
        if (!hashed_) {
            for (std::size_t i = 0; i < count_; ++i) {
                if (small_[i].scope == scope && same(small_[i], name, suffix)) {
                    return &small_[i];
                }
            }
            return nullptr;
        }
        std::size_t at = 0;
        const bool found = probe(scope, name, suffix, at);
        return found ? &slots_[at] : nullptr;
    }

    /// Looks NAME#suffix up in the slots. @return true with its slot in @p at, or false with the
    /// free slot where it goes.
    [[nodiscard]] bool probe(uint32_t scope, std::string_view name, uint32_t suffix,
                             std::size_t& at) const noexcept {
        std::size_t i = static_cast<std::size_t>(text_hash(scope, name, suffix)) & mask_;
        for (;; i = (i + 1) & mask_) {
            const slot& s = slots_[i];
            if (s.scope < first_) {
                at = i;
                return false;
            }
            if (s.scope == scope && same(s, name, suffix)) {
                at = i;
                return true;
            }
        }
    }

    /// hash() of the text a (name, suffix) pair stands for: pairs with equal texts hash equal.
    [[nodiscard]] static uint64_t text_hash(uint32_t scope, std::string_view name,
                                            uint32_t suffix) noexcept {
        if (suffix == 0) {
            return hash(scope, name);
        }
        char sfx[11] = {'#'};
        const std::size_t ls = 1 + digits(suffix, sfx + 1);
        char buf[64];
        if (name.size() + ls <= sizeof buf) { // NAME#N spelt out
            if (!name.empty()) {
                std::memcpy(buf, name.data(), name.size());
            }
            std::memcpy(buf + name.size(), sfx, ls);
            return hash(scope, std::string_view(buf, name.size() + ls));
        }
        return long_text_hash(scope, name, std::string_view(sfx, ls));
    }

    /// hash() of @p a followed by @p b, without joining them (a long name and its suffix).
    [[nodiscard]] static uint64_t long_text_hash(uint32_t scope, std::string_view a,
                                                 std::string_view b) noexcept {
        const std::size_t n = a.size() + b.size();
        uint64_t h = detail::name_seed ^ (uint64_t{scope} << 32) ^ n;
        auto byte = [&](std::size_t k) {
            return static_cast<unsigned char>(k < a.size() ? a[k] : b[k - a.size()]);
        };
        std::size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            uint64_t w = 0;
            for (std::size_t k = 0; k < 8; ++k) {
                w |= uint64_t{byte(i + k)} << (8 * k);
            }
            h = mix(h ^ w);
        }
        uint64_t w = 0;
        for (std::size_t k = 0; i + k < n; ++k) {
            w |= uint64_t{byte(i + k)} << (8 * k);
        }
        return mix(h ^ w);
    }

    void put(uint32_t scope, std::string_view name, uint32_t suffix) noexcept {
        const slot s{name.data(), static_cast<uint32_t>(name.size()), suffix, scope, 0};
        if (!hashed_ && count_ < small) {
            small_[count_++] = s;
            return;
        }
        if (!hashed_) {
            // Past the small array: every name so far goes into the slots.
            if (!cleared_) {
                clear_slots();
            }
            hashed_ = true;
            for (std::size_t i = 0; i < count_; ++i) {
                std::size_t at = 0;
                const slot& m = small_[i];
                (void)probe(m.scope, std::string_view(m.p, m.len), m.suffix, at);
                slots_[at] = m;
            }
        }
        std::size_t at = 0;
        (void)probe(scope, name, suffix, at);
        slots_[at] = s;
        ++count_;
    }

    slot* slots_;
    std::size_t mask_;
    uint32_t next_scope_ = 1;
    uint32_t first_ = 1;
    std::size_t count_ = 0;
    bool hashed_ = false;  ///< names are in the slots, not in small_
    bool cleared_ = false; ///< the slots have been cleared once (dead ones have old scopes)
    slot small_[small];
};

/// The smallest power of two >= @p n (n >= 1).
[[nodiscard]] constexpr std::size_t pow2_at_least(std::size_t n) noexcept {
    std::size_t p = 1;
    while (p < n) {
        p <<= 1;
    }
    return p;
}

} // namespace logagg::log
