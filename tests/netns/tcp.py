#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""TCP ingestion over a real link (issue 12): logagg terminates TCP from unmodified kernel clients
in a namespace (logger, rsyslog's omfwd, Python sockets) on a veth pair it reads with
net_af_packet. Helpers: tests/netns/tcp_common.py. Everything is removed afterwards.

    tests/netns/tcp.py --logagg build/app/logagg/logagg --case logger

Exit status: 0 pass, 1 fail, 77 skipped (with the reason printed).
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tcp_common import (CLIENT_JSON_LINES, TCP_PORT, Failure, Link, Logagg, check,  # noqa: E402
                        check_json_lines, check_tcp_invariants, ns_popen, ns_python, sh, wait_for)

SKIP = 77


def logger(link, addr, msg, octet):
    args = ["logger", "-T", "-n", addr, "-P", str(TCP_PORT), "--rfc5424=notq,notime,nohost",
            "-t", "tcptest"] + (["--octet-count"] if octet else []) + [msg]
    sh(*args, ns=link.ns)


def case_logger(logagg, tmp):
    """logger --tcp with and without --octet-count, IPv4 and IPv6, default veth offloads: every
    message byte for byte, every connection closed cleanly (FIN both ways, no reset)."""
    link = Link()
    la = None
    try:
        link.up()
        la = Logagg(logagg, link, tmp).start()
        want = []
        for i in range(10):
            for octet in (False, True):
                for addr in (link.v4_ours, link.v6_ours):
                    msg = "message %d octet=%s via %s" % (i, octet, addr)
                    logger(link, addr, msg, octet)
                    want.append(b"<13>1 - - tcptest - - - " + msg.encode())
        wait_for("%d lines" % len(want), lambda: len(la.lines()) >= len(want))
        la.stop()
        got = la.lines()
        check(got == want, "lines differ:\n%s\nwant\n%s" % (got[:5], want[:5]))
        st = la.stats()
        check_tcp_invariants(st)
        t = st["tcp"]
        check(t["conns"]["accepted"] == len(want), "accepted %s" % t["conns"])
        check(t["conns"]["closed"] == len(want) and t["conns"]["reset_in"] == 0 and
              t["conns"]["reset_out"] == 0, "not closed cleanly: %s" % t["conns"])
        check(st["messages"]["dropped_total"] == 0, "messages dropped: %s" % st["messages"])
    finally:
        if la is not None:
            la.kill()
        link.down()


def json_lines(logagg, tmp, offloads_off, n_conns, per):
    link = Link(offloads_off=offloads_off)
    la = None
    try:
        link.up()
        la = Logagg(logagg, link, tmp, listen=["tcp:%d:json" % TCP_PORT]).start()
        t0 = os.times()
        r = ns_python(link, CLIENT_JSON_LINES, link.v4_ours, TCP_PORT, n_conns, per, timeout=600)
        secs = float(r.stdout.split()[0])
        total = n_conns * per
        # Cheap: the sink's file sizes, not its lines (1,000,000 of them), every 0.2 s.
        want_bytes = sum(len(b'{"conn":%d,"seq":%d,"msg":"hello from a tcp client"}\n' % (c, i))
                         for c in range(n_conns) for i in range(per))
        try:
            wait_for("%d lines" % total, lambda: out_bytes(la) >= want_bytes, timeout=120,
                     step=0.2)
        except Failure:
            la.stop()
            st = la.stats()
            raise Failure("%d of %d bytes in the sink; messages %s; sinks %s; tcp %s" % (
                out_bytes(la), want_bytes, st["messages"], [k["dropped"] for k in st["sinks"]],
                st["tcp"]["conns"]))
        la.stop()
        t1 = os.times()
        cpu = (t1.children_user + t1.children_system) - (t0.children_user + t0.children_system)
        lines = la.lines()
        check_json_lines(lines, n_conns, per)
        st = la.stats()
        check_tcp_invariants(st)
        t = st["tcp"]
        check(t["conns"]["accepted"] == n_conns and t["conns"]["closed"] == n_conns,
              "connections: %s" % t["conns"])
        check(st["messages"]["dropped_total"] == 0, "messages dropped: %s" % st["messages"])
        busy = {l["lcore_id"]: l["busy_s"] for l in st["lcores"]}
        print("%d lines over %d connections in %.2f s: %.0f lines/s (client's clock); segments "
              "%d (out of order %d), frames cut %d, span bytes copied %d; lcores busy %s s; "
              "test's children CPU (logagg and the client) %.1f s" % (
                  total, n_conns, secs, total / secs, t["segments"]["total"],
                  t["segments"]["out_of_order"], st["packets"]["dropped"]["frame_truncated"],
                  st["bytes_copied_by_reason"]["tcp_span"],
                  ", ".join("%d: %.2f" % kv for kv in sorted(busy.items())), cpu))
    finally:
        if la is not None:
            la.kill()
        link.down()


def out_bytes(la):
    import glob
    return sum(os.path.getsize(p) for p in glob.glob(os.path.join(la.out, "logagg-*.log")))


def case_json_lines(logagg, tmp):
    """1,000,000 JSON lines over 16 concurrent connections, default veth offloads (the sender's
    TSO hands AF_PACKET frames longer than the MTU): all arrive, in order per connection."""
    json_lines(logagg, tmp, False, 16, 62500)


def case_json_lines_offloads_off(logagg, tmp):
    """As json_lines with segmentation and checksum offloads off on both ends (a wire's view)."""
    json_lines(logagg, tmp, True, 16, 62500)


CLIENT_SHORT = r'''
import socket, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    s = socket.create_connection((host, port), timeout=30)
    s.sendall(b"short connection %d\n" % i)
    s.shutdown(socket.SHUT_WR)
    while s.recv(4096):
        pass
    s.close()
'''


def case_short_conns(logagg, tmp):
    """1,000 short-lived connections, one line each: all arrive, each connection closed cleanly."""
    link = Link()
    la = None
    n = 1000
    try:
        link.up()
        la = Logagg(logagg, link, tmp).start()
        ns_python(link, CLIENT_SHORT, link.v4_ours, TCP_PORT, n, timeout=300)
        wait_for("%d lines" % n, lambda: len(la.lines()) >= n)
        la.stop()
        got = la.lines()
        check(got == [b"short connection %d" % i for i in range(n)], "lines differ: %d, %r" %
              (len(got), got[:3]))
        st = la.stats()
        check_tcp_invariants(st)
        c = st["tcp"]["conns"]
        check(c["accepted"] == n and c["closed"] == n and c["reset_in"] == 0 and
              c["reset_out"] == 0 and c["open"] == 0, "connections: %s" % c)
    finally:
        if la is not None:
            la.kill()
        link.down()


def case_rsyslog(logagg, tmp):
    """rsyslog in the namespace forwards over TCP with octet counting (omfwd TCP_Framing
    "octet-counted"): every message byte for byte, in order."""
    if shutil.which("rsyslogd") is None:
        raise Failure("rsyslogd is not installed (scripts/lib/common.sh installs rsyslog)")
    link = Link()
    la = None
    rs = None
    n = 300
    tag = str(os.getpid())
    try:
        link.up()
        la = Logagg(logagg, link, tmp, listen=["tcp:%d:raw" % TCP_PORT]).start()
        sock = os.path.join(tmp, "rsyslog-in.sock")
        conf = os.path.join(tmp, "rsyslog.conf")
        with open(conf, "w") as f:
            f.write('global(workDirectory="%s" processInternalMessages="on")\n' % tmp)
            f.write('module(load="imuxsock" SysSock.Use="off")\n')
            f.write('input(type="imuxsock" Socket="%s")\n' % sock)
            f.write('template(name="plain" type="string" string="%syslogtag%%msg%")\n')
            f.write('*.* action(type="omfwd" target="%s" port="%d" protocol="tcp" '
                    'TCP_Framing="octet-counted" template="plain")\n' % (link.v4_ours, TCP_PORT))
        rs = subprocess.Popen(["ip", "netns", "exec", link.ns, "rsyslogd", "-n", "-f", conf, "-i",
                               os.path.join(tmp, "rsyslog.pid")], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
        deadline = time.time() + 15
        while not os.path.exists(sock):
            check(rs.poll() is None and time.time() < deadline, "rsyslogd did not start")
            time.sleep(0.05)
        want = []
        texts = os.path.join(tmp, "messages.txt")
        with open(texts, "w") as f:
            for i in range(n):
                text = "via rsyslog %s seq=%d" % (tag, i)
                f.write(text + "\n")
                want.append(b"rsyslog-test: " + text.encode())
        sh("logger", "-u", sock, "-t", "rsyslog-test", "-f", texts, ns=link.ns)  # one per line
        mine = lambda: [l for l in la.lines() if (b"via rsyslog " + tag.encode()) in l]
        wait_for("%d rsyslog messages" % n, lambda: len(mine()) >= n)
        rs.terminate()
        rs.wait(timeout=10)
        rs = None
        la.stop()
        check(mine() == want, "rsyslog messages differ: %r" % mine()[:3])
        st = la.stats()
        check_tcp_invariants(st)
        check(st["messages"]["dropped_total"] == 0 and st["messages"]["framing_errors"] == 0,
              "messages: %s" % st["messages"])
        check(st["tcp"]["conns"]["accepted"] >= 1, "no connection: %s" % st["tcp"]["conns"])
    finally:
        if rs is not None:
            rs.kill()
        if la is not None:
            la.kill()
        link.down()


COLLECTOR = r'''
import os, socket, sys, time
port_file, go, out = sys.argv[1], sys.argv[2], sys.argv[3]
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window: logagg's sink blocks soon
l.bind(("127.0.0.1", 0))
l.listen(1)
open(port_file + ".tmp", "w").write(str(l.getsockname()[1]))
os.rename(port_file + ".tmp", port_file)
c, _ = l.accept()
while not os.path.exists(go):  # not one byte read until told
    time.sleep(0.01)
with open(out, "wb") as f:
    while True:
        b = c.recv(1 << 20)
        if not b:
            break
        f.write(b)
'''


def metric(url, name):
    import urllib.request
    total = 0
    for line in urllib.request.urlopen(url + "/metrics", timeout=5).read().decode().splitlines():
        if line.startswith(name):
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def url_dump(url, tmp):
    import urllib.request
    p = os.path.join(tmp, "metrics.txt")
    open(p, "wb").write(b"\n".join(l for l in urllib.request.urlopen(url + "/metrics", timeout=5).read().splitlines() if b"tcp" in l or b"sink" in l and b"latency" not in l))
    return p


def case_zero_window(logagg, tmp):
    """Backpressure: the only sink (TCP, buffer=256K) sends to a collector that reads nothing
    until told, so its buffer fills and logagg advertises a zero window: the client blocks
    (it is still sending when the window is zero), then everything arrives once the collector
    reads, in order, nothing dropped."""
    link = Link()
    la = None
    coll = None
    n = 200000
    try:
        link.up()
        port_file, go, got = (os.path.join(tmp, x) for x in ("port", "go", "collected"))
        coll = subprocess.Popen([sys.executable, "-c", COLLECTOR, port_file, go, got])
        wait_for("the collector", lambda: os.path.exists(port_file))
        port = int(open(port_file).read())
        la = Logagg(logagg, link, tmp, listen=["tcp:%d:json" % TCP_PORT],
                    sink="tcp:127.0.0.1:%d,framing=lf,buffer=256K,replay=16K" % port,
                    extra=["--metrics", "127.0.0.1:0", "--on-sink-full", "drop"]).start()
        wait_for("the metrics URL", lambda: "metrics: http" in la.log())
        url = la.log().split("  metrics: http", 1)[1].split("/metrics", 1)[0]
        url = "http" + url
        client = ns_popen(link, CLIENT_JSON_LINES, link.v4_ours, TCP_PORT, 1, n)
        zw = 'logagg_tcp_window_events_total{event="zero_window_episodes"}'
        wait_for("a zero window", lambda: metric(url, zw) > 0, timeout=60)
        check(client.poll() is None, "the client finished although the window was zero")
        if shutil.which("promtool") is not None:  # the logagg_tcp_* families lint clean
            import urllib.request
            text = urllib.request.urlopen(url + "/metrics", timeout=5).read().decode()
            check("logagg_tcp_segments_total" in text, "no TCP families in /metrics")
            lint = subprocess.run(["promtool", "check", "metrics"], input=text,
                                  capture_output=True, text=True)
            check(lint.returncode == 0 and lint.stdout.strip() == "" and lint.stderr.strip() == "",
                  "promtool check metrics: %s%s" % (lint.stdout, lint.stderr))
        open(go, "w").close()
        out, err = client.communicate(timeout=300)
        check(client.returncode == 0, "client failed: %s\n%s" % (err, open(url_dump(url, tmp)).read()))
        la.stop()
        coll.wait(timeout=60)
        coll = None
        st = la.stats()
        check(st["messages"]["dropped_total"] == 0 and
              all(k["dropped_total"] == 0 for k in st["sinks"]), "dropped: %s %s" %
              (st["messages"], [k["dropped"] for k in st["sinks"]]))
        check_json_lines(open(got, "rb").read().split(b"\n")[:-1], 1, n)
        check_tcp_invariants(st)
        check(st["tcp"]["window"]["zero_window_episodes"] >= 1 and
              st["tcp"]["window"]["window_updates"] >= 1, "window: %s" % st["tcp"]["window"])
        check(st["messages"]["dropped_total"] == 0 and
              all(k["dropped_total"] == 0 for k in st["sinks"]), "dropped: %s %s" %
              (st["messages"], [k["dropped"] for k in st["sinks"]]))
    finally:
        if coll is not None:
            coll.kill()
        if la is not None:
            la.kill()
        link.down()


# Tiny lines: argv = host port n_conns lines_per_conn; line i of connection c is "c.i" (3 to 7
# bytes and its LF), sent in batches of 512 lines, all connections at once.
CLIENT_TINY = r"""
import socket, sys, threading
host, port, n, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
errs = []
def run(c):
    try:
        s = socket.create_connection((host, port), timeout=120)
        for b in range(0, per, 512):
            s.sendall(b"".join(b"%d.%d\n" % (c, i) for i in range(b, min(per, b + 512))))
        s.shutdown(socket.SHUT_WR)
        while s.recv(4096):
            pass
        s.close()
    except Exception as e:
        errs.append("%d: %r" % (c, e))
ts = [threading.Thread(target=run, args=(c,)) for c in range(n)]
for t in ts: t.start()
for t in ts: t.join()
if errs:
    print("\n".join(errs), file=sys.stderr); sys.exit(1)
"""


def case_tiny_lines(logagg, tmp):
    """What logagg acknowledged is delivered, with records far smaller than the window's estimate
    of them: 32 connections send 5,000 lines of 3 to 7 bytes each at once into a small sink ring
    (--sink-ring-size 1024) in front of a slow file sink (5 ms after each write, so its queue
    stays full). The windows offer room for thousands of records more than the ring has
    descriptors; the engine admits only the bytes whose records fit (the rest is not
    acknowledged and sent again: tcp.segments.no_room > 0). Every line arrives exactly once,
    in order per connection, nothing dropped anywhere."""
    link = Link()
    la = None
    n_conns, per = 32, 5000
    try:
        link.up()
        la = Logagg(logagg, link, tmp, listen=["tcp:%d:raw,framing=lf" % TCP_PORT],
                    extra=["--sink-ring-size", "1024", "--test-sink-delay-us", "5000"]).start()
        ns_python(link, CLIENT_TINY, link.v4_ours, TCP_PORT, n_conns, per, timeout=240)
        want = sum(len(b"%d.%d\n" % (c, i)) for c in range(n_conns) for i in range(per))
        try:
            wait_for("%d lines" % (n_conns * per), lambda: out_bytes(la) >= want, timeout=120,
                     step=0.2)
        except Failure:
            pass  # the checks below say what is missing
        la.stop()
        st = la.stats()
        t = st["tcp"]
        check(st["messages"]["dropped_total"] == 0 and
              all(k["dropped_total"] == 0 for k in st["sinks"]),
              "acknowledged lines dropped: messages %s; sinks %s; tcp segments %s bytes %s" % (
                  st["messages"]["dropped"], [k["dropped"] for k in st["sinks"]],
                  t["segments"], t["bytes"]))
        nxt = [0] * n_conns
        for line in la.lines():
            c, i = (int(x) for x in line.split(b"."))
            check(i == nxt[c], "connection %d: line %d after %d" % (c, i, nxt[c] - 1))
            nxt[c] += 1
        check(nxt == [per] * n_conns, "lines per connection %s, want %d each" % (nxt, per))
        check_tcp_invariants(st)
        check(t["conns"]["accepted"] == n_conns and t["conns"]["closed"] == n_conns,
              "connections: %s" % t["conns"])
        check(t["segments"]["no_room"] > 0 and t["bytes"]["no_room"] > 0,
              "the sinks never ran out of room (no_room: segments %d, bytes %d): the test did "
              "not test admission" % (t["segments"]["no_room"], t["bytes"]["no_room"]))
        print("segments %d (no_room %d, in_order %d, out_of_order %d), bytes no_room %d, "
              "zero windows %d" % (t["segments"]["total"], t["segments"]["no_room"],
                                    t["segments"]["in_order"], t["segments"]["out_of_order"],
                                    t["bytes"]["no_room"], t["window"]["zero_window_episodes"]))
    finally:
        if la is not None:
            la.kill()
        link.down()


CLIENT_HOLD = r'''
import socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
socks = []
for c in range(n):
    s = socket.create_connection((host, port), timeout=60)
    s.sendall(b"open connection %d\n" % c)
    socks.append(s)
print("sent", flush=True)
for c, s in enumerate(socks):  # logagg stops: each connection must end with a clean EOF
    data = s.recv(4096)
    if data != b"":
        print("connection %d: %r instead of EOF" % (c, data), file=sys.stderr); sys.exit(1)
    s.close()
print("eof")
'''


def case_shutdown(logagg, tmp):
    """SIGTERM with open connections: each client sees a FIN (a clean EOF, no reset), and every
    line it sent (and logagg acknowledged) is in the sink."""
    link = Link()
    la = None
    n = 20
    try:
        link.up()
        la = Logagg(logagg, link, tmp).start()
        client = ns_popen(link, CLIENT_HOLD, link.v4_ours, TCP_PORT, n)
        check(client.stdout.readline().strip() == b"sent", "client did not connect")
        wait_for("%d lines" % n, lambda: len(la.lines()) >= n)
        la.stop()
        out, err = client.communicate(timeout=60)
        check(client.returncode == 0 and out.strip() == b"eof", "client: %r %r" % (out, err))
        got = la.lines()
        check(got == [b"open connection %d" % c for c in range(n)], "lines: %r" % got[:3])
        st = la.stats()
        check_tcp_invariants(st)
        # logagg reset nothing. Our FIN went first, so our side ends in TIME-WAIT, which a peer
        # may end with a RST (a retransmission of our FIN that crossed its last ACK on a loaded
        # host reaches a socket already gone): counted as reset_in, after a clean close.
        c = st["tcp"]["conns"]
        check(c["accepted"] == n and c["reset_out"] == 0 and
              c["closed"] + c["reset_in"] == n and c["open"] == 0, "connections: %s" % c)
    finally:
        if la is not None:
            la.kill()
        link.down()


CASES = {
    "short_conns": case_short_conns,
    "rsyslog": case_rsyslog,
    "zero_window": case_zero_window,
    "shutdown": case_shutdown,
    "tiny_lines": case_tiny_lines,
    "logger": case_logger,
    "json_lines": case_json_lines,
    "json_lines_offloads_off": case_json_lines_offloads_off,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--logagg", required=True)
    ap.add_argument("--case", required=True, choices=sorted(CASES))
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("skipped: network namespaces and veth pairs need root (CI runs as root)")
        return SKIP
    for tool in ("ip", "logger", "ethtool"):
        if shutil.which(tool) is None:
            print("skipped: %s is not installed (scripts/lib/common.sh installs it)" % tool)
            return SKIP
    tmp = tempfile.mkdtemp(prefix="logagg-tcp-")
    try:
        CASES[a.case](os.path.abspath(a.logagg), tmp)
        print("%s: passed" % a.case)
        return 0
    except Failure as e:
        print("%s: FAILED: %s" % (a.case, e))
        return 1
    finally:
        if not os.environ.get("LOGAGG_TEST_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("kept " + tmp)


if __name__ == "__main__":
    sys.exit(main())
