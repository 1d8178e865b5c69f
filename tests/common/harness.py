# SPDX-License-Identifier: BSD-3-Clause
"""What the Python test runners share (tests/e2e/, tests/sinks/, tests/netns/): the failure type
and check(), the per-case environment that runs the real logagg binary through net_pcap with its
own --file-prefix and temp dir, the counter invariants every run must satisfy, and the command
line of a case runner (run_cases(); run_netns_cases() for the network-namespace tests): the
arguments, the root and tool checks, the temp dir, the exit status (0 pass, 1 fail, SKIP = 77
skipped with the reason printed). A module of its own, so no runner imports another."""

import argparse
import glob
import json
import os
import shutil
import subprocess
import tempfile

SKIP = 77


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


class Env:
    def __init__(self, logagg, case):
        self.logagg = logagg
        self.case = case
        self.tmp = tempfile.mkdtemp(prefix="logagg-e2e-%s-" % case)
        self.runs = 0

    def path(self, name):
        return os.path.join(self.tmp, name)

    def eal(self, pcap, lcores=None, extra=()):
        self.runs += 1
        prefix = "logagg-e2e-%s-%d-%d" % (self.case, os.getpid(), self.runs)
        args = [self.logagg]
        args += ["--lcores", lcores] if lcores and ("@" in lcores) else ["-l", lcores or "0-1"]
        args += ["--no-huge", "-m", "512", "--no-pci", "--file-prefix", prefix, "--log-level=error",
                 "--vdev=net_pcap0,rx_pcap=%s" % pcap]
        return args + list(extra)

    def run(self, pcap, opts, lcores=None, outdir=None, timeout=180, block=True, idle=True):
        """Runs logagg to completion; returns (result, stats dict or None, outdir)."""
        outdir = outdir or self.path("out%d" % (self.runs + 1))
        stats = self.path("stats%d.json" % (self.runs + 1))
        args = self.eal(pcap, lcores) + ["--", "--sink", "file:%s" % outdir, "--stats-json", stats]
        if idle:
            args += ["--exit-on-idle", "400"]
        if block:
            args += ["--on-sink-full", "block"]
        args += list(opts)
        res = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
        st = json.load(open(stats)) if os.path.exists(stats) else None
        return res, st, outdir

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def describe(res):
    return "exit %s\n--- stdout ---\n%s\n--- stderr ---\n%s" % (res.returncode, res.stdout[-4000:], res.stderr[-4000:])


def output_lines(outdir):
    """Concatenation of the segments in name order, split into lines."""
    data = b""
    for seg in sorted(glob.glob(os.path.join(outdir, "logagg-*.log"))):
        with open(seg, "rb") as f:
            data += f.read()
    check(data == b"" or data.endswith(b"\n"), "output does not end with LF")
    return data.split(b"\n")[:-1] if data else []


