#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Real-link tests: a network namespace and a veth pair created here (198.18.0.0/15 and the
2001:db8::/32 documentation prefix only), logagg attached to the root-side end with net_af_packet
and owning addresses with --ip, and unmodified senders (ping, ping -6, logger) in the namespace.
No static neighbour entries: the namespace's kernel must learn logagg's MAC by ARP and NDP.
Everything is removed afterwards, also on failure.

    tests/netns/netns.py --logagg build/app/logagg/logagg --case own_addresses

Exit status: 0 pass, 1 fail, 77 skipped (with the reason printed).
"""

import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "common"))
from harness import Failure, check, run_netns_cases  # noqa: E402


def sh(*args, check_rc=True, ns=None, timeout=30):
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check_rc and r.returncode != 0:
        raise Failure("%s failed (%d): %s %s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
    return r


class Link:
    """A namespace with one end of a veth pair; the other end stays in the root namespace.

    The veth keeps the kernel's default offloads, as users run it: a sender in the namespace then
    leaves UDP checksums partial (CHECKSUM_PARTIAL, only the pseudo-header sum in the field),
    which logagg accepts on net_af_packet and counts as packets.checksum_partial. With
    offloads_off=True (one case only: case_offloads_off) both ends compute every checksum and
    segment everything themselves."""

    def __init__(self, offloads_off=False):
        self.offloads_off = offloads_off
        tag = "%d" % (os.getpid() % 100000)
        self.ns = "lagns%s" % tag
        self.outer = "lga%s" % tag  # interface names are at most 15 characters
        self.inner = "lgb%s" % tag
        self.subnet = 20 + os.getpid() % 200  # 198.18.<subnet>.0/24
        self.v4_ours = "198.18.%d.1" % self.subnet
        self.v4_peer = "198.18.%d.2" % self.subnet
        self.v6_ours = "2001:db8:%x::1" % self.subnet
        self.v6_peer = "2001:db8:%x::2" % self.subnet

    def up(self):
        sh("ip", "netns", "add", self.ns)
        sh("ip", "link", "add", self.outer, "type", "veth", "peer", "name", self.inner)
        sh("ip", "link", "set", self.inner, "netns", self.ns)
        # The root side carries no addresses and stays quiet (no IPv6 autoconfiguration).
        sh("sysctl", "-q", "-w", "net.ipv6.conf.%s.disable_ipv6=1" % self.outer)
        sh("ip", "link", "set", self.outer, "up")
        sh("ip", "link", "set", "lo", "up", ns=self.ns)
        sh("ip", "addr", "add", self.v4_peer + "/24", "dev", self.inner, ns=self.ns)
        sh("ip", "-6", "addr", "add", self.v6_peer + "/64", "dev", self.inner, "nodad", ns=self.ns)
        if self.offloads_off:
            # Complete checksums and no segmentation offload on either end: what a real wire
            # delivers, and what logagg's start-up warning asks for.
            sh("ethtool", "-K", self.inner, "tx", "off", "gso", "off", "tso", "off", "sg", "off",
               "tx-udp-segmentation", "off", ns=self.ns)
            sh("ethtool", "-K", self.outer, "tx", "off", "gso", "off", "tso", "off", "sg", "off",
               "tx-udp-segmentation", "off", "gro", "off")
        sh("ip", "link", "set", self.inner, "up", ns=self.ns)

    def down(self):
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
        subprocess.run(["ip", "link", "del", self.outer], capture_output=True)


def start_logagg(logagg, link, tmp, extra=(), vdev=None, sink_params="", lcores="0-1"):
    out = os.path.join(tmp, "out")
    stats = os.path.join(tmp, "stats.json")
    log = open(os.path.join(tmp, "logagg.log"), "w")
    args = [logagg, "-l", lcores, "--no-huge", "-m", "512", "--no-pci", "--file-prefix", "logagg-netns-%d" % os.getpid(),
            "--log-level=error", vdev or "--vdev=net_af_packet0,iface=%s" % link.outer, "--",
            "--ip", "0:%s/24" % link.v4_ours, "--ip", "0:%s/64" % link.v6_ours, "--listen", "udp:514",
            "--sink", "file:%s%s" % (out, sink_params), "--stats-json", stats] + list(extra)
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 20
    while time.time() < deadline:
        if proc.poll() is not None:
            raise Failure("logagg exited early:\n" + open(log.name).read())
        if "lcore %s:" % lcores[-1] in open(log.name).read():
            return proc, out, stats, log.name
        time.sleep(0.1)
    raise Failure("logagg did not start:\n" + open(log.name).read())


def stop_logagg(proc, logname):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise Failure("logagg did not stop on SIGTERM")
    check(proc.returncode == 0, "logagg exit %d:\n%s" % (proc.returncode, open(logname).read()[-3000:]))


def read_lines(out):
    data = b""
    for seg in sorted(glob.glob(os.path.join(out, "logagg-*.log"))):
        data += open(seg, "rb").read()
    return data.split(b"\n")[:-1] if data else []


def case_own_addresses(logagg, tmp):
    link = Link()
    try:
        link.up()
        proc, out, stats, logname = start_logagg(logagg, link, tmp)
        try:
            mac = None
            for line in open(logname):
                if "MAC " in line:
                    mac = line.split("MAC ")[1].split(",")[0].strip()
            check(mac, "logagg did not print its MAC")
            r = sh("ping", "-c", "3", "-i", "0.2", "-W", "2", link.v4_ours, ns=link.ns, check_rc=False)
            check(r.returncode == 0, "ping %s failed:\n%s" % (link.v4_ours, r.stdout))
            r = sh("ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", link.v6_ours, ns=link.ns, check_rc=False)
            check(r.returncode == 0, "ping -6 %s failed:\n%s" % (link.v6_ours, r.stdout))
            neigh = sh("ip", "neigh", "show", "dev", link.inner, ns=link.ns).stdout
            check("%s lladdr %s" % (link.v4_ours, mac) in neigh, "ARP did not teach logagg's MAC:\n" + neigh)
            check("%s lladdr %s" % (link.v6_ours, mac) in neigh, "NDP did not teach logagg's MAC:\n" + neigh)
            check("PERMANENT" not in neigh, "a static neighbour entry exists:\n" + neigh)
            token = "%d-%d" % (os.getpid(), int(time.time()))
            sent = []
            for i in range(5):
                for mode in ("--rfc5424", "--rfc3164"):
                    msg = "netns %s %s seq=%d" % (mode[2:], token, i)
                    sh("logger", "-n", link.v4_ours, "-P", "514", "-d", mode, "-t", "lagtest", msg, ns=link.ns)
                    sent.append(msg.encode())
            for i in range(3):
                msg = "netns ipv6 %s seq=%d" % (token, i)
                sh("logger", "-n", link.v6_ours, "-P", "514", "-d", "--rfc5424", "-t", "lagtest", msg, ns=link.ns)
                sent.append(msg.encode())
            # To an address logagg does not own: dropped as not_for_us, never written.
            sh("ip", "neigh", "replace", "198.18.%d.9" % link.subnet, "lladdr", mac, "dev", link.inner, "nud", "reachable",
               ns=link.ns)
            sh("logger", "-n", "198.18.%d.9" % link.subnet, "-P", "514", "-d", "not for logagg " + token, ns=link.ns)
            time.sleep(1.0)
        finally:
            stop_logagg(proc, logname)
        lines = read_lines(out)
        for msg in sent:
            got = [l for l in lines if l.endswith(msg)]
            check(len(got) == 1, "message %r arrived %d times; output:\n%s" % (msg, len(got), b"\n".join(lines)[-2000:]))
        check(not any(b"not for logagg" in l for l in lines), "traffic to another address was written")
        # Per-source order: the sequence numbers of each kind arrive in order.
        for kind in (b"rfc5424", b"rfc3164", b"ipv6"):
            seqs = [int(l.rsplit(b"seq=", 1)[1]) for l in lines if (b"netns " + kind + b" ") in l]
            check(seqs == sorted(seqs), "%s out of order: %s" % (kind, seqs))
        st = json.load(open(stats))
        p = st["packets"]
        check(p["received"] == p["to_workers"] + p["answered"] + p["dropped_total"], "packet accounting: %s" % p)
        check(st["invariants"] == {"packets": True, "messages": True, "sinks": True}, "invariants: %s" % st["invariants"])
        r = p["replies"]
        check(r["arp"] >= 1 and r["icmp_echo"] >= 3 and r["nd_advert"] >= 1 and r["icmpv6_echo"] >= 3,
              "replies: %s" % r)
        check(p["dropped"]["not_for_us"] >= 1, "not_for_us not counted: %s" % p["dropped"])
        check(st["mbufs"]["in_use_at_exit"] == 0, "mbufs leaked")
    finally:
        link.down()


GSO_SENDER = r"""
import socket, sys
family, addr, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET6 if family == "6" else socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_UDP, 103, 1000)  # UDP_SEGMENT: one send, 1000-byte datagrams on the wire
s.sendto(b"g" * size, (addr, 514))
"""

BIG_SENDER = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"f" * int(sys.argv[2]), (sys.argv[1], 514))  # over the MTU: IP fragments
"""


