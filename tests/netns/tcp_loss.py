#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Loss and reordering (issue 12): logagg's test-only impairment (--test-tcp-impair) drops one
received TCP segment in N and holds one in M back behind the next three, on a loss-free veth;
unmodified kernel clients in a namespace send numbered JSON lines over several connections and
must repair every loss and reordering themselves (duplicate ACKs, SACK, RTO, tail loss probes).
Every line must arrive exactly once and in order per connection, every connection must close
cleanly, and the impairment's counters must show it did drop and hold segments. Helpers:
tests/netns/tcp_common.py. Everything is removed afterwards.

    tests/netns/tcp_loss.py --logagg build/app/logagg/logagg --case drop_and_hold

Exit status: 0 pass, 1 fail, 77 skipped (with the reason printed).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tcp_common import (CLIENT_JSON_LINES, TCP_PORT, Failure, Link, Logagg, check,  # noqa: E402
                        check_json_lines, check_tcp_invariants, ns_python, run_netns_cases, wait_for)


def lossy(logagg, tmp, impair, n_conns, per, addr_of=lambda link: link.v4_ours):
    link = Link()
    la = None
    try:
        link.up()
        la = Logagg(logagg, link, tmp, listen=["tcp:%d:json" % TCP_PORT],
                    extra=["--test-tcp-impair", impair]).start()
        r = ns_python(link, CLIENT_JSON_LINES, addr_of(link), TCP_PORT, n_conns, per, timeout=90)
        secs = float(r.stdout.split()[0])
        total = n_conns * per
        # The clients returned once logagg had ACKed every byte and its FIN had come: the lines
        # are at the sink or on their way there.
        wait_for("%d lines" % total, lambda: len(la.lines()) >= total, timeout=30)
        la.stop()
        check_json_lines(la.lines(), n_conns, per)
        st = la.stats()
        check_tcp_invariants(st)
        t = st["tcp"]
        im = t["impair"]
        check(im["dropped"] > 0 and im["held"] > 0, "the impairment did nothing: %s" % im)
        check(t["conns"]["accepted"] == n_conns and t["conns"]["closed"] == n_conns and
              t["conns"]["reset_in"] == 0 and t["conns"]["reset_out"] == 0,
              "connections not all closed cleanly: %s" % t["conns"])
        check(t["segments"]["out_of_order"] > 0, "no segment arrived out of order: %s" % t["segments"])
        check(st["messages"]["dropped_total"] == 0, "messages dropped: %s" % st["messages"])
        print("%d lines over %d connections in %.2f s through %s: impair %s; segments %d, out of "
              "order %d, duplicate %d; bytes duplicate %d" % (
                  total, n_conns, secs, impair, im, t["segments"]["total"],
                  t["segments"]["out_of_order"], t["segments"]["duplicate"], t["bytes"]["duplicate"]))
    finally:
        if la is not None:
            la.kill()
        link.down()


def case_drop_and_hold(logagg, tmp):
    """One segment in 23 dropped, one in 17 held back behind the next three, 4 connections of
    5,000 lines each over IPv4 (default veth offloads)."""
    lossy(logagg, tmp, "drop=23,hold=17", 4, 5000)


def case_drop_and_hold_v6(logagg, tmp):
    """The same over IPv6, with heavier loss (one in 11) and holds behind six segments."""
    lossy(logagg, tmp, "drop=11,hold=7,after=6", 2, 4000, addr_of=lambda link: link.v6_ours)


CASES = {
    "drop_and_hold": case_drop_and_hold,
    "drop_and_hold_v6": case_drop_and_hold_v6,
}


if __name__ == "__main__":
    sys.exit(run_netns_cases(CASES, needs=("ip",), prefix="logagg-tcp-loss-"))
