// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath. No allocation, no locks, no syscalls; payload bytes are copied only where a
// conversion needs it (linearising, escaping, GELF reassembly/inflation, one-piece sinks) or
// where a copy is cheaper than a reference (short records for file sinks), and every such byte is
// counted in bytes_copied under its reason.
#include "pipeline/worker.hpp"

#include <bit>
#include <charconv>
#include <cstring>

#include <rte_cycles.h>
#include <rte_pause.h>

#include "log/detect.hpp"
#include "log/framing.hpp"
#include "log/rfc3164.hpp"
#include "log/rfc5424.hpp"
#include "net/classify.hpp"
#include "net/endpoint_text.hpp"
#include "pipeline/blocked.hpp"

namespace logagg::pipeline {
namespace {

/// Collects the pieces (segments) of [off, off + len) of chain @p m.
/// @return the number of pieces, or 0 when the chain is shorter than claimed or too long.
[[nodiscard]] uint32_t
payload_pieces(const rte_mbuf* m, uint32_t off, uint32_t len,
               std::array<log::piece, net::max_segments>& out,
               std::array<const char*, net::max_segments>* seg_ends) noexcept {
    uint32_t n = 0;
    uint32_t seg_start = 0; // packet offset of the current segment's first byte
    const uint32_t end = off + len;
    for (const rte_mbuf* s = m; s != nullptr && seg_start < end; s = s->next) {
        const uint32_t seg_end = seg_start + s->data_len;
        if (seg_end > off && s->data_len != 0) {
            if (n == out.size()) {
                return 0;
            }
            const uint32_t from = off > seg_start ? off : seg_start;
            const uint32_t to = end < seg_end ? end : seg_end;
            (*seg_ends)[n] = static_cast<const char*>(s->buf_addr) + s->buf_len;
            out[n++] = log::piece{rte_pktmbuf_mtod_offset(s, const char*, from - seg_start), from,
                                  to - from};
        }
        seg_start = seg_end;
    }
    return seg_start >= end ? n : 0;
}

/// Reserves @p n contiguous arena bytes. @return the ring offset, or -1 when the sink has not
/// released enough yet.
[[nodiscard]] int64_t arena_reserve(gen_arena& a, uint32_t n) noexcept {
    const uint32_t pos = static_cast<uint32_t>(a.head % a.size);
    const uint64_t skip = pos + n > a.size ? a.size - pos : 0;
    // The sink's release position, as last read: it only grows, so an old value only
    // understates the room. Read again (a line the sink lcore writes) only when it looks short.
    if (a.head + skip + n - a.released_seen > a.size) {
        a.released_seen = a.released.load(std::memory_order_acquire);
        if (a.head + skip + n - a.released_seen > a.size) {
            return -1;
        }
    }
    a.head += skip;
    return skip != 0 ? 0 : static_cast<int64_t>(pos); // a skip ends at the ring's start
}

/// "ADDR:PORT" of the packet's sender into @p buf. @return its length (0 when unknown).
std::size_t source_of(const rte_mbuf* m, char (&buf)[64]) noexcept {
    std::array<uint8_t, 40> hdr;
    // The IPv4 header first: a short datagram has fewer than 40 bytes behind it.
    const auto* ip = static_cast<const uint8_t*>(rte_pktmbuf_read(m, m->l2_len, 20, hdr.data()));
    if (ip != nullptr && (ip[0] >> 4) == 6) {
        ip = static_cast<const uint8_t*>(rte_pktmbuf_read(m, m->l2_len, 40, hdr.data()));
    }
    std::array<uint8_t, 2> pb;
    const auto* port = static_cast<const uint8_t*>(
        rte_pktmbuf_read(m, static_cast<uint32_t>(m->l2_len) + m->l3_len, 2, pb.data()));
    if (ip == nullptr || port == nullptr) {
        return 0;
    }
    const auto p = static_cast<uint16_t>((unsigned{port[0]} << 8) | port[1]);
    const bool v4 = (ip[0] >> 4) == 4;
    static_assert(sizeof buf >= net::endpoint_text_max);
    return net::endpoint_text(v4 ? ip + 12 : ip + 8, v4, p, buf);
}

/// The format of one message under --listen ...:auto (docs/formats.md#auto-detection). A
/// message that looks like binary GELF inside a line is parsed liberally, as RFC 3164.
[[nodiscard]] listen_format detect(std::string_view v) noexcept {
    switch (log::detect_format(v)) {
    case log::input_format::json:
        return listen_format::json;
    case log::input_format::rfc5424:
        return listen_format::rfc5424;
    case log::input_format::rfc3164:
    case log::input_format::gelf:
    case log::input_format::raw:
        break;
    }
    return listen_format::rfc3164;
}

/// Does a datagram on an auto listener carry GELF that must not be split into lines: a chunk,
/// or a zlib/gzip payload? (Plain GELF is JSON and is framed like any JSON line.)
[[nodiscard]] bool looks_like_binary_gelf(std::string_view first_bytes) noexcept {
    return log::detect_format(first_bytes) == log::input_format::gelf;
}

/// Per packet state.
struct packet_state {
    rte_mbuf* m;
    uint64_t rx_tsc; ///< from its pkt_meta
    std::array<log::piece, net::max_segments>* pieces;
    std::array<const char*, net::max_segments>* seg_end;
    uint32_t n_pieces;
    char source[64] = {};
    std::size_t source_len = SIZE_MAX; ///< SIZE_MAX: not computed yet

