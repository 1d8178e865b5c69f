// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath (callbacks, framing, TX), control plane (construction).
#include "pipeline/tcp_stream.hpp"

#include <algorithm>
#include <cstring>

#include <rte_ethdev.h>
#include <rte_ring.h>

#include "log/json.hpp"

namespace logagg::pipeline {
namespace {

constexpr uint32_t nil = UINT32_MAX;

/// How a connection's stream is cut into messages.
enum class stream_mode : uint8_t {
    undecided, ///< framing=auto, no byte seen yet
    lf,        ///< LF-terminated (RFC 6587 3.4.2 non-transparent framing)
    octet,     ///< RFC 6587 3.4.1 octet counting
    nul,       ///< NUL-terminated (GELF TCP)
};

/// Byte at packet offset @p at inside @p pc.
[[nodiscard]] char byte_at(std::span<const log::piece> pc, uint32_t at) noexcept {
    for (const log::piece& p : pc) {
        if (at - p.off < p.len) {
            return p.data[at - p.off];
        }
    }
    return '\0';
}

/// The piece holding packet offset @p at (pc.size() if none).
[[nodiscard]] std::size_t piece_of(std::span<const log::piece> pc, uint32_t at) noexcept {
    for (std::size_t i = 0; i < pc.size(); ++i) {
        if (at - pc[i].off < pc[i].len) {
            return i;
        }
    }
    return pc.size();
}

/// First @p ch in packet bytes [from, to), or nil.
[[nodiscard]] uint32_t find(std::span<const log::piece> pc, uint32_t from, uint32_t to,
                            char ch) noexcept {
    for (const log::piece& p : pc) {
        const uint32_t end = p.off + p.len;
        if (end <= from || p.off >= to) {
            continue;
        }
        const uint32_t a = std::max(from, p.off);
        const uint32_t b = std::min(to, end);
        const void* hit = std::memchr(p.data + (a - p.off), ch, b - a);
        if (hit != nullptr) {
            return p.off + static_cast<uint32_t>(static_cast<const char*>(hit) - p.data);
        }
    }
    return nil;
}

/// Copies packet bytes [from, to) to @p dst.
void copy_out(std::span<const log::piece> pc, uint32_t from, uint32_t to, char* dst) noexcept {
    for (const log::piece& p : pc) {
        const uint32_t end = p.off + p.len;
        if (end <= from || p.off >= to) {
            continue;
        }
        const uint32_t a = std::max(from, p.off);
        const uint32_t b = std::min(to, end);
        std::memcpy(dst, p.data + (a - p.off), b - a);
        dst += b - a;
    }
}

/// Trailing bytes a message loses: CR and NUL after LF framing (as split_lines()), CR, LF and
/// NUL after octet counting and NUL framing (as for datagrams).
[[nodiscard]] bool junk(char c, bool lf_framing) noexcept {
    return c == '\r' || c == '\0' || (!lf_framing && c == '\n');
}

/// What records can cost a lane at most (admission,
/// docs/tcp.md#admission-what-is-acknowledged-has-room): ring descriptors, and arena bytes per
/// record and per message byte.
struct lane_cost {
    bool encoded;
    uint32_t per_rec;
    uint32_t per_byte;
    uint32_t key_descs;

