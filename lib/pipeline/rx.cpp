// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath (rx_dispatch, rx_poll), control plane (prepare).
#include "pipeline/rx.hpp"

#include <sys/socket.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_pause.h>

#include "net/neighbour_packets.hpp"
#include "pipeline/blocked.hpp"
#include "pipeline/message.hpp"

namespace logagg::pipeline {

void rx_ctx::prepare() {
    rx_buf.assign(burst, nullptr);
    dropped.assign(burst, nullptr);
    by_worker.assign(static_cast<std::size_t>(burst) * worker_rings.size(), nullptr);
    n_by_worker.assign(worker_rings.size(), 0);
}

namespace {

/// Counts fragment frames the reassembler released without a datagram.
void count_frag_drop(void* ctx, net::drop_reason why, uint32_t frames) noexcept {
    static_cast<lcore_stats*>(ctx)->drop(why, frames);
}

} // namespace

void rx_drain(rx_ctx& rx) noexcept {
    if (rx.reasm != nullptr) {
        rx.reasm->drain(count_frag_drop, rx.stats);
    }
}

// Why whole (~150 lines): the per-frame loop of the RX hot path. Its byte count, burst time and
// the keep/drop compaction stay in locals across the whole burst, and each frame goes through
// one chain: classify, reassemble, learn/answer, hand to a worker or drop (counted); helper
// calls per frame would have to pass that state back and forth.
void rx_dispatch(rx_ctx& rx, rte_mbuf** pkts, uint16_t n, std::size_t q) noexcept {
    lcore_stats& st = *rx.stats;
    uint16_t n_drop = 0;
    uint16_t n_keep = 0; // run to completion: accepted frames are compacted to the front of pkts
    const auto n_workers = static_cast<uint32_t>(rx.worker_rings.size());
    net::classify_options opts = rx.opts;
    opts.reassemble = rx.reasm != nullptr;
    responder* resp = nullptr;
    if (q < rx.queues.size()) {
        opts.accept_partial_checksum = rx.queues[q].accept_partial_checksum;
        opts.snap_len = rx.queues[q].snap_len;
        if (rx.queues[q].local != nullptr && rx.queues[q].responder < rx.responders.size()) {
            opts.local = rx.queues[q].local;
            resp = &rx.responders[rx.queues[q].responder];
        }
    }
    uint64_t bytes = 0;
    // One TSC read per burst: the receive time of all of it, and the clock of reassembly,
    // neighbour learning and the reply rate limit.
    const uint64_t now = rte_rdtsc();
    for (uint16_t i = 0; i < n; ++i) {
        rte_mbuf* m = pkts[i];
        bytes += m->pkt_len;
        net::packet_info info;
        net::drop_reason r = m->nb_segs > net::max_segments
                                 ? net::drop_reason::too_many_segments
                                 : net::classify(m, *rx.ports, opts, info);
        if (r == net::drop_reason::none && info.kind == net::packet_kind::fragment) {
            const reassembly_result res = rx.reasm->add(m, info, now, count_frag_drop, &st);
            if (res.datagram == nullptr) {
                continue; // held, or dropped and counted
            }
            st.fragments_merged.add(res.merged);
            st.reassembled.add();
            m = res.datagram;
            r = m->nb_segs > net::max_segments ? net::drop_reason::too_many_segments
                                               : net::classify(m, *rx.ports, opts, info);
        }
        if (r == net::drop_reason::none &&
            (info.kind == net::packet_kind::arp_reply || info.kind == net::packet_kind::nd_advert ||
             info.kind == net::packet_kind::arp_request)) {
            // What ARP and neighbour advertisements say about a port sink's next hop.
            uint8_t addr[16];
            uint8_t mac[6];
            const bool v4 = info.kind != net::packet_kind::nd_advert;
            const bool learned =
                rx.neighbours != nullptr && net::neighbour_of(m, info, addr, mac) &&
                rx.neighbours->learn(rx.queues[q].port, v4 ? AF_INET : AF_INET6, addr, mac, now);
            if (info.kind != net::packet_kind::arp_request) {
                if (learned) {
                    st.neighbour.add();
                    rx.dropped[n_drop++] = m; // consumed: freed with the drops, not counted as one
                    continue;
                }
                r = v4 ? net::drop_reason::arp_not_request : net::drop_reason::not_for_us;
            }
        }
        const bool tcp = info.kind == net::packet_kind::tcp;
        if (r == net::drop_reason::none && info.kind != net::packet_kind::log && !tcp) {
            // A request to one of our addresses (classify() reports these only with --ip).
            const answer_status a = answer(*resp, m, info, now);
            if (a == answer_status::queued) {
                continue; // counted when the NIC takes it
            }
            r = a == answer_status::rate_limited ? net::drop_reason::reply_rate_limited
                                                 : net::drop_reason::reply_failed;
        }
        if (r != net::drop_reason::none) {
            st.drop(r);
            rx.dropped[n_drop++] = m;
            continue;
        }
        if (info.checksum_partial) {
            st.checksum_partial.add();
        }
        pkt_meta* meta = meta_of(m, rx.meta_off);
        // A TCP segment: the worker's engine reads its headers from l2_len (the IP header) and
        // payload_off / payload_len (the TCP header and what follows it in the IP datagram).
        meta->payload_off = tcp ? info.l4_off : info.payload_off;
        meta->payload_len = tcp ? static_cast<uint16_t>(info.l4_len) : info.payload_len;
        meta->dst_port = info.dst_port;
        meta->rx_tsc = now;
        m->l2_len = info.l2_len & 0x7f;
        m->l3_len = info.l3_len & 0x1ff;
        m->l4_len = tcp ? 20 : 8;
        m->packet_type = info.packet_type;
        if ((m->ol_flags & RTE_MBUF_F_RX_RSS_HASH) == 0) {
            m->hash.rss = info.flow_hash;
        }
        if (n_workers == 0) {
            pkts[n_keep++] = m;
        } else {
            const uint32_t w = worker_for(m->hash.rss, n_workers);
            rx.by_worker[w * rx.burst + rx.n_by_worker[w]++] = m;
        }
    }
    st.rx_packets.add(n);
    st.rx_bytes.add(bytes);
    if (n_drop != 0) {
        rte_pktmbuf_free_bulk(rx.dropped.data(), n_drop);
    }
    if (rx.reasm != nullptr && rx.reasm->pending_datagrams() != 0) {
        rx.reasm->expire(now, count_frag_drop, &st);
    }
    if (resp != nullptr && resp->n_out != 0) {
        std::array<uint32_t, reply_kinds> sent{};
        const uint16_t unsent = flush(*resp, sent);
        for (std::size_t k = 0; k < reply_kinds; ++k) {
            st.replies[k].add(sent[k]);
            st.answered.add(sent[k]);
        }
        if (unsent != 0) {
            st.drop(net::drop_reason::reply_failed, unsent);
        }
    }
    if (n_workers == 0) {
        st.to_workers.add(n_keep);
        if (n_keep != 0) {
            worker_frame_burst(*rx.local_worker, std::span<rte_mbuf* const>(pkts, n_keep));
        }
        return;
    }
    for (uint32_t w = 0; w < n_workers; ++w) {
        const uint16_t k = rx.n_by_worker[w];
        if (k == 0) {
            continue;
        }
        rx.n_by_worker[w] = 0;
        rte_mbuf** batch = &rx.by_worker[w * rx.burst];
        waker* wake = rx.worker_wakers.empty() ? nullptr : rx.worker_wakers[w];
        unsigned sent =
            rte_ring_enqueue_burst(rx.worker_rings[w], reinterpret_cast<void**>(batch), k, nullptr);
        if (sent != 0 && wake != nullptr) {
            wake->notify();
        }
        uint32_t spins = 0;
        while (rx.block_when_full && sent < k) {
            blocked_step(rx.worker_rings[w], rx.block_sleep_us, spins);
            const unsigned more = rte_ring_enqueue_burst(
                rx.worker_rings[w], reinterpret_cast<void**>(batch + sent), k - sent, nullptr);
            sent += more;
            if (more != 0 && wake != nullptr) {
                wake->notify();
            }
        }
        st.to_workers.add(sent);
        if (sent < k) {
            st.drop(net::drop_reason::worker_ring_full, k - sent);
            rte_pktmbuf_free_bulk(batch + sent, k - sent);
        }
    }
}

uint32_t rx_poll(rx_ctx& rx) noexcept {
    uint32_t total = 0;
    for (std::size_t i = 0; i < rx.queues.size(); ++i) {
        const uint16_t n =
            rte_eth_rx_burst(rx.queues[i].port, rx.queues[i].queue, rx.rx_buf.data(), rx.burst);
        if (n != 0) {
            rx_dispatch(rx, rx.rx_buf.data(), n, i);
            total += n;
        }
    }
    return total;
}

} // namespace logagg::pipeline
