// SPDX-License-Identifier: BSD-3-Clause
// Side: control plane (configuration of the test-only TCP impairment; no DPDK, so the command
// line can name it: config/options.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/result.hpp"

namespace logagg::tcp {

/// What to do, per worker. All zero: nothing (the instance passes every segment through).
struct impair_config {
    uint32_t drop = 0; ///< drop every drop-th segment (0: none; 1 would drop everything)
    uint32_t hold = 0; ///< hold back every hold-th segment (0: none)
    /// A held segment is handed over after this many further segments (at least 1). Why 3:
    /// three duplicate ACKs are what a sender's fast retransmit waits for (RFC 5681 3.2), so a
    /// segment held longer also triggers a needless retransmission the engine must take as a
    /// duplicate, and one held less is plain reordering.
    uint32_t after = 3;
};

/// Parses "drop=N,hold=N[,after=K]" (either key may be left out, order free). @return the
/// configuration, or a usage failure with a one-line reason for anything else (unknown key, not
/// a number, drop=1, hold=1, or neither drop nor hold).
[[nodiscard]] util::result<impair_config> parse_impair(std::string_view text);

} // namespace logagg::tcp