    /// Descriptors of @p recs records of @p bytes message bytes in all. Raw: one each (and a key
    /// piece). Encoded: at most max_descs_per_msg each, and also at most 2 per reference (of a
    /// field of at least log::ref_threshold bytes: one per 64 message bytes) plus 3, the key
    /// piece included: the smaller of the two bounds.
    [[nodiscard]] uint64_t descs(uint64_t recs, uint64_t bytes) const noexcept {
        if (!encoded) {
            return recs * (1 + key_descs);
        }
        static_assert(log::ref_threshold == 64, "2 descriptors per 64 bytes: one per 32");
        return std::min<uint64_t>(recs * max_descs_per_msg, recs * 3 + bytes / 32);
    }
};

[[nodiscard]] lane_cost cost_of(const sink_lane& l) noexcept {
    const auto key = static_cast<uint32_t>(l.key != key_field::none ? max_key_len : 0);
    if (l.format == log::output_format::raw) {
        // Arena bytes only when appended or copied: the message, and its LF or octet count (at
        // most 6 bytes for 65,536), and the key.
        return {false, key + 6, 1, key != 0 ? 1u : 0u};
    }
    // Encoded: log::encode_bound() per message, its LF when appended, the key.
    return {true, static_cast<uint32_t>(log::encode_bound(0)) + 1 + key, 6, 0};
}

/// Calls @p f(data, n, pos) for each contiguous run of bytes [off, off + len) of chain @p m
/// (pos counts from off), until it returns false.
template <typename F>
void for_each_run(const rte_mbuf* m, uint32_t off, uint32_t len, F&& f) noexcept {
    uint32_t seg_start = 0;
    uint32_t pos = 0;
    for (const rte_mbuf* s = m; s != nullptr && pos < len; s = s->next) {
        const uint32_t seg_end = seg_start + s->data_len;
        if (seg_end > off + pos) {
            const uint32_t from = off + pos - seg_start;
            const uint32_t n = std::min(seg_end - (off + pos), len - pos);
            if (!f(rte_pktmbuf_mtod_offset(s, const char*, from), n, pos)) {
                return;
            }
            pos += n;
        }
        seg_start = seg_end;
    }
}

} // namespace

/// Stream state of one connection (by conn_id::idx).
struct tcp_streams::conn {
    const listener* l = nullptr;
    uint8_t slot = 0; ///< l's slot: its lcore_stats::tcp_listeners counters
    stream_mode mode = stream_mode::undecided;
    bool holding = false; ///< a message began in an earlier segment (held, or lost)
    bool trunc = false;   ///< the held message outgrew max_msg: the rest is skipped
    bool lost = false;    ///< no span buffer was free: the message is dropped at its end
    bool broken = false;  ///< octet counting broke: the rest of the stream is discarded
    bool in_body = false; ///< octet: inside a frame's MSG
    uint8_t hdr_digits = 0;
    uint32_t hdr_val = 0;
    uint32_t left = 0; ///< octet: MSG bytes still to come
    uint32_t span = nil;
    uint32_t held = 0;
};

std::size_t tcp_streams::bytes_per_connection() noexcept {
    return sizeof(conn);
}

tcp_streams::tcp_streams(worker_ctx& w, const listener_table& listeners,
                         const tcp_stream_config& cfg)
    : w_(w), listeners_(listeners), cfg_(cfg) {
    cfg_.span_buffers = std::max<uint32_t>(cfg_.span_buffers, 1);
    conns_ = std::make_unique<conn[]>(cfg_.max_conns);
    // JSON padding behind each buffer: a held JSON message is parsed in place.
    span_stride_ = cfg_.max_msg + log::json_padding;
    span_mem_ = std::make_unique<char[]>(span_stride_ * cfg_.span_buffers);
    free_ = std::make_unique<uint32_t[]>(cfg_.span_buffers);
    for (uint32_t i = 0; i < cfg_.span_buffers; ++i) {
        free_[i] = cfg_.span_buffers - 1 - i;
    }
    n_free_ = cfg_.span_buffers;
}

tcp_streams::~tcp_streams() = default;

tcp::consumer tcp_streams::consumer() noexcept {
    tcp::consumer c;
    c.ctx = this;
    c.open = on_open;
    c.data = on_data;
    c.admit = on_admit;
    c.room = on_room;
    c.end = on_end;
    return c;
}

uint64_t tcp_streams::on_open(void* ctx, tcp::conn_id id, const tcp::conn_info& info) noexcept {
    auto& self = *static_cast<tcp_streams*>(ctx);
    conn& c = self.conns_[id.idx];
    c = conn{};
    c.l = &self.listeners_.of(info.path.local_port);
    c.slot = self.listeners_.slot(info.path.local_port);
    self.w_.stats->tcp_listeners[c.slot].accepted.add();
    if (c.l->format == listen_format::gelf) {
        c.mode = stream_mode::nul;
    } else if (c.l->framing.mode == log::framing_mode::octet) {
        c.mode = stream_mode::octet;
    } else if (c.l->framing.mode == log::framing_mode::lf) {
        c.mode = stream_mode::lf;
    }
    ++self.open_;
    return id.idx;
}

void tcp_streams::on_data(void* ctx, tcp::conn_id, uint64_t user, const tcp::piece* pieces,
                          uint32_t n) noexcept {
    auto& self = *static_cast<tcp_streams*>(ctx);
    conn& c = self.conns_[user];
    const listener_mark mark = self.mark();
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < n; ++i) {
        bytes += pieces[i].len;
        if (c.broken) {
            rte_pktmbuf_free(pieces[i].m); // nothing of this stream is framed any more
            continue;
        }
        self.cur_ = &c;
        worker_stream_packet(self.w_, pieces[i].m, pieces[i].off, pieces[i].len, *c.l, frame,
                             &self);
    }
    self.w_.stats->tcp_listeners[c.slot].bytes.add(bytes);
    self.count(c, mark);
    // Framed: what was reserved for these pieces is staged now (or went to the rings).
    for (lane_budget& b : self.budget_) {
        b.descs = 0;
        b.arena = 0;
    }
}

