// SPDX-License-Identifier: BSD-3-Clause
// eal_env plus the mbuf dynamic field the RX stage registers for pkt_meta (lib/pipeline/
// message.hpp), for tests of the worker and the stages after it, which read a packet's RX time
// and payload position from there.
#pragma once

#include <string>

#include <gtest/gtest.h>
#include <rte_mbuf_dyn.h>

#include "common/eal_env.hpp"
#include "pipeline/message.hpp"

namespace logagg::testing {

/// The pkt_meta field's offset in every mbuf, once meta_eal_env::SetUp() ran.
inline int g_meta_off = -1;

class meta_eal_env : public eal_env {
public:
    explicit meta_eal_env(std::string name) : eal_env(std::move(name)) {}
    void SetUp() override {
        eal_env::SetUp();
        static const rte_mbuf_dynfield d = {"logagg_pkt_meta", sizeof(logagg::pipeline::pkt_meta),
                                            alignof(logagg::pipeline::pkt_meta), 0};
        g_meta_off = rte_mbuf_dynfield_register(&d);
        ASSERT_GE(g_meta_off, 0);
    }
};

} // namespace logagg::testing