def logger_over_veth(logagg, tmp, offloads_off, vdev=None):
    """logger --udp from the namespace into net_af_packet (or `vdev`, where {iface} names the veth
    end): 100 messages over IPv4 and 20 over IPv6, every one delivered. Returns the
    stats and logagg's output."""
    link = Link(offloads_off=offloads_off)
    try:
        link.up()
        proc, out, stats, logname = start_logagg(logagg, link, tmp,
                                                 vdev=vdev.format(iface=link.outer) if vdev else None)
        token = "%d-%d" % (os.getpid(), int(time.time()))
        sent = []
        try:
            sh("ping", "-c", "1", "-W", "2", link.v4_ours, ns=link.ns)  # neighbours first
            sh("ping", "-6", "-c", "1", "-W", "2", link.v6_ours, ns=link.ns)
            for family, addr, n in (("4", link.v4_ours, 100), ("6", link.v6_ours, 20)):
                for i in range(n):
                    msg = "veth v%s %s seq=%d" % (family, token, i)
                    sh("logger", "--udp", "-n", addr, "-P", "514", "-d", "--rfc5424", "-t", "lagtest", msg,
                       ns=link.ns)
                    sent.append(msg.encode())
            # Stop once logagg has written them all (its own output), not after a guessed delay.
            deadline = time.time() + 30
            while time.time() < deadline:
                if sum(1 for l in read_lines(out) if token.encode() in l) >= len(sent):
                    break
                time.sleep(0.05)
        finally:
            stop_logagg(proc, logname)
        lines = read_lines(out)
        got = [l for l in lines if token.encode() in l]
        missing = [m for m in sent if not any(l.endswith(m) for l in got)]
        check(not missing and len(got) == len(sent), "%d of %d logger messages arrived (missing %r...)"
              % (len(got), len(sent), missing[:3]))
        st = json.load(open(stats))
        check(st["invariants"] == {"packets": True, "messages": True, "sinks": True}, "invariants: %s" % st["invariants"])
        check(st["packets"]["dropped"]["udp_bad_checksum"] == 0, "udp_bad_checksum: %s" % st["packets"]["dropped"])
        check(st["mbufs"]["in_use_at_exit"] == 0, "mbufs leaked")
        return link, st, open(logname).read(), len(sent)
    finally:
        link.down()


def case_default_offloads(logagg, tmp):
    """With the veth's default offloads every checksum from the namespace is partial: all are
    accepted and counted. Frames longer than the PMD keeps are counted as frame_truncated, and the
    start-up warning names the offloads and the ethtool command."""
    link, st, log, n = logger_over_veth(logagg, tmp, offloads_off=False)
    p = st["packets"]
    check(p["checksum_partial"] == n, "checksum_partial %d, expected %d: %s" % (p["checksum_partial"], n, p))
    want = "ethtool -K %s tso off tx-udp-segmentation off" % link.outer
    check(("warning: %s hands the PMD frames longer than the 1982 bytes" % link.outer) in log and want in log,
          "no offload warning with %r:\n%s" % (want, log[:3000]))
    check(("note: %s is a veth" % link.outer) in log, "no note about the veth's peer:\n" + log[:3000])
    # net_pcap on a live interface reads it through AF_PACKET too: the same partial checksums.
    link, st, log, n = logger_over_veth(logagg, tmp, offloads_off=False,
                                        vdev="--vdev=net_pcap0,rx_iface_in={iface},tx_iface={iface},phy_mac=1")
    p = st["packets"]
    check(p["checksum_partial"] == n, "net_pcap: checksum_partial %d, expected %d: %s" % (p["checksum_partial"], n, p))


def case_offloads_off(logagg, tmp):
    """The one case with offloads off on both ends of the veth: every checksum is complete and
    verified (none partial), and logagg has no offload to warn about."""
    link, st, log, n = logger_over_veth(logagg, tmp, offloads_off=True)
    p = st["packets"]
    check(p["checksum_partial"] == 0, "checksum_partial %d with complete checksums" % p["checksum_partial"])
    check(p["to_workers"] >= n, "to_workers %d < %d" % (p["to_workers"], n))
    check("warning:" not in log, "an offload warning with offloads off:\n" + log[:3000])


