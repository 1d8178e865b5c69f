// SPDX-License-Identifier: BSD-3-Clause
// Side: constructors are control plane; feed(), expire(), inflate() are datapath (no allocation).
#include "log/gelf.hpp"
#include "util/probing.hpp"

#include <algorithm>
#include <cstring>

#include <zlib.h>

namespace logagg::log::gelf {

/// One message in reassembly: which chunks arrived and the blocks holding them.
struct reassembler::slot {
    uint64_t id = 0;
    uint64_t first_ns = 0;
    bool used = false;
    uint8_t count = 0;
    uint8_t received = 0;
    uint64_t have[2] = {0, 0};
    uint32_t block[max_chunks] = {};
    uint16_t len[max_chunks] = {};
};

namespace {

[[nodiscard]] std::size_t hash_id(uint64_t id) noexcept {
    id ^= id >> 33;
    id *= 0xff51afd7ed558ccdULL;
    id ^= id >> 33;
    return static_cast<std::size_t>(id);
}

/// How often expire() actually scans. Why 10 ms: 500 scans per 5 s timeout keeps the error on
/// the timeout under 1%, and a scan of the table is cheap at that rate.
constexpr uint64_t expire_period_ns = 10'000'000;

} // namespace

reassembler::reassembler(const limits& l) : lim_(l) {
    std::size_t table = 2;
    while (table < std::size_t{lim_.slots} * 2) { // load factor <= 1/2 keeps probes short
        table <<= 1;
    }
    mask_ = table - 1;
    slots_ = std::make_unique<slot[]>(table);
    arena_ = std::make_unique<char[]>(std::size_t{lim_.block_size} * lim_.blocks);
    free_ = std::make_unique<uint32_t[]>(lim_.blocks);
    for (uint32_t b = 0; b < lim_.blocks; ++b) {
        free_[b] = lim_.blocks - 1 - b;
    }
    free_top_ = lim_.blocks;
    out_.resize(std::size_t{lim_.block_size} * max_chunks + output_padding);
}

reassembler::~reassembler() = default;

std::size_t reassembler::find(uint64_t id) const noexcept {
    std::size_t i = hash_id(id) & mask_;
    while (slots_[i].used && slots_[i].id != id) {
        i = (i + 1) & mask_;
    }
    return i;
}

void reassembler::release(std::size_t i) noexcept {
    slot& s = slots_[i];
    for (unsigned q = 0; q < s.count; ++q) {
        if ((s.have[q >> 6] >> (q & 63)) & 1u) {
            free_[free_top_++] = s.block[q];
        }
    }
    --used_;
    util::erase_linear_probe(slots_.get(), mask_, i, [](const slot& x) { return hash_id(x.id); });
}

chunk_status reassembler::feed(std::string_view d, uint64_t now_ns,
                               std::string_view& out) noexcept {
    if (d.size() < chunk_header_len || !is_chunk(d)) {
        return chunk_status::bad_header;
    }
    uint64_t id = 0;
    std::memcpy(&id, d.data() + 2, sizeof id);
    const auto seq = static_cast<uint8_t>(d[10]);
    const auto count = static_cast<uint8_t>(d[11]);
    if (count == 0 || count > max_chunks || seq >= count) {
        return chunk_status::bad_sequence;
    }
    const std::string_view payload = d.substr(chunk_header_len);
    if (payload.size() > lim_.block_size) {
        return chunk_status::chunk_too_large;
    }
    const std::size_t i = find(id);
    slot& s = slots_[i];
    if (!s.used) {
        if (std::find(recent_.begin(), recent_.begin() + static_cast<std::ptrdiff_t>(recent_n_),
                      id) != recent_.begin() + static_cast<std::ptrdiff_t>(recent_n_)) {
            return chunk_status::duplicate;
        }
        if (used_ >= lim_.slots) {
            return chunk_status::table_full;
        }
        if (free_top_ == 0) {
            return chunk_status::memory_full;
        }
        s = slot{};
        s.id = id;
        s.first_ns = now_ns;
        s.used = true;
        s.count = count;
        ++used_;
    } else if (s.count != count) {
        return chunk_status::inconsistent_count;
    }
    if ((s.have[seq >> 6] >> (seq & 63)) & 1u) {
        return chunk_status::duplicate;
    }
    if (free_top_ == 0) {
        return chunk_status::memory_full; // the message stays; it completes later or times out
    }
    const uint32_t b = free_[--free_top_];
    std::memcpy(&arena_[std::size_t{b} * lim_.block_size], payload.data(), payload.size());
    copied_ += payload.size();
    s.block[seq] = b;
    s.len[seq] = static_cast<uint16_t>(payload.size());
    s.have[seq >> 6] |= uint64_t{1} << (seq & 63);
    if (++s.received < s.count) {
        return chunk_status::pending;
    }
    std::size_t total = 0;
    for (unsigned q = 0; q < s.count; ++q) {
        std::memcpy(out_.data() + total, &arena_[std::size_t{s.block[q]} * lim_.block_size],
                    s.len[q]);
        total += s.len[q];
    }
    copied_ += total;
    recent_[recent_next_] = id;
    recent_next_ = (recent_next_ + 1) % recent_.size();
    recent_n_ = std::min(recent_n_ + 1, recent_.size());
    release(i);
    out = std::string_view(out_.data(), total);
    return chunk_status::complete;
}

reassembler::expired reassembler::expire(uint64_t now_ns) noexcept {
    expired e;
    if (used_ == 0 || now_ns < next_expire_ns_) {
        return e;
    }
    next_expire_ns_ = now_ns + expire_period_ns;
    std::size_t i = 0;
    while (i <= mask_) {
        const slot& s = slots_[i];
        if (s.used && now_ns - s.first_ns >= lim_.timeout_ns) {
            ++e.messages;
            e.chunks += s.received;
            release(i); // may shift a later entry into i: look at i again
        } else {
            ++i;
        }
    }
    return e;
}

compression detect_compression(std::string_view d) noexcept {
    if (d.size() < 2) {
        return compression::none;
    }
    const auto b0 = static_cast<uint8_t>(d[0]);
    const auto b1 = static_cast<uint8_t>(d[1]);
    if (b0 == 0x1f && b1 == 0x8b) { // RFC 1952 ID1 ID2
        return compression::gzip;
    }
    // RFC 1950: CM = 8 (deflate), CINFO <= 7, and CMF*256 + FLG is a multiple of 31.
    if ((b0 & 0x0f) == 8 && (b0 >> 4) <= 7 && ((b0 << 8) | b1) % 31 == 0) {
        return compression::zlib;
    }
    return compression::none;
}

struct inflater::impl {
    z_stream zs{};
    std::vector<char> buf;
    bool ok = false;
};

inflater::inflater(std::size_t max_output) : p_(std::make_unique<impl>()) {
    p_->buf.resize(max_output + output_padding);
    // 15 + 32: a 32 KiB window, zlib or gzip header detected automatically.
    p_->ok = inflateInit2(&p_->zs, 15 + 32) == Z_OK;
    // Warm up once so zlib allocates its window now, not on the datapath.
    static const unsigned char empty_zlib[] = {0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01};
    std::string_view out;
    (void)inflate(std::string_view(reinterpret_cast<const char*>(empty_zlib), sizeof empty_zlib),
                  out);
}

inflater::~inflater() {
    if (p_->ok) {
        inflateEnd(&p_->zs);
    }
}

inflate_status inflater::inflate(std::string_view in, std::string_view& out) noexcept {
    if (!p_->ok || inflateReset(&p_->zs) != Z_OK) {
        return inflate_status::corrupt;
    }
    z_stream& zs = p_->zs;
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = reinterpret_cast<Bytef*>(p_->buf.data());
    const std::size_t room = p_->buf.size() - output_padding;
    zs.avail_out = static_cast<uInt>(room);
    const int rc = ::inflate(&zs, Z_FINISH);
    out = std::string_view(p_->buf.data(), room - zs.avail_out);
    if (rc == Z_STREAM_END) {
        return inflate_status::ok;
    }
    // Too large: out holds the first max_output bytes (the caller may keep them, truncated).
    return zs.avail_out == 0 ? inflate_status::too_large : inflate_status::corrupt;
}

} // namespace logagg::log::gelf