uint32_t tcp_streams::on_admit(void* ctx, tcp::conn_id, uint64_t user,
                               const tcp::piece& p) noexcept {
    auto& self = *static_cast<tcp_streams*>(ctx);
    return self.admit(self.conns_[user], p);
}

void tcp_streams::take_budget() noexcept {
    for (std::size_t i = 0; i < w_.lanes.size(); ++i) {
        const sink_lane& l = *w_.lanes[i];
        lane_budget& b = budget_[i];
        b.free_descs = rte_ring_free_count(l.ring);
        const uint64_t used = l.arena->head - l.arena->released.load(std::memory_order_acquire);
        b.free_arena = l.arena->size > used ? l.arena->size - used : 0;
    }
}

bool tcp_streams::fits(uint64_t recs, uint64_t bytes) const noexcept {
    for (std::size_t i = 0; i < w_.lanes.size(); ++i) {
        const sink_lane& l = *w_.lanes[i];
        const lane_budget& b = budget_[i];
        const lane_cost k = cost_of(l);
        if (b.free_descs < l.n_staged + b.descs + k.descs(recs, bytes)) {
            return false;
        }
        // A piece never wraps in the arena: one largest reservation may be skipped at its end.
        const uint64_t slack = uint64_t{k.per_byte} * cfg_.max_msg + k.per_rec;
        if (b.free_arena < slack + b.arena + recs * k.per_rec + bytes * k.per_byte) {
            return false;
        }
    }
    return true;
}

void tcp_streams::reserve(uint64_t recs, uint64_t bytes) noexcept {
    for (std::size_t i = 0; i < w_.lanes.size(); ++i) {
        const lane_cost k = cost_of(*w_.lanes[i]);
        budget_[i].descs += k.descs(recs, bytes);
        budget_[i].arena += recs * k.per_rec + bytes * k.per_byte;
    }
}

// Why the worst case first: a piece produces at most one record per two bytes (a byte and its
// delimiter; an octet-counted frame takes three) plus the message held from earlier segments,
// so when that fits, nothing is scanned and the fast path costs one free count per lane.
uint32_t tcp_streams::admit(conn& c, const tcp::piece& p) noexcept {
    if (w_.block_when_full || w_.lanes.empty() || c.broken || p.len == 0) {
        return p.len; // block mode waits for room instead of dropping
    }
    take_budget();
    const uint64_t held = c.held;
    const uint64_t worst = p.len / 2 + 1;
    if (fits(worst, held + p.len)) {
        reserve(worst, held + p.len);
        return p.len;
    }
    stream_mode mode = c.mode;
    if (mode == stream_mode::undecided) {
        char first = 0;
        const auto* b = static_cast<const char*>(rte_pktmbuf_read(p.m, p.off, 1, &first));
        mode = b != nullptr && *b >= '1' && *b <= '9' ? stream_mode::octet : stream_mode::lf;
    }
    return mode == stream_mode::octet ? admit_octets(c, p)
                                      : admit_lines(c, p, mode == stream_mode::nul ? '\0' : '\n');
}

uint32_t tcp_streams::admit_lines(const conn& c, const tcp::piece& p, char delim) noexcept {
    // Each delimiter ends at most one record (the first may end the held message).
    uint64_t n = 0;
    uint32_t admitted = 0;
    bool stopped = false;
    for_each_run(p.m, p.off, p.len, [&](const char* d, uint32_t sz, uint32_t pos) {
        const char* at = d;
        const char* const end = d + sz;
        while (at < end) {
            const auto* q = static_cast<const char*>(std::memchr(at, delim, end - at));
            if (q == nullptr) {
                break;
            }
            const auto upto = static_cast<uint32_t>(pos + (q - d) + 1);
            if (!fits(n + 1, c.held + upto)) {
                stopped = true;
                return false;
            }
            ++n;
            admitted = upto;
            at = q + 1;
        }
        return true;
    });
    if (!stopped) {
        admitted = p.len; // a tail without its delimiter is held: no record yet
    }
    reserve(n, c.held + admitted);
    return admitted;
}

