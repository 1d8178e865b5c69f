// SPDX-License-Identifier: BSD-3-Clause
// DPDK's log (rte_log, no EAL needed) through logagg's logger: each line gets logagg's prefix on
// stderr, a line written in pieces comes out whole, and DPDK's level filter still decides.
#include <gtest/gtest.h>

#include <rte_log.h>

#include <string>

#include "control/dpdk_log.hpp"

namespace {

using logagg::control::route_dpdk_log;

TEST(DpdkLog, LinesTakeLogaggsPrefixOnStderr) {
    ASSERT_TRUE(route_dpdk_log());
    ASSERT_TRUE(route_dpdk_log()) << "a second call keeps the stream";
    EXPECT_EQ(rte_log_get_stream(), logagg::control::dpdk_log_stream());
    rte_log_set_global_level(RTE_LOG_DEBUG);
    testing::internal::CaptureStderr();
    rte_log(RTE_LOG_ERR, RTE_LOGTYPE_EAL, "EAL: first\nEAL: second\n");
    rte_log(RTE_LOG_WARNING, RTE_LOGTYPE_EAL, "EAL: written ");
    rte_log(RTE_LOG_WARNING, RTE_LOGTYPE_EAL, "in two pieces\n");
    rte_log(RTE_LOG_INFO, RTE_LOGTYPE_EAL, "EAL: %s %d\n", "formatted", 42);
    EXPECT_EQ(testing::internal::GetCapturedStderr(),
              "logagg: EAL: first\nlogagg: EAL: second\nlogagg: EAL: written in two pieces\n"
              "logagg: EAL: formatted 42\n");
}

TEST(DpdkLog, DpdksLevelStillFilters) {
    ASSERT_TRUE(route_dpdk_log());
    rte_log_set_global_level(RTE_LOG_ERR); // as --log-level=error
    testing::internal::CaptureStderr();
    rte_log(RTE_LOG_INFO, RTE_LOGTYPE_EAL, "EAL: not shown\n");
    rte_log(RTE_LOG_WARNING, RTE_LOGTYPE_EAL, "EAL: not shown either\n");
    rte_log(RTE_LOG_ERR, RTE_LOGTYPE_EAL, "EAL: shown\n");
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "logagg: EAL: shown\n");
}

TEST(DpdkLog, LongLinesComeOutWhole) {
    ASSERT_TRUE(route_dpdk_log());
    rte_log_set_global_level(RTE_LOG_DEBUG);
    const std::string long_text(20000, 'x'); // longer than stdio's formatting buffer
    testing::internal::CaptureStderr();
    rte_log(RTE_LOG_ERR, RTE_LOGTYPE_EAL, "EAL: %s\n", long_text.c_str());
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "logagg: EAL: " + long_text + "\n");
}

} // namespace
