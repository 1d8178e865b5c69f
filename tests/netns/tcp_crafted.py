#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Crafted TCP segments against logagg's TCP listener over a real veth (issue 12's adversarial
list): scapy in a namespace sends segments no well-behaved client sends and checks, on the wire,
what logagg answers; logagg's --stats-json counters are checked against what was sent.

    tests/netns/tcp_crafted.py --logagg build/app/logagg/logagg

Topology (made here, removed at the end, also on failure; 198.18.0.0/15 only):

    root namespace                         namespace N
    logagg on veth end A (net_af_packet)   veth end B: 198.18.S.2/24 (the kernel's address)
    --ip 0:198.18.S.1/24, tcp:601           scapy: raw frames on B from 198.18.S.100 and up,
                                            addresses the namespace's kernel does not own, so it
                                            never answers logagg's replies with RSTs of its own
                                            (ip_forward is off in a new namespace: dropped)

The scapy side (this file run again inside N with --peer, under Debian's /usr/bin/python3, which
python3-scapy installs into) reports what it sent and saw as one JSON line; between the SYN flood
and the real client it stops and lets the root side read logagg's memory (unchanged by the
flood). That the flood opened no connection is conns.accepted at exit: exactly the handshakes the
test completed (every slot ever taken is counted there, so this is stronger than a look at the
conns.open gauge). "Nothing came back" is never a timeout: after a segment that must
not be answered, a keepalive probe follows on the same connection (same worker, handled in
order), and its ACK must be the first thing that comes back.