    [[nodiscard]] std::string_view source_text() noexcept {
        if (source_len == SIZE_MAX) {
            source_len = source_of(m, source);
        }
        return {source, source_len};
    }
};

/// Where one message's bytes are.
struct message {
    uint32_t off = 0; ///< packet offset (when mapped)
    uint32_t len = 0;
    bool lf = false;        ///< its LF follows it in the same segment
    bool truncated = false; ///< cut to --max-msg
    std::string_view view;  ///< contiguous bytes: in the packet, or a copy (scratch, GELF buffer)
    /// view[i] is packet byte off + i (the view is the packet, or a copy of packet bytes), so
    /// sinks may reference the packet. False for GELF messages rebuilt from chunks or inflated.
    bool mapped = true;
    bool one_segment = true;  ///< the packet holds the message in one segment
    std::size_t capacity = 0; ///< readable bytes from view.data() (simdjson padding)
};

/// Enqueues what lane @p l has staged. Drop mode: the longest run of whole units that fits is
/// enqueued (single producer, so the free count can only grow until our enqueue), the rest is
/// dropped unit by unit: packet references released, messages counted as the sink's sink_full.
void lane_flush(worker_ctx& w, sink_lane& l) noexcept {
    const uint32_t n = l.n_staged;
    if (n == 0) {
        return;
    }
    l.n_staged = 0;
    const uint64_t arena_start = l.stage_arena_start;
    l.stage_arena_start = l.arena->head;
    constexpr unsigned esize = sizeof(msg_desc);
    if (w.block_when_full) {
        uint32_t done = 0;
        uint32_t spins = 0;
        while (done < n) {
            const uint32_t k =
                rte_ring_enqueue_burst_elem(l.ring, &l.staged[done], esize, n - done, nullptr);
            done += k;
            if (k != 0 && l.wake != nullptr) {
                l.wake->notify(); // the sink makes the room we wait for: it must not sleep
            }
            if (done < n) {
                blocked_step(l.ring, w.block_sleep_us, spins);
            }
        }
        return;
    }
    const uint32_t room = rte_ring_free_count(l.ring);
    uint32_t fit = n;
    if (fit > room) {
        // The longest prefix that ends a record outside any open unit: a unit (the referenced
        // records of one packet) goes whole or not at all, since its last descriptor carries the
        // packet's reference. Appended (own) records may sit between a unit's records.
        fit = 0;
        bool open = false;
        for (uint32_t i = 0; i < room; ++i) {
            const msg_desc& d = l.staged[i];
            if (d.own == 0) {
                open = d.release == 0;
            }
            if (d.more == 0 && !open) {
                fit = i + 1;
            }
        }
    }
    const uint32_t sent =
        fit == 0 ? 0 : rte_ring_enqueue_bulk_elem(l.ring, l.staged.data(), esize, fit, nullptr);
    if (sent != 0 && l.wake != nullptr) {
        l.wake->notify();
    }
    if (sent < n) {
        uint32_t dropped_msgs = 0;
        bool rolled_back = false;
        for (uint32_t i = sent; i < n; ++i) {
            const msg_desc& d = l.staged[i];
            dropped_msgs += d.more == 0 ? 1u : 0u;
            if (d.gen != 0 && !rolled_back) {
                // Nothing after this piece reached the sink: its arena bytes are free again.
                l.arena->head = l.arena->position(arena_start, d.off);
                l.stage_arena_start = l.arena->head;
                rolled_back = true;
            }
            if (d.release != 0) {
                rte_pktmbuf_free(d.pkt);
            }
        }
        w.stats->sink_full[l.sink].add(dropped_msgs);
    }
}

/// The staging of lane @p l is full in the middle of packet @p m: closes m's open unit in this
/// lane with a reference of its own, and flushes.
void lane_spill(worker_ctx& w, sink_lane& l, rte_mbuf* m) noexcept {
    if (l.unit_open) {
        retain_chain(m);
        l.staged[l.unit_last].release = 1;
        l.unit_open = false;
    }
    lane_flush(w, l);
}

/// Builds one message for a lane as descriptors: generated bytes go to the lane's arena (a run of
/// them between references is one descriptor, staged when the run ends), references into the
/// packet become descriptors of their own.
///
/// Why one write pointer: the ring offset, the pending run and the generated part of the total
/// all follow from gen_at and where the message and the run started, so gen() stores one pointer
/// instead of four counters (it runs about 25 times a message in the ndjson encoder).
struct stage_out {
    sink_lane& l;
    rte_mbuf* m;
    uint32_t msg_off;  ///< packet offset of base[0]
    const char* base;  ///< where the record's views point (packet or a copy of it)
    bool refs_ok;      ///< references allowed (mapped message, lane not contiguous)
    char* gen_at;      ///< next arena byte
    uint32_t gen_off0; ///< the ring offset of gen_start
    uint32_t first;    ///< index of the message's first staged descriptor (after a key piece)
    char* const gen_start = gen_at; ///< the message's first generated byte
    char* run_start = gen_at;       ///< the first generated byte not staged yet (one run)
    uint32_t refs = 0;
    uint64_t n_copied = 0;
    uint64_t ref_bytes = 0; ///< output bytes referenced in the packet

