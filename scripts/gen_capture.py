#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Seeded generator of realistic log traffic captures (classic pcap, Ethernet).

Log datagrams (RFC 5424, RFC 3164, Cisco-style, JSON lines) from many IPv4 and IPv6 flows, some
VLAN or QinQ tagged, some IPv6 with extension headers; mixed with non-log traffic (ARP, TCP, ICMP,
DNS, NTP, LLDP) and malformed frames, one for each drop reason logagg names. Every message is
globally unique, so a test can map each output line back to its flow and position.

The same seed always gives the same bytes. Used by scripts/run (docs/samples/sample.pcap), the
end-to-end tests (as a module) and scripts/bench.

    scripts/gen_capture.py --seed 1 --messages 4000 --out docs/samples/sample.pcap
"""

import argparse
import json
import random
import struct
import sys

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
ETH_ARP = 0x0806
ETH_VLAN = 0x8100
ETH_QINQ = 0x88A8
ETH_LLDP = 0x88CC

DST_MAC = bytes.fromhex("020000000001")
DST_V4 = bytes([198, 18, 0, 1])
DST_V6 = bytes.fromhex("20010db8000000000000000000000001")

HOSTS = ["web-01", "web-02", "db-master", "cache-3", "edge-rtr-1", "core-sw-2", "lb-haproxy",
         "k8s-node-7", "mail-gw", "vpn-1", "fw-outside", "app-17"]
APPS = ["nginx", "sshd", "postgres", "redis", "kernel", "systemd", "haproxy", "kubelet",
        "postfix", "openvpn", "cron", "checkout"]
SEVERITIES = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
PATHS = ["/", "/api/v1/users", "/api/v1/orders", "/healthz", "/static/app.js", "/login", "/cart"]


def checksum(data):
    """RFC 1071 one's-complement sum, complemented."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ether(src_mac, ethertype, payload, tags=()):
    hdr = DST_MAC + src_mac
    for tpid, vid in tags:
        hdr += struct.pack("!HH", tpid, vid)
    frame = hdr + struct.pack("!H", ethertype) + payload
    return frame + b"\0" * max(0, 60 - len(frame))


def ipv4(src, dst, proto, payload, ident=1, frag=0, ttl=64, options=b"", good_csum=True, version=4,
         ihl=None, total_length=None):
    hl = 20 + len(options)
    ihl = hl // 4 if ihl is None else ihl
    tl = hl + len(payload) if total_length is None else total_length
    hdr = struct.pack("!BBHHHBBH4s4s", (version << 4) | ihl, 0, tl, ident, frag, ttl, proto, 0, src, dst) + options
    c = checksum(hdr)
    if not good_csum:
        c ^= 0x5A5A
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload


def udp(src, dst, sport, dport, payload, v6=False, csum="good", length=None):
    ulen = 8 + len(payload) if length is None else length
    seg = struct.pack("!HHHH", sport, dport, ulen, 0) + payload
    if csum == "zero":
        return seg
    if v6:
        pseudo = src + dst + struct.pack("!IxxxB", 8 + len(payload), 17)
    else:
        pseudo = src + dst + struct.pack("!BBH", 0, 17, 8 + len(payload))
    c = checksum(pseudo + struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload) or 0xFFFF
    if csum == "bad":
        c = c ^ 0x1234 or 0x1111
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def ipv6(src, dst, next_header, payload, ext=b"", payload_length=None, version=6):
    plen = len(ext) + len(payload) if payload_length is None else payload_length
    return struct.pack("!IHBB16s16s", version << 28, plen, next_header, 64, src, dst) + ext + payload


def ext_header(next_header, body_units=0):
    """A hop-by-hop / destination options header: PadN filling (1 + body_units) * 8 bytes."""
    size = (1 + body_units) * 8
    pad = size - 2
    return struct.pack("!BB", next_header, body_units) + bytes([1, pad - 2]) + b"\0" * (pad - 2)