def case_oversized_frames(logagg, tmp):
    """Frames longer than net_af_packet's 1982-byte cut (default offloads): a UDP_SEGMENT send of
    8000 bytes over IPv4 and IPv6 (one frame through the veth) and a 5000-byte datagram the PMD's
    fanout has the kernel reassemble. Each is counted as frame_truncated, nothing else."""
    link = Link()
    try:
        link.up()
        proc, out, stats, logname = start_logagg(logagg, link, tmp)
        try:
            sh("ping", "-c", "1", "-W", "2", link.v4_ours, ns=link.ns)
            sh("ping", "-6", "-c", "1", "-W", "2", link.v6_ours, ns=link.ns)
            sh("python3", "-c", GSO_SENDER, "4", link.v4_ours, "8000", ns=link.ns)
            sh("python3", "-c", GSO_SENDER, "6", link.v6_ours, "8000", ns=link.ns)
            sh("python3", "-c", BIG_SENDER, link.v4_ours, "5000", ns=link.ns)
            sh("logger", "--udp", "-n", link.v4_ours, "-P", "514", "-d", "after the big ones", ns=link.ns)
            time.sleep(1.0)
        finally:
            stop_logagg(proc, logname)
        st = json.load(open(stats))
        d = st["packets"]["dropped"]
        check(d["frame_truncated"] == 3, "frame_truncated %d, expected 3: %s" % (d["frame_truncated"], d))
        check(d["ipv4_bad_length"] == 0 and d["ipv6_bad_length"] == 0, "cut frames counted as malformed: %s" % d)
        check(any(b"after the big ones" in l for l in read_lines(out)), "the next message did not arrive")
        check(st["invariants"] == {"packets": True, "messages": True, "sinks": True}, "invariants: %s" % st["invariants"])
    finally:
        link.down()


def case_rate_limit(logagg, tmp):
    link = Link()
    try:
        link.up()
        proc, out, stats, logname = start_logagg(logagg, link, tmp, extra=["--reply-rate", "5"])
        try:
            sh("ping", "-c", "40", "-i", "0.01", "-W", "1", link.v4_ours, ns=link.ns, check_rc=False, timeout=60)
        finally:
            stop_logagg(proc, logname)
        st = json.load(open(stats))
        p = st["packets"]
        check(p["dropped"]["reply_rate_limited"] > 0, "no answers were rate limited: %s" % p)
        check(p["replies"]["icmp_echo"] <= 5 * (st["uptime_s"] + 1), "more answers than the rate allows: %s" % p)
        check(st["invariants"]["packets"], "packet accounting broken")
    finally:
        link.down()


SENDER = r"""
import json, socket, sys
family, addr, size, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET6 if family == "6" else socket.AF_INET, socket.SOCK_DGRAM)
doc = {"level": "info", "service": "netns-frag", "tag": tag, "size": size}
doc["blob"] = ""
doc["blob"] = "x" * (size - len(json.dumps(doc, separators=(",", ":"))))
data = json.dumps(doc, separators=(",", ":")).encode()
assert len(data) == size, len(data)
s.sendto(data, (addr, 514))
"""


def case_fragments(logagg, tmp):
    # DPDK 22.11's net_af_packet joins a packet fanout group with PACKET_FANOUT_FLAG_DEFRAG, so the
    # kernel reassembles IPv4 before logagg sees it (and truncates the result to the ring's frame
    # size). net_pcap on the live interface hands over the fragments as they are on the wire.
    link = Link()
    try:
        link.up()
        vdev = "--vdev=net_pcap0,rx_iface_in=%s,tx_iface=%s,phy_mac=1" % (link.outer, link.outer)
        proc, out, stats, logname = start_logagg(logagg, link, tmp, vdev=vdev)
        sent = []
        try:
            sh("ping", "-c", "1", "-W", "2", link.v4_ours, ns=link.ns)  # resolve the neighbours first
            sh("ping", "-6", "-c", "1", "-W", "2", link.v6_ours, ns=link.ns)
            for family, addr in (("4", link.v4_ours), ("6", link.v6_ours)):
                for size in (20 * 1024, 60 * 1024):
                    tag = "v%s-%d-%d" % (family, size, os.getpid())
                    sh("python3", "-c", SENDER, family, addr, str(size), tag, ns=link.ns)
                    sent.append((tag, size))
            time.sleep(1.0)
        finally:
            stop_logagg(proc, logname)
        lines = read_lines(out)
        if os.environ.get("NETNS_DEBUG"):
            print(open(logname).read()[-3000:])  # NETNS_DEBUG=1: show what logagg said
        for tag, size in sent:
            got = [l for l in lines if tag.encode() in l]
            check(len(got) == 1, "%s: %d copies arrived" % (tag, len(got)))
            doc = json.loads(got[0])
            check(len(got[0]) == size and doc["size"] == size, "%s: %d bytes arrived, sent %d" % (tag, len(got[0]), size))
        st = json.load(open(stats))
        p = st["packets"]
        check(p["reassembled"] == 4, "reassembled %d datagrams, expected 4" % p["reassembled"])
        check(p["fragments_merged"] >= 4 * 14, "only %d fragments merged" % p["fragments_merged"])
        check(st["invariants"] == {"packets": True, "messages": True, "sinks": True}, "invariants: %s" % st["invariants"])
        check(st["mbufs"]["in_use_at_exit"] == 0, "mbufs leaked")
    finally:
        link.down()


FLOWS = r"""
import re, socket, sys, time
addr, n_flows, per_flow, tag, logname = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
def rx():  # frames logagg has taken, from its periodic stats line (--stats-interval)
    counts = re.findall(r"\] rx (\d+) pkt", open(logname).read())
    return int(counts[-1]) if counts else 0
socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(n_flows)]
for s in socks:
    s.bind(("0.0.0.0", 0))
base, sent = rx(), 0
for i in range(per_flow):
    for f, s in enumerate(socks):
        s.sendto(b"<14>1 - host app - - - mq %s flow=%d seq=%d" % (tag.encode(), f, i), (addr, 514))
    sent += n_flows
    if i % 5 == 4:
        # Wait until logagg has taken what was sent (or its count stopped growing): a full ring
        # makes the PMD's fanout roll frames over to the other socket, out of their flow's order.
        last, same = -1, 0
        while same < 20:
            c = rx()
            if c >= base + sent:
                break
            same = same + 1 if c == last else 0
            last = c
            time.sleep(0.01)
"""


