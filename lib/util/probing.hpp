// SPDX-License-Identifier: BSD-3-Clause
// Side: any (header-only, no state).
//
// Linear-probing helpers shared by the fixed-size tables of the datapath (GELF chunk reassembly,
// IP fragment reassembly): no allocation after start-up, no tombstones.
#pragma once

#include <cstddef>

namespace logagg::util {

/// Backward-shift deletion: empties slot @p i of a linear-probing table of mask + 1 slots and
/// moves later entries of the same probe run back, so every entry stays reachable from its home.
/// @p home_of(slot) returns an entry's hash (masked here). Slots have a `bool used` member.
template <typename Slot, typename HomeOf>
void erase_linear_probe(Slot* slots, std::size_t mask, std::size_t i, HomeOf&& home_of) noexcept {
    slots[i].used = false;
    std::size_t hole = i;
    std::size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!slots[j].used) {
            return;
        }
        const std::size_t home = home_of(slots[j]) & mask;
        // Move j into the hole unless j's home lies cyclically in (hole, j].
        const bool home_between =
            hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!home_between) {
            slots[hole] = slots[j];
            slots[j].used = false;
            hole = j;
        }
    }
}

} // namespace logagg::util
