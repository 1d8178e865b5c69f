// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath (no allocation: the slots are the caller's; the seed is set before main).
//
// Repeated names: an RFC 5424 SD-ID or PARAM-NAME, or a JSON key, that repeats within its object.
// The parser refuses a repeated SD-ID (RFC 5424 6.3.2) and the encoders never write a JSON object
// with a repeated key: a later occurrence of a name is written NAME#N with the smallest N >= 2
// that no earlier name of the same object has (docs/formats.md#repeated-names).
#pragma once

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
/// a repeated one is written as. Open addressing over the caller's slots, which must number a
/// power of two and at least twice the names added between two reset() calls.
class name_set {
public:
    /// Trivial, so that an array of them on the stack costs nothing until name_set clears the
    /// part it uses.
    struct slot {
        const char* p; ///< the name's bytes
        uint32_t len;
        uint32_t suffix; ///< 0: the name as written; N: written as NAME#N
        uint32_t scope;  ///< the slot is live when scope >= first_
        uint32_t next;   ///< the next N to try for a name that repeats this one
    };

    /// Takes @p n_slots (a power of two) slots and clears them: O(n_slots).
    name_set(slot* slots, std::size_t n_slots) noexcept : slots_(slots), mask_(n_slots - 1) {
        clear_slots();
    }

    /// Forgets every name: O(1), except when the scope numbers wrap (then the slots are cleared).
    void reset() noexcept {
        if (next_scope_ > 0x7fffffffu) {
            clear_slots();
        }
        first_ = next_scope_;
        count_ = 0;
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
        std::size_t at = 0;
        if (!find(scope, name, 0, at)) {
            put(at, scope, name, 0);
            return 0;
        }
        slot& first = slots_[at];
        uint32_t n = first.next < 2 ? 2 : first.next;
        for (;; ++n) {
            if (count_ >= capacity()) {
                return full;
            }
            std::size_t free_at = 0;
            if (!find(scope, name, n, free_at)) {
                put(free_at, scope, name, n);
                first.next = n + 1; // slots never move: `first` is still that slot
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
        next_scope_ = 1;
        first_ = 1;
        count_ = 0;
    }

    /// Seeded FNV-1a over the text NAME or NAME#N, finished with MurmurHash3's fmix64 (so the
    /// low bits that pick the slot depend on every byte and on the whole seed).
    [[nodiscard]] static uint64_t hash(uint32_t scope, std::string_view name,
                                       uint32_t suffix) noexcept {
        uint64_t h = detail::name_seed ^ (uint64_t{scope} * 0x9E3779B97F4A7C15ULL);
        auto feed = [&h](std::string_view b) {
            for (const char c : b) {
                h = (h ^ static_cast<unsigned char>(c)) * 0x100000001B3ULL;
            }
        };
        feed(name);
        if (suffix != 0) {
            char buf[11] = {'#'};
            feed(std::string_view(buf, 1 + digits(suffix, buf + 1)));
        }
        h ^= h >> 33;
        h *= 0xFF51AFD7ED558CCDULL;
        h ^= h >> 33;
        h *= 0xC4CEB9FE1A85EC53ULL;
        h ^= h >> 33;
        return h;
    }

    /// Does slot @p s hold the text NAME#N (NAME when @p suffix is 0)?
    [[nodiscard]] static bool same(const slot& s, std::string_view name, uint32_t suffix) noexcept {
        if (s.suffix == suffix) {
            return s.len == name.size() && std::memcmp(s.p, name.data(), name.size()) == 0;
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

    /// Looks NAME#suffix up in @p scope. @return true with its slot in @p at, or false with the
    /// free slot where it goes.
    [[nodiscard]] bool find(uint32_t scope, std::string_view name, uint32_t suffix,
                            std::size_t& at) const noexcept {
        std::size_t i = static_cast<std::size_t>(hash(scope, name, suffix)) & mask_;
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

    void put(std::size_t at, uint32_t scope, std::string_view name, uint32_t suffix) noexcept {
        slots_[at] = slot{name.data(), static_cast<uint32_t>(name.size()), suffix, scope, 0};
        ++count_;
    }

    slot* slots_;
    std::size_t mask_;
    uint32_t next_scope_ = 1;
    uint32_t first_ = 1;
    std::size_t count_ = 0;
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