// Why whole (~50 lines): frame_octets()'s state machine run dry on copies of the connection's
// state, counting the frames that end; each branch mirrors one of frame_octets().
uint32_t tcp_streams::admit_octets(const conn& c, const tcp::piece& p) noexcept {
    bool in_body = c.in_body;
    uint32_t left = c.left;
    uint32_t digits = c.hdr_digits;
    uint32_t val = c.hdr_val;
    uint64_t n = 0;
    uint32_t admitted = 0;
    bool stopped = false;
    for_each_run(p.m, p.off, p.len, [&](const char* d, uint32_t sz, uint32_t pos) {
        uint32_t i = 0;
        while (i < sz) {
            if (in_body) {
                const uint32_t take = std::min(left, sz - i);
                i += take;
                left -= take;
                if (left == 0) {
                    in_body = false;
                    if (!fits(n + 1, c.held + pos + i)) {
                        stopped = true;
                        return false;
                    }
                    ++n;
                    admitted = pos + i;
                }
                continue;
            }
            const char ch = d[i];
            if (digits == 0 && (ch == '\r' || ch == '\n' || ch == '\0')) {
                ++i;
            } else if (ch >= '0' && ch <= '9' && (digits != 0 || ch != '0') && digits < 9) {
                val = val * 10 + static_cast<uint32_t>(ch - '0');
                ++digits;
                ++i;
            } else if (ch == ' ' && digits != 0) {
                in_body = true;
                left = val;
                val = 0;
                digits = 0;
                ++i;
            } else {
                return false; // the framing breaks here: the rest is discarded, no record
            }
        }
        return true;
    });
    if (!stopped) {
        admitted = p.len;
    }
    reserve(n, c.held + admitted);
    return admitted;
}

uint32_t tcp_streams::on_room(void* ctx, tcp::conn_id, uint64_t) noexcept {
    return static_cast<const tcp_streams*>(ctx)->room();
}

void tcp_streams::on_end(void* ctx, tcp::conn_id, uint64_t user, tcp::end_reason) noexcept {
    auto& self = *static_cast<tcp_streams*>(ctx);
    conn& c = self.conns_[user];
    // A message begun and not finished: the sender will not finish it (counted, not framed on).
    if (c.holding || c.in_body || c.hdr_digits != 0) {
        self.w_.stats->messages_framed.add();
        self.w_.stats->drop(msg_drop::tcp_partial);
        tcp_listener_counters& lc = self.w_.stats->tcp_listeners[c.slot];
        lc.messages.add();
        lc.dropped.add();
    }
    self.w_.stats->tcp_listeners[c.slot].ended.add();
    self.release_span(c);
    c = conn{};
    --self.open_;
}

void tcp_streams::frame(void* ctx, stream_out& out) noexcept {
    auto& self = *static_cast<tcp_streams*>(ctx);
    conn& c = *self.cur_;
    if (c.mode == stream_mode::undecided) {
        // RFC 6587 3.4.1: an octet-counted frame starts with a non-zero digit; a syslog message
        // in non-transparent framing starts with '<'.
        const char first = out.pieces().front().data[0];
        c.mode = first >= '1' && first <= '9' ? stream_mode::octet : stream_mode::lf;
    }
    switch (c.mode) {
    case stream_mode::octet:
        self.frame_octets(c, out);
        break;
    case stream_mode::nul:
        self.frame_lines(c, out, '\0');
        break;
    case stream_mode::lf:
    case stream_mode::undecided:
        self.frame_lines(c, out, '\n');
        break;
    }
}

void tcp_streams::frame_lines(conn& c, stream_out& out, char delim) noexcept {
    const std::span<const log::piece> pc = out.pieces();
    uint32_t pos = pc.front().off;
    const uint32_t end = pc.back().off + pc.back().len;
    if (c.holding) {
        const uint32_t d = find(pc, pos, end, delim);
        if (d == nil) {
            hold(c, pc, pos, end);
            return;
        }
        hold(c, pc, pos, d);
        emit_held(c, out, false);
        pos = d + 1;
    }
    while (pos < end) {
        const uint32_t d = find(pc, pos, end, delim);
        if (d == nil) {
            c.holding = true;
            hold(c, pc, pos, end);
            return;
        }
        emit_here(c, out, pc, pos, d, delim == '\n');
        pos = d + 1;
    }
}