    void gen(std::string_view b) noexcept {
        if (b.empty()) {
            return;
        }
        std::memcpy(gen_at, b.data(), b.size());
        gen_at += b.size();
    }
    /// The arena has room: emit() reserved encode_bound() bytes for the message.
    [[nodiscard]] char* gen_reserve(std::size_t) const noexcept { return gen_at; }
    void gen_commit(std::size_t n) noexcept { gen_at += n; }
    /// Stages the run of generated bytes (before a reference, and at the end of the message).
    void end_run() noexcept {
        if (gen_at == run_start) {
            return;
        }
        l.staged[l.n_staged++] =
            msg_desc{.pkt = m,
                     .off = gen_off0 + static_cast<uint32_t>(run_start - gen_start),
                     .len = static_cast<uint32_t>(gen_at - run_start),
                     .more = 1,
                     .gen = 1};
        run_start = gen_at;
    }
    void ref(std::string_view v) noexcept {
        if (!refs_ok || refs == max_refs_per_msg) {
            gen(v);
            n_copied += v.size();
            return;
        }
        end_run();
        ++refs;
        l.staged[l.n_staged++] = msg_desc{.pkt = m,
                                          .off = msg_off + static_cast<uint32_t>(v.data() - base),
                                          .len = static_cast<uint32_t>(v.size()),
                                          .more = 1};
        ref_bytes += v.size();
    }
    void copied(std::size_t n) noexcept { n_copied += n; }
    /// Output bytes so far: generated and referenced.
    [[nodiscard]] uint64_t total() const noexcept {
        return ref_bytes + static_cast<uint64_t>(gen_at - gen_start);
    }
};

/// The key bytes of a record for a lane with a partition key.
[[nodiscard]] std::string_view key_of(const sink_lane& l, const log::log_record* r,
                                      packet_state& ps) noexcept {
    switch (l.key) {
    case key_field::host:
        return r != nullptr ? r->hostname : std::string_view{};
    case key_field::app:
        return r != nullptr ? r->app_name : std::string_view{};
    case key_field::source:
        return ps.source_text();
    case key_field::none:
        break;
    }
    return {};
}

/// Copies [off, off + len) of the packet of @p ps to @p dst, piece by piece (segments).
void copy_from_packet(const packet_state& ps, uint32_t off, uint32_t len, char* dst) noexcept {
    for (uint32_t i = 0; i < ps.n_pieces && len != 0; ++i) {
        const log::piece& p = (*ps.pieces)[i];
        if (off < p.off || off - p.off >= p.len) {
            continue;
        }
        const uint32_t take = std::min(len, p.len - (off - p.off));
        std::memcpy(dst, p.data + (off - p.off), take);
        dst += take;
        off += take;
        len -= take;
    }
}

/// Reserves @p need arena bytes of lane @p l for a message, spilling what is staged (so the sink
/// can release bytes) and, in block mode, waiting. @return the ring offset, or -1: the message is
/// dropped (counted as the sink's sink_full).
[[nodiscard]] int64_t reserve_for_message(worker_ctx& w, sink_lane& l, rte_mbuf* m,
                                          uint32_t need) noexcept {
    int64_t at = arena_reserve(*l.arena, need);
    if (at < 0) {
        lane_spill(w, l, m); // hand over what is staged so the sink can release arena bytes
        at = arena_reserve(*l.arena, need);
        while (at < 0 && w.block_when_full) {
            rte_pause();
            at = arena_reserve(*l.arena, need);
        }
        if (at < 0) {
            w.stats->sink_in[l.sink].add();
            w.stats->sink_full[l.sink].add();
        }
    }
    return at;
}

/// Appends a raw message to the arena of lane @p l as one own descriptor, framed as the sink
/// frames it (its LF after it, or its octet count and a space before it): no reference to the
/// packet (docs/sinks.md#file).
void append_raw(worker_ctx& w, sink_lane& l, packet_state& ps, const message& msg) noexcept {
    if (l.n_staged == stage_capacity) {
        lane_spill(w, l, ps.m);
    }
    const uint32_t prefix = l.append_octet ? octet_prefix_bytes(msg.len) : 0;
    const int64_t at = reserve_for_message(w, l, ps.m, prefix + msg.len + (prefix == 0 ? 1 : 0));
    if (at < 0) {
        return;
    }
    char* dst = l.arena->base + at;
    if (prefix != 0) {
        char* const end = std::to_chars(dst, dst + prefix, msg.len).ptr;
        *end = ' ';
        dst = end + 1;
    }
    if (msg.view.data() != nullptr) {
        std::memcpy(dst, msg.view.data(), msg.len); // as received, or the copy parsing made
    } else {
        copy_from_packet(ps, msg.off, msg.len, dst);
    }
    if (prefix == 0) {
        dst[msg.len] = '\n';
    }
    l.arena->head += prefix + msg.len + (prefix == 0 ? 1 : 0);
    l.staged[l.n_staged++] = msg_desc{.rx_tsc = ps.rx_tsc,
                                      .off = static_cast<uint32_t>(at) + prefix,
                                      .len = msg.len,
                                      .lf_follows = prefix == 0 ? 1u : 0u,
                                      .truncated = msg.truncated ? 1u : 0u,
                                      .gen = 1,
                                      .own = 1,
                                      .octet = prefix != 0 ? 1u : 0u};
    w.stats->copied(copy_reason::sink_append, msg.len);
    w.stats->sink_in[l.sink].add();
    w.stats->sink_in_bytes[l.sink].add(msg.len);
}

/// Stages @p msg on lane @p l as one descriptor of packet @p m's own bytes: nothing generated.
void stage_direct(worker_ctx& w, sink_lane& l, rte_mbuf* m, const message& msg) noexcept {
    if (l.n_staged == stage_capacity) {
        lane_spill(w, l, m);
    }
    l.staged[l.n_staged++] = msg_desc{.pkt = m,
                                      .off = msg.off,
                                      .len = msg.len,
                                      .lf_follows = msg.lf ? 1u : 0u,
                                      .truncated = msg.truncated ? 1u : 0u};
    l.unit_open = true;
    l.unit_last = l.n_staged - 1;
    w.stats->sink_in[l.sink].add();
    w.stats->sink_in_bytes[l.sink].add(msg.len);
}

/// Hands one message to lane @p l: a key piece when the lane has a key, then the message as
/// received (raw) or encoded. A message the lane cannot take (arena full, drop mode) is counted
/// as the sink's sink_full.
void emit(worker_ctx& w, sink_lane& l, packet_state& ps, const message& msg,
          const log::log_record* r, const char* parsed_base) noexcept {
    rte_mbuf* m = ps.m;
    const bool raw = l.format == log::output_format::raw;
    const std::string_view key =
        l.key == key_field::none ? std::string_view{} : key_of(l, r, ps).substr(0, max_key_len);
    // A short record for a file or TCP sink: appended, while its bytes are in this core's cache.
    const bool append =
        l.append_max != 0 && msg.len <= l.append_max && key.empty() && (raw || !l.append_octet);
    if (append && raw) {
        append_raw(w, l, ps, msg);
        return;
    }
    // Raw bytes straight from the packet: one descriptor, nothing generated.
    const bool direct = raw && msg.mapped && key.empty() && (!l.contiguous || msg.one_segment);
    if (direct) {
        stage_direct(w, l, m, msg);
        return;
    }
    if (l.n_staged + max_descs_per_msg > stage_capacity) {
        lane_spill(w, l, m);
    }
    const auto need = static_cast<uint32_t>((raw ? msg.len : log::encode_bound(msg.len)) +
                                            key.size() + (append ? 1 : 0));
    const int64_t at = reserve_for_message(w, l, m, need);
    if (at < 0) {
        return;
    }
    char* gen_at = l.arena->base + at;
    auto gen_off = static_cast<uint32_t>(at);
    if (!key.empty()) {
        std::memcpy(gen_at, key.data(), key.size());
        if (l.key != key_field::source) {
            w.stats->copied(copy_reason::key, key.size()); // a host or app name out of the message
        }
        l.staged[l.n_staged++] = msg_desc{.pkt = m,
                                          .off = gen_off,
                                          .len = static_cast<uint32_t>(key.size()),
                                          .more = 1,
                                          .gen = 1,
                                          .key = 1};
        gen_at += key.size();
        gen_off += static_cast<uint32_t>(key.size());
    }
    // A contiguous lane takes one piece: a raw message in one segment may be that piece, but an
    // encoder's reference would split the record. An appended record takes no reference.
    const bool refs_ok = !append && msg.mapped && (!l.contiguous || (raw && msg.one_segment));
    stage_out o{l, m, msg.off, parsed_base, refs_ok, gen_at, gen_off, l.n_staged};
    const std::string_view whole(parsed_base, msg.view.size()); // the message, as parsed
    if (raw) {
        // Not direct: a key piece precedes it, or it must be one piece, or it is not in the
        // packet. ref() copies (counted) when it may not reference.
        o.ref(whole);
    } else {
        if (l.format == log::output_format::ndjson) {
            if (w.received_for != w.now_ns) {
                w.received_len =
                    static_cast<uint8_t>(log::format_rfc3339(w.now_ns, 9, w.received_text));
                w.received_for = w.now_ns;
            }
            const log::encode_context c{whole, ps.source_text(), w.now_ns,
                                        std::string_view(w.received_text, w.received_len)};
            log::encode_ndjson(*r, c, o);
        } else {
            log::encode_rfc5424(*r, log::encode_context{whole, ps.source_text(), w.now_ns}, o);
        }
    }
    o.end_run();
    const uint64_t total = o.total(); // the LF below is framing, not output
    // Encoded and appended: the generated bytes are one descriptor (adjacent pieces merge), and
    // the LF follows them.
    const bool own = append && l.n_staged == o.first + 1;
    if (own) {
        *o.gen_at++ = '\n';
    }
    l.arena->head += static_cast<uint64_t>(o.gen_at - (l.arena->base + at));
    if (o.n_copied != 0) {
        w.stats->copied(append ? copy_reason::sink_append : copy_reason::encode, o.n_copied);
    }
    msg_desc& last = l.staged[l.n_staged - 1];
    last.more = 0;
    last.truncated = msg.truncated ? 1u : 0u;
    w.stats->sink_in[l.sink].add();
    w.stats->sink_in_bytes[l.sink].add(total);
    if (own) {
        last.rx_tsc = ps.rx_tsc;
        last.lf_follows = 1;
        last.own = 1;
        return;
    }
    l.unit_open = true;
    l.unit_last = l.n_staged - 1;
}

/// Sends @p msg (with its record, when parsed) to every sink in @p mask.
void fan_out(worker_ctx& w, packet_state& ps, const message& msg, const log::log_record* r,
             const char* parsed_base, uint32_t mask) noexcept {
    w.stats->routed.add();
    while (mask != 0) {
        const auto s = static_cast<uint32_t>(std::countr_zero(mask));
        mask &= mask - 1;
        emit(w, *w.lanes[s], ps, msg, r, parsed_base);
    }
}

/// Parses one message as @p lf_format (detecting it for auto), filters and routes it.
/// @param failed the message is already known not to parse (a GELF payload that did not inflate)
// Why whole (~120 lines): per-message hot path. Parse, parse-error policy, filters and routes
// share the parsed record and the packet state; the steps are commented inside and each is
// a few lines, so helpers would add calls per message without making it clearer.
void handle_message(worker_ctx& w, packet_state& ps, listen_format lf_format, const message& msg,
                    bool failed = false) noexcept {
    const std::string_view v = msg.view;
    const listen_format fmt =
        failed ? listen_format::count_
               : (lf_format == listen_format::auto_detect ? detect(v) : lf_format);
    log::log_record r;
    log::json_captures& captures = w.captures; // reused: parse() resets what it fills
    bool has_captures = false;
    bool ok = true;
    log::input_format in = log::input_format::raw;
    const char* parsed_base = v.data(); // where the record's views point (maps to msg.off)
    auto parse_json = [&](log::json_extractor* x, auto& errors) {
        const char* data = v.data();
        std::size_t capacity = msg.capacity;
        if (capacity < v.size() + log::json_padding) {
            std::memcpy(w.scratch, v.data(), v.size()); // no padding behind it
            w.stats->copied(copy_reason::json_pad, v.size());
            data = w.scratch;
            capacity = w.scratch_size;
        }
        // Whole-document validation only when an ndjson sink embeds the object as it is.
        const log::json_status st =
            x->parse(data, v.size(), capacity, w.validate_json, r, &captures);
        has_captures = true;
        if (st != log::json_status::ok) {
            errors[static_cast<std::size_t>(st)].add();
            return false;
        }
        parsed_base = data; // views into a copy map back to the packet by offset
        return true;
    };
    switch (fmt) {
    case listen_format::rfc5424: {
        in = log::input_format::rfc5424;
        const log::rfc5424_status st = log::parse_rfc5424(v, r, msg.truncated);
        if (st != log::rfc5424_status::ok) {
            w.stats->rfc5424_errors[static_cast<std::size_t>(st)].add();
            ok = false;
        }
        break;
    }
    case listen_format::json:
        in = log::input_format::json;
        ok = parse_json(w.json, w.stats->json_errors);
        break;
    case listen_format::gelf:
        in = log::input_format::gelf;
        ok = parse_json(w.gelf_json, w.stats->gelf_errors);
        if (ok) {
            r.format = log::input_format::gelf;
            if (r.severity < 0) {
                r.severity = 1; // the GELF specification's default level (alert)
            }
        }
        break;
    case listen_format::rfc3164: {
        in = log::input_format::rfc3164;
        const log::rfc3164_status st = log::parse_rfc3164(v, w.now_ns, r);
        if (st != log::rfc3164_status::ok) {
            w.stats->rfc3164_errors[static_cast<std::size_t>(st)].add();
            ok = false;
        }
        break;
    }
    case listen_format::raw:
    case listen_format::auto_detect:
        r.format = log::input_format::raw;
        r.message = v;
        break;
    case listen_format::count_:
        in = log::input_format::gelf;
        ok = false;
        break;
    }
    if (!ok) {
        if (w.drop_parse_errors) {
            w.stats->drop(msg_drop::parse_error);
            return;
        }
        r = log::log_record{};
        r.format = in;
        r.flags = log::parse_flag::parse_error;
        r.message = v;
        parsed_base = v.data();
        has_captures = false;
    } else {
        w.stats->parsed[static_cast<std::size_t>(r.format)].add();
    }
    if (msg.truncated) {
        r.flags |= log::parse_flag::truncated;
    }
    const log::filter_context fc{w.needs_source ? ps.source_text() : std::string_view{},
                                 has_captures ? &captures : nullptr};
    const std::size_t n_filters = w.filters != nullptr ? w.filters->size() : 0;
    const std::size_t n_routes = w.routes != nullptr ? w.routes->size() : 0;
    for (std::size_t i = 0; i < n_filters; ++i) {
        if (!log::filter_matches((*w.filters)[i], r, fc)) {
            w.stats->filter_dropped[i].add();
            w.stats->drop(msg_drop::filtered);
            return;
        }
        w.stats->filter_kept[i].add();
    }
    uint32_t mask = 0;
    for (std::size_t i = 0; i < n_routes; ++i) {
        const log::route& rt = (*w.routes)[i];
        if (log::filter_matches(rt.match, r, fc)) {
            mask |= rt.sinks;
            w.stats->route_hits[i].add();
        }
    }
    if (mask == 0) {
        mask = w.default_sinks;
    }
    if (mask == 0) {
        w.stats->drop(msg_drop::unrouted);
        return;
    }
    fan_out(w, ps, msg, &r, parsed_base, mask);
}

/// A contiguous view of [off, off + len) of the packet: in place when it lies in one segment,
/// else copied into the worker's scratch (counted).
[[nodiscard]] message locate(worker_ctx& w, packet_state& ps, uint32_t off, uint32_t len) noexcept {
    message msg;
    msg.off = off;
    msg.len = len;
    for (uint32_t i = 0; i < ps.n_pieces; ++i) {
        const log::piece& p = (*ps.pieces)[i];
        if (off >= p.off && off - p.off < p.len) {
            if (off + len <= p.off + p.len) {
                const char* at = p.data + (off - p.off);
                msg.view = std::string_view(at, len);
                msg.capacity = static_cast<std::size_t>((*ps.seg_end)[i] - at);
            }
            break;
        }
    }
    if (msg.view.data() == nullptr && len != 0) {
        msg.one_segment = false;
        if (rte_pktmbuf_read(ps.m, off, len, w.scratch) == w.scratch) {
            w.stats->copied(copy_reason::linearise, len);
        }
        msg.view = std::string_view(w.scratch, len);
        msg.capacity = w.scratch_size;
    }
    return msg;
}

/// A GELF message (reassembled and inflated) to its sinks: parsed, or, when nothing reads
/// records, as it is to every sink.
void handle_gelf(worker_ctx& w, packet_state& ps, const message& msg,
                 bool failed = false) noexcept {
    if (!w.parse) {
        fan_out(w, ps, msg, nullptr, msg.view.data(), w.default_sinks);
        return;
    }
    handle_message(w, ps, listen_format::gelf, msg, failed);
}

/// GELF: one message per datagram, possibly chunked and/or compressed (docs/formats.md#gelf).
/// @return the number of messages framed (0 or 1).
uint32_t frame_gelf(worker_ctx& w, packet_state& ps, const pkt_meta& meta) noexcept {
    if (meta.payload_len == 0 || ps.n_pieces == 0) {
        w.stats->empty_skipped.add();
        return 0;
    }
    message msg = locate(w, ps, meta.payload_off, meta.payload_len);
    if (log::gelf::is_chunk(msg.view)) {
        std::string_view whole;
        const uint64_t before = w.gelf_chunks->bytes_copied();
        const log::gelf::chunk_status st =
            w.gelf_chunks->feed(msg.view, static_cast<uint64_t>(w.now_ns), whole);
        w.stats->copied(copy_reason::gelf, w.gelf_chunks->bytes_copied() - before);
        w.stats->gelf_chunks[static_cast<std::size_t>(st)].add();
        if (st != log::gelf::chunk_status::complete) {
            return 0;
        }
        msg.view = whole;
        msg.mapped = false;
        msg.capacity = whole.size() + log::json_padding; // the reassembler pads its output
    }
    if (log::gelf::detect_compression(msg.view) != log::gelf::compression::none) {
        std::string_view out;
        const log::gelf::inflate_status st = w.gelf_inflate->inflate(msg.view, out);
        if (st == log::gelf::inflate_status::corrupt) {
            w.stats->gelf_bad_compression.add();
            w.stats->messages_framed.add();
            // Forwarded as received (flagged) or dropped, like any message that does not parse.
            msg.len = static_cast<uint32_t>(msg.view.size());
            handle_gelf(w, ps, msg, true);
            return 1;
        }
        w.stats->copied(copy_reason::gelf, out.size());
        if (st == log::gelf::inflate_status::too_large) {
            if (w.drop_oversize) {
                w.stats->messages_framed.add();
                w.stats->drop(msg_drop::oversize);
                return 1;
            }
            msg.truncated = true;
            w.stats->truncated.add();
        }
        msg.view = out;
        msg.mapped = false;
        msg.capacity = out.size() + log::json_padding; // the inflater pads its output
    }
    if (msg.view.size() > w.max_msg) {
        if (w.drop_oversize) {
            w.stats->messages_framed.add();
            w.stats->drop(msg_drop::oversize);
            return 1;
        }
        msg.view = msg.view.substr(0, w.max_msg);
        msg.truncated = true;
        w.stats->truncated.add();
    }
    while (!msg.view.empty() &&
           (msg.view.back() == '\n' || msg.view.back() == '\r' || msg.view.back() == '\0')) {
        msg.view.remove_suffix(1);
    }
    if (msg.view.empty()) {
        w.stats->empty_skipped.add();
        return 0;
    }
    msg.len = static_cast<uint32_t>(msg.view.size());
    w.stats->messages_framed.add();
    handle_gelf(w, ps, msg);
    return 1;
}

/// Closes packet @p m's unit in every lane that took part of it (each unit owns one reference),
/// or frees @p m when no lane did.
void close_units(worker_ctx& w, rte_mbuf* m) noexcept {
    uint32_t units = 0;
    for (sink_lane* lane : w.lanes) {
        if (lane->unit_open) {
            lane->staged[lane->unit_last].release = 1;
            lane->unit_open = false;
            ++units;
        }
    }
    if (units == 0) {
        rte_pktmbuf_free(m); // no message, or none went anywhere (units spilled hold their own)
        return;
    }
    for (uint32_t i = 1; i < units; ++i) {
        retain_chain(m);
    }
}

void frame_one(worker_ctx& w, rte_mbuf* m) noexcept {
    const pkt_meta* meta = meta_of(m, w.meta_off);
    std::array<log::piece, net::max_segments> pieces;
    std::array<const char*, net::max_segments> seg_end;
    const uint32_t n_pieces =
        meta->payload_len == 0
            ? 0
            : payload_pieces(m, meta->payload_off, meta->payload_len, pieces, &seg_end);
    const uint8_t slot = w.listeners->slot(meta->dst_port);
    const listener& l = w.listeners->at(slot);
    // The listener's messages dropped from this frame: those framed less those routed (the
    // lcore's routed count before and after). Counted as drops, not as routed, so that each of
    // the listener's counters only grows for a reader that loads them one by one.
    const uint64_t routed_before = w.stats->routed.get();
    uint64_t framed = 0;
    packet_state ps{m, meta->rx_tsc, &pieces, &seg_end, n_pieces};
    for (sink_lane* lane : w.lanes) {
        lane->unit_open = false;
    }
    w.stats->worker_packets.add();
    // GELF is one message per datagram whether or not anything parses it.
    const bool gelf = l.format == listen_format::gelf ||
                      (l.format == listen_format::auto_detect && n_pieces != 0 &&
                       looks_like_binary_gelf(std::string_view(pieces[0].data, pieces[0].len)));
    if (gelf) {
        framed = frame_gelf(w, ps, *meta);
    } else {
        // An empty datagram (or, defensively, a chain shorter than the RX stage saw) has no
        // message.
        const log::frame_result counts = log::frame_payload(
            std::span<const log::piece>(pieces.data(), n_pieces), l.framing,
            [&](uint32_t off, uint32_t len, bool lf, bool truncated) noexcept {
                if (!w.parse) {
                    // Nothing reads records: every message as received, to every sink.
                    message msg;
                    if (w.need_view) {
                        msg = locate(w, ps, off, len);
                    } else {
                        msg.off = off;
                        msg.len = len;
                    }
                    msg.lf = lf;
                    msg.truncated = truncated;
                    fan_out(w, ps, msg, nullptr, msg.view.data(), w.default_sinks);
                    return;
                }
                message msg = locate(w, ps, off, len);
                msg.lf = lf;
                msg.truncated = truncated;
                handle_message(w, ps, l.format, msg);
            });
        framed = counts.messages + counts.oversize_dropped;
        w.stats->messages_framed.add(framed);
        w.stats->empty_skipped.add(counts.empty);
        if (counts.truncated != 0) {
            w.stats->truncated.add(counts.truncated);
        }
        if (counts.oversize_dropped != 0) {
            w.stats->drop(msg_drop::oversize, counts.oversize_dropped);
        }
        if (counts.framing_errors != 0) {
            w.stats->framing_errors.add(counts.framing_errors);
        }
    }
    listener_counters& lc = w.stats->listeners[slot];
    lc.packets.add();
    lc.bytes.add(meta->payload_len);
    lc.messages.add(framed);
    lc.dropped.add(framed - (w.stats->routed.get() - routed_before));
    close_units(w, m);
}

} // namespace

void stream_out::message(uint32_t off, uint32_t len, bool lf, bool truncated) noexcept {
    packet_state& ps = *static_cast<packet_state*>(ps_);
    w_.stats->messages_framed.add();
    if (truncated) {
        w_.stats->truncated.add();
    }
    const bool gelf = l_.format == listen_format::gelf;
    pipeline::message msg;
    if (w_.parse || w_.need_view || gelf) {
        msg = locate(w_, ps, off, len);
    } else {
        msg.off = off;
        msg.len = len;
    }
    msg.lf = lf;
    msg.truncated = truncated;
    if (gelf) {
        handle_gelf(w_, ps, msg);
    } else if (!w_.parse) {
        fan_out(w_, ps, msg, nullptr, msg.view.data(), w_.default_sinks);
    } else {
        handle_message(w_, ps, l_.format, msg);
    }
}

void stream_out::copied(std::string_view v, std::size_t capacity, bool truncated) noexcept {
    packet_state& ps = *static_cast<packet_state*>(ps_);
    w_.stats->messages_framed.add();
    if (truncated) {
        w_.stats->truncated.add();
    }
    pipeline::message msg;
    msg.len = static_cast<uint32_t>(v.size());
    msg.view = v;
    msg.capacity = capacity;
    msg.mapped = false; // not in the packet: sinks take a copy (arena), never a reference
    msg.truncated = truncated;
    if (l_.format == listen_format::gelf) {
        handle_gelf(w_, ps, msg);
    } else if (!w_.parse) {
        fan_out(w_, ps, msg, nullptr, msg.view.data(), w_.default_sinks);
    } else {
        handle_message(w_, ps, l_.format, msg);
    }
}

std::span<const log::piece> stream_out::pieces() const noexcept {
    const packet_state& ps = *static_cast<const packet_state*>(ps_);
    return {ps.pieces->data(), ps.n_pieces};
}

void worker_stream_packet(worker_ctx& w, rte_mbuf* m, uint32_t off, uint32_t len, const listener& l,
                          void (*frame)(void* ctx, stream_out& out) noexcept, void* ctx) noexcept {
    std::array<log::piece, net::max_segments> pieces;
    std::array<const char*, net::max_segments> seg_end;
    const uint32_t n_pieces = len == 0 ? 0 : payload_pieces(m, off, len, pieces, &seg_end);
    packet_state ps{m, meta_of(m, w.meta_off)->rx_tsc, &pieces, &seg_end, n_pieces};
    for (sink_lane* lane : w.lanes) {
        lane->unit_open = false;
    }
    if (n_pieces != 0) {
        stream_out out(w, &ps, l);
        frame(ctx, out);
    }
    close_units(w, m);
}

void worker_tcp_poll(worker_ctx& w) noexcept {
    if (w.tcp != nullptr) {
        w.tcp->poll(rte_rdtsc());
        worker_flush(w); // what window updates and timers delivered (nothing, today) goes out
    }
}

void worker_tcp_impair_poll(worker_ctx& w, uint64_t now, bool all) noexcept {
    if (w.tcp_impair == nullptr) {
        return;
    }
    auto late = [&](rte_mbuf* m, const net::tcp_locator& at) { w.tcp->input(m, at, now); };
    if (all) {
        w.tcp_impair->release_all(late);
    } else {
        w.tcp_impair->poll(late);
    }
}

void worker_housekeeping(worker_ctx& w) noexcept {
    if (w.gelf_chunks == nullptr || w.gelf_chunks->in_flight() == 0) {
        return;
    }
    const int64_t now =
        w.wall_base_ns +
        static_cast<int64_t>(static_cast<double>(rte_rdtsc() - w.tsc_base) * w.ns_per_tsc);
    const log::gelf::reassembler::expired e = w.gelf_chunks->expire(static_cast<uint64_t>(now));
    if (e.messages != 0) {
        w.stats->gelf_expired_messages.add(e.messages);
        w.stats->gelf_expired_chunks.add(e.chunks);
    }
}

void worker_drain(worker_ctx& w) noexcept {
    if (w.gelf_chunks == nullptr || w.gelf_chunks->in_flight() == 0) {
        return;
    }
    const log::gelf::reassembler::expired e = w.gelf_chunks->expire(UINT64_MAX);
    w.stats->gelf_expired_messages.add(e.messages);
    w.stats->gelf_expired_chunks.add(e.chunks);
}

void worker_frame_burst(worker_ctx& w, std::span<rte_mbuf* const> pkts) noexcept {
    if (w.parse) {
        w.now_ns =
            w.wall_base_ns +
            static_cast<int64_t>(static_cast<double>(rte_rdtsc() - w.tsc_base) * w.ns_per_tsc);
    }
    // TCP segments go to the engine in bursts (after the datagrams before them: flows never
    // mix, so the order between a datagram and a segment does not matter).
    constexpr uint16_t tcp_batch = 32;
    std::array<rte_mbuf*, tcp_batch> segs;
    std::array<net::tcp_locator, tcp_batch> at;
    uint16_t n_segs = 0;
    uint64_t now = 0;
    auto to_engine = [&](rte_mbuf* seg, const net::tcp_locator& loc) {
        segs[n_segs] = seg;
        at[n_segs] = loc;
        if (++n_segs == tcp_batch) {
            now = now != 0 ? now : rte_rdtsc();
            w.tcp->input_burst(segs.data(), at.data(), n_segs, now);
            n_segs = 0;
        }
    };
    for (rte_mbuf* m : pkts) {
        if (w.tcp == nullptr || (m->packet_type & RTE_PTYPE_L4_MASK) != RTE_PTYPE_L4_TCP) {
            frame_one(w, m);
            continue;
        }
        const pkt_meta* meta = meta_of(m, w.meta_off);
        net::tcp_locator loc;
        loc.l3_off = m->l2_len;
        loc.l4_off = meta->payload_off;
        loc.l4_len = meta->payload_len;
        loc.ip_version = RTE_ETH_IS_IPV4_HDR(m->packet_type) ? 4 : 6;
        loc.verify_checksum = w.tcp_verify_checksum;
        loc.accept_partial = w.tcp_partial_ports != nullptr &&
                             m->port < w.tcp_partial_ports->size() &&
                             (*w.tcp_partial_ports)[m->port] != 0;
        w.stats->worker_packets.add();
        w.stats->tcp_listeners[w.tcp_listeners->slot(meta->dst_port)].segments.add();
        if (w.tcp_impair != nullptr) {
            w.tcp_impair->input(m, loc, to_engine); // testing only: dropped, held or passed
        } else {
            to_engine(m, loc);
        }
    }
    if (n_segs != 0) {
        now = now != 0 ? now : rte_rdtsc();
        w.tcp->input_burst(segs.data(), at.data(), n_segs, now);
    }
    worker_flush(w);
    worker_housekeeping(w);
}

void worker_flush(worker_ctx& w) noexcept {
    for (sink_lane* l : w.lanes) {
        lane_flush(w, *l);
    }
}

} // namespace logagg::pipeline
