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
        wait_for("%d lines" % total, lambda: st_lines(la) >= total, timeout=120)
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
        print("%d lines over %d connections in %.2f s: %.0f lines/s (client's clock); segments "
              "%d (out of order %d), frames cut %d, span bytes copied %d, logagg CPU incl. "
              "children %.1f s" % (total, n_conns, secs, total / secs, t["segments"]["total"],
                                   t["segments"]["out_of_order"],
                                   st["packets"]["dropped"]["frame_truncated"],
                                   st["bytes_copied_by_reason"]["tcp_span"], cpu))
    finally:
        if la is not None:
            la.kill()
        link.down()


def st_lines(la):
    try:
        return sum(1 for _ in la.lines())
    except OSError:
        return 0


def case_json_lines(logagg, tmp):
    """1,000,000 JSON lines over 16 concurrent connections, default veth offloads (the sender's
    TSO hands AF_PACKET frames longer than the MTU): all arrive, in order per connection."""
    json_lines(logagg, tmp, False, 16, 62500)


def case_json_lines_offloads_off(logagg, tmp):
    """As json_lines with segmentation and checksum offloads off on both ends (a wire's view)."""
    json_lines(logagg, tmp, True, 16, 62500)


CASES = {
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
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