// Why whole (~50 lines): the octet-counting state machine; its state lives in the connection
// and every branch advances pos by what it consumed.
void tcp_streams::frame_octets(conn& c, stream_out& out) noexcept {
    const std::span<const log::piece> pc = out.pieces();
    uint32_t pos = pc.front().off;
    const uint32_t end = pc.back().off + pc.back().len;
    while (pos < end) {
        if (!c.in_body) {
            // RFC 6587 3.4.1: MSG-LEN is a non-zero digit and at most 8 more, then SP. CR, LF and
            // NUL between frames are tolerated (as for datagrams).
            const char ch = byte_at(pc, pos);
            if (c.hdr_digits == 0 && (ch == '\r' || ch == '\n' || ch == '\0')) {
                ++pos;
                continue;
            }
            if (ch >= '0' && ch <= '9' && (c.hdr_digits != 0 || ch != '0') && c.hdr_digits < 9) {
                c.hdr_val = c.hdr_val * 10 + static_cast<uint32_t>(ch - '0');
                ++c.hdr_digits;
                ++pos;
                continue;
            }
            if (ch == ' ' && c.hdr_digits != 0) {
                c.in_body = true;
                c.left = c.hdr_val;
                c.hdr_val = 0;
                c.hdr_digits = 0;
                ++pos;
                continue;
            }
            // Nothing to resynchronise on: the rest of the stream is discarded.
            c.broken = true;
            c.hdr_val = 0;
            c.hdr_digits = 0;
            w_.stats->framing_errors.add();
            return;
        }
        const uint32_t take = std::min(c.left, end - pos);
        const bool complete = take == c.left;
        if (!c.holding && complete) {
            emit_here(c, out, pc, pos, pos + take, false);
        } else {
            c.holding = true;
            hold(c, pc, pos, pos + take);
            if (complete) {
                emit_held(c, out, true);
            }
        }
        c.left -= take;
        pos += take;
        c.in_body = c.left != 0;
    }
}

void tcp_streams::hold(conn& c, std::span<const log::piece> pc, uint32_t from,
                       uint32_t to) noexcept {
    if (c.lost || from == to) {
        return;
    }
    if (c.span == nil) {
        if (n_free_ == 0) {
            c.lost = true; // dropped (counted) when it ends
            return;
        }
        c.span = free_[--n_free_];
    }
    const uint32_t room = cfg_.max_msg - c.held;
    const uint32_t n = std::min(to - from, room);
    if (n < to - from) {
        c.trunc = true;
    }
    if (n != 0) {
        copy_out(pc, from, from + n, span_mem_.get() + c.span * span_stride_ + c.held);
        c.held += n;
        w_.stats->copied(copy_reason::tcp_span, n);
    }
}

void tcp_streams::emit_held(conn& c, stream_out& out, bool octet) noexcept {
    if (c.lost) {
        w_.stats->messages_framed.add();
        w_.stats->drop(msg_drop::tcp_no_span);
    } else if (c.trunc && cfg_.drop_oversize) {
        w_.stats->messages_framed.add();
        w_.stats->drop(msg_drop::oversize);
    } else {
        const char* base = c.span == nil ? nullptr : span_mem_.get() + c.span * span_stride_;
        uint32_t len = c.held;
        const bool lf_framing = !octet && c.mode == stream_mode::lf;
        while (len != 0 && junk(base[len - 1], lf_framing)) {
            --len;
        }
        if (len == 0) {
            w_.stats->empty_skipped.add();
        } else {
            out.copied(std::string_view(base, len), span_stride_, c.trunc);
        }
    }
    c.holding = false;
    c.trunc = false;
    c.lost = false;
    c.held = 0;
    release_span(c);
}