def case_multiqueue(logagg, tmp):
    link = Link()
    try:
        link.up()
        vdev = "--vdev=net_af_packet0,iface=%s,qpairs=2" % link.outer
        lcores = ["--lcores", "0@0,1@1,2@0"] if (os.cpu_count() or 1) < 3 else ["-l", "0-2"]
        out = os.path.join(tmp, "out")
        stats = os.path.join(tmp, "stats.json")
        logname = os.path.join(tmp, "logagg.log")
        args = [logagg] + lcores + ["--no-huge", "-m", "512", "--no-pci", "--file-prefix", "logagg-netns-mq-%d" % os.getpid(),
                                    "--log-level=error", vdev, "--", "--ip", "0:%s/24" % link.v4_ours,
                                    "--rx-lcores", "1,2", "--sink", "file:%s" % out, "--stats-json", stats,
                                    "--on-sink-full", "block", "--stats-interval", "0.02"]
        proc = subprocess.Popen(args, stdout=open(logname, "w"), stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while "lcore 2:" not in open(logname).read():
            check(proc.poll() is None and time.time() < deadline, "logagg did not start:\n" + open(logname).read())
            time.sleep(0.1)
        tag = str(os.getpid())
        n_flows, per_flow = 24, 100
        try:
            sh("ping", "-c", "1", "-W", "2", link.v4_ours, ns=link.ns)
            sh("python3", "-c", FLOWS, link.v4_ours, str(n_flows), str(per_flow), tag, logname, ns=link.ns, timeout=120)
            time.sleep(1.0)
        finally:
            stop_logagg(proc, logname)
        lines = [l for l in read_lines(out) if (b" mq " + tag.encode()) in l]
        seqs = {}
        for l in lines:
            flow = int(l.split(b"flow=")[1].split()[0])
            seqs.setdefault(flow, []).append(int(l.rsplit(b"seq=", 1)[1]))
        for flow, got in seqs.items():
            check(got == sorted(got), "flow %d out of order: %s" % (flow, got[:20]))
            check(len(got) == len(set(got)), "flow %d has duplicates" % flow)
        st = json.load(open(stats))
        rx = {l["lcore_id"]: l["rx_packets"] for l in st["lcores"] if "rx" in l["roles"]}
        check(len(rx) == 2 and all(v > 0 for v in rx.values()), "both RX lcores must take traffic: %s" % rx)
        check(st["ports"][0]["rx_queues"] == 2, "the port should have 2 RX queues")
        # The kernel may drop on a veth burst (that is before logagg); what logagg accepted it wrote.
        check(st["messages"]["delivered"] == st["messages"]["framed"], "messages lost inside logagg")
        check(len(lines) >= n_flows * per_flow * 9 // 10, "only %d of %d messages arrived" % (len(lines), n_flows * per_flow))
        check(st["invariants"] == {"packets": True, "messages": True, "sinks": True}, "invariants: %s" % st["invariants"])
    finally:
        link.down()


RAW = r"""
import re, socket, struct, sys, time
mode, logname, iface, src_mac, dst_mac, src, dst = sys.argv[1], sys.argv[2], sys.argv[3], bytes.fromhex(sys.argv[4]), bytes.fromhex(sys.argv[5]), sys.argv[6], sys.argv[7]
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
def frame(ident, off, data, more, frm=src):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(data), ident, (0x2000 if more else 0) | (off // 8), 64, 17, 0,
                    socket.inet_aton(frm), socket.inet_aton(dst))
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return dst_mac + src_mac + b"\x08\x00" + h + data
def udp(text):  # a UDP datagram to port 514 with its checksum complete
    u = struct.pack("!HHHH", 40000, 514, 8 + len(text), 0) + text
    c = csum(socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 17, len(u)) + u) or 0xffff
    return u[:6] + struct.pack("!H", c) + u[8:]
def rx():  # frames logagg has taken, from its periodic stats line (--stats-interval)
    counts = re.findall(r"\] rx (\d+) pkt", open(logname).read())
    return int(counts[-1]) if counts else 0
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
base = rx()
n = 0
def group(frames):
    # Sends a group, then waits until logagg has taken it (or its count stopped growing: the
    # kernel dropped some), so no burst overruns the veth's backlog or the capture ring.
    global n
    for f in frames:
        s.send(f)
    n += len(frames)
    last, same = -1, 0
    while same < 20:
        c = rx()
        if c >= base + n:
            return
        same = same + 1 if c == last else 0
        last = c
        time.sleep(0.025)
if mode == "storm":
    # missing last fragment: every datagram times out or is drained
    group([frame(1000 + i, 0, b"a" * 512, True) for i in range(300)])
    # overlaps: [0,512) then [256,768)
    group([f for i in range(50) for f in (frame(2000 + i, 0, b"b" * 512, True), frame(2000 + i, 256, b"c" * 512, False))])
    for i in range(5):  # too many: 70 tiny fragments of 8 bytes
        group([frame(3000 + i, k * 8, b"d" * 8, True) for k in range(70)])
    for i in range(0, 80, 5):  # 80 datagrams of 60 pieces from one source: past its share (512 fragments)
        group([frame(4000 + j, k * 8, b"e" * 8, True) for j in range(i, i + 5) for k in range(60)])
elif mode == "probe":
    group([frame(7, 0, udp(sys.argv[8].encode()), False)])  # not a fragment
elif mode == "flood":
    # 50,000 distinct datagram ids, each only a first fragment: half from one spoofed address of
    # the link's /24, half spread over 200 more.
    net = src.rsplit(".", 1)[0]
    for g in range(0, 50000, 500):
        group([frame(10000 + i, 0, b"f" * 64, True, "%s.3" % net if i < 25000 else "%s.%d" % (net, 10 + i % 200))
               for i in range(g, g + 500)])
elif mode == "legit":
    # 100 complete datagrams of 3,000 bytes, each in three fragments, from the peer.
    token = sys.argv[8]
    for g in range(0, 100, 10):
        frames = []
        for i in range(g, g + 10):
            text = b"<14>legit %s seq=%d " % (token.encode(), i)
            u = udp(text + b"L" * (3000 - len(text)))
            frames += [frame(60000 + i, off, u[off:off + 1480], off + 1480 < len(u)) for off in range(0, len(u), 1480)]
        group(frames)
print(n)
"""


def case_fragment_storm(logagg, tmp):
    """Two runs over net_pcap (where fragments reach logagg as they are on the wire). First every
    refusal by name: incomplete datagrams timing out, overlaps, too many fragments, a source over
    its share. Then a flood of 50,000 distinct incomplete datagrams (half from one address, half
    from 200) followed by 100 complete legitimate fragmented datagrams, with a timeout long enough
    that nothing expires: every legitimate datagram arrives, the flood is evicted by name."""
    link = Link()
    try:
        link.up()
        vdev = "--vdev=net_pcap0,rx_iface_in=%s,tx_iface=%s,phy_mac=1" % (link.outer, link.outer)
        proc, out, stats, logname = start_logagg(logagg, link, tmp, vdev=vdev,
                                                 extra=["--frag-timeout", "300", "--stats-interval", "0.02"])
        try:
            mac = None
            for line in open(logname):
                if "MAC " in line:
                    mac = line.split("MAC ")[1].split(",")[0].strip().replace(":", "")
            inner_mac = sh("cat", "/sys/class/net/%s/address" % link.inner, ns=link.ns).stdout.strip().replace(":", "")
            raw = lambda mode, log, *a: int(sh("python3", "-c", RAW, mode, log, link.inner, inner_mac, mac, link.v4_peer,
                                               link.v4_ours, *a, ns=link.ns, timeout=180).stdout.strip())
            sent = raw("storm", logname)
            time.sleep(1.0)  # > --frag-timeout: the leftovers time out while running
            # logagg still works afterwards: a normal message arrives. Sent raw with its UDP
            # checksum complete: net_pcap, unlike net_af_packet, does not accept the partial
            # ones a local sender leaves with the veth's default offloads.
            raw("probe", logname, "after the storm %d" % os.getpid())
            time.sleep(0.5)
        finally:
            stop_logagg(proc, logname)
        st = json.load(open(stats))
        p, d = st["packets"], st["packets"]["dropped"]
        frag_drops = sum(v for k, v in d.items() if k.startswith("frag_"))
        check(frag_drops + p["fragments_merged"] >= sent * 9 // 10, "only %d of %d storm frames accounted: %s"
              % (frag_drops + p["fragments_merged"], sent, d))
        check(d["frag_overlap"] >= 100, "overlaps: %s" % d)
        check(d["frag_too_many"] >= 5 * 65, "too many: %s" % d)
        check(d["frag_source_limit"] > 0, "the per-source bound was never reached: %s" % d)
        check(d["frag_timeout"] > 0, "nothing timed out: %s" % d)
        check(p["reassembled"] == 0, "a storm datagram was rebuilt: %s" % p)
        check(st["mbufs"]["in_use_at_exit"] == 0, "mbufs leaked")
        check(st["invariants"] == {"packets": True, "messages": True, "sinks": True}, "invariants: %s" % st["invariants"])
        check(any(b"after the storm" in l for l in read_lines(out)), "logagg stopped receiving after the storm")

        # The flood, then the legitimate datagrams, in a second run.
        tmp2 = os.path.join(tmp, "flood")
        os.mkdir(tmp2)
        proc, out, stats, logname = start_logagg(logagg, link, tmp2, vdev=vdev,
                                                 extra=["--frag-timeout", "600000", "--stats-interval", "0.02"])
        token = "%d-%d" % (os.getpid(), int(time.time()))
        try:
            flood = raw("flood", logname)
            legit = raw("legit", logname, token)
        finally:
            stop_logagg(proc, logname)
        st = json.load(open(stats))
        p, d = st["packets"], st["packets"]["dropped"]
        lines = [l for l in read_lines(out) if (b"legit " + token.encode()) in l]
        seqs = sorted(int(l.split(b"seq=")[1].split()[0]) for l in lines)
        check(seqs == list(range(100)), "%d of 100 legitimate datagrams arrived after the flood (%s); dropped %s"
              % (len(seqs), seqs[:10], {k: v for k, v in d.items() if v}))
        check(all(len(l) == 3000 for l in lines), "a legitimate datagram arrived cut")
        check(p["reassembled"] == 100 and p["fragments_merged"] == 300, "reassembled %d from %d"
              % (p["reassembled"], p["fragments_merged"]))
        check(d["frag_source_limit"] > 0 and d["frag_evicted"] > 0, "flood not evicted by name: %s" % d)
        check(d["frag_timeout"] == 0, "a datagram timed out: %s" % d)
        frag_drops = sum(v for k, v in d.items() if k.startswith("frag_"))
        check(d["frag_incomplete"] <= 1024, "more pending at exit than the table holds: %s" % d)
        # The flood's frames the kernel dropped before logagg (if any) are not logagg's to count.
        check(frag_drops + p["fragments_merged"] <= flood + legit, "more fragments accounted than sent: %s" % d)
        check(st["mbufs"]["in_use_at_exit"] == 0, "mbufs leaked")
        check(st["invariants"] == {"packets": True, "messages": True, "sinks": True}, "invariants: %s" % st["invariants"])
    finally:
        link.down()


def case_rsyslog(logagg, tmp):
    """rsyslog in the namespace forwards what it receives, and its own start-up message, with omfwd."""
    if shutil.which("rsyslogd") is None:
        raise Failure("rsyslogd is not installed (scripts/lib/common.sh installs rsyslog)")
    link = Link()
    rs = None
    try:
        link.up()
        proc, out, stats, logname = start_logagg(logagg, link, tmp)
        sock = os.path.join(tmp, "rsyslog-in.sock")
        conf = os.path.join(tmp, "rsyslog.conf")
        with open(conf, "w") as f:
            f.write('global(workDirectory="%s" processInternalMessages="on")\n' % tmp)
            f.write('module(load="imuxsock" SysSock.Use="off")\n')
            f.write('input(type="imuxsock" Socket="%s")\n' % sock)
            f.write('*.* action(type="omfwd" target="%s" port="514" protocol="udp" '
                    'template="RSYSLOG_SyslogProtocol23Format")\n' % link.v4_ours)
        tag = str(os.getpid())
        n = 300
        try:
            sh("ping", "-c", "1", "-W", "2", link.v4_ours, ns=link.ns)
            rs = subprocess.Popen(["ip", "netns", "exec", link.ns, "rsyslogd", "-n", "-f", conf, "-i",
                                   os.path.join(tmp, "rsyslog.pid")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            deadline = time.time() + 15
            while not os.path.exists(sock):
                check(rs.poll() is None and time.time() < deadline, "rsyslogd did not start: %s" % (rs.stdout.read() if rs.poll() is not None else ""))
                time.sleep(0.05)
            for i in range(n):
                sh("logger", "-u", sock, "-t", "rsyslog-test", "via rsyslog %s seq=%d" % (tag, i), ns=link.ns)
            time.sleep(1.5)
        finally:
            if rs is not None:
                rs.terminate()
                rs.wait(timeout=10)
            stop_logagg(proc, logname)
        lines = read_lines(out)
        seqs = [int(l.rsplit(b"seq=", 1)[1]) for l in lines if (b"via rsyslog " + tag.encode()) in l]
        check(seqs == list(range(n)), "rsyslog messages: %d of %d, in order: %s" % (len(seqs), n, seqs == sorted(seqs)))
        own = [l for l in lines if b"via rsyslog" not in l]
        check(any(b"rsyslogd" in l for l in own), "rsyslog's own messages did not arrive: %r" % own[:5])
        rfc5424 = re.compile(rb"^<\d{1,3}>1 ")
        check(all(rfc5424.match(l) for l in lines if b"via rsyslog" in l), "omfwd did not send RFC 5424")
        st = json.load(open(stats))
        check(st["invariants"] == {"packets": True, "messages": True, "sinks": True}, "invariants: %s" % st["invariants"])
    finally:
        link.down()


RECEIVER = r"""
import os, socket, struct, sys, time
out, idle = sys.argv[1], float(sys.argv[2])
socks = []
for fam, addr in ((socket.AF_INET, sys.argv[3]), (socket.AF_INET6, sys.argv[4])):
    host, port = addr.rsplit(":", 1)
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)  # SO_RCVBUFFORCE: never drop a burst here
    s.bind((host.strip("[]"), int(port)))
    s.setblocking(False)
    socks.append(s)
open(out + ".ready", "w").close()
# Reads until told logagg has exited (out.stop), then until the sockets stay empty for `idle`
# seconds: what logagg sent is in the kernel by then, however long logagg took to start.
start = last = time.time()
with open(out, "wb") as f:
    while not (os.path.exists(out + ".stop") and time.time() - last >= idle) and time.time() - start < 300:
        got = False
        for i, s in enumerate(socks):
            try:
                d = s.recv(65536)
            except BlockingIOError:
                continue
            f.write(struct.pack("!BI", i, len(d)) + d)
            got = True
        if got:
            last = time.time()
        else:
            time.sleep(0.001)
"""


def case_port_sink(logagg, tmp):
    """A port sink out of net_af_packet on the veth to kernel UDP sockets in the namespace, over
    IPv4 and IPv6, with the next hop resolved by ARP and NDP (no dmac=, no static entries): the
    namespace's kernel receives every record (and checks every UDP checksum)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "scripts"))
    import gen_capture
    import struct
    link = Link()
    try:
        link.up()
        cap = gen_capture.build(seed=61, n_messages=5000, flows=32, noise=False, malformed=False)
        pcap = os.path.join(tmp, "in.pcap")
        cap.write_pcap(pcap)
        got = os.path.join(tmp, "received.bin")
        v4 = "%s:5514" % link.v4_peer
        v6 = "[%s]:5515" % link.v6_peer
        recv = subprocess.Popen(["ip", "netns", "exec", link.ns, "python3", "-c", RECEIVER, got, "1", v4, v6])
        deadline = time.time() + 10
        while not os.path.exists(got + ".ready"):
            check(time.time() < deadline and recv.poll() is None, "the receiver did not start")
            time.sleep(0.05)
        stats = os.path.join(tmp, "stats.json")
        logname = os.path.join(tmp, "logagg.log")
        args = [logagg, "-l", "0-1", "--no-huge", "-m", "512", "--no-pci", "--file-prefix", "logagg-netns-port-%d" % os.getpid(),
                "--log-level=error", "--vdev=net_af_packet0,iface=%s,qpairs=2" % link.outer,
                "--vdev=net_pcap1,rx_pcap=%s" % pcap, "--",
                "--ip", "0:%s/24" % link.v4_ours, "--ip", "0:%s/64" % link.v6_ours, "--listen", "udp:514",
                "--sink", "port:0,dst=%s,name=v4" % v4, "--sink", "port:0,dst=%s,name=v6,framing=octet" % v6,
                "--stats-json", stats, "--on-sink-full", "block", "--exit-on-idle", "1500"]
        res = subprocess.run(args, capture_output=True, text=True, timeout=120)
        open(got + ".stop", "w").close()
        check(res.returncode == 0, "logagg exit %d:\n%s\n%s" % (res.returncode, res.stdout[-3000:], res.stderr[-3000:]))
        recv.wait(timeout=30)
        st = json.load(open(stats))
        check(st["invariants"] == {"packets": True, "messages": True, "sinks": True}, "invariants: %s" % st["invariants"])
        check(st["packets"]["neighbour"] >= 2, "no next hop learned: %s" % st["packets"])
        by_sink = {0: [], 1: []}
        data = open(got, "rb").read()
        off = 0
        while off < len(data):
            i, n = struct.unpack("!BI", data[off:off + 5])
            payload = data[off + 5:off + 5 + n]
            off += 5 + n
            if i == 0:
                check(payload.endswith(b"\n"), "IPv4 datagram without a final LF")
                by_sink[0] += payload[:-1].split(b"\n")
            else:
                while payload:
                    sp = payload.index(b" ")
                    ln = int(payload[:sp])
                    by_sink[1].append(payload[sp + 1:sp + 1 + ln])
                    payload = payload[sp + 1 + ln:]
        expected = cap.expected_messages_by_flow()
        for i, name in ((0, "v4"), (1, "v6")):
            k = [x for x in st["sinks"] if x["name"] == name][0]
            check(k["delivered"] == 5000 and k["dropped_total"] == 0, "sink %s: %s" % (name, k))
            check(k["next_hop_learned"] >= 1 and k["solicits"] >= 1, "sink %s did not resolve its next hop: %s" % (name, k))
            lines = by_sink[i]
            check(len(lines) == 5000 and len(set(lines)) == 5000, "%s: the namespace received %d records (%d distinct)"
                  % (name, len(lines), len(set(lines))))
            pos = {m: (f, j) for f, msgs in expected.items() for j, m in enumerate(msgs)}
            last = {}
            for line in lines:
                check(line in pos, "%s: unexpected record %r" % (name, line[:80]))
                f, j = pos[line]
                check(j > last.get(f, -1), "%s: flow %s out of order" % (name, f))
                last[f] = j
        neigh = sh("ip", "neigh", "show", "dev", link.inner, ns=link.ns).stdout
        check("PERMANENT" not in neigh, "a static neighbour entry exists:\n" + neigh)
        print("port_sink: %s; v4 sink %s" % ("chained" if st["sinks"][0]["multi_seg"] else "copied",
                                             {k: st["sinks"][0][k] for k in ("datagrams", "solicits", "bytes_copied")}))
    finally:
        link.down()


def task_cpu_s(pid):
    """utime + stime of every thread of `pid`, in seconds (what the OS charges the process)."""
    ticks = 0
    for stat in glob.glob("/proc/%d/task/*/stat" % pid):
        try:
            f = open(stat).read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a thread that just ended
        ticks += int(f[11]) + int(f[12])  # fields 14 and 15: utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def cpu_over(pid, seconds):
    c0, t0 = task_cpu_s(pid), time.monotonic()
    time.sleep(seconds)
    return (task_cpu_s(pid) - c0) / (time.monotonic() - t0)


def wait_for_token(out, token, n, limit=30):
    """Waits until n lines carrying token are in the segments of out (at most limit seconds)."""
    deadline = time.time() + limit
    while time.time() < deadline:
        if sum(1 for l in read_lines(out) if token.encode() in l) >= n:
            return
        time.sleep(0.05)


def check_logger_run(mode, out, token, sent, stats):
    """Every sent message arrived once, the invariants hold, no mbuf leaked. @return the stats."""
    got = [l for l in read_lines(out) if token.encode() in l]
    missing = [m for m in sent if not any(l.endswith(m) for l in got)]
    check(not missing and len(got) == len(sent), "%s: %d of %d logger messages arrived (missing %r...)"
          % (mode, len(got), len(sent), missing[:3]))
    st = json.load(open(stats))
    check(st["invariants"] == {"packets": True, "messages": True, "sinks": True}, "invariants: %s" % st["invariants"])
    check(st["mbufs"]["in_use_at_exit"] == 0, "mbufs leaked")
    return st


def case_idle_cpu(logagg, tmp):
    """--poll adaptive (the default): an idle logagg on net_af_packet (its RX lcore and its
    main+sink lcore) costs almost no CPU once started: under 15% of one core over 3 s, where
    busy polling costs ~200%. Then 1,000 messages from logger, sent after the lcores went to
    sleep, all arrive. --poll busy still delivers, and never sleeps (its stats say so; its CPU
    depends on what else the machine runs, so it is printed, not checked)."""
    link = Link()
    try:
        link.up()
        token = "%d-%d" % (os.getpid(), int(time.time()))
        lines = os.path.join(tmp, "lines")
        for mode in ("adaptive", "busy"):
            n = 1000 if mode == "adaptive" else 100
            sub = os.path.join(tmp, mode)
            os.mkdir(sub)
            extra = ["--poll", mode] if mode == "busy" else []  # adaptive: the default
            proc, out, stats, logname = start_logagg(logagg, link, sub, extra=extra)
            try:
                # start_logagg returned on logagg's own role map: start-up is over.
                core = cpu_over(proc.pid, 3.0)
                print("%s: idle logagg used %.1f%% of a core over 3 s" % (mode, 100 * core))
                if mode == "adaptive":
                    check(core < 0.15, "idle logagg used %.0f%% of a core over 3 s (adaptive)" % (100 * core))
                sent = []
                for part in range(4):
                    with open(lines, "w") as f:
                        for i in range(n // 4):
                            msg = "idle %s %s seq=%d" % (mode, token, part * (n // 4) + i)
                            f.write(msg + "\n")
                            sent.append(msg.encode())
                    sh("logger", "--udp", "-n", link.v4_ours, "-P", "514", "-t", "lagidle", "-f", lines, ns=link.ns)
                wait_for_token(out, token, len(sent))
            finally:
                stop_logagg(proc, logname)
            st = check_logger_run(mode, out, token, sent, stats)
            for lc in st["lcores"]:
                check(0.0 <= lc["busy_fraction"] <= 1.0, "busy_fraction out of range: %s" % lc)
                if mode == "busy":
                    check(lc["sleeps"] == 0, "--poll busy slept: %s" % lc)
            if mode == "adaptive":
                check(all(lc["sleeps"] > 0 for lc in st["lcores"]), "an lcore never slept: %s" % st["lcores"])
    finally:
        link.down()


def case_socket_wake(logagg, tmp):
    """--poll adaptive (the default) on net_af_packet, which has no RX interrupts: the RX lcore
    sleeps on the PMD's own AF_PACKET sockets, which the kernel makes readable when a ring holds
    a frame, instead of waking 500-2,000 times a second to look. It says so at start, with one
    queue pair and with two (qpairs=2: both sockets, one lcore), and with one lcore for
    everything (-l 0: RX, worker and sink on the main lcore); messages sent one at a time while
    it sleeps each end a sleep (rx_interrupts counts them), its sleeps stay within what those
    frames and the 100 ms safety net explain, and everything arrives. Messages far apart never
    send it to bounded sleeps (rx_bounded_sleeps: at most a few, for a neighbour exchange just
    before a datagram). Fails on a build that sleeps bounded times there (no such line,
    rx_interrupts 0, thousands of sleeps), and on one where the records its own sink writes
    count as frames (-l 0: a bounded sleep after every message)."""
    link = Link()
    try:
        link.up()
        token = "%d-%d" % (os.getpid(), int(time.time()))
        for qpairs, lcores in ((1, "0-1"), (2, "0-1"), (1, "0")):
            name = "q%d-l%s" % (qpairs, lcores)
            sub = os.path.join(tmp, name)
            os.mkdir(sub)
            vdev = "--vdev=net_af_packet0,iface=%s,qpairs=%d" % (link.outer, qpairs)
            proc, out, stats, logname = start_logagg(logagg, link, sub, vdev=vdev, lcores=lcores)
            sent = []
            rx_lcore = lcores[-1]
            try:
                # The wake-up note is printed with the roles, before the lcores start.
                deadline = time.time() + 10
                while "lcore %s: " % rx_lcore not in open(logname).read() and time.time() < deadline:
                    time.sleep(0.05)
                text = open(logname).read()
                check("lcore %s: RX woken by its net_af_packet sockets" % rx_lcore in text,
                      "%s: the RX lcore does not sleep on its sockets:\n%s" % (name, text))
                time.sleep(1.0)  # idle: the lcores go to sleep
                for i in range(20):
                    msg = "sockwake %s %s seq=%d" % (name, token, i)
                    sh("logger", "--udp", "-n", link.v4_ours, "-P", "514", "-t", "lagsock", msg, ns=link.ns)
                    sent.append(msg.encode())
                    time.sleep(0.05)
                wait_for_token(out, "sockwake %s %s" % (name, token), len(sent))
            finally:
                stop_logagg(proc, logname)
            st = check_logger_run(name, out, "sockwake %s %s" % (name, token), sent, stats)
            rx = [lc for lc in st["lcores"] if "rx" in lc["roles"]][0]
            # Each message is a frame far from the one before (plus ARP and neighbour frames):
            # most end a sleep listening to the sockets; a few may meet a bounded sleep.
            check(rx["rx_interrupts"] >= 10, "%s: %d of 20 messages ended a sleep on the sockets: %s"
                  % (name, rx["rx_interrupts"], rx))
            # Besides the frames: the 100 ms safety net, and on the main lcore (-l 0) the control
            # plane's 10 ms look at signals, links and the stats line.
            bound = 3 * rx["rx_interrupts"] + (110 if lcores == "0" else 20) * st["uptime_s"] + 10
            check(rx["sleeps"] <= bound, "%s: the RX lcore slept %d times in %.1f s with %d wake-ups "
                  "by a frame: bounded sleeps, not sleeps until a frame"
                  % (name, rx["sleeps"], st["uptime_s"], rx["rx_interrupts"]))
            check(rx["rx_bounded_sleeps"] <= 6, "%s: %d bounded sleeps for 20 messages 50 ms apart: %s"
                  % (name, rx["rx_bounded_sleeps"], rx))
            print("%s: %d sleeps, %d ended by a frame, %d bounded, in %.1f s"
                  % (name, rx["sleeps"], rx["rx_interrupts"], rx["rx_bounded_sleeps"], st["uptime_s"]))
    finally:
        link.down()


def case_batch_after_quiet(logagg, tmp):
    """A record that follows a quiet spell is written at once, not after the batch age: batching
    it would group nothing (a trickle of 1 k msgs/s is one record per batch age) and only delay
    it. With batch-ms=60000 (a spell counts as quiet from 30 s), the first datagram after start
    must reach the file long before 60 s; records that follow it closely are still batched (they
    wait for the age, or for the drain at SIGTERM, which writes them)."""
    link = Link()
    try:
        link.up()
        token = "%d-%d" % (os.getpid(), int(time.time()))
        proc, out, stats, logname = start_logagg(logagg, link, tmp, sink_params=",batch-ms=60000")
        try:
            first = "quiet %s first" % token
            t0 = time.monotonic()
            sh("logger", "--udp", "-n", link.v4_ours, "-P", "514", "-t", "lagquiet", first, ns=link.ns)
            wait_for_token(out, token, 1, limit=40)
            waited = time.monotonic() - t0
            check(sum(1 for l in read_lines(out) if token.encode() in l) == 1,
                  "the record after a quiet spell waited for its batch age (not in the file after %.0f s)" % waited)
            print("the record after a quiet spell was in the file after %.3f s (batch age 60 s)" % waited)
            lines = os.path.join(tmp, "lines")
            with open(lines, "w") as f:
                for i in range(5):
                    f.write("quiet %s close %d\n" % (token, i))
            sh("logger", "--udp", "-n", link.v4_ours, "-P", "514", "-t", "lagquiet", "-f", lines, ns=link.ns)
            time.sleep(1.0)
            got = sum(1 for l in read_lines(out) if token.encode() in l)
            check(got == 1, "records close behind the first were written before their batch age (%d lines)" % got)
        finally:
            stop_logagg(proc, logname)
        sent = [first.encode()] + [("quiet %s close %d" % (token, i)).encode() for i in range(5)]
        check_logger_run("batch_after_quiet", out, token, sent, stats)
    finally:
        link.down()


def case_batch_at_a_trickle(logagg, tmp):
    """Records fewer than two a batch age apart on average (a trickle) are written as they come,
    even one that follows a write closely: waiting would add no record to its batch, only
    latency. With batch-ms=16000 (a trickle: records 8 s apart or more on average), records 10 s
    apart, then a pair 10 s later: each must reach the file long before the rest of its batch
    age (the previous rule, a batch age after the previous pull, held the second record 6 s
    and the last one 16 s); the test allows 4 s."""
    link = Link()
    try:
        link.up()
        token = "%d-%d" % (os.getpid(), int(time.time()))
        proc, out, stats, logname = start_logagg(logagg, link, tmp, sink_params=",batch-ms=16000")
        sent = []
        try:
            lines = os.path.join(tmp, "lines")

            def send(msgs):
                with open(lines, "w") as f:
                    f.write("".join(m + "\n" for m in msgs))
                t0 = time.monotonic()
                sh("logger", "--udp", "-n", link.v4_ours, "-P", "514", "-t", "lagtrickle", "-f", lines,
                   ns=link.ns)
                sent.extend(m.encode() for m in msgs)
                wait_for_token(out, token, len(sent), limit=4)
                waited = time.monotonic() - t0
                got = sum(1 for l in read_lines(out) if token.encode() in l)
                check(got == len(sent), "%d of %d records in the file %.1f s after the last was sent "
                      "(held for their batch age at a trickle)" % (got, len(sent), waited))
                return waited

            first = send(["trickle %s one" % token])
            time.sleep(10)
            second = send(["trickle %s two" % token])
            time.sleep(10)
            pair = send(["trickle %s three" % token, "trickle %s four" % token])
            print("at a trickle (batch age 16 s), records reached the file %.3f, %.3f and %.3f s "
                  "after they were sent" % (first, second, pair))
        finally:
            stop_logagg(proc, logname)
        check_logger_run("batch_at_a_trickle", out, token, sent, stats)
    finally:
        link.down()


def case_rx_interrupts(logagg, tmp):
    """RX queue interrupts (--poll adaptive, the default) on a port that has them: net_tap, whose
    kernel side is a tap interface in a namespace made here, with logagg running in that
    namespace. The RX lcore says at start that it is woken by interrupts, sleeps until a frame
    comes (its sleeps are the interrupts that ended them plus at most the 100 ms safety net's,
    where the bounded back-off of ports without interrupts sleeps 500-2,000 times a second),
    answers ping and ARP, and delivers 1,000 logger messages sent while it sleeps. --poll busy
    asks for no interrupts and still delivers."""
    tag = "%d" % (os.getpid() % 100000)
    ns, iface = "lgtns%s" % tag, "lgt%s" % tag
    subnet = 20 + (os.getpid() + 7) % 200
    ours, peer = "198.18.%d.1" % subnet, "198.18.%d.2" % subnet
    token = "%s-%d" % (tag, int(time.time()))
    try:
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "set", "lo", "up", ns=ns)
        for mode in ("adaptive", "busy"):
            sub = os.path.join(tmp, mode)
            os.mkdir(sub)
            out, stats = os.path.join(sub, "out"), os.path.join(sub, "stats.json")
            logname = os.path.join(sub, "logagg.log")
            args = ["ip", "netns", "exec", ns, logagg, "-l", "0-1", "--no-huge", "-m", "512", "--no-pci",
                    "--file-prefix", "logagg-tapintr-%d" % os.getpid(), "--log-level=error",
                    "--vdev=net_tap0,iface=%s" % iface, "--", "--ip", "0:%s/24" % ours, "--listen", "udp:514",
                    "--sink", "file:%s" % out, "--stats-json", stats]
            if mode == "busy":
                args += ["--poll", "busy"]
            with open(logname, "w") as log:
                proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
            try:
                deadline = time.time() + 30
                while "lcore 1:" not in open(logname).read():
                    check(proc.poll() is None, "logagg exited early:\n" + open(logname).read())
                    check(time.time() < deadline, "logagg did not start:\n" + open(logname).read())
                    time.sleep(0.1)
                text = open(logname).read()
                if mode == "adaptive":
                    check("lcore 1: RX by interrupt" in text, "the RX lcore is not woken by interrupts:\n" + text)
                    core = cpu_over(proc.pid, 3.0)
                    print("adaptive, RX by interrupt: idle logagg used %.1f%% of a core over 3 s" % (100 * core))
                    check(core < 0.15, "idle logagg used %.0f%% of a core over 3 s" % (100 * core))
                else:
                    check("RX by interrupt" not in text, "--poll busy asked for interrupts:\n" + text)
                # The tap exists once logagg runs: the namespace's side gets the peer address.
                sh("ip", "addr", "add", peer + "/24", "dev", iface, ns=ns)
                sh("ip", "link", "set", iface, "up", ns=ns)
                r = sh("ping", "-c", "3", "-i", "0.2", "-W", "2", ours, ns=ns, check_rc=False)
                check(r.returncode == 0, "ping %s failed:\n%s" % (ours, r.stdout))
                lines, sent = os.path.join(sub, "lines"), []
                for part in range(4):
                    with open(lines, "w") as f:
                        for i in range(250):
                            msg = "tap %s %s seq=%d" % (mode, token, part * 250 + i)
                            f.write(msg + "\n")
                            sent.append(msg.encode())
                    sh("logger", "--udp", "-n", ours, "-P", "514", "-t", "lagtap", "-f", lines, ns=ns)
                    time.sleep(0.3)  # a pause between the parts: the RX lcore goes back to sleep
                wait_for_token(out, token, len(sent))
            finally:
                stop_logagg(proc, logname)
            st = check_logger_run(mode, out, token, sent, stats)
            rx = [lc for lc in st["lcores"] if "rx" in lc["roles"]][0]
            if mode == "adaptive":
                check(rx["rx_interrupts"] > 0, "no sleep was ended by an interrupt: %s" % rx)
                bound = rx["rx_interrupts"] + 20 * st["uptime_s"] + 10
                check(rx["sleeps"] <= bound, "the RX lcore slept %d times in %.1f s with %d interrupts: "
                      "bounded sleeps, not sleeps until a frame" % (rx["sleeps"], st["uptime_s"], rx["rx_interrupts"]))
                print("adaptive: %d sleeps, %d ended by an interrupt, in %.1f s"
                      % (rx["sleeps"], rx["rx_interrupts"], st["uptime_s"]))
            else:
                check(rx["rx_interrupts"] == 0 and rx["sleeps"] == 0, "--poll busy slept: %s" % rx)
            shutil.rmtree(out, ignore_errors=True)
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


CASES = {"default_offloads": case_default_offloads, "offloads_off": case_offloads_off,
         "oversized_frames": case_oversized_frames, "port_sink": case_port_sink, "rsyslog": case_rsyslog, "fragment_storm": case_fragment_storm, "own_addresses": case_own_addresses, "rate_limit": case_rate_limit, "fragments": case_fragments,
         "multiqueue": case_multiqueue, "idle_cpu": case_idle_cpu, "socket_wake": case_socket_wake, "batch_after_quiet": case_batch_after_quiet, "batch_at_a_trickle": case_batch_at_a_trickle, "rx_interrupts": case_rx_interrupts}


if __name__ == "__main__":
    sys.exit(run_netns_cases(CASES, needs=("ip", "ping", "logger", "ethtool")))