def check_invariants(st):
    p, m = st["packets"], st["messages"]
    check(p["dropped_total"] == sum(p["dropped"].values()), "packets.dropped_total is not the sum")
    check(m["dropped_total"] == sum(m["dropped"].values()), "messages.dropped_total is not the sum")
    check(p["received"] + p["reassembled"] == p["to_workers"] + p["answered"] + p["dropped_total"] + p["fragments_merged"],
          "received %d + reassembled %d != to_workers %d + answered %d + dropped %d + fragments merged %d"
          % (p["received"], p["reassembled"], p["to_workers"], p["answered"], p["dropped_total"], p["fragments_merged"]))
    check(p["answered"] == sum(p["replies"].values()), "answered is not the sum of replies")
    check(p["to_workers"] == p["framed_by_workers"], "to_workers != framed_by_workers")
    check(m["framed"] == m["routed"] + m["dropped_total"],
          "framed %d != routed %d + dropped %d" % (m["framed"], m["routed"], m["dropped_total"]))
    for k in st["sinks"]:
        check(k["dropped_total"] == sum(k["dropped"].values()), "sink %s: dropped_total is not the sum" % k["name"])
        check(k["in"] == k["delivered"] + k["dropped_total"] and k["in_flight"] == 0,
              "sink %s: in %d != delivered %d + dropped %d (in flight %d)"
              % (k["name"], k["in"], k["delivered"], k["dropped_total"], k["in_flight"]))
    check(m["delivered"] == sum(k["delivered"] for k in st["sinks"]), "messages.delivered is not the sum over sinks")
    for k in st["sinks"]:
        lat = k["latency_us"]
        check(k["delivered"] <= lat["timed"] <= k["delivered"] + k["dropped"]["write_error"],
              "sink %s: %d records timed, %d delivered" % (k["name"], lat["timed"], k["delivered"]))
        check(lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"], "sink %s: latency quantiles %s" % (k["name"], lat))
    check(st["invariants"] == {"packets": True, "messages": True, "sinks": True}, "invariants flagged false: %s" % st["invariants"])
    check(st["mbufs"]["in_use_at_exit"] == 0, "%d mbufs leaked" % st["mbufs"]["in_use_at_exit"])
    check_listener_sums(st)
    check(p["received"] == sum(l["rx_packets"] for l in st["lcores"]), "lcore rx_packets do not sum to received")
    check(sum(x["ipackets"] for x in st["ports"]) == p["received"], "port ipackets != packets.received")


def check_listener_sums(st):
    """Every frame a worker framed, and every message, belongs to exactly one listener (UDP or
    TCP; TCP segments to a port without a listener are packets.tcp_no_listener); at exit, so
    nothing is in flight. With TCP, the TCP listeners also sum to the engines' totals."""
    p, m = st["packets"], st["messages"]
    ls = st["listeners"]
    no_listener = p["tcp_no_listener"]
    check(sum(x["packets"] for x in ls) + no_listener == p["framed_by_workers"] and
          sum(x["messages"] for x in ls) == m["framed"] and
          sum(x["dropped"] for x in ls) == m["dropped_total"] and
          all(x["dropped"] <= x["messages"] for x in ls),
          "listeners do not sum to the totals: %s (framed_by_workers %d, tcp_no_listener %d, "
          "framed %d, dropped %d)" % (ls, p["framed_by_workers"], no_listener, m["framed"],
                                      m["dropped_total"]))
    tcp_ls = [x for x in ls if x["listener"].startswith("tcp:")]
    if "tcp" not in st:
        check(not tcp_ls and no_listener == 0, "TCP listeners without tcp counters: %s" % ls)
        return
    t = st["tcp"]
    # Segments counted per listener before --test-tcp-impair, which frees the ones it drops.
    given = t["segments"]["total"] + t.get("impair", {}).get("dropped", 0)
    check(sum(x["packets"] for x in tcp_ls) + no_listener == given,
          "TCP listeners' segments %d + %d to no listener != %d handed to the engines" %
          (sum(x["packets"] for x in tcp_ls), no_listener, given))
    check(sum(x["payload_bytes"] for x in tcp_ls) == t["bytes"]["delivered"],
          "TCP listeners' bytes %d != tcp.bytes.delivered %d" %
          (sum(x["payload_bytes"] for x in tcp_ls), t["bytes"]["delivered"]))
    check(sum(x["connections"] for x in tcp_ls) == t["conns"]["accepted"] and
          all(x["open_connections"] == 0 for x in tcp_ls),
          "TCP listeners' connections %s != tcp.conns.accepted %d (open at exit must be 0)" %
          ([(x["connections"], x["open_connections"]) for x in tcp_ls], t["conns"]["accepted"]))


def parse_case_args(cases, options=()):
    """The command line of a case runner: --logagg PATH --case NAME (optional when there is one
    case), plus `options` ((flag, help) pairs)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--logagg", required=True)
    only = sorted(cases)[0] if len(cases) == 1 else None
    ap.add_argument("--case", required=only is None, default=only, choices=sorted(cases))
    for flag, text in options:
        ap.add_argument(flag, help=text)
    return ap.parse_args()


def run_case(name, body):
    """Runs body() and says how case `name` ended: 0 passed, 1 FAILED (a Failure, printed), SKIP
    when body returns SKIP (the case printed why)."""
    try:
        if body() == SKIP:
            return SKIP
        print("%s: passed" % name)
        return 0
    except Failure as e:
        print("%s: FAILED: %s" % (name, e))
        return 1


def run_cases(cases, rootless=(), options=()):
    """The command line of a case runner: --logagg PATH --case NAME, plus `options` ((flag, help)
    pairs, available to cases as env.opts). Cases not in `rootless` need root (DPDK) and skip
    with a printed reason without it. Returns the exit status."""
    a = parse_case_args(cases, options)
    if a.case not in rootless and os.geteuid() != 0:
        print("skipped: DPDK with net_pcap needs root here (CI runs as root)")
        return SKIP
    env = Env(os.path.abspath(a.logagg), a.case)
    env.opts = a
    try:
        return run_case(a.case, lambda: cases[a.case](env))
    finally:
        env.close()


def run_netns_cases(cases, needs=("ip",), ready=None, prefix="logagg-netns-"):
    """The command line of a runner whose cases make network namespaces and veth pairs
    (tests/netns/): --logagg PATH --case NAME; each case is case(logagg, tmp) with the binary's
    absolute path and a temp dir removed afterwards (kept, and named, with LOGAGG_TEST_KEEP set).
    Skips, saying why, without root, without a tool of `needs`, or when `ready()` returns a
    reason. Returns the exit status."""
    a = parse_case_args(cases)
    if os.geteuid() != 0:
        print("skipped: network namespaces and veth pairs need root (CI runs as root)")
        return SKIP
    for tool in needs:
        if shutil.which(tool) is None:
            print("skipped: %s is not installed (scripts/lib/common.sh installs it)" % tool)
            return SKIP
    reason = ready() if ready else None
    if reason:
        print("skipped: " + reason)
        return SKIP
    tmp = tempfile.mkdtemp(prefix=prefix)
    try:
        return run_case(a.case, lambda: cases[a.case](os.path.abspath(a.logagg), tmp))
    finally:
        if os.environ.get("LOGAGG_TEST_KEEP"):
            print("kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
