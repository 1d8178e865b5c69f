// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane (start-up). Header-only, pure.
//
// The one way start-up code fails: a function that can fail returns util::result<T> (a value or
// a util::failure naming the option, port or sink), or util::result<void> when it has nothing
// else to return (util::ok() on success). No exception crosses a module boundary; code that calls
// a throwing library (simdjson, the standard library's allocators) catches at that call and
// returns a failure.
#pragma once

#include <cstdlib>
#include <utility>
#include <variant>

#include "util/failure.hpp"

namespace logagg::util {

/// A value of type T, or the failure that prevented it.
template <typename T>
class [[nodiscard]] result {
public:
    result(T value) : v_(std::in_place_index<0>, std::move(value)) {} // NOLINT: implicit
    result(failure f) : v_(std::in_place_index<1>, std::move(f)) {}   // NOLINT: implicit

    [[nodiscard]] bool ok() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    /// The value. Requires ok() (aborts otherwise: a caller that did not check is a bug).
    [[nodiscard]] T& value() & {
        check();
        return std::get<0>(v_);
    }
    [[nodiscard]] const T& value() const& {
        check();
        return std::get<0>(v_);
    }
    [[nodiscard]] T&& value() && {
        check();
        return std::get<0>(std::move(v_));
    }

    /// The failure. Requires !ok().
    [[nodiscard]] const failure& error() const& {
        if (ok()) {
            std::abort();
        }
        return std::get<1>(v_);
    }

private:
    void check() const {
        if (!ok()) {
            std::abort();
        }
    }

    std::variant<T, failure> v_;
};

/// Success, or the failure that prevented it: what a step that produces nothing returns.
template <>
class [[nodiscard]] result<void> {
public:
    /// Success.
    result() noexcept = default;
    result(failure f) : failed_(true), f_(std::move(f)) {} // NOLINT: implicit

    [[nodiscard]] bool ok() const noexcept { return !failed_; }
    explicit operator bool() const noexcept { return ok(); }

    /// The failure. Requires !ok().
    [[nodiscard]] const failure& error() const& {
        if (ok()) {
            std::abort();
        }
        return f_;
    }

private:
    bool failed_ = false;
    failure f_;
};

/// The success of a util::result<void>: `return util::ok();`.
[[nodiscard]] inline result<void> ok() noexcept {
    return {};
}

} // namespace logagg::util