class Flow:
    def __init__(self, idx, rng):
        self.idx = idx
        self.v6 = idx % 5 == 4
        self.sport = 1024 + rng.randrange(60000)
        self.mac = bytes([0x02, 0x10, 0, 0, idx >> 8, idx & 0xFF])
        if self.v6:
            self.src = bytes.fromhex("20010db8000100000000000000%06x" % (0x1000 + idx))
        else:
            self.src = bytes([198, 18, 1 + idx // 250, 1 + idx % 250])
        kind = idx % 7
        self.tags = ()
        if kind == 2:
            self.tags = ((ETH_VLAN, 100 + idx),)
        elif kind == 3:
            self.tags = ((ETH_QINQ, 10), (ETH_VLAN, 200 + idx))
        self.ext = self.v6 and idx % 2 == 0  # hop-by-hop + destination options
        self.host = HOSTS[idx % len(HOSTS)]
        self.app = APPS[(idx * 7) % len(APPS)]
        self.key = "%s:%d" % (self.src.hex(), self.sport)

    def datagram(self, payload, dport, csum="good"):
        if self.v6:
            dst = DST_V6
            seg = udp(self.src, dst, self.sport, dport, payload, v6=True, csum=csum)
            if self.ext:
                ext = ext_header(60) + ext_header(17, 1)
                ip = ipv6(self.src, dst, 0, seg, ext=ext)
            else:
                ip = ipv6(self.src, dst, 17, seg)
            return ether(self.mac, ETH_IPV6, ip, self.tags)
        seg = udp(self.src, DST_V4, self.sport, dport, payload, csum=csum)
        return ether(self.mac, ETH_IPV4, ipv4(self.src, DST_V4, 17, seg, ident=self.idx), self.tags)


def fragment_frames(flow, payload, dport, rng, mtu_payload=1480):
    """A UDP datagram of `flow` cut into IP fragments (RFC 791 / RFC 8200 4.5), sometimes out of order."""
    if flow.v6:
        seg = udp(flow.src, DST_V6, flow.sport, dport, payload, v6=True)
    else:
        seg = udp(flow.src, DST_V4, flow.sport, dport, payload)
    ident = rng.getrandbits(16 if not flow.v6 else 32)
    step = mtu_payload - (mtu_payload % 8) - (8 if flow.v6 else 0)
    frames = []
    for off in range(0, len(seg), step):
        part = seg[off:off + step]
        more = 1 if off + step < len(seg) else 0
        if flow.v6:
            fh = struct.pack("!BBHI", 17, 0, (off & 0xFFF8) | more, ident)
            frames.append(ether(flow.mac, ETH_IPV6, ipv6(flow.src, DST_V6, 44, part, ext=fh), flow.tags))
        else:
            ip = ipv4(flow.src, DST_V4, 17, part, ident=ident, frag=(more << 13) | (off // 8))
            frames.append(ether(flow.mac, ETH_IPV4, ip, flow.tags))
    if rng.randrange(3) == 0:
        rng.shuffle(frames)
    return frames


class Capture:
    """Frames plus what logagg must make of each."""

    def __init__(self):
        self.frames = []
        # ('log', flow_key, [messages], n_empty, n_fragments) or ('drop', reason) or ('frag',)
        self.expected = []
        # {port: {"packets", "payload_bytes", "messages"}} of the datagrams added with their
        # port and payload (build() gives them): what logagg must count per listener.
        self.listeners = {}

    def _count_listener(self, port, payload, messages):
        if port is None:
            return
        c = self.listeners.setdefault(port, {"packets": 0, "payload_bytes": 0, "messages": 0})
        c["packets"] += 1
        c["payload_bytes"] += len(payload)
        c["messages"] += len(messages)

    def add_log(self, frame, flow_key, messages, empty, port=None, payload=b""):
        self.frames.append(frame)
        self.expected.append(("log", flow_key, messages, empty, 0))
        self._count_listener(port, payload, messages)

    def add_fragmented_log(self, frames, flow_key, messages, empty, port=None, payload=b""):
        """A datagram sent as IP fragments: all but the last frame merge into it."""
        for fr in frames[:-1]:
            self.frames.append(fr)
            self.expected.append(("frag",))
        self.frames.append(frames[-1])
        self.expected.append(("log", flow_key, messages, empty, len(frames)))
        self._count_listener(port, payload, messages)

    def add_drop(self, frame, reason):
        self.frames.append(frame)
        self.expected.append(("drop", reason))

    def expected_messages_by_flow(self):
        out = {}
        for e in self.expected:
            if e[0] == "log":
                out.setdefault(e[1], []).extend(e[2])
        return out

    def expected_messages(self):
        return [m for e in self.expected if e[0] == "log" for m in e[2]]

    def expected_stats(self):
        dropped = {}
        framed = empty = to_workers = merged = reassembled = 0
        for e in self.expected:
            if e[0] == "drop":
                dropped[e[1]] = dropped.get(e[1], 0) + 1
            elif e[0] == "log":
                to_workers += 1
                framed += len(e[2])
                empty += e[3]
                if e[4]:
                    merged += e[4]
                    reassembled += 1
        return {
            "packets": {"received": len(self.frames), "to_workers": to_workers, "dropped": dropped,
                        "fragments_merged": merged, "reassembled": reassembled},
            "messages": {"framed": framed, "empty_skipped": empty},
        }

    def write_pcap(self, path):
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
            t0 = 1795000000  # 2026-11-19, any fixed instant
            for i, fr in enumerate(self.frames):
                f.write(struct.pack("<IIII", t0 + i // 10000, (i % 10000) * 100, len(fr), len(fr)))
                f.write(fr)


def make_message(rng, flow, serial, kinds=None):
    """One realistic log line carrying a unique token. kinds: message shapes to use (0 and 4 RFC
    5424, 1 and 2 RFC 3164, 3 JSON, 5 an unparsed access log line); all of them by default."""
    sev = rng.randrange(8)
    fac = rng.choice([1, 3, 4, 10, 16, 23])
    pri = fac * 8 + sev
    ts_s = 1795000000 + serial
    hh, mm, ss = (ts_s // 3600) % 24, (ts_s // 60) % 60, ts_s % 60
    day = 19 + (serial // 86400) % 9
    token = "%s-%06d" % (flow.host, serial)
    kind = kinds[serial % len(kinds)] if kinds else serial % 6
    if kind == 0:
        path = rng.choice(PATHS)
        return ("<%d>1 2026-11-%02dT%02d:%02d:%02d.%06dZ %s %s %d ID%d "
                "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" req=\"%s\"] "
                "GET %s %d %d"
                % (pri, day, hh, mm, ss, rng.randrange(10**6), flow.host, flow.app, 1000 + flow.idx,
                   serial % 97, token, path, rng.choice([200, 200, 201, 304, 404, 500]),
                   rng.randrange(100, 90000))).encode()
    if kind == 1:
        return ("<%d>%s %2d %02d:%02d:%02d %s %s[%d]: %s session opened for user u%d (uid=%d) id=%s"
                % (pri, MONTHS[10], day, hh, mm, ss, flow.host, flow.app, 300 + flow.idx,
                   rng.choice(["pam_unix(sshd:session):", "Accepted publickey", "Connection closed"]),
                   rng.randrange(50), rng.randrange(1000, 2000), token)).encode()
    if kind == 2:
        return ("<%d>%d: *Nov %2d %02d:%02d:%02d.%03d: %%LINEPROTO-5-UPDOWN: Line protocol on "
                "Interface GigabitEthernet0/%d, changed state to %s [%s]"
                % (pri, serial, day, hh, mm, ss, rng.randrange(1000), rng.randrange(48),
                   rng.choice(["up", "down"]), token)).encode()
    if kind == 3:
        doc = {"time": "2026-11-%02dT%02d:%02d:%02d.%03dZ" % (day, hh, mm, ss, rng.randrange(1000)),
               "level": SEVERITIES[sev], "service": flow.app, "host": flow.host,
               "msg": rng.choice(["order placed", "cache miss", "retrying upstream", "user login"]),
               "trace_id": "%016x" % rng.getrandbits(64), "req_id": token,
               "latency_ms": rng.randrange(1, 900)}
        return json.dumps(doc, separators=(",", ":")).encode()
    if kind == 4:
        return ("<%d>1 2026-11-%02dT%02d:%02d:%02d+01:00 %s %s - - - %s"
                % (pri, day, hh, mm, ss, flow.host, flow.app,
                   "kernel: [%d.%06d] eth0: link up, 10Gbps full duplex id=%s"
                   % (serial, rng.randrange(10**6), token))).encode()
    return ("%s - - [19/Nov/2026:%02d:%02d:%02d +0000] \"GET %s HTTP/1.1\" %d %d \"-\" \"curl/8.5\" rid=%s"
            % ("198.18.%d.%d" % (flow.idx % 250, serial % 250), hh, mm, ss, rng.choice(PATHS),
               rng.choice([200, 404]), rng.randrange(100, 5000), token)).encode()


def shape_datagram(rng, messages):
    """Joins messages into one payload the way real senders do. Returns (payload, n_empty)."""
    shape = rng.randrange(10)
    if len(messages) == 1:
        m = messages[0]
        if shape < 5:
            return m, 0
        if shape < 7:
            return m + b"\n", 0
        if shape < 8:
            return m + b"\r\n", 0
        if shape < 9:
            return m + b"\0", 0
        return m + b"\r\0\n", 0
    if shape < 5:
        return b"\n".join(messages) + b"\n", 0
    if shape < 7:
        return b"\r\n".join(messages), 0
    if shape < 9:
        # an empty line and a CR-only line between messages
        return messages[0] + b"\n\n\r\n" + b"\n".join(messages[1:]), 2
    return b"\n".join(messages) + b"\n\0\0", 1


def add_noise(cap, rng, flows):
    f = flows[rng.randrange(len(flows))]
    kind = rng.randrange(7)
    if kind == 0:  # ARP who-has
        arp = struct.pack("!HHBBH6s4s6s4s", 1, ETH_IPV4, 6, 4, 1, f.mac, bytes([198, 18, 1, 1]),
                          b"\0" * 6, DST_V4)
        cap.add_drop(ether(f.mac, ETH_ARP, arp), "not_ip")
    elif kind == 1:  # TCP SYN to 443
        tcp = struct.pack("!HHIIBBHHH", 40000, 443, rng.getrandbits(32), 0, 5 << 4, 0x02, 65535, 0, 0)
        if f.v6:
            cap.add_drop(ether(f.mac, ETH_IPV6, ipv6(f.src, DST_V6, 6, tcp)), "not_udp")
        else:
            cap.add_drop(ether(f.mac, ETH_IPV4, ipv4(f.src, DST_V4, 6, tcp)), "not_udp")
    elif kind == 2:  # ICMP echo / ICMPv6 echo
        if f.v6:
            cap.add_drop(ether(f.mac, ETH_IPV6, ipv6(f.src, DST_V6, 58, b"\x80\0\0\0\0\1\0\1abcd")), "not_udp")
        else:
            icmp = b"\x08\0\0\0\0\1\0\1" + b"ping" * 8
            icmp = icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]
            cap.add_drop(ether(f.mac, ETH_IPV4, ipv4(f.src, DST_V4, 1, icmp)), "not_udp")
    elif kind == 3:  # DNS query
        q = struct.pack("!HHHHHH", rng.getrandbits(16), 0x0100, 1, 0, 0, 0) + b"\x07example\x03com\0\0\1\0\1"
        cap.add_drop(f.datagram(q, 53), "port_not_listened")
    elif kind == 4:  # NTP
        cap.add_drop(f.datagram(b"\x23" + b"\0" * 47, 123), "port_not_listened")
    elif kind == 5:  # LLDP
        cap.add_drop(ether(f.mac, ETH_LLDP, b"\x02\x07\x04" + f.mac + b"\x00\x00"), "not_ip")
    else:  # syslog to a port nobody listens on
        cap.add_drop(f.datagram(b"<13>stray message", 10514), "port_not_listened")


def malformed_frames(flows, listen_port):
    """(frame, reason) pairs: at least one for every reason classify() names."""
    f4 = next(f for f in flows if not f.v6 and not f.tags)
    f6 = next(f for f in flows if f.v6 and not f.tags)
    good4 = udp(f4.src, DST_V4, f4.sport, listen_port, b"<13>x")
    good6 = udp(f6.src, DST_V6, f6.sport, listen_port, b"<13>x", v6=True)
    out = []
    out.append((b"\x02\0\0\0\0\1\x02\0", "eth_truncated"))
    out.append((DST_MAC + f4.mac + struct.pack("!HH", ETH_VLAN, 5), "vlan_truncated"))
    three = ((ETH_QINQ, 1), (ETH_VLAN, 2), (ETH_VLAN, 3))
    out.append((ether(f4.mac, ETH_IPV4, ipv4(f4.src, DST_V4, 17, good4), three), "vlan_too_many"))
    out.append((ether(f4.mac, ETH_IPV4, ipv4(f4.src, DST_V4, 17, good4, version=6)), "ipv4_bad_version"))
    out.append((ether(f4.mac, ETH_IPV4, ipv4(f4.src, DST_V4, 17, good4, ihl=4)), "ipv4_bad_ihl"))
    out.append(((DST_MAC + f4.mac + struct.pack("!H", ETH_IPV4) + b"\x45\0\0\x30\0\1"), "ipv4_truncated"))
    # IHL says 15 words (60 bytes) but the frame holds 30 bytes after Ethernet, no padding.
    hdr = ipv4(f4.src, DST_V4, 17, b"", ihl=15, total_length=60)
    out.append((DST_MAC + f4.mac + struct.pack("!H", ETH_IPV4) + hdr[:20] + b"\0" * 10, "ipv4_truncated"))
    out.append((ether(f4.mac, ETH_IPV4, ipv4(f4.src, DST_V4, 17, good4, total_length=1400)), "ipv4_bad_length"))
    out.append((ether(f4.mac, ETH_IPV4, ipv4(f4.src, DST_V4, 17, good4, total_length=12)), "ipv4_bad_length"))
    out.append((ether(f4.mac, ETH_IPV4, ipv4(f4.src, DST_V4, 17, good4, good_csum=False)), "ipv4_bad_checksum"))
    # logagg reassembles by default: a non-final fragment whose length is not a multiple of 8 is
    # invalid, and a lone final fragment waits until shutdown.
    out.append((ether(f4.mac, ETH_IPV4, ipv4(f4.src, DST_V4, 17, good4, frag=0x2000)), "frag_invalid"))
    out.append((ether(f4.mac, ETH_IPV4, ipv4(f4.src, DST_V4, 17, good4[:8], frag=0x0010)), "frag_incomplete"))
    out.append((DST_MAC + f6.mac + struct.pack("!H", ETH_IPV6) + b"\x60" + b"\0" * 20, "ipv6_truncated"))
    out.append((ether(f6.mac, ETH_IPV6, ipv6(f6.src, DST_V6, 17, good6, version=4)), "ipv6_bad_version"))
    out.append((ether(f6.mac, ETH_IPV6, ipv6(f6.src, DST_V6, 17, good6, payload_length=1400)), "ipv6_bad_length"))
    out.append((ether(f6.mac, ETH_IPV6, ipv6(f6.src, DST_V6, 17, good6, payload_length=0)), "ipv6_bad_length"))
    # Destination options header claiming 64 bytes in a 24-byte payload.
    bad_ext = struct.pack("!BB", 17, 7) + b"\1\4\0\0\0\0"
    out.append((ether(f6.mac, ETH_IPV6, ipv6(f6.src, DST_V6, 60, b"\0" * 16, ext=bad_ext)), "ipv6_ext_truncated"))
    nine = b"".join(ext_header(60) for _ in range(8)) + ext_header(17)
    out.append((ether(f6.mac, ETH_IPV6, ipv6(f6.src, DST_V6, 60, good6, ext=nine)), "ipv6_ext_too_many"))
    late_hbh = ext_header(0) + ext_header(17)
    out.append((ether(f6.mac, ETH_IPV6, ipv6(f6.src, DST_V6, 60, good6, ext=late_hbh)), "ipv6_ext_bad_order"))
    frag = struct.pack("!BBHI", 17, 0, 1, 0x1234)  # more fragments, 13 bytes: not a multiple of 8
    out.append((ether(f6.mac, ETH_IPV6, ipv6(f6.src, DST_V6, 44, good6, ext=frag)), "frag_invalid"))
    out.append((ether(f4.mac, ETH_IPV4, ipv4(f4.src, DST_V4, 50, b"\0" * 24)), "not_udp"))
    out.append((ether(f4.mac, ETH_IPV4, ipv4(f4.src, DST_V4, 17, b"\0" * 6)), "udp_truncated"))
    out.append((ether(f6.mac, ETH_IPV6, ipv6(f6.src, DST_V6, 17, b"\0" * 4)), "udp_truncated"))
    long_len = udp(f4.src, DST_V4, f4.sport, listen_port, b"<13>x", length=200)
    out.append((ether(f4.mac, ETH_IPV4, ipv4(f4.src, DST_V4, 17, long_len)), "udp_bad_length"))
    short_len = udp(f4.src, DST_V4, f4.sport, listen_port, b"<13>x", length=4)
    out.append((ether(f4.mac, ETH_IPV4, ipv4(f4.src, DST_V4, 17, short_len)), "udp_bad_length"))
    bad4 = udp(f4.src, DST_V4, f4.sport, listen_port, b"<13>corrupted", csum="bad")
    out.append((ether(f4.mac, ETH_IPV4, ipv4(f4.src, DST_V4, 17, bad4)), "udp_bad_checksum"))
    bad6 = udp(f6.src, DST_V6, f6.sport, listen_port, b"<13>corrupted", v6=True, csum="bad")
    out.append((ether(f6.mac, ETH_IPV6, ipv6(f6.src, DST_V6, 17, bad6)), "udp_bad_checksum"))
    zero6 = udp(f6.src, DST_V6, f6.sport, listen_port, b"<13>no checksum", v6=True, csum="zero")
    out.append((ether(f6.mac, ETH_IPV6, ipv6(f6.src, DST_V6, 17, zero6)), "udp_bad_checksum"))
    # Port is checked before the checksum: a bad checksum to an unlistened port is port_not_listened.
    other = udp(f4.src, DST_V4, f4.sport, 9999, b"<13>x", csum="bad")
    out.append((ether(f4.mac, ETH_IPV4, ipv4(f4.src, DST_V4, 17, other)), "port_not_listened"))
    return out


def build(seed, n_messages, flows=64, listen_ports=(514,), noise=True, malformed=True, jumbo=False,
          kinds=None):
    """Builds a capture of n_messages log messages (plus noise and malformed frames); kinds limits
    the message shapes (see make_message)."""
    rng = random.Random(seed)
    fl = [Flow(i, rng) for i in range(flows)]
    cap = Capture()
    bad = malformed_frames(fl, listen_ports[0]) if malformed else []
    serial = 0
    while serial < n_messages:
        f = fl[rng.randrange(len(fl))]
        port = listen_ports[f.idx % len(listen_ports)]
        roll = rng.randrange(100)
        if roll < 3:
            cap.add_log(f.datagram(b"", port), f.key, [], 1, port)  # empty datagram
            continue
        if roll == 99 and n_messages - serial >= 12:
            # A large datagram (3-9 KB) that the sender's IP layer fragments.
            msgs = []
            for _ in range(rng.randrange(12, 40)):
                if serial >= n_messages:
                    break
                msgs.append(make_message(rng, f, serial, kinds))
                serial += 1
            payload = b"\n".join(msgs) + b"\n"
            cap.add_fragmented_log(fragment_frames(f, payload, port, rng), f.key, msgs, 0, port, payload)
            continue
        if jumbo and roll < 8:
            count = rng.randrange(20, 60)
        elif roll < 75:
            count = 1
        else:
            count = rng.randrange(2, 6)
        count = min(count, n_messages - serial)
        msgs = []
        size = 0
        for _ in range(count):
            m = make_message(rng, f, serial, kinds)
            if msgs and not jumbo and size + len(m) > 1400:  # standard frames stay under the MTU
                break
            msgs.append(m)
            size += len(m) + 2
            serial += 1
        payload, empty = shape_datagram(rng, msgs)
        cap.add_log(f.datagram(payload, port), f.key, msgs, empty, port, payload)
        if noise and rng.randrange(100) < 12:
            add_noise(cap, rng, fl)
        if bad and rng.randrange(100) < 2:
            frame, reason = bad.pop(0)
            cap.add_drop(frame, reason)
    for frame, reason in bad:  # whatever was not interleaved yet
        cap.add_drop(frame, reason)
    return cap


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--messages", type=int, default=4000)
    ap.add_argument("--flows", type=int, default=64)
    ap.add_argument("--port", type=int, action="append", help="listen port(s) (default 514)")
    ap.add_argument("--out", required=True, help="pcap file to write")
    ap.add_argument("--expected", help="also write the expected counters as JSON")
    ap.add_argument("--no-noise", action="store_true", help="no ARP/TCP/ICMP/DNS/NTP/LLDP frames")
    ap.add_argument("--no-malformed", action="store_true", help="no malformed frames")
    ap.add_argument("--jumbo", action="store_true", help="some datagrams of 3-9 KB (multi-segment mbufs)")
    a = ap.parse_args(argv)
    cap = build(a.seed, a.messages, a.flows, tuple(a.port or [514]), not a.no_noise, not a.no_malformed, a.jumbo)
    cap.write_pcap(a.out)
    if a.expected:
        with open(a.expected, "w") as f:
            json.dump(cap.expected_stats(), f, indent=2, sort_keys=True)
    st = cap.expected_stats()
    print("%s: %d frames, %d messages in %d datagrams, %d frames to drop"
          % (a.out, len(cap.frames), st["messages"]["framed"], st["packets"]["to_workers"],
             sum(st["packets"]["dropped"].values())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