void tcp_streams::emit_here(conn& c, stream_out& out, std::span<const log::piece> pc, uint32_t from,
                            uint32_t to, bool lf_delim) noexcept {
    uint32_t stop = to;
    while (stop > from && junk(byte_at(pc, stop - 1), lf_delim)) {
        --stop;
    }
    if (stop == from) {
        w_.stats->empty_skipped.add();
        return;
    }
    uint32_t len = stop - from;
    bool truncated = false;
    // lf_follows: nothing stripped, and the LF in the same segment as the message's last byte.
    bool lf = lf_delim && stop == to && c.mode == stream_mode::lf &&
              piece_of(pc, to) == piece_of(pc, to - 1);
    if (len > cfg_.max_msg) {
        if (cfg_.drop_oversize) {
            w_.stats->messages_framed.add();
            w_.stats->drop(msg_drop::oversize);
            return;
        }
        len = cfg_.max_msg;
        truncated = true;
        lf = false;
    }
    out.message(from, len, lf, truncated);
}

tcp_streams::listener_mark tcp_streams::mark() const noexcept {
    return {w_.stats->messages_framed.get(), w_.stats->routed.get()};
}

void tcp_streams::count(const conn& c, listener_mark before) noexcept {
    // What the worker counted since @p before belongs to c's listener: every message framed,
    // and those not routed (framed = routed + dropped holds for the difference too).
    const uint64_t framed = w_.stats->messages_framed.get() - before.framed;
    const uint64_t routed = w_.stats->routed.get() - before.routed;
    if (framed != 0) {
        tcp_listener_counters& lc = w_.stats->tcp_listeners[c.slot];
        lc.messages.add(framed);
        lc.dropped.add(framed - routed);
    }
}

void tcp_streams::release_span(conn& c) noexcept {
    if (c.span != nil) {
        free_[n_free_++] = c.span;
        c.span = nil;
    }
}

uint32_t tcp_streams::room() const noexcept {
    // What every sink can still take, in stream bytes: its buffer= less what it holds (the
    // bounded part: sink_stats::bounded) less what waits for it in this worker's ring and
    // staging (records times this worker's mean record size to that sink), converted at two
    // bytes of buffer per stream byte (a 1,460-byte segment pins a 2,304-byte mbuf: 1.6); and
    // never more records than the ring has free descriptors for. The smallest over the sinks.
    uint64_t free = UINT64_MAX;
    for (const sink_lane* l : w_.lanes) {
        const uint64_t n = w_.stats->sink_in[l->sink].get();
        const uint64_t mean =
            n != 0 ? std::max<uint64_t>(w_.stats->sink_in_bytes[l->sink].get() / n, 16) : 256;
        const uint32_t ring_free = rte_ring_free_count(l->ring);
        const uint64_t waiting = rte_ring_count(l->ring) + l->n_staged;
        const uint64_t descs = ring_free > stage_capacity ? ring_free - stage_capacity : 0;
        free = std::min(free, descs * mean / 2);
        if (l->sink_pinned != nullptr) {
            const uint64_t held =
                l->sink_pinned->load(std::memory_order_relaxed) + waiting * mean * 2;
            free = std::min(free, l->sink_buffer > held ? (l->sink_buffer - held) / 2 : 0);
        }
    }
    if (free == UINT64_MAX) {
        return cfg_.max_window;
    }
    // Shared among the open connections; at least a full segment while there is any room, so a
    // window never shrinks to silly sizes (RFC 9293 3.8.6.2.2).
    const uint64_t share = free / std::max<uint32_t>(open_, 1);
    const uint64_t r = share >= cfg_.mss ? share : std::min<uint64_t>(free, cfg_.mss);
    return static_cast<uint32_t>(std::min<uint64_t>(r, cfg_.max_window));
}

void tcp_tx::send(void* ctx, rte_mbuf** pkts, uint16_t n) noexcept {
    auto& t = *static_cast<tcp_tx*>(ctx);
    uint16_t i = 0;
    while (i < n) {
        const uint16_t port = pkts[i]->port;
        uint16_t j = static_cast<uint16_t>(i + 1);
        while (j < n && pkts[j]->port == port) {
            ++j;
        }
        const auto k = static_cast<uint16_t>(j - i);
        const uint16_t sent = port < t.queue_of_port.size()
                                  ? rte_eth_tx_burst(port, t.queue_of_port[port], pkts + i, k)
                                  : 0;
        if (sent < k) {
            rte_pktmbuf_free_bulk(pkts + i + sent, k - sent);
            t.stats->tcp_tx_failed.add(k - sent);
        }
        i = j;
    }
}

} // namespace logagg::pipeline
