#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""TCP ingestion over a real link (issue 12): logagg terminates TCP from unmodified kernel clients
in a namespace (logger, rsyslog's omfwd, Python sockets) on a veth pair it reads with
net_af_packet. Helpers: tests/netns/tcp_common.py. Everything is removed afterwards.

    tests/netns/tcp.py --logagg build/app/logagg/logagg --case logger

Exit status: 0 pass, 1 fail, 77 skipped (with the reason printed).
"""

import os
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tcp_common import (CLIENT_JSON_LINES, TCP_PORT, Failure, Link, Logagg, TapLink, check,  # noqa: E402
                        check_json_lines, check_tcp_invariants, concurrent_client, json_lines_bytes,
                        ns_popen, ns_python, run_netns_cases, sh, telemetry, wait_for)


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
        want_bytes = json_lines_bytes(n_conns, per)
        try:
            wait_for("%d lines" % total, lambda: la.out_bytes() >= want_bytes, timeout=120,
                     step=0.2)
        except Failure:
            la.stop()
            st = la.stats()
            raise Failure("%d of %d bytes in the sink; messages %s; sinks %s; tcp %s" % (
                la.out_bytes(), want_bytes, st["messages"], [k["dropped"] for k in st["sinks"]],
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


def case_json_lines(logagg, tmp):
    """1,000,000 JSON lines over 16 concurrent connections, default veth offloads (the sender's
    TSO hands AF_PACKET frames longer than the MTU): all arrive, in order per connection."""
    json_lines(logagg, tmp, False, 16, 62500)


def case_json_lines_offloads_off(logagg, tmp):
    """As json_lines with segmentation and checksum offloads off on both ends (a wire's view)."""
    json_lines(logagg, tmp, True, 16, 62500)


def case_tap(logagg, tmp):
    """TCP over net_tap, the laptop path with full windows (the kernel segments GSO packets
    before a tap, so no frame outgrows the MTU and no window is capped to one frame) and RX
    interrupts (adaptive polling, the default): logagg in a namespace made here, 4 kernel
    connections of 50,000 JSON lines each from the same namespace; every line arrives once and
    in order, every connection closes cleanly, nothing is cut or dropped."""
    link = TapLink()
    la = None
    try:
        link.up()
        la = Logagg(logagg, link, tmp, listen=["tcp:%d:json" % TCP_PORT]).start()
        check("lcore 1: RX by interrupt" in la.log(), "net_tap's RX lcore is not woken by "
              "interrupts:\n" + la.log())
        r = ns_python(link, CLIENT_JSON_LINES, link.v4_ours, TCP_PORT, 4, 50000, timeout=300)
        secs = float(r.stdout.split()[0])
        wait_for("200,000 lines", lambda: len(la.lines()) >= 200000, timeout=60)
        la.stop()
        check_json_lines(la.lines(), 4, 50000)
        st = la.stats()
        check_tcp_invariants(st)
        t = st["tcp"]
        check(t["conns"]["accepted"] == 4 and t["conns"]["closed"] == 4,
              "connections: %s" % t["conns"])
        check(st["messages"]["dropped_total"] == 0 and st["packets"]["dropped"]["frame_truncated"] == 0,
              "dropped: messages %s, packets %s" % (st["messages"]["dropped"], st["packets"]["dropped"]))
        print("200000 lines over 4 connections on net_tap in %.2f s: %.0f lines/s (client's clock); "
              "segments %d, ACKs sent %d" % (secs, 200000 / secs, t["segments"]["total"],
                                             t["tx"]["ack"]))
    finally:
        if la is not None:
            la.kill()
        link.down()


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


# Tiny lines: line i of connection c is "c.i" (3 to 7 bytes and its LF), sent in batches of 512
# lines, all connections at once.
CLIENT_TINY = concurrent_client(r"""
    for b in range(0, per, 512):
        s.sendall(b"".join(b"%d.%d\n" % (c, i) for i in range(b, min(per, b + 512))))
""", 120)


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
            wait_for("%d lines" % (n_conns * per), lambda: la.out_bytes() >= want, timeout=120,
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


CLIENT_UDP_AND_REFUSED = r'''
import errno, socket, sys
host, udp_port, closed_port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(n):
    u.sendto(b"<13>udp datagram %d" % i, (host, udp_port))
try:  # one SYN to a port without a TCP listener: logagg answers with a RST
    socket.create_connection((host, closed_port), timeout=30)
    sys.exit("connected to port %d" % closed_port)
except ConnectionRefusedError:
    print("refused")
'''


def listener_sample(text, name, listener):
    """The value of family @name for @listener in a /metrics text (None when absent)."""
    for line in text.splitlines():
        if line.startswith(name + "{") and 'listener="%s"' % listener in line:
            return int(float(line.rsplit(" ", 1)[1]))
    return None


def case_listener_counters(logagg, tmp):
    """Per-listener counters with TCP beside UDP: 4 connections of 500 JSON lines to tcp:514, 10
    datagrams to udp:5514 and one SYN to a closed TCP port. The TCP listener's segments, stream
    bytes, messages, drops and connections match what was sent in the summary, --stats-json and
    /metrics (which promtool accepts), and so does the segment to the closed port
    (packets.tcp_no_listener); the listeners split the worker and engine totals."""
    link = Link()
    la = None
    n_conns, per, n_udp, udp_port, closed_port = 4, 500, 10, 5514, 515
    try:
        link.up()
        la = Logagg(logagg, link, tmp, listen=["tcp:%d:json" % TCP_PORT, "udp:%d" % udp_port],
                    extra=["--metrics", "127.0.0.1:0"]).start()
        wait_for("the metrics URL", lambda: "metrics: http" in la.log())
        url = "http" + la.log().split("  metrics: http", 1)[1].split("/metrics", 1)[0]
        ns_python(link, CLIENT_JSON_LINES, link.v4_ours, TCP_PORT, n_conns, per)
        r = ns_python(link, CLIENT_UDP_AND_REFUSED, link.v4_ours, udp_port, closed_port, n_udp)
        check(r.stdout.strip() == b"refused", "closed port: %r" % r.stdout)
        total = n_conns * per + n_udp
        wait_for("%d lines" % total, lambda: len(la.lines()) >= total)
        want_bytes = json_lines_bytes(n_conns, per)
        tcp_l = "tcp:%d" % TCP_PORT
        # Every connection ended (each client read logagg's FIN) and every line is in the sink.
        import urllib.request
        text = urllib.request.urlopen(url + "/metrics", timeout=5).read().decode()
        want = {"logagg_listener_messages_total": n_conns * per,
                "logagg_listener_messages_dropped_total": 0,
                "logagg_listener_payload_bytes_total": want_bytes,
                "logagg_listener_connections_total": n_conns,
                "logagg_listener_open_connections": 0}
        got = {k: listener_sample(text, k, tcp_l) for k in want}
        check(got == want, "/metrics for %s: %s, want %s" % (tcp_l, got, want))
        check(listener_sample(text, "logagg_listener_messages_total", "udp:%d" % udp_port) == n_udp,
              "/metrics: udp listener messages")
        check('logagg_packets_total{stage="tcp_no_listener"} 1\n' in text,
              "/metrics lacks the SYN to the closed port: %s" %
              [l for l in text.splitlines() if l.startswith("logagg_packets_total")])
        lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                              text=True)
        check(lint.returncode == 0 and not lint.stdout.strip() and not lint.stderr.strip(),
              "promtool check metrics: %s%s" % (lint.stdout, lint.stderr))
        la.stop()
        st = la.stats()
        check_tcp_invariants(st)
        ls = {x["listener"]: x for x in st["listeners"]}
        check(list(ls) == ["udp:%d" % udp_port, tcp_l], "listeners: %s" % list(ls))
        t, u = ls[tcp_l], ls["udp:%d" % udp_port]
        check(t["format"] == "json" and t["messages"] == n_conns * per and t["dropped"] == 0 and
              t["payload_bytes"] == want_bytes and t["connections"] == n_conns and
              t["open_connections"] == 0, "tcp listener: %s" % t)
        check(st["packets"]["tcp_no_listener"] == 1, "tcp_no_listener: %d" %
              st["packets"]["tcp_no_listener"])
        check(t["packets"] == st["tcp"]["segments"]["total"] - 1, "tcp listener segments %d of %d" %
              (t["packets"], st["tcp"]["segments"]["total"]))
        check(u["packets"] == n_udp and u["messages"] == n_udp and u["dropped"] == 0,
              "udp listener: %s" % u)
        line = "listener %s (json): packets %d (%d payload bytes) messages %d dropped 0; " \
               "connections %d (0 open)" % (tcp_l, t["packets"], want_bytes, n_conns * per, n_conns)
        check(line in la.log(), "summary lacks %r:\n%s" % (line, la.log()[-3000:]))
        check(st["messages"]["dropped_total"] == 0, "messages dropped: %s" % st["messages"])
    finally:
        if la is not None:
            la.kill()
        link.down()


# A client driven line by line on stdin (one reply line each on stdout), holding connections:
#   open N      N connections, each sends "conn C line 0"           -> "opened"
#   extra       one more connection: refused (ECONNREFUSED), reset (ECONNRESET after connecting)
#               or accepted                                          -> that word
#   send K      every held connection sends lines 1..K              -> "sent"
#   close C     held connection C: shutdown(SHUT_WR), read to EOF   -> "closed" (or what it got)
#   new K       a new connection sends "conn new line 0..K-1", closes cleanly -> "done"
#   closeall    every other held connection as close               -> "closed"
CLIENT_CONTROLLED = r'''
import errno, socket, sys
host, port = sys.argv[1], int(sys.argv[2])
held = {}
sent = {}
def say(w):
    sys.stdout.write(w + "\n"); sys.stdout.flush()
def close(s):
    s.shutdown(socket.SHUT_WR)
    rest = b""
    while True:
        d = s.recv(4096)
        if not d:
            break
        rest += d
    s.close()
    return "closed" if rest == b"" else "data %r" % rest
for line in sys.stdin:
    cmd = line.split()
    if cmd[0] == "open":
        for c in range(int(cmd[1])):
            s = socket.create_connection((host, port), timeout=30)
            s.sendall(b"conn %d line 0\n" % c)
            held[c] = s; sent[c] = 1
        say("opened")
    elif cmd[0] == "extra":
        try:
            s = socket.create_connection((host, port), timeout=30)
        except ConnectionRefusedError:
            say("refused"); continue
        try:
            s.sendall(b"extra\n")
            s.settimeout(10)
            d = s.recv(4096)
            say("reset" if d == b"" else "accepted")
        except ConnectionResetError:
            say("reset")
        except socket.timeout:
            say("accepted")
    elif cmd[0] == "send":
        for c, s in held.items():
            s.sendall(b"".join(b"conn %d line %d\n" % (c, i) for i in range(sent[c], sent[c] + int(cmd[1]))))
            sent[c] += int(cmd[1])
        say("sent")
    elif cmd[0] == "close":
        say(close(held.pop(int(cmd[1]))))
    elif cmd[0] == "new":
        s = socket.create_connection((host, port), timeout=30)
        s.sendall(b"".join(b"conn new line %d\n" % i for i in range(int(cmd[1]))))
        say("done" if close(s) == "closed" else "not closed")
    elif cmd[0] == "closeall":
        r = [close(s) for s in held.values()]
        held.clear()
        say("closed" if all(x == "closed" for x in r) else repr(r))
'''


class Controlled:
    """CLIENT_CONTROLLED in the namespace; ask() sends one command and returns its reply."""

    def __init__(self, link, port):
        self.p = subprocess.Popen(["ip", "netns", "exec", link.ns, sys.executable, "-c",
                                   CLIENT_CONTROLLED, link.v4_ours, str(port)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)

    def ask(self, cmd):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        r = self.p.stdout.readline().strip()
        if not r:
            self.p.kill()
            raise Failure("client died on %r: %s" % (cmd, self.p.stderr.read()[-2000:]))
        return r

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def metrics_url(la):
    wait_for("the metrics URL", lambda: "metrics: http" in la.log())
    return "http" + la.log().split("  metrics: http", 1)[1].split("/metrics", 1)[0]


def case_max_conns(logagg, tmp):
    """--tcp-max-conns 4 with one worker: 4 kernel connections held open; the fifth is refused
    (the client sees ECONNREFUSED: a RST to its SYN) and counted in tcp.conns.refused; the held
    connections still deliver every line; once one of them has closed (logagg counted it), a new
    connection is accepted and delivers. Each step waits on logagg's /metrics, not on time."""
    link = Link()
    la = None
    cl = None
    n, more, extra_lines = 4, 200, 50
    try:
        link.up()
        la = Logagg(logagg, link, tmp, extra=["--tcp-max-conns", str(n), "--metrics",
                                              "127.0.0.1:0"]).start()
        url = metrics_url(la)
        cl = Controlled(link, TCP_PORT)
        check(cl.ask("open %d" % n) == "opened", "open")
        ev = 'logagg_tcp_connections_total{event="%s"}'
        # The handshakes' last ACKs are processed: the table is full.
        wait_for("%d connections" % n, lambda: metric(url, ev % "accepted") == n)
        check(metric(url, "logagg_tcp_connections_open") == n, "open connections")
        got = cl.ask("extra")
        check(got in ("refused", "reset"), "connection %d over --tcp-max-conns: %s" % (n + 1, got))
        check(metric(url, ev % "refused") == 1 and metric(url, ev % "accepted") == n,
              "refused %d accepted %d" % (metric(url, ev % "refused"), metric(url, ev % "accepted")))
        check(cl.ask("send %d" % more) == "sent", "send")
        check(cl.ask("close 0") == "closed", "connection 0 did not close cleanly")
        # logagg has the client's ACK of its FIN: the slot is free again.
        wait_for("connection 0 released", lambda: metric(url, ev % "closed") == 1)
        check(cl.ask("new %d" % extra_lines) == "done", "the new connection was not served")
        check(cl.ask("closeall") == "closed", "held connections did not close cleanly")
        total = n * (more + 1) + extra_lines
        wait_for("%d lines" % total, lambda: len(la.lines()) >= total)
        la.stop()
        lines = la.lines()
        per = {}
        for l in lines:
            c, i = l.split(b" line ")
            per.setdefault(c, []).append(int(i))
        want = {b"conn %d" % c: list(range(more + 1)) for c in range(n)}
        want[b"conn new"] = list(range(extra_lines))
        check(per == want, "lines per connection: %s" %
              {k: (len(v), v[:3]) for k, v in per.items()})
        st = la.stats()
        check_tcp_invariants(st)
        c = st["tcp"]["conns"]
        check(c["refused"] == 1 and c["accepted"] == n + 1 and c["closed"] == n + 1 and
              c["reset_in"] == 0 and c["reset_out"] == 0, "connections: %s" % c)
        check(st["tcp"]["segments"]["refused"] == 1, "segments: %s" % st["tcp"]["segments"])
        check(st["messages"]["dropped_total"] == 0, "messages dropped: %s" % st["messages"])
    finally:
        if cl is not None:
            cl.kill()
        if la is not None:
            la.kill()
        link.down()


def case_pipeline(logagg, tmp):
    """Pipeline mode: one RX lcore and two worker lcores (--rx-lcores 1 --worker-lcores 2,3;
    net_af_packet with 3 queue pairs: one reply queue for RX, one TCP queue per worker). 16
    concurrent connections of 2,000 JSON lines: each connection lives on the worker its 4-tuple
    hashes to (a segment on any other worker would find no connection and be answered with a
    RST), every line arrives in order, every connection closes cleanly. A worker's replies leave
    on its own TX queue (DPDK telemetry /ethdev/stats: queue 1 + w carries exactly what worker
    w's engine sent, nothing else sends TCP), and both workers own connections."""
    link = Link()
    la = None
    n_conns, per = 16, 2000
    lcores = "0-3" if (os.cpu_count() or 1) >= 4 else "0@0,1@1,2@0,3@1"
    try:
        link.up()
        la = Logagg(logagg, link, tmp, listen=["tcp:%d:json" % TCP_PORT], lcores=lcores,
                    vdev="--vdev=net_af_packet0,iface=%s,qpairs=3" % link.outer,
                    extra=["--rx-lcores", "1", "--worker-lcores", "2,3", "--metrics",
                           "127.0.0.1:0"])
        la.start()
        wait_for("lcore 3", lambda: "lcore 3:" in la.log())
        url = metrics_url(la)
        ns_python(link, CLIENT_JSON_LINES, link.v4_ours, TCP_PORT, n_conns, per, timeout=300)
        want_bytes = json_lines_bytes(n_conns, per)
        wait_for("%d lines" % (n_conns * per), lambda: la.out_bytes() >= want_bytes, timeout=120,
                 step=0.2)
        # Replies on the workers' TX queues (telemetry) against what the engines sent (/metrics;
        # FINs are counted in "ack"): both read live, so until they agree (a reply counted and not
        # yet handed to the NIC), read again.
        seen = {}

        def replies_match():
            seen["q"] = telemetry(la.prefix, "/ethdev/stats,0")[0]["q_opackets"]
            seen["sent"] = sum(metric(url, 'logagg_tcp_tx_segments_total{kind="%s"}' % k)
                               for k in ("syn_ack", "ack", "rst"))
            return seen["q"][1] + seen["q"][2] == seen["sent"]
        try:
            wait_for("replies", replies_match, timeout=30, step=0.2)
        except Failure:
            raise Failure("worker TX queues sent %s, the engines %d" % (seen["q"][:3], seen["sent"]))
        q = seen["q"]
        la.stop()
        check_json_lines(la.lines(), n_conns, per)
        st = la.stats()
        check_tcp_invariants(st)
        t = st["tcp"]
        c = t["conns"]
        check(c["accepted"] == n_conns and c["closed"] == n_conns and c["reset_in"] == 0 and
              c["reset_out"] == 0 and c["refused"] == 0, "connections: %s" % c)
        # (A segment on a worker that does not own its connection would have found none there:
        # a second connection from a valid cookie, or a RST that resets the client's.)
        check(t["tx"]["failed"] == 0, "tx: %s" % t["tx"])
        roles = {l["lcore_id"]: (l["roles"], l["worker_packets"]) for l in st["lcores"]}
        check([roles[1][0], roles[2][0], roles[3][0]] == [["rx"], ["worker"], ["worker"]],
              "roles: %s" % roles)
        for w, lc in ((0, 2), (1, 3)):
            check((q[1 + w] > 0) == (roles[lc][1] > 0),
                  "worker %d (lcore %d): %d segments in, %d replies on its queue %d" %
                  (w, lc, roles[lc][1], q[1 + w], 1 + w))
        # 16 flows both on one worker: a 2^-15 chance with a uniform hash.
        check(roles[2][1] > 0 and roles[3][1] > 0, "one worker owns every connection: %s" % roles)
        check(st["messages"]["dropped_total"] == 0, "messages dropped: %s" % st["messages"])
    finally:
        if la is not None:
            la.kill()
        link.down()


CASES = {
    "pipeline": case_pipeline,
    "max_conns": case_max_conns,
    "listener_counters": case_listener_counters,
    "short_conns": case_short_conns,
    "rsyslog": case_rsyslog,
    "zero_window": case_zero_window,
    "shutdown": case_shutdown,
    "tiny_lines": case_tiny_lines,
    "logger": case_logger,
    "json_lines": case_json_lines,
    "json_lines_offloads_off": case_json_lines_offloads_off,
    "tap": case_tap,
}


if __name__ == "__main__":
    sys.exit(run_netns_cases(CASES, needs=("ip", "logger", "ethtool"), prefix="logagg-tcp-"))
