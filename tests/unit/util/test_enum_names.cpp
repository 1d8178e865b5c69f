// SPDX-License-Identifier: BSD-3-Clause
// Every value of every enum whose names logagg prints has a non-empty name, distinct from the
// other values' names, and each enum_names() table lists them in enum order.
#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "config/options.hpp"
#include "config/sink_spec.hpp"
#include "log/encode.hpp"
#include "log/framing.hpp"
#include "log/gelf.hpp"
#include "log/json.hpp"
#include "log/rfc3164.hpp"
#include "log/rfc5424.hpp"
#include "net/classify.hpp"
#include "pipeline/counters.hpp"
#include "pipeline/idle.hpp"
#include "pipeline/lanes.hpp"
#include "pipeline/listener.hpp"
#include "pipeline/responder.hpp"
#include "tcp/engine.hpp"
#include "util/enum_names.hpp"

namespace {

namespace lg = logagg::log;
namespace pl = logagg::pipeline;

/// Checks the first @p n values of E: each named, no two alike, and @p table (when given) in
/// enum order. @p first: the first value that is printed (drop_reason::none is not).
template <typename E, typename Table>
void check(const char* what, std::size_t n, const Table& table, std::size_t first = 0) {
    std::set<std::string_view> seen;
    ASSERT_EQ(table.size(), n) << what;
    for (std::size_t i = first; i < n; ++i) {
        const std::string_view nm = name(static_cast<E>(i));
        EXPECT_FALSE(nm.empty()) << what << " value " << i << " has no name";
        EXPECT_TRUE(seen.insert(nm).second) << what << ": '" << nm << "' names two values";
        EXPECT_EQ(table[i], nm) << what << " value " << i;
        EXPECT_EQ((logagg::util::enum_index<E, 64>(nm)), i) << what << " '" << nm << "'";
    }
}

TEST(EnumNames, EveryValueHasADistinctName) {
    check<logagg::net::drop_reason>("drop_reason", logagg::net::drop_reason_count,
                                    logagg::net::drop_reason_names, 1);
    check<pl::msg_drop>("msg_drop", pl::msg_drop_count, pl::msg_drop_names);
    check<pl::sink_drop>("sink_drop", pl::sink_drop_count, pl::sink_drop_names);
    check<pl::copy_reason>("copy_reason", pl::copy_reason_count, pl::copy_reason_names);
    check<pl::reply_kind>("reply_kind", pl::reply_kinds, pl::reply_kind_names);
    check<pl::listen_format>("listen_format", static_cast<std::size_t>(pl::listen_format::count_),
                             pl::listen_format_names);
    check<logagg::config::sink_type>("sink_type",
                                     static_cast<std::size_t>(logagg::config::sink_type::count_),
                                     logagg::config::sink_type_names);
    check<lg::output_format>("output_format", static_cast<std::size_t>(lg::output_format::count_),
                             lg::output_format_names);
    check<lg::input_format>("input_format", lg::input_format_names.size(), lg::input_format_names);
    check<lg::json_status>("json_status", static_cast<std::size_t>(lg::json_status::count_),
                           lg::json_status_names);
    check<lg::json_role>("json_role", static_cast<std::size_t>(lg::json_role::count_),
                         lg::json_role_names);
    check<lg::rfc5424_status>("rfc5424_status",
                              static_cast<std::size_t>(lg::rfc5424_status::count_),
                              lg::rfc5424_status_names);
    check<lg::rfc3164_status>("rfc3164_status",
                              static_cast<std::size_t>(lg::rfc3164_status::count_),
                              lg::rfc3164_status_names);
    check<lg::gelf::chunk_status>("chunk_status", lg::gelf::chunk_status_count,
                                  lg::gelf::chunk_status_names);
    // Enums whose names are also read back (options, sink parameters, the state file).
    check<pl::poll_mode>("poll_mode", pl::poll_mode_count, pl::poll_mode_names);
    check<pl::key_field>("key_field", pl::key_field_count, pl::key_field_names);
    check<lg::framing_mode>("framing_mode", lg::framing_mode_count, lg::framing_mode_names);
    check<logagg::config::framing_kind>(
        "framing_kind", static_cast<std::size_t>(logagg::config::framing_kind::count_),
        logagg::config::framing_kind_names);
    check<logagg::config::full_policy>("full_policy", logagg::config::full_policy_names.size(),
                                       logagg::config::full_policy_names);
}

TEST(EnumNames, EnumsWithoutATable) {
    // enum_names<E, 64>() names values past the last one "": only the first n are checked.
    const auto outcomes = logagg::util::enum_names<logagg::tcp::seg_outcome, 64>();
    std::set<std::string_view> seen;
    for (std::size_t i = 0; i < logagg::tcp::seg_outcome_count; ++i) {
        EXPECT_FALSE(outcomes[i].empty()) << "seg_outcome value " << i << " has no name";
        EXPECT_TRUE(seen.insert(outcomes[i]).second) << "'" << outcomes[i] << "' names two";
    }
    EXPECT_EQ(outcomes[logagg::tcp::seg_outcome_count], "") << "count_ is not a value";
    EXPECT_EQ(name(logagg::config::full_policy::drop), "drop");
    EXPECT_EQ(name(logagg::config::full_policy::block), "block");
}

TEST(EnumNames, NamesReadBack) {
    namespace u = logagg::util;
    EXPECT_EQ((u::enum_from_name<lg::framing_mode, lg::framing_mode_count>("auto")),
              lg::framing_mode::auto_detect);
    EXPECT_EQ((u::enum_from_name<lg::framing_mode, lg::framing_mode_count>("auto_detect")),
              std::nullopt);
    EXPECT_EQ((u::enum_from_name<pl::poll_mode, pl::poll_mode_count>("busy")), pl::poll_mode::busy);
    EXPECT_EQ((u::enum_from_name<pl::poll_mode, pl::poll_mode_count>("Busy")), std::nullopt);
    EXPECT_EQ(u::enum_choices(lg::framing_mode_names), "lf, datagram, octet or auto");
    EXPECT_EQ(u::enum_choices(pl::poll_mode_names), "busy or adaptive");
    EXPECT_EQ(u::enum_choices(std::array<std::string_view, 1>{"only"}), "only");
}

TEST(EnumNames, UnknownNamesAreNotFound) {
    EXPECT_EQ((logagg::util::enum_index<pl::msg_drop, pl::msg_drop_count>("no_such_reason")),
              pl::msg_drop_count);
    EXPECT_EQ((logagg::util::enum_index<pl::msg_drop, pl::msg_drop_count>("")), pl::msg_drop_count);
}

} // namespace
