// SPDX-License-Identifier: BSD-3-Clause
// Side: construction is control plane (allocates once); feed(), expire() and inflate() are
// datapath: no allocation, no locks, no syscalls.
//
// GELF over UDP (https://go2docs.graylog.org/current/getting_in_log_data/gelf.html):
// chunked datagrams (magic 0x1e 0x0f, 8-byte message id, sequence number, sequence count <= 128)
// are reassembled per worker, out of order and with duplicates tolerated, within a timeout and a
// memory bound; zlib and gzip payloads are inflated into a bounded buffer. Every drop has a
// named status for the caller to count. Copies made here are conversions, counted by the caller.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "util/enum_names.hpp"

namespace logagg::log::gelf {

inline constexpr uint8_t chunk_magic_0 = 0x1e;
inline constexpr uint8_t chunk_magic_1 = 0x0f;
inline constexpr std::size_t chunk_header_len = 12; ///< magic (2), id (8), sequence (1), count (1)
inline constexpr unsigned max_chunks = 128;         ///< the GELF limit on sequence count
/// Readable bytes behind every message view this module returns (simdjson's padding, so the
/// JSON parser reads it in place).
inline constexpr std::size_t output_padding = 64;

/// @return true when @p d starts with the chunk magic.
[[nodiscard]] inline bool is_chunk(std::string_view d) noexcept {
    return d.size() >= 2 && static_cast<uint8_t>(d[0]) == chunk_magic_0 &&
           static_cast<uint8_t>(d[1]) == chunk_magic_1;
}

/// Outcome of reassembler::feed().
enum class chunk_status : uint8_t {
    complete,           ///< this chunk completed a message: see the out parameter
    pending,            ///< stored; more chunks needed
    duplicate,          ///< a chunk already stored, or of a message just completed (ignored)
    bad_header,         ///< shorter than 12 bytes or no magic
    bad_sequence,       ///< count 0 or > 128, or sequence >= count
    inconsistent_count, ///< a chunk of a known message with a different count (ignored)
    chunk_too_large,    ///< payload larger than a block
    table_full,         ///< no free slot for a new message id
    memory_full,        ///< no free block for the chunk's payload
    count_
};
inline constexpr std::size_t chunk_status_count = static_cast<std::size_t>(chunk_status::count_);
/// The stable name of each chunk_status value (util/enum_names.hpp); "" for none.
[[nodiscard]] constexpr std::string_view name(chunk_status v) noexcept {
    switch (v) {
    case chunk_status::complete:
        return "complete";
    case chunk_status::pending:
        return "pending";
    case chunk_status::duplicate:
        return "duplicate";
    case chunk_status::bad_header:
        return "bad_header";
    case chunk_status::bad_sequence:
        return "bad_sequence";
    case chunk_status::inconsistent_count:
        return "inconsistent_count";
    case chunk_status::chunk_too_large:
        return "chunk_too_large";
    case chunk_status::table_full:
        return "table_full";
    case chunk_status::memory_full:
        return "memory_full";
    case chunk_status::count_:
        break;
    }
    return "";
}
/// The names in enum order.
inline constexpr auto chunk_status_names = util::enum_names<chunk_status, chunk_status_count>();

/// Bounds of one reassembler. Defaults: 5 s (the GELF spec's timeout), 8 MiB of chunk payload.
struct limits {
    uint32_t slots = 1024;      ///< messages in reassembly at once (rounded up to a power of 2)
    uint32_t block_size = 8192; ///< largest chunk payload (GELF WAN chunks are 8154 bytes)
    uint32_t blocks = 1024;     ///< block_size * blocks = memory for chunk payloads
    uint64_t timeout_ns = 5'000'000'000; ///< incomplete messages older than this are dropped
};

/// Reassembles chunked GELF messages. One per worker; single-threaded.
/// IMPORTANT: lifetime: a completed message view points into this object's output buffer and is
/// valid until the next feed() or expire() call.
class reassembler {
public:
    explicit reassembler(const limits& l = {});
    ~reassembler();
    reassembler(const reassembler&) = delete;
    reassembler& operator=(const reassembler&) = delete;

    /// Feeds one datagram that starts with the chunk magic (copies its payload into a block).
    /// @param now_ns a monotonic clock; also expires old messages when due
    /// @param out    set to the reassembled message on chunk_status::complete
    [[nodiscard]] chunk_status feed(std::string_view datagram, uint64_t now_ns,
                                    std::string_view& out) noexcept;

    /// Drops incomplete messages older than the timeout.
    /// @return {messages expired, chunks they held}.
    struct expired {
        uint32_t messages = 0;
        uint32_t chunks = 0;
    };
    expired expire(uint64_t now_ns) noexcept;

    [[nodiscard]] uint32_t in_flight() const noexcept { return used_; }
    [[nodiscard]] uint32_t free_blocks() const noexcept { return static_cast<uint32_t>(free_top_); }
    /// Bytes copied into blocks and the output buffer since construction.
    [[nodiscard]] uint64_t bytes_copied() const noexcept { return copied_; }

private:
    struct slot;
    [[nodiscard]] std::size_t find(uint64_t id) const noexcept;
    void release(std::size_t i) noexcept;

    limits lim_;
    std::size_t mask_ = 0;
    std::unique_ptr<slot[]> slots_;
    std::unique_ptr<char[]> arena_;
    std::unique_ptr<uint32_t[]> free_;
    std::size_t free_top_ = 0;
    std::vector<char> out_;
    /// Ids of recently completed messages: a duplicate chunk arriving after its message completed
    /// is recognised instead of opening a slot that could only time out. Why 256: far more than
    /// the messages a sender has in flight, and a scan only happens for a new message id.
    std::array<uint64_t, 256> recent_{};
    std::size_t recent_next_ = 0;
    std::size_t recent_n_ = 0;
    uint32_t used_ = 0;
    uint64_t copied_ = 0;
    uint64_t next_expire_ns_ = 0;
    expired pending_expired_{};
};

/// Payload compression, from the first bytes (RFC 1950 zlib header, RFC 1952 gzip magic).
enum class compression : uint8_t { none, zlib, gzip };
[[nodiscard]] compression detect_compression(std::string_view d) noexcept;

enum class inflate_status : uint8_t { ok, too_large, corrupt };

/// zlib/gzip decompression into a bounded buffer. One per worker; allocates at construction only.
/// IMPORTANT: lifetime: the output view is valid until the next inflate() call.
class inflater {
public:
    explicit inflater(std::size_t max_output = 1u << 20);
    ~inflater();
    inflater(const inflater&) = delete;
    inflater& operator=(const inflater&) = delete;

    /// Inflates @p in (zlib or gzip, detected) into the buffer; @p out views the result (on
    /// too_large, the first max_output bytes).
    [[nodiscard]] inflate_status inflate(std::string_view in, std::string_view& out) noexcept;

private:
    struct impl;
    std::unique_ptr<impl> p_;
};

} // namespace logagg::log::gelf