Exit status: 0 pass, 1 fail, 77 skipped (with the reason printed).
"""

import argparse
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time

PORT = 601          # the TCP listener
CLOSED_PORT = 602   # nobody listens here
FLOOD = 3000        # SYNs in the flood
FLOOD_SEED = 1212   # the flood's addresses and ports: the same every run
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's: python3-scapy is installed for it


# ---------------------------------------------------------------------------------------------
# The scapy side, inside the namespace.
# ---------------------------------------------------------------------------------------------

def with_tcp_checksum(raw, tcp_off):
    """Fills in the TCP checksum of an IPv4 frame (the field zero), computed here rather than
    by scapy, which would re-encode the malformed options it parsed."""
    ip = raw[14:34]
    seg = bytes(raw[tcp_off:])
    pseudo = ip[12:20] + bytes([0, 6]) + len(seg).to_bytes(2, "big")
    data = pseudo + seg + (b"\0" if len(seg) % 2 else b"")
    total = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    raw[tcp_off + 16:tcp_off + 18] = (~total & 0xffff).to_bytes(2, "big")
    return raw


def peer_main(a):
    from scapy.all import AsyncSniffer, Ether, IP, TCP, Raw, conf  # noqa: E402 (only here)
    conf.verb = 0
    iface, ours, mac, base = a.iface, a.ours, a.mac, a.subnet
    out = {"sent": {}, "seen": {}, "errors": []}
    sent = out["sent"]

    def count(k, n=1):
        sent[k] = sent.get(k, 0) + n

    def fail(msg):
        out["errors"].append(msg)

    sock = conf.L2socket(iface=iface)
    my_mac = open("/sys/class/net/%s/address" % iface).read().strip()
    got = []  # logagg's TCP segments, in arrival order (appended by the sniffer's thread)
    sniffer = AsyncSniffer(iface=iface, store=False, prn=got.append,
                           lfilter=lambda p: IP in p and TCP in p and p[IP].src == ours)
    sniffer.start()
    time.sleep(0.5)  # the sniffer's socket is bound before anything is sent

    def frame(src, sport, dport, flags, seq, ack=0, payload=b"", window=65535, options=None,
              chksum=None, dataofs=None):
        t = TCP(sport=sport, dport=dport, flags=flags, seq=seq & 0xffffffff, ack=ack & 0xffffffff,
                window=window, options=options or [])
        if chksum is not None:
            t.chksum = chksum
        if dataofs is not None:
            t.dataofs = dataofs
        p = Ether(src=my_mac, dst=mac) / IP(src=src, dst=ours) / t
        if payload:
            p = p / Raw(payload)
        return p

    def replies(src, sport, since=0):
        """logagg's segments to (src, sport), in arrival order, from index since."""
        now = list(got)
        return [p for p in now[since:] if p[IP].dst == src and p[TCP].dport == sport], len(now)

    def wait(src, sport, pred, since, timeout=5.0, what=""):
        deadline = time.time() + timeout
        while time.time() < deadline:
            got, _ = replies(src, sport, since)
            for i, p in enumerate(got):
                if pred(p):
                    return p, got[:i]
            time.sleep(0.01)
        fail("no %s from logagg to %s:%d within %.0f s" % (what, src, sport, timeout))
        return None, replies(src, sport, since)[0]

    def mark():
        return len(got)

    class Conn:
        """A crafted client connection: our sequence space (isn, nxt) and logagg's (iss)."""

        def __init__(self, host, sport, wscale=False, complete=True):
            self.src = "198.18.%d.%d" % (base, host)
            self.sport = sport
            self.isn = random.Random(sport).randrange(1 << 32)
            self.nxt = (self.isn + 1) & 0xffffffff
            m = mark()
            opts = [("MSS", 1460), ("SAckOK", b"")] + ([("WScale", 7)] if wscale else [])
            sock.send(frame(self.src, sport, PORT, "S", self.isn, options=opts))
            count("syn")
            p, _ = wait(self.src, sport, lambda p: p[TCP].flags == "SA", m, what="SYN-ACK")
            if p is None:
                raise RuntimeError("handshake failed")
            self.iss = p[TCP].seq
            self.una = (self.iss + 1) & 0xffffffff
            self.window = p[TCP].window  # unscaled in a SYN-ACK
            if complete:
                self.send("A")  # the handshake's last ACK: carries the cookie back
                count("handshake")

        def send(self, flags, seq=None, payload=b"", **kw):
            sock.send(frame(self.src, self.sport, PORT, flags, self.nxt if seq is None else seq,
                            self.una, payload, **kw))

        def data(self, payload, seq=None):
            """In-order (or given) bytes; advances nxt past them when they are the next."""
            s = self.nxt if seq is None else seq
            self.send("PA", s, payload)
            if (s + len(payload) - self.nxt) & 0xffffffff < 1 << 31:
                self.nxt = (s + len(payload)) & 0xffffffff

        def probe(self, what):
            """A keepalive (SEG.SEQ = RCV.NXT - 1, no data): logagg ACKs it at once with
            ack = RCV.NXT. @return that ACK and everything logagg sent this flow before it."""
            m = mark()
            self.send("A", (self.nxt - 1) & 0xffffffff)
            count("keepalive")
            return wait(self.src, self.sport,
                        lambda p: p[TCP].flags == "A" and p[TCP].ack == self.nxt, m,
                        what="ACK of the keepalive after %s" % what)

        def reset(self):
            self.send("R", self.nxt)
            count("rst_accepted")

    def quiet_then_probe(c, what):
        """After a segment logagg must not answer: the probe's ACK is the first reply."""
        p, before = c.probe(what)
        if before:
            fail("%s was answered: %s" % (what, [b.summary() for b in before]))
        return p

    # --- SYN flood: thousands of SYNs from random addresses and ports in 198.18.0.0/15 ---------
    rng = random.Random(FLOOD_SEED)
    flood = []
    flood_keys = set()
    while len(flood) < a.flood:
        src = "198.%d.%d.%d" % (18 + rng.randrange(2), rng.randrange(256), rng.randrange(1, 255))
        if src in (ours, "198.18.%d.2" % base):
            continue
        sport = rng.randrange(1024, 65536)
        if (src, sport) in flood_keys:
            continue
        flood_keys.add((src, sport))
        flood.append(bytes(frame(src, sport, PORT, "S", rng.randrange(1 << 32),
                                 options=[("MSS", 1460), ("SAckOK", b""), ("WScale", 7)])))
    # The SYN-ACKs are counted on a packet socket of our own with a large buffer, read without
    # scapy (whose sniffer thread cannot keep up with thousands of frames at once and would lose
    # them in its 64 KiB socket buffer, not in logagg). Sent in chunks, each one's SYN-ACKs
    # awaited before the next.
    import socket as so
    cnt = so.socket(so.AF_PACKET, so.SOCK_RAW, so.htons(0x0800))
    cnt.setsockopt(so.SOL_SOCKET, 33, 64 << 20)  # SO_RCVBUFFORCE (root)
    cnt.bind((iface, 0))
    cnt.setblocking(False)
    ours_b = so.inet_aton(ours)
    synacks = set()

    def drain():
        while True:
            try:
                f = cnt.recv(2048)
            except BlockingIOError:
                return
            # Ethernet, IPv4 without options (logagg sends none), TCP flags at byte 13.
            if len(f) >= 54 and f[26:30] == ours_b and f[23] == 6 and f[14 + 20 + 13] == 0x12:
                synacks.add((so.inet_ntoa(f[30:34]), int.from_bytes(f[36:38], "big")))

    chunk = 250
    for i in range(0, a.flood, chunk):
        for raw in flood[i:i + chunk]:
            sock.outs.send(raw)
        deadline = time.time() + 10
        while time.time() < deadline and len(synacks & flood_keys) < min(a.flood, i + chunk):
            drain()
            time.sleep(0.01)
    cnt.close()
    synacks &= flood_keys
    count("syn", a.flood)
    count("flood", a.flood)
    out["seen"]["flood_syn_acks"] = len(synacks)
    print("PHASE flood_done", flush=True)
    if sys.stdin.readline().strip() != "go":
        fail("the root side did not say go")

    # --- a real (kernel) client still connects and delivers ---------------------------------
    k = socket.create_connection((ours, PORT), timeout=10)
    k.sendall(b"after the flood: kernel client\n")
    k.close()
    count("kernel_lines")

    # --- RST outside the window: ignored, no reply, connection alive ---------------------------
    c = Conn(100, 41001)
    c.send("R", (c.nxt + 0x40000000) & 0xffffffff)
    count("rst_ignored")
    quiet_then_probe(c, "a RST outside the window")
    c.data(b"alive after an out-of-window RST\n")
    count("lines")
    # --- RST inside the window, not exact: a challenge ACK, connection alive -----------------
    m = mark()
    c.send("R", (c.nxt + 100) & 0xffffffff)
    count("rst_challenged")
    p, before = wait(c.src, c.sport, lambda p: p[TCP].flags == "A" and p[TCP].ack == c.nxt, m,
                     what="challenge ACK")
    out["seen"]["challenge_ack"] = p is not None
    c.data(b"alive after an in-window RST\n")
    count("lines")
    c.probe("in-window RST")  # the line's bytes were acknowledged
    # --- exact RST: the connection is reset; its next segment finds no connection ------------
    c.reset()
    m = mark()
    c.data(b"after the reset: never delivered\n")
    count("cookie_failed")  # an ACK to the listening port with no connection and no cookie
    p, _ = wait(c.src, c.sport, lambda p: "R" in str(p[TCP].flags), m, what="RST after the reset")
    out["seen"]["rst_after_reset"] = p is not None

    # --- overlapping and duplicate segments: every byte delivered exactly once ----------------
    c = Conn(101, 41002)
    line = b"overlap: 0123456789abcdefghijklmnopqrstuvwxyz\n"
    b0 = c.nxt

    def at(i, j):
        sock.send(frame(c.src, c.sport, PORT, "PA", b0 + i, c.una, line[i:j]))
        count("segments_overlap")

    n = len(line)
    at(0, 10)    # in order
    at(5, 15)    # overlaps the first
    at(0, 10)    # a duplicate
    at(30, n)    # beyond a hole: queued
    at(20, 35)   # beyond the hole too, overlapping the queued run
    at(10, 25)   # fills the hole, overlapping both sides
    at(0, n)     # all of it again
    c.nxt = (b0 + len(line)) & 0xffffffff
    count("lines")
    count("overlap_bytes_delivered", len(line))
    c.probe("the overlapping segments")  # every byte acknowledged

    # --- data beyond the window: dropped and counted, an ACK says where the window is ---------
    m = mark()
    far = (c.nxt + c.window + 1000) & 0xffffffff
    c.send("PA", far, b"beyond the window\n")
    count("beyond_window")
    count("beyond_window_bytes", len(b"beyond the window\n"))
    p, before = wait(c.src, c.sport, lambda p: p[TCP].flags == "A" and p[TCP].ack == c.nxt, m,
                     what="ACK of a segment beyond the window")
    out["seen"]["beyond_window_ack"] = p is not None
    if before:
        fail("before the ACK of the far segment: %s" % [b.summary() for b in before])

    # --- a bad checksum: dropped, counted, not answered, its bytes not taken ------------------
    c.send("PA", c.nxt, b"bad checksum: never delivered\n", chksum=0x1234)
    count("bad_checksum")
    quiet_then_probe(c, "a segment with a bad checksum")  # ack is still c.nxt: not taken

    # --- a data offset beyond the segment, and malformed options: dropped, not answered -------
    sock.send(frame(c.src, c.sport, PORT, "A", c.nxt, c.una, dataofs=15))
    count("bad_header")
    quiet_then_probe(c, "a data offset beyond the segment")
    # An option whose length field is 1 (below the minimum of 2): malformed (RFC 9293 3.1).
    raw = bytearray(bytes(frame(c.src, c.sport, PORT, "A", c.nxt, c.una, options=[("NOP", None)] * 4)))
    tcp_off = 14 + 20
    raw[tcp_off + 20:tcp_off + 24] = bytes([254, 1, 1, 1])  # kind 254, length 1
    raw[tcp_off + 16:tcp_off + 18] = b"\0\0"
    sock.outs.send(bytes(with_tcp_checksum(raw, tcp_off)))
    count("bad_options")
    quiet_then_probe(c, "a malformed option")

    # --- options of every length: unknown kinds of length 2..40 are skipped (the segment is an
    # ACK like any other); a known option of the wrong length is malformed. Each unanswered.
    for n in range(2, 41):
        opt = bytes([253, n]) + bytes(n - 2)   # kind 253 (experimental), length n
        pad = (-len(opt)) % 4
        if len(opt) + pad > 40:
            continue
        raw = bytearray(bytes(frame(c.src, c.sport, PORT, "A", c.nxt, c.una)))
        raw[tcp_off + 12] = ((20 + len(opt) + pad) // 4) << 4   # data offset
        raw[tcp_off + 20:tcp_off + 20] = opt + bytes([1] * pad)  # NOP padding after it
        total = len(raw) - 14
        raw[16:18] = total.to_bytes(2, "big")
        raw[24:26] = b"\0\0"
        ip = raw[14:34]
        ssum = sum(int.from_bytes(ip[i:i + 2], "big") for i in range(0, 20, 2))
        while ssum >> 16:
            ssum = (ssum & 0xffff) + (ssum >> 16)
        raw[24:26] = (~ssum & 0xffff).to_bytes(2, "big")
        raw[tcp_off + 16:tcp_off + 18] = b"\0\0"
        sock.outs.send(bytes(with_tcp_checksum(raw, tcp_off)))
        count("ack_only_options")
    for kind, n in ((2, 3), (3, 4), (8, 9), (4, 3), (5, 7)):  # MSS, WS, TS, SACK-perm, SACK
        raw = bytearray(bytes(frame(c.src, c.sport, PORT, "A", c.nxt, c.una,
                                    options=[("NOP", None)] * 12)))
        raw[tcp_off + 20:tcp_off + 20 + n] = bytes([kind, n]) + bytes(n - 2)
        raw[tcp_off + 16:tcp_off + 18] = b"\0\0"
        sock.outs.send(bytes(with_tcp_checksum(raw, tcp_off)))
        count("bad_options")
    quiet_then_probe(c, "options of every length")

    # --- zero-window probes as Linux sends them: answered with the current window -------------
    # (SEG.SEQ = RCV.NXT - 1 without data, and with one old byte: RFC 9293 3.8.4; each probe()
    # above was one too)
    for payload in (b"", b"x"):
        m = mark()
        c.send("A", (c.nxt - 1) & 0xffffffff, payload)
        count("keepalive")
        p, _ = wait(c.src, c.sport, lambda p: p[TCP].flags == "A" and p[TCP].ack == c.nxt, m,
                    what="answer to a window probe")
        if p is not None and p[TCP].window == 0:
            fail("window probe answered with a zero window though the sink is empty")
    c.data(b"after the probes\n")
    count("lines")
    c.probe("the last line")
    c.reset()

    # --- a SYN to a closed port: RST back -----------------------------------------------------
    src = "198.18.%d.102" % base
    m = mark()
    sock.send(frame(src, 41003, CLOSED_PORT, "S", 777, options=[("MSS", 1460)]))
    count("no_connection")
    p, _ = wait(src, 41003, lambda p: "R" in str(p[TCP].flags), m, what="RST from a closed port")
    out["seen"]["closed_port_rst"] = p is not None
    if p is not None and (p[TCP].ack != 778 or p[TCP].sport != CLOSED_PORT):
        fail("closed port RST: ack %d sport %d, expected ack 778 from %d"
             % (p[TCP].ack, p[TCP].sport, CLOSED_PORT))

    # --- the handshake's last ACK and the first data segment lost: the second segment arrives
    # first. Its SEG.SEQ - 1 is not the client's ISN, so the cookie alone cannot open the
    # connection; the ISN memo kept from the SYN can (the cookie still proves it): the segment
    # waits out of order (ACKed at the first data byte, never a RST), and the retransmitted
    # first segment delivers both lines in order.
    c = Conn(104, 41006, complete=False)
    first, second = b"memo: the first line\n", b"memo: the second line\n"
    m = mark()
    c.send("PA", (c.nxt + len(first)) & 0xffffffff, second)
    count("handshake")
    count("by_memo")
    p, _ = wait(c.src, c.sport, lambda p: True, m, what="answer to the segment beyond the lost first")
    if p is not None and ("R" in str(p[TCP].flags) or p[TCP].ack != c.nxt):
        fail("the segment beyond the lost first was answered with %s ack %d, expected an ACK "
             "of %d" % (p[TCP].flags, p[TCP].ack, c.nxt))
    c.data(first)
    c.nxt = (c.nxt + len(second)) & 0xffffffff
    count("lines", 2)
    c.probe("the retransmitted first segment")  # both lines acknowledged
    c.reset()

    # --- and a last kernel client: still serving --------------------------------------------
    k = socket.create_connection((ours, PORT), timeout=10)
    k.sendall(b"at the end: kernel client\n")
    k.close()
    count("kernel_lines")
    # --- shutdown with a connection in LAST-ACK: the peer closed first and its final ACK is
    # "lost" (not sent). At SIGTERM logagg must retransmit its FIN until it is acknowledged (or
    # the close deadline), never reset a connection whose every byte was delivered.
    c = Conn(103, 41005)
    c.data(b"closed at shutdown\n")
    count("lines")
    m = mark()
    c.send("FA", c.nxt)
    c.nxt = (c.nxt + 1) & 0xffffffff
    count("fin")
    p, _ = wait(c.src, c.sport, lambda p: "F" in str(p[TCP].flags), m, what="FIN-ACK (LAST-ACK)")
    print("PHASE last_ack", flush=True)  # the root side sends SIGTERM, then says go
    if sys.stdin.readline().strip() != "go":
        fail("the root side did not say go")
    m = mark()
    p, _ = wait(c.src, c.sport, lambda p: "F" in str(p[TCP].flags) or "R" in str(p[TCP].flags), m,
                timeout=15, what="our FIN again or a RST after SIGTERM")
    if p is not None and "R" in str(p[TCP].flags):
        fail("at shutdown a connection in LAST-ACK was reset instead of getting its FIN again")
    elif p is not None:
        c.una = (p[TCP].seq + 1) & 0xffffffff
        c.send("A", c.nxt)  # the final ACK at last
        count("closed_at_shutdown")
    time.sleep(0.2)
    sniffer.stop()
    sock.close()
    print("RESULT " + json.dumps(out), flush=True)
    return 0


# ---------------------------------------------------------------------------------------------
# The root side: the link, logagg, the checks.
# ---------------------------------------------------------------------------------------------

def tcp_counter(st, group, name):
    """logagg's tcp.<group>.<name> from --stats-json (summed over workers)."""
    t = st["tcp"]
    if group in t and isinstance(t[group], dict):
        return t[group][name]
    return t["%s.%s" % (group, name)]


def vm_rss_kb(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def scapy_missing():
    """Why the case cannot run here, or None: scapy is installed for Debian's python3."""
    if subprocess.run([SYSTEM_PYTHON, "-c", "import scapy"], capture_output=True).returncode != 0:
        return "python3-scapy is not installed (scripts/lib/common.sh installs it)"
    return None


def case_tcp_crafted(logagg, tmp):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import netns  # Link, start_logagg, stop_logagg, read_lines, check
    check = netns.check
    link = netns.Link()
    try:
        link.up()
        proc, out, stats, logname = netns.start_logagg(
            logagg, link, tmp,
            extra=["--listen", "tcp:%d" % PORT])
        log_text = open(logname).read()
        mac = re.search(r"MAC ([0-9a-f:]{17})", log_text)
        check(mac, "logagg did not print its MAC:\n" + log_text)
        result = None
        try:
            rss0 = vm_rss_kb(proc.pid)
            rss_growth = []
            peer = subprocess.Popen(
                ["ip", "netns", "exec", link.ns, SYSTEM_PYTHON, os.path.abspath(__file__), "--peer",
                 "--iface", link.inner, "--ours", link.v4_ours, "--mac", mac.group(1),
                 "--subnet", str(link.subnet)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                for line in peer.stdout:
                    if line.startswith("PHASE flood_done"):
                        rss1 = vm_rss_kb(proc.pid)
                        rss_growth.append(rss1 - rss0)
                        # SYN cookies keep nothing: what grows is at most pages of mbufs the
                        # SYN-ACKs touched for the first time, never per-SYN state (3000 SYNs of
                        # state at a connection slot's 228 bytes would be ~670 KiB).
                        check(rss1 - rss0 < 600, "RSS grew by %d KiB during the flood" % (rss1 - rss0))
                        peer.stdin.write("go\n")
                        peer.stdin.flush()
                    elif line.startswith("PHASE last_ack"):
                        proc.send_signal(signal.SIGTERM)
                        peer.stdin.write("go\n")
                        peer.stdin.flush()
                    elif line.startswith("RESULT "):
                        result = json.loads(line[len("RESULT "):])
                peer.wait(timeout=60)
            finally:
                if peer.poll() is None:
                    peer.kill()
            err = peer.stderr.read()
            check(peer.returncode == 0 and result is not None,
                  "the scapy peer failed (%s):\n%s" % (peer.returncode, err[-3000:]))
        finally:
            netns.stop_logagg(proc, logname)  # SIGTERM was sent at PHASE last_ack; waits for exit
        st = json.load(open(stats))
        sent, seen = result["sent"], result["seen"]
        check(seen["flood_syn_acks"] == FLOOD, "SYN-ACKs seen for %d of %d flood SYNs; tcp %s; packets %s; "
              "ports %s" % (seen["flood_syn_acks"], FLOOD, st["tcp"], st["packets"], st["ports"]))
        check(not result["errors"], "on the wire: " + "; ".join(result["errors"]))
        for k in ("challenge_ack", "rst_after_reset", "beyond_window_ack", "closed_port_rst"):
            check(seen.get(k), "not seen on the wire: %s" % k)

        c = lambda g, n: tcp_counter(st, g, n)  # noqa: E731
        # Crafted-only outcomes: exactly what was sent (the kernel clients produce none of them).
        for outcome in ("rst_ignored", "rst_challenged", "rst_accepted",
                        "beyond_window", "bad_checksum", "bad_header", "bad_options", "no_connection",
                        "keepalive"):
            check(c("segments", outcome) == sent.get(outcome, 0), "segments.%s = %d, sent %d (tcp %s)"
                  % (outcome, c("segments", outcome), sent.get(outcome, 0), st["tcp"]))
        kernel = sent["kernel_lines"]
        # A FIN of ours retransmitted before the kernel client's ACK of it reached logagg (a busy
        # host) is ACKed again from the client's TIME-WAIT after logagg closed: one more ACK to no
        # connection per such retransmission, answered with a RST, as RFC 9293 wants.
        extra = c("segments", "cookie_failed") - sent["cookie_failed"]
        check(0 <= extra <= c("tx", "fin_retransmits"), "segments.cookie_failed = %d, sent %d, "
              "tx.fin_retransmits %d" % (c("segments", "cookie_failed"), sent["cookie_failed"],
                                          c("tx", "fin_retransmits")))
        check(c("segments", "syn") == sent["syn"] + kernel,
              "segments.syn = %d, sent %d crafted + %d kernel" % (c("segments", "syn"), sent["syn"], kernel))
        check(c("cookies", "sent") == sent["syn"] + kernel, "cookies.sent = %d" % c("cookies", "sent"))
        check(c("conns", "accepted") == sent["handshake"] + kernel,
              "conns.accepted = %d: %d crafted handshakes + %d kernel clients; the flood must open none"
              % (c("conns", "accepted"), sent["handshake"], kernel))
        check(c("conns", "reset_in") == sent["rst_accepted"], "conns.reset_in = %d" % c("conns", "reset_in"))
        check(c("cookies", "by_memo") == sent["by_memo"], "cookies.by_memo = %d, sent %d"
              % (c("cookies", "by_memo"), sent["by_memo"]))
        check(c("conns", "open") == 0, "conns.open = %d at exit" % c("conns", "open"))
        check(c("conns", "reset_out") == 0 and c("conns", "closed") == kernel + sent.get("closed_at_shutdown", 0),
              "conns.closed = %d, reset_out = %d: every connection not reset by the peer must close "
              "cleanly" % (c("conns", "closed"), c("conns", "reset_out")))
        check(c("acks", "challenge") >= sent["rst_challenged"], "acks.challenge = %d" % c("acks", "challenge"))
        check(c("bytes", "beyond_window") == sent["beyond_window_bytes"],
              "bytes.beyond_window = %d, sent %d" % (c("bytes", "beyond_window"), sent["beyond_window_bytes"]))
        check(c("segments", "ack_only") >= sent["ack_only_options"], "segments.ack_only = %d, sent %d "
              "ACKs with options of every length" % (c("segments", "ack_only"), sent["ack_only_options"]))
        check(c("segments", "duplicate") >= 2, "segments.duplicate = %d" % c("segments", "duplicate"))
        check(c("segments", "out_of_order") >= 1, "segments.out_of_order = %d" % c("segments", "out_of_order"))
        outcomes = sum(v for n, v in st["tcp"]["segments"].items() if n not in ("total", "checksum_partial"))
        check(outcomes == c("segments", "total"), "segment outcomes %d != segments.total %d"
              % (outcomes, c("segments", "total")))
        check(c("mbufs", "ooo_held") == 0, "out-of-order mbufs held at exit")
        check(st["mbufs"]["in_use_at_exit"] == 0, "mbufs leaked")
        check(all(st["invariants"].values()) and "tcp" in st["invariants"],
              "invariants: %s" % st["invariants"])

        lines = netns.read_lines(out)
        want = [b"after the flood: kernel client", b"alive after an out-of-window RST",
                b"alive after an in-window RST", b"overlap: 0123456789abcdefghijklmnopqrstuvwxyz",
                b"after the probes", b"memo: the first line", b"memo: the second line",
                b"at the end: kernel client", b"closed at shutdown"]
        for w in want:
            n = sum(1 for l in lines if l.endswith(w))
            check(n == 1, "%r delivered %d times; output:\n%s" % (w, n, b"\n".join(lines)[-2000:]))
        first = [i for i, l in enumerate(lines) if l.endswith(b"memo: the first line")]
        second = [i for i, l in enumerate(lines) if l.endswith(b"memo: the second line")]
        check(first and second and first[0] < second[0], "the memo connection's lines out of order")
        for never in (b"never delivered", b"beyond the window"):
            check(not any(never in l for l in lines), "%r was delivered" % never)
        print("tcp_crafted: %d SYNs, RSS growth during the flood %d KiB"
              % (sent["syn"], rss_growth[0]))
    finally:
        link.down()


CASES = {"tcp_crafted": case_tcp_crafted}


def main():
    if "--peer" not in sys.argv[1:]:
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                        "common"))
        from harness import run_netns_cases
        return run_netns_cases(CASES, ready=scapy_missing, prefix="logagg-tcp-crafted-")
    ap = argparse.ArgumentParser()
    ap.add_argument("--peer", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--iface")
    ap.add_argument("--ours")
    ap.add_argument("--mac")
    ap.add_argument("--subnet", type=int)
    ap.add_argument("--flood", type=int, default=FLOOD, help=argparse.SUPPRESS)
    return peer_main(ap.parse_args())


if __name__ == "__main__":
    sys.exit(main())
