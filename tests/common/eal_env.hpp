// SPDX-License-Identifier: BSD-3-Clause
// A GoogleTest environment that starts EAL in memory (no hugepages, no PCI, a file prefix of its
// own) and makes one mbuf pool, for tests of code that allocates and frees mbufs.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

namespace logagg::testing {

inline rte_mempool* g_pool = nullptr;

class eal_env : public ::testing::Environment {
public:
    explicit eal_env(std::string name) : name_(std::move(name)) {}
    void SetUp() override {
        // A unique file prefix per process, so parallel runs never share /var/run/dpdk state.
        std::vector<std::string> args{name_,
                                      "--no-huge",
                                      "-m",
                                      "128",
                                      "--no-pci",
                                      "--no-shconf",
                                      "--file-prefix",
                                      "logagg-unit-" + name_ + "-" + std::to_string(getpid()),
                                      "-l",
                                      "0",
                                      "--log-level=error"};
        std::vector<char*> argv;
        for (auto& a : args) {
            argv.push_back(a.data());
        }
        if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
            // Not a skip: without EAL these tests cannot say anything, and saying nothing must
            // fail.
            std::fprintf(stderr, "EAL init failed: %s\n", rte_strerror(rte_errno));
            std::exit(1);
        }
        g_pool = rte_pktmbuf_pool_create("test_pool", 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                         SOCKET_ID_ANY);
        ASSERT_NE(g_pool, nullptr);
    }
    void TearDown() override {
        rte_mempool_free(g_pool);
        rte_eal_cleanup();
    }

private:
    std::string name_;
};

} // namespace logagg::testing
