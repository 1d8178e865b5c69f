// SPDX-License-Identifier: BSD-3-Clause
// Side: datapath (parse_tcp, build_tcp, options; no allocation, no state).
//
// TCP on the wire: sequence arithmetic, option parsing, a validated view of a received segment
// (parse_tcp) and the builder of the control segments logagg sends (ACK, SYN-ACK, RST, FIN-ACK).
// logagg only receives data, so nothing here carries payload out.
#pragma once

#include <cstdint>

#include "net/headers.hpp"

struct rte_mbuf;

namespace logagg::net {

/// TCP header flags (RFC 9293 3.1, RFC 3168 for ECE/CWR).
namespace tcp_flag {
inline constexpr uint8_t fin = 0x01;
inline constexpr uint8_t syn = 0x02;
inline constexpr uint8_t rst = 0x04;
inline constexpr uint8_t psh = 0x08;
inline constexpr uint8_t ack = 0x10;
inline constexpr uint8_t urg = 0x20;
inline constexpr uint8_t ece = 0x40;
inline constexpr uint8_t cwr = 0x80;
} // namespace tcp_flag

/// TCP option kinds we act on (IANA "TCP Option Kind Numbers").
namespace tcp_opt {
inline constexpr uint8_t eol = 0;
inline constexpr uint8_t nop = 1;
inline constexpr uint8_t mss = 2;            ///< RFC 9293 3.7.1, length 4
inline constexpr uint8_t wscale = 3;         ///< RFC 7323 2.2, length 3
inline constexpr uint8_t sack_permitted = 4; ///< RFC 2018 2, length 2
inline constexpr uint8_t sack = 5;           ///< RFC 2018 3, length 2 + 8n
inline constexpr uint8_t timestamps = 8;     ///< RFC 7323 3.2, length 10
} // namespace tcp_opt

/// Option space: the data offset is 4 bits of 32-bit words, so at most 60 - 20 bytes.
inline constexpr uint32_t max_tcp_options_len = 40;
/// SACK blocks an option can carry: (40 - 2) / 8.
inline constexpr unsigned max_sack_blocks = 4;
/// Largest window shift (RFC 7323 2.3: a larger value is used as 14).
inline constexpr uint8_t max_wscale = 14;

// ---- sequence space (RFC 9293 3.4: arithmetic modulo 2^32) ----

[[nodiscard]] constexpr bool seq_lt(uint32_t a, uint32_t b) noexcept {
    return static_cast<int32_t>(a - b) < 0;
}
[[nodiscard]] constexpr bool seq_le(uint32_t a, uint32_t b) noexcept {
    return static_cast<int32_t>(a - b) <= 0;
}
[[nodiscard]] constexpr bool seq_gt(uint32_t a, uint32_t b) noexcept {
    return seq_lt(b, a);
}
[[nodiscard]] constexpr bool seq_ge(uint32_t a, uint32_t b) noexcept {
    return seq_le(b, a);
}
/// @return a <= s < a + len, modulo 2^32 (len < 2^31).
[[nodiscard]] constexpr bool seq_in(uint32_t s, uint32_t a, uint32_t len) noexcept {
    return s - a < len;
}

static_assert(seq_lt(0xffffff00u, 5) && seq_gt(5, 0xffffff00u) && seq_in(2, 0xfffffffeu, 5));

/// One SACK block: sequence numbers [left, right) (RFC 2018 3).
struct sack_block {
    uint32_t left = 0;
    uint32_t right = 0;
};

/// The options of one segment. Fields are meaningful only when their has_ flag is set.
struct tcp_options {
    uint16_t mss = 0;
    uint8_t wscale = 0; ///< as sent (not clamped to max_wscale)
    uint8_t n_sack = 0;
    bool has_mss = false;
    bool has_wscale = false;
    bool sack_permitted = false;
    bool has_timestamps = false;
    uint32_t ts_val = 0;
    uint32_t ts_ecr = 0;
    sack_block sack[max_sack_blocks];
};

/// Outcome of parse_tcp_options().
enum class tcp_opt_status : uint8_t {
    ok,
    truncated,  ///< an option's length byte, or its body, runs past the option space
    bad_length, ///< a length below 2, or a known option of the wrong length
};

/// Parses @p len bytes (at most max_tcp_options_len) of TCP options at @p p into @p out
/// (RFC 9293 3.2: EOL ends the list, NOP is one byte, everything else is kind, length, body).
/// Unknown kinds of a valid length are skipped. The walk advances at least one byte per step, so
/// it ends after at most @p len steps whatever the bytes.
/// @return ok, or why the list is malformed (@p out then holds what came before the fault).
[[nodiscard]] tcp_opt_status parse_tcp_options(const uint8_t* p, uint32_t len,
                                               tcp_options& out) noexcept;

/// Where a TCP segment sits in a frame (from classify(): l2_len, l4_off, l4_len, ip_version) and
/// the receive checksum policy of the port it came from (classify_options).
struct tcp_locator {
    uint32_t l3_off = 0; ///< IP header; Ethernet and 0-2 VLAN tags before it
    uint32_t l4_off = 0; ///< TCP header (after IPv4 options or IPv6 extension headers)
    uint32_t l4_len = 0; ///< TCP header and payload: the IP datagram's bytes from l4_off
    uint8_t ip_version = 4;
    /// Verify the checksum in software when the NIC gives no verdict.
    bool verify_checksum = true;
    /// Accept a checksum field holding only the pseudo-header sum (is_partial_checksum()): the
    /// form a local Linux sender leaves for the NIC, seen on ports that read a kernel interface.
    bool accept_partial = false;
};

/// A connection's addressing seen from logagg: `local` is us (the receiver of the segment),
/// `remote` the peer. Both the connection key and everything a reply needs: the reply goes back
/// with the MACs swapped and the same VLAN tags.
struct tcp_path {
    uint8_t local_mac[6] = {};
    uint8_t remote_mac[6] = {};
    uint32_t vlan[2] = {}; ///< tags as received, outermost first: TPID << 16 | TCI
    uint8_t n_vlan = 0;
    uint8_t ip_version = 4;
    uint16_t local_port = 0;
    uint16_t remote_port = 0;
    uint8_t local_ip[16] = {}; ///< IPv4: the first 4 bytes, the rest zero
    uint8_t remote_ip[16] = {};
};

/// A validated received segment. Offsets are from the start of the frame.
/// IMPORTANT: lifetime: a plain copy of header fields; payload_off/payload_len describe bytes of
/// the mbuf it was parsed from, valid while that mbuf is held.
struct tcp_segment {
    tcp_path path;
    uint32_t seq = 0;
    uint32_t ack = 0;
    uint16_t window = 0; ///< the field as sent (unscaled)
    uint8_t flags = 0;
    bool checksum_partial = false; ///< accepted for holding the pseudo-header sum only
    uint32_t payload_off = 0;
    uint32_t payload_len = 0;
    tcp_options opts;
};

/// Outcome of parse_tcp().
enum class tcp_verdict : uint8_t {
    ok,
    truncated,    ///< headers run past the frame, or the locator does not fit the frame
    bad_offset,   ///< data offset below 5 words or beyond the segment
    bad_checksum, ///< checksum wrong (software or NIC verdict)
    bad_options,  ///< malformed options (parse_tcp_options())
};

/// Validates the TCP segment @p at describes in frame @p m and fills @p out: L2 addresses and
/// tags, IP addresses, ports, sequence numbers, flags, window, options, payload position. Checks
/// in order: the headers exist, the data offset, the checksum (NIC verdict in ol_flags first),
/// the options. Headers may straddle segments of the chain; never reads past pkt_len.
/// Thread-safety: pure; the caller owns @p m.
[[nodiscard]] tcp_verdict parse_tcp(const rte_mbuf* m, const tcp_locator& at,
                                    tcp_segment& out) noexcept;

/// A control segment to send (logagg sends no payload).
struct tcp_out {
    uint32_t seq = 0;
    uint32_t ack = 0;
    uint8_t flags = 0;
    uint16_t window = 0;         ///< the field value, already scaled down
    uint16_t mss = 0;            ///< MSS option when non-zero (SYN-ACK only)
    int8_t wscale = -1;          ///< window scale option when >= 0 (SYN-ACK only)
    bool sack_permitted = false; ///< SACK-permitted option (SYN-ACK only)
    bool timestamps = false;
    uint32_t ts_val = 0;
    uint32_t ts_ecr = 0;
    uint8_t n_sack = 0; ///< SACK blocks to send; as many as fit are written
    sack_block sack[max_sack_blocks];
};

/// How the checksums of a built segment are made.
enum class tx_checksum : uint8_t {
    software, ///< IPv4 header and TCP checksums computed here
    /// Left to the NIC: ol_flags ask for IPv4 header and TCP checksums, the TCP field holds the
    /// pseudo-header sum as DPDK's offload contract wants (rte_ipv4_phdr_cksum() form).
    offload,
};

/// Writes the options of @p s into @p out (40 bytes of room), padded with NOPs to a multiple of
/// 4, in Linux's layout: MSS, SACK-permitted + timestamps (or NOP NOP + either), NOP + window
/// scale; on other segments NOP NOP timestamps, then NOP NOP SACK with as many blocks as fit
/// (three beside timestamps, four without). @return bytes written.
[[nodiscard]] uint32_t write_tcp_options(const tcp_out& s, uint8_t* out) noexcept;

/// Bytes build_tcp() appends for @p p and @p s.
[[nodiscard]] uint32_t tcp_frame_len(const tcp_path& p, const tcp_out& s) noexcept;

/// Appends a whole frame to empty mbuf @p m: Ethernet (to remote_mac from local_mac, p's VLAN
/// tags), IPv4 (DF, TTL 64, id 0: RFC 6864 atomic datagram) or IPv6 (hop limit 64), TCP with
/// @p s. Sets l2_len, l3_len, l4_len and, for tx_checksum::offload, the TX checksum flags.
/// @return false when the mbuf has too little tailroom (it is then unchanged).
[[nodiscard]] bool build_tcp(rte_mbuf* m, const tcp_path& p, const tcp_out& s,
                             tx_checksum mode) noexcept;

} // namespace logagg::net
