#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""End-to-end tests: the real logagg binary, real DPDK (net_pcap), captures made by
scripts/gen_capture.py, and every output byte and counter checked.

    tests/e2e/e2e.py --logagg build/app/logagg/logagg --case basic

Exit status: 0 pass, 1 fail, 77 skipped (printed reason; meson's skip code).
"""

import argparse
import datetime
import glob
import gzip
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "tests", "common"))
import gen_capture  # noqa: E402
from harness import (SKIP, Env, Failure, check, check_invariants, describe,  # noqa: E402,F401
                     output_lines, run_cases)

def index_messages(cap):
    """message bytes -> (flow key, position in that flow)."""
    idx = {}
    for flow, msgs in cap.expected_messages_by_flow().items():
        for i, m in enumerate(msgs):
            check(m not in idx, "generator produced a duplicate message: %r" % m[:80])
            idx[m] = (flow, i)
    return idx


def check_order(cap, lines, complete):
    """Every line is an expected message, no line twice, per-flow order kept; all present if complete."""
    idx = index_messages(cap)
    last = {}
    seen = set()
    for n, line in enumerate(lines):
        check(line in idx, "output line %d is not an expected message: %r" % (n, line[:120]))
        check(line not in seen, "output line %d is duplicated: %r" % (n, line[:120]))
        seen.add(line)
        flow, i = idx[line]
        check(i > last.get(flow, -1), "flow %s out of order at output line %d" % (flow, n))
        last[flow] = i
    if complete:
        missing = len(idx) - len(seen)
        check(missing == 0, "%d expected messages missing from the output" % missing)
    else:
        # A prefix of each flow: no gaps before the last one seen.
        for flow, i in last.items():
            check(i + 1 == sum(1 for m, (f, _) in idx.items() if f == flow and idx[m][1] <= i),
                  "flow %s has a gap" % flow)
    return seen


def written(st):
    """Records the (single) sink delivered."""
    check(len(st["sinks"]) == 1, "written() needs exactly one sink")
    return st["sinks"][0]["delivered"]


def check_exact_stats(cap, st):
    exp = cap.expected_stats()
    check(st["packets"]["received"] == exp["packets"]["received"],
          "received %d, expected %d" % (st["packets"]["received"], exp["packets"]["received"]))
    for reason, n in st["packets"]["dropped"].items():
        want = exp["packets"]["dropped"].get(reason, 0)
        check(n == want, "packets.dropped.%s = %d, expected %d" % (reason, n, want))
    for reason in exp["packets"]["dropped"]:
        check(reason in st["packets"]["dropped"], "drop reason %s missing from stats" % reason)
    for k in ("reassembled", "fragments_merged"):
        check(st["packets"][k] == exp["packets"][k], "packets.%s = %d, expected %d" % (k, st["packets"][k], exp["packets"][k]))
    check(st["messages"]["framed"] == exp["messages"]["framed"], "messages.framed %d, expected %d"
          % (st["messages"]["framed"], exp["messages"]["framed"]))
    check(st["messages"]["empty_skipped"] == exp["messages"]["empty_skipped"], "empty_skipped %d, expected %d"
          % (st["messages"]["empty_skipped"], exp["messages"]["empty_skipped"]))
    check_only_appended(st)


def check_only_appended(st):
    """Raw output to file sinks: the only bytes copied are the short records appended to the
    sinks' byte rings (append-max), at most every message byte once per sink."""
    by = st["bytes_copied_by_reason"]
    check(st["bytes_copied"] == sum(by.values()), "bytes_copied %d is not the sum of %s" % (st["bytes_copied"], by))
    check(all(n == 0 for r, n in by.items() if r != "sink_append"), "bytes copied for a conversion: %s" % by)
    check(by["sink_append"] <= sum(k["in_bytes"] for k in st["sinks"]),
          "sink_append %d > the sinks' input bytes" % by["sink_append"])


def lossless(env, cap, opts=(), lcores=None, seed_name="in.pcap"):
    pcap = env.path(seed_name)
    cap.write_pcap(pcap)
    res, st, out = env.run(pcap, opts, lcores=lcores)
    check(res.returncode == 0, "logagg failed:\n" + describe(res))
    check(st is not None, "no stats JSON")
    check_invariants(st)
    check_exact_stats(cap, st)
    lines = output_lines(out)
    check(len(lines) == written(st), "%d lines in files, messages.written %d"
          % (len(lines), written(st)))
    check_order(cap, lines, complete=True)
    check(written(st) == st["messages"]["framed"], "messages lost")
    return st, out, res


def case_basic(env):
    cap = gen_capture.build(seed=11, n_messages=12000, flows=96)
    st, _, res = lossless(env, cap)
    check("lcore 1: rx+worker" in res.stdout, "role map not printed:\n" + res.stdout)


def case_pipeline(env):
    cap = gen_capture.build(seed=12, n_messages=10000, flows=80)
    st, _, _ = lossless(env, cap, opts=["--rx-lcores", "1", "--worker-lcores", "2"], lcores="0@0,1@1,2@0")
    roles = {l["lcore_id"]: l["roles"] for l in st["lcores"]}
    check(roles.get(2) == ["worker"] and roles.get(1) == ["rx"], "roles: %s" % roles)


def case_two_workers(env):
    cap = gen_capture.build(seed=13, n_messages=10000, flows=80)
    st, _, _ = lossless(env, cap, opts=["--rx-lcores", "1", "--worker-lcores", "2,3"],
                        lcores="0@0,1@1,2@0,3@1")
    per = {l["lcore_id"]: l["worker_packets"] for l in st["lcores"]}
    check(per.get(2, 0) > 0 and per.get(3, 0) > 0, "both workers must take traffic: %s" % per)


def case_single_lcore(env):
    cap = gen_capture.build(seed=14, n_messages=3000, flows=20)
    _, _, res = lossless(env, cap, lcores="0")
    check("only one lcore" in res.stdout, "the shared-lcore note is missing")


def case_pmd_power(env):
    """--pmd-power pause with --poll busy: DPDK's PMD power management on the RX queue (its RX
    callback pauses after empty polls) loses nothing; the lcores never sleep (the OS still
    counts them busy). monitor and scale need what net_pcap and a VM lack: start-up fails with
    exit 1 naming the port, queue and mode. Without --poll busy: a usage error."""
    cap = gen_capture.build(seed=15, n_messages=4000, flows=30)
    st, _, res = lossless(env, cap, opts=["--poll", "busy", "--pmd-power", "pause"])
    check("lcore 1: port 0 queue 0: PMD power management pause" in res.stdout,
          "the managed queue is not announced:\n" + res.stdout)
    check(all(lc["sleeps"] == 0 for lc in st["lcores"]), "--poll busy slept: %s" % st["lcores"])
    pcap = env.path("in.pcap")
    res, _, _ = env.run(pcap, ["--poll", "busy", "--pmd-power", "monitor"])
    check(res.returncode == 1, "--pmd-power monitor on net_pcap: " + describe(res))
    check("port 0 queue 0 (lcore 1): --pmd-power monitor:" in res.stderr, "no reason given:\n" + describe(res))
    res, _, _ = env.run(pcap, ["--pmd-power", "pause"])
    check(res.returncode == 2 and "--pmd-power pause: needs --poll busy" in res.stderr,
          "--pmd-power without --poll busy: " + describe(res))


def lcore_cpus(pid):
    """{thread name: Cpus_allowed_list} of logagg's lcore threads: the main lcore (the main
    thread) as "main", EAL's worker lcores by their thread names (rte-worker-N)."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            comm = open("/proc/%d/task/%s/comm" % (pid, tid)).read().strip()
            status = open("/proc/%d/task/%s/status" % (pid, tid)).read()
        except OSError:
            continue
        cpus = re.search(r"^Cpus_allowed_list:\s*(\S+)", status, re.M).group(1)
        if int(tid) == pid:
            out["main"] = cpus
        elif comm.startswith("rte-worker-"):
            out[comm] = cpus
    return out


def case_lcore_affinity(env):
    """--lcore-affinity: with --poll adaptive (the default) the lcore threads may run on any CPU
    of the lcores (-l 0-1: CPUs 0 and 1) while quiet, so a sleeping lcore is woken beside its
    waker; an lcore busy over 30% of 50 ms goes back to its own CPU (a replay from memory keeps
    the RX lcore busy) and shares again once quiet. pinned, and --poll busy by default, keep
    EAL's one CPU per lcore. A bad value is a usage error."""
    res, _, _ = env.run(env.path("none.pcap"), ["--lcore-affinity", "loose"])
    check(res.returncode == 2 and "--lcore-affinity: 'loose' is not" in res.stderr,
          "--lcore-affinity loose: " + describe(res))
    cap = gen_capture.build(seed=21, n_messages=2000, flows=8)
    pcap = env.path("in.pcap")
    cap.write_pcap(pcap)

    def run(name, opts, infinite=False, look_after=0.5, until_busy=False):
        out, stats, log = env.path(name), env.path(name + ".json"), env.path(name + ".log")
        args = env.eal(pcap + (",infinite_rx=1" if infinite else "")) + [
            "--", "--sink", "file:%s" % out, "--stats-json", stats] + opts
        if not infinite:
            args += ["--exit-on-idle", "3000"]
        proc = subprocess.Popen(args, stdout=open(log, "w"), stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + 30
            while "lcore 1: " not in open(log).read():
                check(proc.poll() is None and time.time() < deadline, "logagg did not start:\n" + open(log).read())
                time.sleep(0.05)
            if not infinite:
                # The capture is read in a moment; then the lcores are quiet. Complete lines
                # only: a write in progress may show a partial line to this reader.
                want = cap.expected_stats()["messages"]["framed"]
                while sum(open(f, "rb").read().count(b"\n")
                          for f in glob.glob(os.path.join(out, "logagg-*.log"))) < want:
                    check(proc.poll() is None and time.time() < deadline, "the capture was not written")
                    time.sleep(0.05)
            # Quiet lcores wake at least every 100 ms and look at their last 50 ms; a busy one
            # changes at its first look after 50 ms. Wait until the expected state shows, then
            # take it (a deadline, not a sleep, decides failure).
            time.sleep(look_after)  # past the start, when EAL's pinning still shows
            seen = lcore_cpus(proc.pid)
            end = time.time() + 5.0
            while time.time() < end and not until_busy(seen):
                time.sleep(0.05)
                seen = lcore_cpus(proc.pid)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        text = open(log).read()
        check(proc.returncode == 0, "%s: exit %d:\n%s" % (name, proc.returncode, text))
        st = json.load(open(stats))
        check_invariants(st)
        return seen, st, text

    shared = lambda seen: seen.get("main") == "0-1" and seen.get("rte-worker-1") == "0-1"
    pinned = lambda seen: seen.get("main") == "0" and seen.get("rte-worker-1") == "1"
    # Default (adaptive): shared while quiet.
    seen, st, text = run("quiet", [], until_busy=shared)
    check("lcores share CPUs 0,1 while quiet" in text, "no affinity line:\n" + text)
    check(shared(seen), "quiet lcores do not share CPUs 0-1: %s" % seen)
    # A replay from memory: the RX lcore is busy all the time: its own CPU, and it says so.
    busy_rx = lambda seen: seen.get("rte-worker-1") == "1"
    seen, st, text = run("busy", ["--on-sink-full", "drop"], infinite=True, look_after=1.0, until_busy=busy_rx)
    check(busy_rx(seen), "a busy RX lcore is not on its own CPU: %s" % seen)
    rx = [lc for lc in st["lcores"] if lc["lcore_id"] == 1][0]
    check(rx["affinity_changes"] >= 1, "the busy RX lcore never moved: %s" % rx)
    # Pinned, asked for or by --poll busy.
    for name, opts in (("pinned", ["--lcore-affinity", "pinned"]), ("busy_poll", ["--poll", "busy"])):
        seen, st, text = run(name, opts, until_busy=pinned)
        check(pinned(seen), "%s: lcores not pinned: %s" % (name, seen))
        check("share CPUs" not in text, "%s: the lcores share CPUs:\n%s" % (name, text))
        check(all(lc["affinity_changes"] == 0 for lc in st["lcores"]), "%s: moved: %s" % (name, st["lcores"]))


def case_rotation_segments(env):
    cap = gen_capture.build(seed=15, n_messages=20000, flows=50)
    pcap = env.path("in.pcap")
    cap.write_pcap(pcap)
    out = env.path("rot")
    stats = env.path("rot.json")
    args = env.eal(pcap) + ["--", "--sink", "file:%s,rotate-bytes=64K" % out, "--stats-json", stats,
                            "--exit-on-idle", "400", "--on-sink-full", "block"]
    res = subprocess.run(args, capture_output=True, text=True, timeout=180)
    check(res.returncode == 0, describe(res))
    st = json.load(open(stats))
    check_invariants(st)
    segs = sorted(glob.glob(os.path.join(out, "logagg-*.log")))
    check(len(segs) >= 5, "expected several segments, got %d" % len(segs))
    check(st["sinks"][0]["segments"] == len(segs), "sinks[0].segments %d != %d files"
          % (st["sinks"][0]["segments"], len(segs)))
    for s in segs:
        size = os.path.getsize(s)
        check(0 < size <= 65536, "segment %s has %d bytes" % (s, size))
    lines = output_lines(out)
    check_order(cap, lines, complete=True)


def case_sigterm(env):
    cap = gen_capture.build(seed=16, n_messages=300000, flows=64, noise=False, malformed=False)
    pcap = env.path("big.pcap")
    cap.write_pcap(pcap)
    out = env.path("out")
    stats = env.path("stats.json")
    args = env.eal(pcap) + ["--", "--sink", "file:%s,batch-records=256" % out, "--stats-json", stats,
                            "--on-sink-full", "block",
                            "--sink-ring-size", "4096", "--test-sink-delay-us", "5000"]
    # The sink writes at most 256 messages per 5 ms, so reading the 300,000 messages takes about
    # 6 s: far longer than the wait for the first segment below, even on a loaded machine. The
    # small sink ring keeps the drain after SIGTERM short (4,096 messages).
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Wait until data flows, then interrupt while the capture is still being read.
    deadline = time.time() + 60
    while time.time() < deadline and not glob.glob(os.path.join(out, "logagg-*.log")):
        time.sleep(0.05)
    time.sleep(0.3)
    check(proc.poll() is None, "logagg finished before SIGTERM; make the input larger")
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    check(proc.returncode == 0, "exit %d after SIGTERM\n%s\n%s" % (proc.returncode, stdout[-3000:], stderr[-3000:]))
    check("signal received" in stdout, "no shutdown message")
    st = json.load(open(stats))
    check_invariants(st)
    check(st["packets"]["received"] < len(cap.frames), "the whole input was read before SIGTERM")
    check(st["messages"]["dropped_total"] == 0, "messages dropped in block mode: %s" % st["messages"]["dropped"])
    check(st["sinks"][0]["dropped_total"] == 0, "sink dropped in block mode: %s" % st["sinks"][0]["dropped"])
    lines = output_lines(out)
    check(len(lines) == written(st) == st["messages"]["framed"],
          "lines %d, written %d, framed %d" % (len(lines), written(st), st["messages"]["framed"]))
    check(len(lines) > 0, "nothing written")
    check_order(cap, lines, complete=False)


def case_drop_mode(env):
    cap = gen_capture.build(seed=17, n_messages=20000, flows=40, noise=False, malformed=False)
    pcap = env.path("in.pcap")
    cap.write_pcap(pcap)
    res, st, out = env.run(pcap, ["--sink-ring-size", "64", "--test-sink-delay-us", "3000", "--on-sink-full", "drop"],
                           block=False)
    check(res.returncode == 0, describe(res))
    check_invariants(st)
    dropped = st["sinks"][0]["dropped"]["sink_full"]
    check(dropped > 0, "a slow sink in drop mode must drop (and count)")
    lines = output_lines(out)
    check(len(lines) == written(st), "lines %d != written %d" % (len(lines), written(st)))
    check(written(st) + dropped == st["messages"]["framed"] == 20000, "accounting: %s" % st["messages"])
    idx = index_messages(cap)
    last = {}
    for line in lines:
        check(line in idx, "unexpected line %r" % line[:80])
        flow, i = idx[line]
        check(i > last.get(flow, -1), "per-flow order broken in drop mode")
        last[flow] = i


def case_replay_blocks(env):
    """A capture replay without --on-sink-full blocks rather than drops (a capture file can wait
    for the sink), and the banner says why; with a slow sink, a small buffer and small rings,
    nothing is lost. The same run with an explicit --on-sink-full drop does drop, so the first
    half would catch a replay that dropped."""
    cap = gen_capture.build(seed=23, n_messages=20000, flows=40, noise=False, malformed=False)
    pcap = env.path("in.pcap")
    cap.write_pcap(pcap)
    why = "on sink full: block, the default when every port replays a capture file"

    def run(name, opts):
        out, stats = env.path(name), env.path(name + ".json")
        args = env.eal(pcap) + ["--", "--sink", "file:%s,buffer=64K" % out, "--stats-json", stats,
                                "--exit-on-idle", "400", "--sink-ring-size", "64",
                                "--test-sink-delay-us", "3000"] + opts
        res = subprocess.run(args, capture_output=True, text=True, timeout=300)
        check(res.returncode == 0, describe(res))
        st = json.load(open(stats))
        check_invariants(st)
        lines = output_lines(out)
        check(len(lines) == written(st), "lines %d != written %d" % (len(lines), written(st)))
        return res, st, lines

    res, st, lines = run("default", [])
    banner = res.stdout.splitlines()
    check(banner and "; on sink full: block;" in banner[0], "banner does not say block: %r" % banner[:1])
    check(sum(why in l for l in banner) == 1, "no one line saying why block:\n%s" % res.stdout[:2000])
    k = st["sinks"][0]
    check(k["dropped_total"] == 0 and st["messages"]["dropped_total"] == 0 and st["packets"]["dropped_total"] == 0,
          "a replay dropped: sink %s, messages %s, packets %s" % (k["dropped"], st["messages"]["dropped"],
                                                                 st["packets"]["dropped"]))
    check(written(st) == st["messages"]["framed"] == 20000, "messages lost: %s" % st["messages"])
    check_order(cap, lines, complete=True)

    res, st, lines = run("drop", ["--on-sink-full", "drop"])
    banner = res.stdout.splitlines()
    check(banner and "; on sink full: drop;" in banner[0] and why not in res.stdout,
          "explicit drop: banner %r" % banner[:2])
    dropped = st["sinks"][0]["dropped_total"]
    check(dropped > 0, "the same replay with --on-sink-full drop dropped nothing: the test could not fail")
    check(written(st) + dropped == st["messages"]["framed"] == 20000, "accounting: %s" % st["messages"])
    print("default: %d delivered, 0 dropped; --on-sink-full drop: %d delivered, %d dropped (%s)"
          % (20000, written(st), dropped, st["sinks"][0]["dropped"]))


def case_full_disk(env):
    if os.geteuid() != 0:
        print("skipped: mounting a small tmpfs needs root")
        return SKIP
    mnt = env.path("full")
    os.makedirs(mnt)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt], capture_output=True, text=True)
    if r.returncode != 0:
        print("skipped: cannot mount tmpfs: %s" % r.stderr.strip())
        return SKIP
    try:
        cap = gen_capture.build(seed=18, n_messages=3000, flows=10, noise=False, malformed=False)
        pcap = env.path("in.pcap")
        cap.write_pcap(pcap)
        res, st, out = env.run(pcap, [], outdir=mnt)
        check(res.returncode == 0, "a full disk must not fail the run:\n" + describe(res))
        check("No space left on device" in res.stderr, "no clear error line:\n" + res.stderr[-2000:])
        check_invariants(st)
        werr = st["sinks"][0]["dropped"]["write_error"]
        check(werr > 0 and written(st) > 0, "messages: %s" % st["messages"])
        check(st["sinks"][0]["write_errors"] > 0, "sink write_errors not counted")
        lines = output_lines(out)  # also checks the file ends on a whole line
        check(len(lines) == written(st), "file holds %d lines, written %d" % (len(lines), written(st)))
        idx = index_messages(cap)
        for line in lines:
            check(line in idx, "partial or foreign line in the file: %r" % line[:80])
    finally:
        subprocess.run(["umount", mnt])


def case_jumbo(env):
    cap = gen_capture.build(seed=19, n_messages=6000, flows=30, jumbo=True)
    check(max(len(f) for f in cap.frames) > 2200, "no multi-segment frames generated")
    lossless(env, cap)


def case_framing(env):
    """datagram, octet and auto framing on their own ports, oversize truncation."""
    fl = [gen_capture.Flow(i, __import__("random").Random(i)) for i in range(4)]
    cap = gen_capture.Capture()
    f = fl[0]
    cap.add_log(f.datagram(b"multi\nline\r\n", 5514), f.key, [b"multi", b"line"], 0)  # datagram: 1 msg, 2 lines
    cap.add_log(f.datagram(b"5 hello11 hello world", 6514), f.key, [b"hello", b"hello world"], 0)
    cap.add_log(f.datagram(b"4 abc", 6514), f.key, [], 0)  # framing error: frame longer than datagram
    cap.add_log(f.datagram(b"3 abc<13>x", 7514), f.key, [b"abc"], 0)  # auto -> octet, then error
    cap.add_log(f.datagram(b"<13>auto\nlines", 7514), f.key, [b"<13>auto", b"lines"], 0)
    cap.add_log(f.datagram(b"y" * 100, 514), f.key, [b"y" * 64], 0)
    pcap = env.path("framing.pcap")
    cap.write_pcap(pcap)
    res, st, out = env.run(pcap, ["--listen", "udp:514", "--listen", "udp:5514,framing=datagram",
                                  "--listen", "udp:6514,framing=octet", "--listen", "udp:7514,framing=auto",
                                  "--max-msg", "64"])
    check(res.returncode == 0, describe(res))
    check_invariants(st)
    lines = output_lines(out)
    want = [b"multi", b"line", b"hello", b"hello world", b"abc", b"<13>auto", b"lines", b"y" * 64]
    check(lines == want, "framing output %r" % lines)
    m = st["messages"]
    check(m["framed"] == 7 and m["truncated"] == 1 and m["framing_errors"] == 2, "messages: %s" % m)


def case_append(env):
    """File sinks append records of at most append-max bytes to the worker's byte ring (counted
    as bytes_copied_by_reason.sink_append) and write longer ones from the packets: the output is
    the same byte for byte with append-max at its default, at 100 (mixed datagrams) and at 0
    (every record by reference), and sink_append is exactly the bytes of the appended records.
    Drop mode with drop=oldest and a small buffer keeps the counts whole."""
    rnd = __import__("random").Random(11)
    fl = [gen_capture.Flow(i, __import__("random").Random(100 + i)) for i in range(3)]
    cap = gen_capture.Capture()
    lines = []

    def line(n, i):
        head = b"<13>1 - h app - - - %06d " % i
        return head + bytes(rnd.choice(b"abcdefghij") for _ in range(max(0, n - len(head))))

    i = 0
    for k in range(3000):
        f = fl[k % len(fl)]
        # One to four lines per datagram, lengths around both cut-offs (100 and 512).
        msgs = [line(rnd.choice([30, 99, 100, 101, 250, 511, 512, 513, 900]), i + j)
                for j in range(rnd.randint(1, 4))]
        i += len(msgs)
        cap.add_log(f.datagram(b"\n".join(msgs) + b"\n", 514), f.key, msgs, 0)
        lines += msgs
    # Jumbo datagrams: short lines across the mbuf segment boundary are appended piece by piece.
    for k in range(20):
        f = fl[k % len(fl)]
        msgs = [line(299, i + j) for j in range(10)]
        i += len(msgs)
        cap.add_log(f.datagram(b"\n".join(msgs) + b"\n", 514), f.key, msgs, 0)
        lines += msgs
    pcap = env.path("append.pcap")
    cap.write_pcap(pcap)
    for param, cut in (("", 512), (",append-max=100", 100), (",append-max=0", 0)):
        out = env.path("out-append%s" % (cut,))
        res, st, _ = env_run_sink(env, pcap, ["--max-msg", "4096"], "file:%s%s" % (out, param), None)
        check(res.returncode == 0, describe(res))
        check_invariants(st)
        got = output_lines(out)
        check(got == lines, "append-max=%d: output differs (%d lines, %d expected)" % (cut, len(got), len(lines)))
        by = st["bytes_copied_by_reason"]
        want = sum(len(l) for l in lines if len(l) <= cut)
        check(by["sink_append"] == want, "append-max=%d: sink_append %d, expected %d" % (cut, by["sink_append"], want))
        check(st["bytes_copied"] == want, "append-max=%d: bytes_copied %d, expected %d: %s"
              % (cut, st["bytes_copied"], want, by))
        check(st["mbufs"]["in_use_at_exit"] == 0, "mbufs leaked")
        print("append-max=%d: %d lines, sink_append %d bytes, %d batches"
              % (cut, len(got), by["sink_append"], st["sinks"][0]["batches"]))
    # Octet framing: appended records carry their count in the byte ring; the segment is the
    # input's messages, each after its count, exactly as the reference path writes them.
    want_octet = b"".join(b"%d %s" % (len(l), l) for l in lines)
    for param, cut in (("", 512), (",append-max=0", 0)):
        out = env.path("out-append-octet%s" % (cut,))
        res, st, _ = env_run_sink(env, pcap, ["--max-msg", "4096"],
                                  "file:%s,framing=octet%s" % (out, param), None)
        check(res.returncode == 0, describe(res))
        check_invariants(st)
        got = b"".join(open(seg, "rb").read() for seg in sorted(glob.glob(os.path.join(out, "logagg-*.log"))))
        check(got == want_octet, "octet, append-max=%d: output differs (%d bytes, %d expected)"
              % (cut, len(got), len(want_octet)))
        want = sum(len(l) for l in lines if len(l) <= cut)
        by = st["bytes_copied_by_reason"]
        check(by["sink_append"] == want, "octet, append-max=%d: sink_append %d, expected %d"
              % (cut, by["sink_append"], want))
        check(st["sinks"][0]["bytes"] == len(want_octet), "octet: delivered bytes %d, expected %d"
              % (st["sinks"][0]["bytes"], len(want_octet)))
        check(st["mbufs"]["in_use_at_exit"] == 0, "mbufs leaked")
        print("octet, append-max=%d: %d bytes, sink_append %d bytes, %d batches"
              % (cut, len(got), by["sink_append"], st["sinks"][0]["batches"]))
    # Drop mode, drop=oldest, a 64 KiB buffer and a slow sink: records are dropped at the buffer
    # bound (appended ones cost their bytes), every one is counted, and what is written is whole
    # lines of the input in order.
    out = env.path("out-append-oldest")
    stats = env.path("append-oldest.json")
    args = env.eal(pcap) + ["--", "--sink", "file:%s,buffer=64K,drop=oldest" % out, "--stats-json", stats,
                            "--exit-on-idle", "400", "--on-sink-full", "drop", "--max-msg", "4096",
                            "--test-sink-delay-us", "3000"]
    res = subprocess.run(args, capture_output=True, text=True, timeout=300)
    check(res.returncode == 0, describe(res))
    st = json.load(open(stats))
    check_invariants(st)
    got = output_lines(out)
    k = st["sinks"][0]
    check(len(got) == k["delivered"], "lines %d != delivered %d" % (len(got), k["delivered"]))
    check(k["dropped"]["buffer_full"] > 0, "drop=oldest dropped nothing: %s" % k["dropped"])
    pos = {l: n for n, l in enumerate(lines)}
    idx = [pos.get(l, -1) for l in got]
    check(all(x >= 0 for x in idx) and idx == sorted(idx), "drop=oldest output is not whole input lines in order")
    print("drop=oldest: %d delivered, dropped %s" % (k["delivered"], k["dropped"]))


def raw_output(outdir):
    data = b""
    for seg in sorted(glob.glob(os.path.join(outdir, "logagg-*.log"))):
        with open(seg, "rb") as f:
            data += f.read()
    return data


def case_formats(env):
    """Parsing and the ndjson / rfc5424 encoders through the binary; --on-parse-error drop."""
    f = gen_capture.Flow(0, __import__("random").Random(0))
    cap = gen_capture.Capture()
    msgs = [
        b'<165>1 2003-10-11T22:14:15.003Z host.example.com app 42 ID47 '
        b'[ex@32473 k="a\\"b\\]c"] hello "quoted"\ttab',
        b'{"level":"warning","msg":"disk \\"full\\"","time":"2024-03-01T10:00:00Z","n":{"a":[1,2]}}',
        b"<34>Oct 11 22:14:15 mymachine su: bad byte \xff and ctl \x01",
        b'{"msg": broken',
        b"<999>1 - - - - - bad pri",
    ]
    for m in msgs:
        cap.add_log(f.datagram(m, 514), f.key, [m], 0)
    pcap = env.path("formats.pcap")
    cap.write_pcap(pcap)
    # ndjson, auto detection, pipeline roles (RX, worker, sink on separate lcores)
    outdir = env.path("nd")
    args = ["--listen", "udp:514"]
    res, st, out = env_run_sink(env, pcap, args, "file:%s,format=ndjson" % outdir, "0@0,1@1,2@1")
    check(res.returncode == 0, describe(res))
    check_invariants(st)
    recs = [json.loads(line) for line in output_lines(out)]
    check(len(recs) == 5, "ndjson: %d records" % len(recs))
    r = recs[0]
    check(r["format"] == "rfc5424" and r["ts"] == "2003-10-11T22:14:15.003000000Z" and r["host"] == "host.example.com"
          and r["app"] == "app" and r["procid"] == "42" and r["msgid"] == "ID47" and r["severity"] == 5
          and r["facility"] == 20 and r["message"] == 'hello "quoted"\ttab'
          and r["sd"] == {"ex@32473": {"k": 'a"b]c'}} and r["source"].endswith(":%d" % f.sport), "rfc5424 record %r" % r)
    r = recs[1]
    check(r["format"] == "json" and r["severity"] == 4 and r["message"] == 'disk "full"'
          and r["log"]["n"]["a"] == [1, 2] and r["ts"] == "2024-03-01T10:00:00.000000000Z", "json record %r" % r)
    r = recs[2]
    # RFC 3164: the year comes from the receive time (this year, or last year for a future date).
    check(r["format"] == "rfc3164" and r["host"] == "mymachine" and r["app"] == "su"
          and r["severity"] == 2 and r["facility"] == 4 and r["ts"].endswith("-10-11T22:14:15.000000000Z")
          and int(r["ts"][:4]) in (time.gmtime().tm_year, time.gmtime().tm_year - 1)
          and r["message"] == "bad byte \ufffd and ctl \x01", "rfc3164 record %r" % r)
    r = recs[3]
    check(r["format"] == "json" and r.get("flags") == ["parse_error"] and r["message"] == '{"msg": broken', "bad json %r" % r)
    r = recs[4]
    check(r["format"] == "rfc5424" and r.get("flags") == ["parse_error"], "bad rfc5424 %r" % r)
    p = st["parse"]
    check(p["records"]["rfc5424"] == 1 and p["records"]["json"] == 1 and p["records"]["rfc3164"] == 1
          and p["json_errors"]["invalid"] == 1
          and p["rfc5424_errors"]["bad_pri"] == 1, "parse counters %s" % p)
    check(st["bytes_copied"] > 0, "short fields are copied and counted")

    # rfc5424 output: octet-counted frames that parse back
    outdir = env.path("r5")
    res, st, out = env_run_sink(env, pcap, args, "file:%s,format=rfc5424" % outdir, None)
    check(res.returncode == 0, describe(res))
    data = raw_output(out)
    frames = []
    while data:
        sp = data.index(b" ")
        n = int(data[:sp])
        frames.append(data[sp + 1:sp + 1 + n])
        data = data[sp + 1 + n:]
    check(len(frames) == 5 and all(fr.startswith(b"<") for fr in frames), "rfc5424 frames %r" % frames)
    check(frames[0].startswith(b'<165>1 2003-10-11T22:14:15.003000Z host.example.com app 42 ID47 [ex@32473'),
          "frame 0 %r" % frames[0])
    check(frames[1] == b'<12>1 2024-03-01T10:00:00.000000Z - - - - - disk "full"', "frame 1 %r" % frames[1])

    # --on-parse-error drop on a json listener: only the one valid object survives
    outdir = env.path("drop")
    res, st, out = env_run_sink(env, pcap, ["--listen", "udp:514:json", "--on-parse-error", "drop"],
                                "file:%s" % outdir, None)
    check(res.returncode == 0, describe(res))
    check_invariants(st)
    lines = output_lines(out)
    check(lines == [msgs[1]], "drop: %r" % lines)
    check(st["messages"]["dropped"]["parse_error"] == 4, "drop counters %s" % st["messages"])

    # The whole sample as ndjson: every line is JSON, nothing lost
    sample = os.path.join(ROOT, "docs", "samples", "sample.pcap")
    outdir = env.path("sample")
    res, st, out = env_run_sink(env, sample, [], "file:%s,format=ndjson" % outdir, None)
    check(res.returncode == 0, describe(res))
    check_invariants(st)
    lines = output_lines(out)
    check(len(lines) == 4000, "sample ndjson: %d lines" % len(lines))
    for line in lines:
        json.loads(line)


def case_strict(env):
    """RFC 5424 strictness, repeated names, big numbers and replaced bytes through the binary."""
    f = gen_capture.Flow(0, __import__("random").Random(0))
    cap = gen_capture.Capture()
    big = "1444" + "4" * 63  # a 67-digit integer: valid JSON, beyond any 64-bit type
    msgs = [
        b"<34>1 - h a p m [id1][id1] repeated SD-ID",
        b"<34>1 - h a p m - \xef\xbb\xbf\xc0\xaf overlong after a BOM",
        b'<34>1 - h a p m [origin ip="192.0.2.1" ip="192.0.2.2" ip#2="x"][id k="C:\\new"] ok',
        ('{"msg":"m","a":1,"a":{"b":1,"b":2},"time":%s}' % big).encode(),
        b"<13>Oct 11 22:14:15 host app: caf\xe9",
    ]
    for m in msgs:
        cap.add_log(f.datagram(m, 514), f.key, [m], 0)
    pcap = env.path("strict.pcap")
    cap.write_pcap(pcap)
    outdir = env.path("strict")
    res, st, out = env_run_sink(env, pcap, ["--listen", "udp:514"], "file:%s,format=ndjson" % outdir, None)
    check(res.returncode == 0, describe(res))
    check_invariants(st)

    def no_repeats(pairs):
        keys = [k for k, _ in pairs]
        check(len(keys) == len(set(keys)), "an object with a repeated key: %r" % keys)
        return dict(pairs)
    recs = [json.loads(line, object_pairs_hook=no_repeats) for line in output_lines(out)]
    check(len(recs) == 5, "strict: %d records" % len(recs))
    check(recs[0]["format"] == "rfc5424" and recs[0].get("flags") == ["parse_error"]
          and recs[0]["message"] == msgs[0].decode(), "repeated SD-ID: %r" % recs[0])
    check(recs[1]["format"] == "rfc5424" and recs[1].get("flags") == ["parse_error", "replaced_invalid_utf8"]
          and recs[1]["message"] == msgs[1].decode("utf-8", "replace"), "BOM, not UTF-8: %r" % recs[1])
    r = recs[2]
    check("flags" not in r and r["sd"] == {"origin": {"ip": "192.0.2.1", "ip#2": "192.0.2.2", "ip#2#2": "x"},
                                          "id": {"k": "C:\\new"}}, "repeated PARAM-NAMEs: %r" % r)
    r = recs[3]
    check(r["format"] == "json" and "flags" not in r and r["ts"] is None
          and r["log"] == {"msg": "m", "a": 1, "a#2": {"b": 1, "b#2": 2}, "time": int(big)}, "json: %r" % r)
    check(recs[4]["format"] == "rfc3164" and recs[4].get("flags") == ["replaced_invalid_utf8"]
          and recs[4]["message"] == "caf\ufffd", "rfc3164: %r" % recs[4])
    e = st["parse"]["rfc5424_errors"]
    check(e["repeated_sd_id"] == 1 and e["bad_utf8"] == 1 and st["parse"]["records"]["json"] == 1,
          "parse counters %s" % st["parse"])


def env_run_sink(env, pcap, opts, sink, lcores):
    stats = env.path("stats-%d.json" % (env.runs + 1))
    args = env.eal(pcap, lcores) + ["--", "--sink", sink, "--stats-json", stats, "--exit-on-idle", "400",
                                    "--on-sink-full", "block"] + list(opts)
    res = subprocess.run(args, capture_output=True, text=True, timeout=180)
    st = json.load(open(stats)) if os.path.exists(stats) else None
    return res, st, sink.split(":", 1)[1].split(",")[0]


def case_sample(env):
    sample = os.path.join(ROOT, "docs", "samples", "sample.pcap")
    if not os.path.exists(sample):
        raise Failure("docs/samples/sample.pcap is missing")
    cap = gen_capture.build(seed=1, n_messages=4000)
    tmp = env.path("regen.pcap")
    cap.write_pcap(tmp)
    check(open(tmp, "rb").read() == open(sample, "rb").read(),
          "docs/samples/sample.pcap is not what scripts/gen_capture.py --seed 1 --messages 4000 makes")
    res, st, out = env.run(sample, [])
    check(res.returncode == 0, describe(res))
    check_invariants(st)
    check_exact_stats(cap, st)
    check(len(output_lines(out)) == 4000, "sample: expected 4000 messages")


FACILITIES = dict([("kern", 0), ("user", 1), ("mail", 2), ("daemon", 3), ("auth", 4), ("syslog", 5),
                   ("lpr", 6), ("news", 7), ("uucp", 8), ("cron", 9), ("authpriv", 10), ("ftp", 11)]
                  + [("local%d" % i, 16 + i) for i in range(8)])
SEVERITY = {name: i for i, name in enumerate(gen_capture.SEVERITIES)}


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def rfc3339_ns(dt, ns):
    """An aware datetime (whole seconds taken) and a nanosecond fraction as logagg writes them."""
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + ".%09dZ" % ns


def run_logagg(env, pcap, opts, lcores=None):
    """Runs logagg with opts as given (sinks included) to a clean exit; checks the invariants.
    Returns (result, stats dict)."""
    stats = env.path("stats-%d.json" % (env.runs + 1))
    args = env.eal(pcap, lcores) + ["--", "--stats-json", stats, "--exit-on-idle", "400",
                                    "--on-sink-full", "block"] + list(opts)
    res = subprocess.run(args, capture_output=True, text=True, timeout=180)
    st = json.load(open(stats)) if os.path.exists(stats) else None
    check(res.returncode == 0, "logagg failed:\n" + describe(res))
    check(st is not None, "no stats JSON")
    check_invariants(st)
    return res, st


def sd_escape(v):
    """An RFC 5424 PARAM-VALUE (section 6.3.3: '"', '\\' and ']' escaped)."""
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def case_logger(env):
    """util-linux logger over UDP on loopback: its datagrams replayed through the binary, every
    ndjson field checked, and the raw output byte for byte."""
    if shutil.which("logger") is None:
        print("skipped: util-linux logger is not installed")
        return SKIP
    helptext = subprocess.run(["logger", "--help"], capture_output=True, text=True).stdout
    has_sd = "--sd-id" in helptext and "--sd-param" in helptext
    has_octet = "--octet-count" in helptext
    if not has_sd:
        print("note: this logger has no --sd-id/--sd-param: RFC 5424 structured data not checked")
    if not has_octet:
        print("note: this logger has no --octet-count: the octet-counted sub-part is skipped")
    sd_id = "ex@32473"
    # (mode, tag, priority, --id, --msgid, SD params, body, TZ of the sender, octet counting)
    sends = [
        ("rfc5424", "app-one", "local3.warning", 4242, "M1", [("k", "v1"), ("n", 'quote "x" ]b\\s')],
         "quotes \"double\" and 'single', a back\\slash and [brackets]", "UTC0", False),
        ("rfc5424", "app.two", "user.err", 7, None, [],
         "UTF-8: caf\u00e9 \u65e5\u672c\u8a9e \U0001F600 \u00fc", "XST-5:30", False),
        ("rfc5424", "tabber", "daemon.info", 1, None, [("a", "1"), ("t", "tab\there")],
         "tab\there\tand\tthere", "XST+7", False),
        ("rfc3164", "bsdapp", "user.err", 77, None, [], "say \"hi\" 'there' \\ done", "UTC0", False),
        ("rfc3164", "bsd-two", "local7.debug", 31337, None, [],
         "gr\u00fc\u00dfe\t\u00fcber tab \u20ac", "UTC0", False),
        ("rfc3164", "mailer", "mail.notice", 12, None, [], "  lead and trail  ", "UTC0", False),
        ("rfc5424", "oc-5424", "auth.crit", 55, "OC", [("q", "w")],
         "octet \"counted\" caf\u00e9\tx", "UTC0", True),
        ("rfc3164", "oc-3164", "local0.alert", 66, None, [], "octet bsd \u00fc\t\"q\"", "UTC0", True),
    ]
    if not has_octet:
        sends = [s for s in sends if not s[8]]
    hostname = socket.gethostname()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(60)  # liveness only: logger has already exited when we read
    port = sock.getsockname()[1]
    datagrams = []
    dates = []  # (UTC before, UTC after) each send
    try:
        for mode, tag, prio, pid, msgid, sd, body, tz, octet in sends:
            args = ["logger", "-n", "127.0.0.1", "-P", str(port), "-d", "--" + mode, "-t", tag, "-p", prio,
                    "--id=%d" % pid]
            if msgid:
                args += ["--msgid", msgid]
            if sd and has_sd:
                args += ["--sd-id", sd_id]
                for k, v in sd:
                    args += ["--sd-param", '%s="%s"' % (k, sd_escape(v))]
            if octet:
                args += ["--octet-count"]
            before = utc_now()
            r = subprocess.run(args + [body], capture_output=True, text=True, env=dict(os.environ, TZ=tz))
            check(r.returncode == 0, "%s: exit %d: %s" % (args, r.returncode, r.stderr))
            try:
                data, _ = sock.recvfrom(65535)
            except socket.timeout:
                raise Failure("no datagram from %s" % args)
            dates.append((before, utc_now()))
            datagrams.append(data)
    finally:
        sock.close()
    def octet_counted(d):
        m = re.match(rb"(\d+) ", d)
        return m is not None and int(m[1]) == len(d) - len(m[0])

    if not all(octet_counted(d) for s, d in zip(sends, datagrams) if s[8]):
        print("note: this logger does not octet-count over UDP: the octet-counted sub-part is skipped")
        keep = [not s[8] for s in sends]
        sends, datagrams, dates = ([x for x, k in zip(v, keep) if k] for v in (sends, datagrams, dates))
    f = gen_capture.Flow(0, random.Random(0))
    cap = gen_capture.Capture()
    bodies = []  # what LF or octet framing leaves of each datagram
    for (mode, tag, prio, pid, msgid, sd, body, tz, octet), d in zip(sends, datagrams):
        if octet:
            m = re.match(rb"(\d+) ", d)
            inner = d[len(m[0]):]
        else:
            inner = d.rstrip(b"\n\0")
        bodies.append(inner)
        cap.add_log(f.datagram(d, 6514 if octet else 514), f.key, [inner], 0)
    pcap = env.path("logger.pcap")
    cap.write_pcap(pcap)
    listen = ["--listen", "udp:514", "--listen", "udp:6514,framing=octet"]

    out = env.path("nd")
    res, st = run_logagg(env, pcap, listen + ["--sink", "file:%s,format=ndjson" % out])
    lines = output_lines(out)
    check(len(lines) == len(sends) == st["messages"]["framed"] == st["messages"]["delivered"],
          "%d records for %d datagrams: %s" % (len(lines), len(sends), st["messages"]))
    n5424 = sum(1 for s in sends if s[0] == "rfc5424")
    check(st["parse"]["records"]["rfc5424"] == n5424 and st["parse"]["records"]["rfc3164"] == len(sends) - n5424,
          "parse.records %s" % st["parse"]["records"])
    for i, (line, d, s) in enumerate(zip(lines, datagrams, sends)):
        mode, tag, prio, pid, msgid, sd, body, tz, octet = s
        r = json.loads(line)
        what = "record %d (%r from %r): %r" % (i, s, d, r)
        fac, sev = prio.split(".")
        check(r["format"] == mode and "flags" not in r, "format: " + what)
        check(r.get("host") == (hostname if mode == "rfc5424" else hostname.split(".")[0]), "host: " + what)
        check(r.get("app") == tag, "app: " + what)
        check(r.get("procid") == str(pid), "procid: " + what)
        check(r.get("facility") == FACILITIES[fac] and r.get("severity") == SEVERITY[sev], "priority: " + what)
        check(r.get("msgid") == msgid, "msgid: " + what)
        check(r["message"] == body, "message %r != %r in %s" % (r["message"], body, what))
        check(r["source"] == "198.18.1.1:%d" % f.sport, "source: " + what)
        # The timestamp: what logger wrote, in UTC, on the UTC date of the send.
        ts = r.get("ts")
        check(isinstance(ts, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", ts), "ts: " + what)
        parsed = datetime.datetime.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
        before, after = dates[i]
        check(parsed.date() in (before.date(), after.date()),
              "ts %s is not on the UTC date of the send (%s..%s): %s" % (ts, before, after, what))
        if mode == "rfc5424":
            stamp = re.match(rb"<\d+>1 (\S+) ", bodies[i])[1].decode()
            sent = datetime.datetime.fromisoformat(stamp)
            check(sent.utcoffset() is not None, "logger sent a stamp without offset: %s" % stamp)
            want = rfc3339_ns(sent, sent.microsecond * 1000)
            if has_sd and sd:
                got = r.get("sd", {}).get(sd_id)
                check(got == dict(sd), "sd %r, want %r: %s" % (got, dict(sd), what))
        else:
            # RFC 3164 has no year nor zone: logger (TZ=UTC0) wrote UTC; the year is the receive
            # time's, which is the send's (a stamp a day ahead would be taken for last year).
            m = re.match(rb"<\d+>(\w{3}) ([ \d]\d) (\d\d:\d\d:\d\d) ", bodies[i])
            check(m is not None, "logger's RFC 3164 header: %r" % d)
            mon = gen_capture.MONTHS.index(m[1].decode()) + 1
            want = "%04d-%02d-%02dT%s.000000000Z" % (before.year, mon, int(m[2]), m[3].decode())
        check(ts == want, "ts %s, logger sent %s: %s" % (ts, want, what))

    # Raw output: each datagram as received, minus what framing strips.
    out = env.path("raw")
    res, st = run_logagg(env, pcap, listen + ["--sink", "file:%s" % out])
    lines = output_lines(out)
    check(lines == bodies, "raw output differs from the datagrams:\n%r\n%r" % (lines, bodies))
    check_only_appended(st)


def gelf_chunks(msg_id, payload, count):
    """A GELF message cut into @count chunks: magic 0x1e 0x0f, 8-byte id, sequence number, count."""
    size = -(-len(payload) // count)
    parts = [payload[i:i + size] for i in range(0, len(payload), size)]
    check(len(parts) == count, "chunking %d bytes by %d gives %d chunks" % (len(payload), size, len(parts)))
    return [b"\x1e\x0f" + struct.pack(">Q", msg_id) + bytes([i, len(parts)]) + p for i, p in enumerate(parts)]


def gelf_doc(host, msg, ts, level, app=None, ascii_only=True, **extra):
    """A GELF 1.1 message (timestamp as given: a JSON number token) as bytes."""
    doc = {"version": "1.1", "host": host, "short_message": msg, "level": level}
    if app is not None:
        doc["_app"] = app
    doc.update(extra)
    text = json.dumps(doc, ensure_ascii=ascii_only, separators=(",", ":"))
    return (text[:-1] + ',"timestamp":%s}' % ts).encode()


def epoch_text(ts):
    """logagg's ndjson ts for a GELF timestamp token (seconds with decimals), exactly."""
    whole, _, frac = ts.partition(".")
    dt = datetime.datetime.fromtimestamp(int(whole), datetime.timezone.utc)
    return rfc3339_ns(dt, int((frac + "000000000")[:9]))


def case_gelf(env):
    """GELF through the binary: plain, zlib, gzip, chunked (in order, out of order, duplicated,
    incomplete, compressed), a corrupt payload, and GELF on an auto listener; ndjson output,
    then raw output (no parsing)."""
    f = gen_capture.Flow(0, random.Random(0))
    cap = gen_capture.Capture()
    pad = "x" * 300  # full_message: makes chunked messages several chunks long
    want = {}  # short_message -> (host, level, timestamp token, app)
    whole = []  # each message that completes (reassembled, inflated), in the order it does

    def msg(key, host, text, ts, level, app=None, ascii_only=True):
        want[text] = (host, level, ts, app)
        whole.append(gelf_doc(host, text, ts, level, app, ascii_only, full_message=pad + key))
        return whole[-1]

    def send(payload, port=12201):
        cap.add_log(f.datagram(payload, port), f.key, [], 0)

    # (a) plain, with escapes the encoder must decode (ensure_ascii: \" \\ \u00e9 \ud83d\ude00)
    send(msg("a", "gelf-a", 'plain "quoted" caf\u00e9 back\\slash \U0001F600 tab\t', "1700000000.123", 3, "gapp"))
    # (b) zlib (UTF-8 as is), (c) gzip without _app
    send(zlib.compress(msg("b", "gelf-b", "zlib message \u00fc\u00df", "1700000001.5", 6, "zapp", False)))
    send(gzip.compress(msg("c", "gelf-c", "gzip message", "1700000002", 4), mtime=0))
    # (d) chunked in order, (e) out of order
    for c in gelf_chunks(0x0101010101010101, msg("d", "gelf-d", "chunked in order", "1700000003.25", 5, "dapp"), 4):
        send(c)
    ch = gelf_chunks(0x0202020202020202, msg("e", "gelf-e", "chunked out of order", "1700000004.001", 2, "eapp"), 5)
    for i in (3, 0, 4, 2, 1):
        send(ch[i])
    # (f) duplicates: one before the message completes, one after
    ch = gelf_chunks(0x0303030303030303, msg("f", "gelf-f", "chunked with duplicates", "1700000005.999", 1, "fapp"), 3)
    for i in (0, 0, 1, 2, 1):
        send(ch[i])
    # (g) one chunk missing: never completes
    ch = gelf_chunks(0x0404040404040404, msg("g", "gelf-g", "never completes", "1700000006", 7), 4)
    del want["never completes"]
    whole.pop()
    for i in (0, 1, 3):
        send(ch[i])
    # (h) chunked zlib
    whole_h = msg("h", "gelf-h", "chunked zlib", "1700000007.75", 0, "happ") + b" " * 400
    whole[-1] = whole_h
    z = zlib.compress(whole_h, 1)
    ch = gelf_chunks(0x0505050505050505, z, 3)
    for c in ch:
        send(c)
    # (i) a zlib header and garbage
    corrupt = b"\x78\x9c" + bytes((i * 37 + 11) % 256 for i in range(60))
    send(corrupt)
    whole.append(corrupt)  # as received
    # (j) GELF on the auto listener: zlib, and chunked gzip
    send(zlib.compress(msg("j1", "gelf-j1", "zlib on the auto listener", "1700000008.5", 6, "japp")), 514)
    gz = gzip.compress(msg("j2", "gelf-j2", "chunked gzip on the auto listener", "1700000009.5", 6, "japp"), mtime=0)
    ch = gelf_chunks(0x0606060606060606, gz, 2)
    for c in ch:
        send(c, 514)
    pcap = env.path("gelf.pcap")
    cap.write_pcap(pcap)

    out = env.path("nd")
    res, st = run_logagg(env, pcap, ["--listen", "udp:12201:gelf", "--listen", "udp:514",
                                     "--sink", "file:%s,format=ndjson" % out])
    recs = [json.loads(line) for line in output_lines(out)]
    seen = {}
    bad = []
    for r in recs:
        if "flags" in r:
            bad.append(r)
            continue
        check(r["format"] == "gelf", "format: %r" % r)
        check(r["message"] in want, "unexpected record %r" % r)
        check(r["message"] not in seen, "record twice: %r" % r)
        seen[r["message"]] = r
        host, level, ts, app = want[r["message"]]
        check(r.get("host") == host and r.get("severity") == level and r.get("app") == app,
              "host/severity/app of %r, want %s" % (r, want[r["message"]]))
        check(r.get("ts") == epoch_text(ts), "ts %r, want %s (GELF timestamp %s)" % (r.get("ts"), epoch_text(ts), ts))
        check(r["source"] == "198.18.1.1:%d" % f.sport, "source %r" % r)
    missing = set(want) - set(seen)
    check(not missing, "GELF messages missing from the output: %s" % sorted(missing))
    # Bytes that are not UTF-8 went out as U+FFFD, and the record says so.
    try:
        corrupt.decode("utf-8")
        want_flags = ["parse_error"]
    except UnicodeDecodeError:
        want_flags = ["parse_error", "replaced_invalid_utf8"]
    check(len(bad) == 1 and bad[0]["flags"] == want_flags and bad[0]["format"] == "gelf",
          "the corrupt payload: %r" % bad)
    check(bad[0]["message"].encode("utf-8", "surrogatepass") ==
          corrupt.decode("utf-8", "replace").encode("utf-8"), "corrupt payload text %r" % bad[0]["message"])
    g = st["gelf"]
    exp_chunks = {"complete": 5, "pending": 3 + 4 + 2 + 3 + 2 + 1, "duplicate": 2}
    for k, v in g["chunks"].items():
        check(v == exp_chunks.get(k, 0), "gelf.chunks.%s = %d, expected %d (%s)" % (k, v, exp_chunks.get(k, 0), g))
    check(g["expired_messages"] == 1 and g["expired_chunks"] == 3 and g["bad_compression"] == 1, "gelf: %s" % g)
    m = st["messages"]
    check(m["framed"] == len(want) + 1 == m["delivered"] == len(recs), "messages %s for %d complete + 1 corrupt"
          % (m, len(want)))
    check(st["parse"]["records"]["gelf"] == len(want), "parse.records %s" % st["parse"]["records"])
    check(sum(st["parse"]["gelf_errors"].values()) == 0, "gelf_errors %s" % st["parse"]["gelf_errors"])
    check(st["packets"]["received"] == len(cap.frames) == st["packets"]["to_workers"], "packets %s" % st["packets"])

    # Raw output, nothing parsed: still one message per GELF message, as its JSON (reassembled,
    # inflated); the corrupt payload as received.
    out = env.path("raw")
    res, st2 = run_logagg(env, pcap, ["--listen", "udp:12201:gelf", "--listen", "udp:514", "--sink", "file:%s" % out])
    lines = output_lines(out)
    check(lines == whole, "raw GELF output:\n%r\nexpected\n%r" % ([x[:60] for x in lines], [x[:60] for x in whole]))
    check(st2["gelf"] == st["gelf"], "raw run gelf counters %s, ndjson run %s" % (st2["gelf"], st["gelf"]))
    check(st2["messages"]["framed"] == st2["messages"]["delivered"] == len(whole), "raw run messages %s" % st2["messages"])
    check(sum(st2["parse"]["records"].values()) == 0, "raw run parsed: %s" % st2["parse"]["records"])


SERIAL_RE = re.compile(r"\b(?:%s)-(\d{6})\b" % "|".join(re.escape(h) for h in gen_capture.HOSTS))


def serial_of(text):
    """The generator's unique serial in a message or an ndjson record (make_message's token)."""
    found = set(SERIAL_RE.findall(text))
    check(len(found) == 1, "no single message token in %r" % text[:200])
    return int(found.pop())


def sample_truth(m):
    """What a message of gen_capture.make_message() is, read from its shape in Python:
    (format, severity or None, app or None, the JSON "service" or None)."""
    if m.startswith(b"{"):
        d = json.loads(m)
        return "json", SEVERITY[d["level"]], d["service"], d["service"]
    r = re.match(rb"<(\d+)>1 \S+ \S+ (\S+) ", m)  # RFC 5424: PRI VERSION TS HOST APP
    if r:
        return "rfc5424", int(r[1]) % 8, r[2].decode(), None
    r = re.match(rb"<(\d+)>\d+: \*\w{3} [ \d]\d \d\d:\d\d:\d\d\.\d{3}: %([A-Z0-9_-]+): ", m)  # Cisco IOS
    if r:
        return "rfc3164", int(r[1]) % 8, r[2].decode(), None
    r = re.match(rb"<(\d+)>\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ ([^\[: ]+)\[\d+\]: ", m)  # BSD with a tag
    if r:
        return "rfc3164", int(r[1]) % 8, r[2].decode(), None
    r = re.match(rb"\d+\.\d+\.\d+\.\d+ - - \[", m)  # access log: no PRI, no tag
    check(r is not None, "a message shape the generator does not make: %r" % m[:100])
    return "rfc3164", None, None, None


def check_filtered(env, pcap, expected_msgs, filt, keep, fields=()):
    """One --filter run with ndjson output: the records are exactly the messages keep() selects
    (by serial), each with the given field values; the filter's counters add up."""
    out = env.path("f%d" % (env.runs + 1))
    res, st = run_logagg(env, pcap, ["--filter", filt, "--sink", "file:%s,format=ndjson" % out])
    want = {serial_of(m.decode()): m for m in expected_msgs if keep(sample_truth(m))}
    check(0 < len(want) < len(expected_msgs), "%s: the sample must have records on both sides (%d of %d)"
          % (filt, len(want), len(expected_msgs)))
    recs = [json.loads(line) for line in output_lines(out)]
    got = {}
    for r in recs:
        s = serial_of(json.dumps(r))
        check(s not in got, "%s: message %d twice" % (filt, s))
        got[s] = r
        for k, test in fields:
            check(test(r.get(k)), "%s: record field %s: %r" % (filt, k, r))
    check(set(got) == set(want), "%s: %d records, %d expected; unexpected %s, missing %s"
          % (filt, len(got), len(want), sorted(set(got) - set(want))[:10], sorted(set(want) - set(got))[:10]))
    f = st["filters"]
    m = st["messages"]
    check(len(f) == 1 and f[0]["filter"] == filt, "filters %s" % f)
    check(f[0]["kept"] + f[0]["dropped"] == m["framed"] == len(expected_msgs), "%s: %s, messages %s" % (filt, f, m))
    check(f[0]["kept"] == m["delivered"] == len(want), "%s: kept %d, delivered %d, expected %d"
          % (filt, f[0]["kept"], m["delivered"], len(want)))
    check(f[0]["dropped"] == m["dropped"]["filtered"], "%s: dropped %d, messages.dropped.filtered %d"
          % (filt, f[0]["dropped"], m["dropped"]["filtered"]))
    return recs


def case_filters(env):
    """--filter and --route through the binary over the sample capture, against the generator's
    messages read independently in Python."""
    sample = os.path.join(ROOT, "docs", "samples", "sample.pcap")
    cap = gen_capture.build(seed=1, n_messages=4000)  # what sample.pcap holds (case sample checks)
    msgs = cap.expected_messages()
    check(len(msgs) == 4000, "sample: %d messages" % len(msgs))
    truth = [sample_truth(m) for m in msgs]
    check(any(t[1] is None for t in truth), "the sample must have messages without a severity")
    # Severity: records without one never match <=, so none is left.
    check_filtered(env, sample, msgs, "sev<=warning", lambda t: t[1] is not None and t[1] <= 4,
                   [("severity", lambda v: isinstance(v, int) and 0 <= v <= 4)])
    check_filtered(env, sample, msgs, "app==nginx", lambda t: t[2] == "nginx", [("app", lambda v: v == "nginx")])
    check_filtered(env, sample, msgs, "json.service==kubelet", lambda t: t[3] == "kubelet",
                   [("format", lambda v: v == "json"), ("app", lambda v: v == "kubelet")])
    # A conjunction over two kinds of field.
    check_filtered(env, sample, msgs, "sev<=err && format==rfc5424",
                   lambda t: t[0] == "rfc5424" and t[1] is not None and t[1] <= 3,
                   [("format", lambda v: v == "rfc5424"), ("severity", lambda v: v <= 3)])

    # --route: the JSON messages to a, everything else to b (the sink no route names), raw.
    a, b = env.path("route-a"), env.path("route-b")
    res, st = run_logagg(env, sample, ["--sink", "file:%s,name=a" % a, "--sink", "file:%s,name=b" % b,
                                       "--route", "format==json=>a"])
    is_json = [t[0] == "json" for t in truth]
    want_a = [m for m, j in zip(msgs, is_json) if j]
    want_b = [m for m, j in zip(msgs, is_json) if not j]
    check(0 < len(want_a) < len(msgs), "the sample must have JSON and other messages")
    for name, out, want in (("a", a, want_a), ("b", b, want_b)):
        lines = output_lines(out)
        check(sorted(lines) == sorted(want), "sink %s: %d lines, %d expected" % (name, len(lines), len(want)))
        idx = index_messages(cap)
        last = {}
        for line in lines:
            flow, i = idx[line]
            check(i > last.get(flow, -1), "sink %s: flow %s out of order" % (name, flow))
            last[flow] = i
    r = st["routes"]
    check(len(r) == 1 and r[0]["sinks"] == ["a"] and r[0]["hits"] == len(want_a), "routes %s, %d JSON messages"
          % (r, len(want_a)))
    sinks = {k["name"]: k for k in st["sinks"]}
    check(sinks["a"]["delivered"] == len(want_a) and sinks["b"]["delivered"] == len(want_b), "sinks %s" % st["sinks"])
    m = st["messages"]
    check(m["framed"] == m["routed"] == len(msgs) and m["dropped_total"] == 0, "messages %s" % m)


def case_oversize_gelf_and_lines(env):
    """--max-msg 256 with --on-oversize truncate and drop: long LF lines and long GELF messages
    (plain, inflated from zlib, reassembled from chunks)."""
    max_msg = 256
    f = gen_capture.Flow(0, random.Random(0))
    cap = gen_capture.Capture()
    hdr = b"<13>1 2024-01-01T00:00:00Z lines-host lapp - - - "
    short1 = hdr + b"short line one"
    long_line = hdr + b"long line " + b"L" * 900 + b" end"
    short2 = hdr + b"short line two, after the long one"
    short_gelf = gelf_doc("gelf-s", "short gelf", "1700000000.5", 6, "sapp")

    def long_gelf(name):
        return gelf_doc("gelf-" + name, "long gelf %s " % name + "G" * 1200, "1700000001", 3, "lapp")

    plain, zipped, chunked = long_gelf("plain"), long_gelf("zlib"), long_gelf("chunked")
    for d in (plain, zipped, chunked):
        check(len(d) > 4 * max_msg, "a long GELF message is only %d bytes" % len(d))
    cap.add_log(f.datagram(short1 + b"\n", 514), f.key, [], 0)
    cap.add_log(f.datagram(long_line + b"\n" + short2 + b"\n", 514), f.key, [], 0)
    cap.add_log(f.datagram(short_gelf, 12201), f.key, [], 0)
    cap.add_log(f.datagram(plain, 12201), f.key, [], 0)
    cap.add_log(f.datagram(zlib.compress(zipped), 12201), f.key, [], 0)
    for c in gelf_chunks(0x0707070707070707, chunked, 3):
        cap.add_log(f.datagram(c, 12201), f.key, [], 0)
    pcap = env.path("oversize.pcap")
    cap.write_pcap(pcap)
    opts = ["--listen", "udp:514", "--listen", "udp:12201:gelf", "--max-msg", str(max_msg)]
    n_framed = 7  # short1, long, short2, short GELF and the three long GELF messages
    n_long = 4

    def check_short(by_msg):
        for text, fmt in (("short line one", "rfc5424"), ("short line two, after the long one", "rfc5424"),
                          ("short gelf", "gelf")):
            r = by_msg.get(text)
            check(r is not None and r["format"] == fmt and "flags" not in r, "%r: %r" % (text, r))

    # truncate: cut to max_msg, flagged, counted
    out = env.path("trunc")
    res, st = run_logagg(env, pcap, opts + ["--on-oversize", "truncate", "--sink", "file:%s,format=ndjson" % out])
    recs = [json.loads(line) for line in output_lines(out)]
    by_msg = {r["message"]: r for r in recs}
    check(len(recs) == len(by_msg) == n_framed, "truncate: %d records: %r" % (len(recs), recs))
    check_short(by_msg)
    text = long_line[:max_msg][len(hdr):].decode()
    r = by_msg.get(text)
    check(r is not None and r["format"] == "rfc5424" and r.get("flags") == ["truncated"] and r["app"] == "lapp",
          "truncated line: %r" % r)
    for d in (plain, zipped, chunked):
        r = by_msg.get(d[:max_msg].decode())
        # Cut JSON does not parse: forwarded as received, both flags.
        check(r is not None and r["format"] == "gelf" and r.get("flags") == ["parse_error", "truncated"],
              "truncated GELF %r: %r" % (d[:40], r))
    m = st["messages"]
    check(m["framed"] == m["delivered"] == n_framed and m["truncated"] == n_long and m["dropped_total"] == 0,
          "truncate: messages %s" % m)
    check(st["parse"]["gelf_errors"]["invalid"] == 3 and st["parse"]["records"]["gelf"] == 1,
          "truncate: parse %s" % st["parse"])
    check(st["gelf"]["chunks"]["complete"] == 1 and st["gelf"]["bad_compression"] == 0, "gelf %s" % st["gelf"])

    # drop: gone, counted
    out = env.path("drop")
    res, st = run_logagg(env, pcap, opts + ["--on-oversize", "drop", "--sink", "file:%s,format=ndjson" % out])
    recs = [json.loads(line) for line in output_lines(out)]
    by_msg = {r["message"]: r for r in recs}
    check(len(recs) == len(by_msg) == n_framed - n_long, "drop: %d records: %r" % (len(recs), recs))
    check_short(by_msg)
    m = st["messages"]
    check(m["framed"] == n_framed and m["delivered"] == n_framed - n_long and m["truncated"] == 0
          and m["dropped"]["oversize"] == n_long and m["dropped_total"] == n_long, "drop: messages %s" % m)


def whole_prefix(data, framing):
    """Bytes of data that are whole records: LF after the last LF; octet counting walks LEN SP MSG
    frames (LEN 1-10 digits, no leading zero) and stops at the first incomplete or malformed one."""
    if framing == "lf":
        return data.rfind(b"\n") + 1
    pos = 0
    while pos < len(data):
        m = re.match(rb"[1-9][0-9]{0,9} ", data[pos:pos + 11])
        if not m or pos + len(m.group()) + int(m.group()[:-1]) > len(data):
            return pos
        pos += len(m.group()) + int(m.group()[:-1])
    return pos


def split_records(data, framing):
    """The records of data, which must be whole records only."""
    check(whole_prefix(data, framing) == len(data), "%d bytes are not whole %s records" % (len(data), framing))
    if framing == "lf":
        return data.split(b"\n")[:-1]
    out = []
    while data:
        sp = data.index(b" ")
        n = int(data[:sp])
        out.append(data[sp + 1:sp + 1 + n])
        data = data[sp + 1 + n:]
    return out


def segment_files(outdir):
    return {os.path.basename(p): open(p, "rb").read()
            for p in sorted(glob.glob(os.path.join(outdir, "logagg-*.log")))}


TOKEN = re.compile(rb"[A-Za-z0-9]-\d{6}(?!\d)")


def case_crash_recovery(env):
    """SIGKILL mid-write, restart on the same directory, 20 times per framing (LF, octet counting,
    ndjson): after each restart every segment ends on a record boundary, each run's records are
    the capture's messages in order up to the kill (nothing fused, nothing lost), the .torn file
    holds exactly the bytes cut, and the start-up line and the counters say so.

    The kill lands mid-write deterministically: --test-file-stall-at N makes the file sink write
    its output up to byte N exactly (cutting a pwritev short, as SIGKILL does between pages), say
    so on stdout and wait; the test reads that line and kills. N is drawn per iteration from a
    seeded RNG, plus fixed points: byte 0 (an empty newest segment), a segment boundary, a
    record boundary (nothing torn), a 4 KiB page boundary and, for octet counting, the inside of a
    count."""
    cap = gen_capture.build(seed=31, n_messages=2500, flows=16, noise=False, malformed=False)
    pcap = env.path("in.pcap")
    cap.write_pcap(pcap)
    expected = cap.expected_messages()
    tokens = []
    for m in expected:
        t = TOKEN.findall(m)
        check(len(t) == 1, "message without one token: %r" % m[:120])
        tokens.append(t[0])
    variants = [("lf", "lf", ""), ("octet", "octet", ",framing=octet"), ("ndjson", "lf", ",format=ndjson")]
    iterations = 20

    def check_records(what, recs, fmt, n_expected=None):
        """recs must be the first len(recs) messages of the capture, in order."""
        check(len(recs) <= len(expected), "%s: %d records, more than the capture holds" % (what, len(recs)))
        for k, r in enumerate(recs):
            if fmt == "ndjson":
                try:
                    json.loads(r)
                except ValueError:
                    raise Failure("%s: record %d is not JSON: %r" % (what, k, r[:200]))
                check(tokens[k] in r, "%s: record %d is not message %d: %r" % (what, k, k, r[:200]))
            else:
                check(r == expected[k], "%s: record %d is not message %d: %r" % (what, k, k, r[:200]))
        if n_expected is not None:
            check(len(recs) == n_expected, "%s: %d records, expected %d" % (what, len(recs), n_expected))

    def start(outdir, spec, extra):
        args = env.eal(pcap, "0-1") + ["--", "--sink", "file:%s,rotate-bytes=16K%s" % (outdir, spec),
                                       "--on-sink-full", "block"] + extra
        return args

    def forget(args):
        """Removes the EAL runtime directory a run left (80 runs would leave 80)."""
        prefix = args[args.index("--file-prefix") + 1]
        shutil.rmtree(os.path.join("/var/run/dpdk", prefix), ignore_errors=True)

    def recovery_lines(stdout):
        return [l for l in stdout.splitlines() if "torn record: cut" in l or "segment(s)" in l]

    for name, framing, spec in variants:
        out = env.path("crash-" + name)
        runs = []  # per run: its segment names

        def clean_run(tag):
            stats = env.path("crash-%s-%s.json" % (name, tag))
            before = set(segment_files(out)) if os.path.isdir(out) else set()
            args = start(out, spec, ["--exit-on-idle", "400", "--stats-json", stats])
            res = subprocess.run(args, capture_output=True, text=True, timeout=180)
            forget(args)
            check(res.returncode == 0, "%s %s: %s" % (name, tag, describe(res)))
            st = json.load(open(stats))
            check_invariants(st)
            check(written(st) == len(expected), "%s %s: %d of %d written" % (name, tag, written(st), len(expected)))
            segs = segment_files(out)
            mine = sorted(set(segs) - before)
            runs.append(mine)
            check_records("%s %s" % (name, tag), split_records(b"".join(segs[s] for s in mine), framing), name,
                          len(expected))
            return res, st, mine

        # Run 0, on a new directory: a clean run that tells where records and segments end.
        res, st, mine = clean_run("first")
        k0 = st["sinks"][0]
        check(k0["recovery_scanned"] == 0 and k0["torn_segments"] == 0 and k0["torn_bytes"] == 0,
              "%s: recovery on a new directory: %s" % (name, k0))
        check(recovery_lines(res.stdout) == [], "%s: recovery lines on a new directory: %s" % (name, res.stdout))
        ref = segment_files(out)
        seg_ends = []
        for s in mine:
            seg_ends.append((seg_ends[-1] if seg_ends else 0) + len(ref[s]))
        stream = b"".join(ref[s] for s in mine)
        rec_ends = []
        pos = 0
        for r in split_records(stream, framing):
            pos += (len(r) + 1) if framing == "lf" else len(b"%d " % len(r)) + len(r)
            rec_ends.append(pos)
        total = len(stream)
        check(len(seg_ends) >= 4, "%s: only %d segments" % (name, len(seg_ends)))
        # Run 1 after a clean stop: nothing to check.
        res, st, _ = clean_run("after-clean")
        k = st["sinks"][0]
        check(k["recovery_scanned"] == 0 and k["torn_segments"] == 0, "%s: after a clean stop: %s" % (name, k))
        check(recovery_lines(res.stdout) == [], "%s: recovery lines after a clean stop: %s" % (name, res.stdout))

        pending = None  # the killed run whose recovery the next start must do
        for i in range(iterations):
            rng = random.Random("%s-%d" % (name, i))
            fixed = {0: 0, 1: seg_ends[1], 2: rec_ends[len(rec_ends) // 3], 3: seg_ends[2] + 4096,
                     4: rec_ends[len(rec_ends) // 2] + 1}
            stall = fixed.get(i, rng.randrange(1, total - 1))
            before = set(segment_files(out))
            args = start(out, spec, ["--test-file-stall-at", str(stall)])
            proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            guard = threading.Timer(90, proc.kill)
            guard.start()
            lines = []
            try:
                for line in proc.stdout:
                    lines.append(line)
                    if "stalled mid-write" in line:
                        break
            finally:
                proc.kill()  # SIGKILL: mid-write, the file ends where the sink stopped
                proc.wait()
                guard.cancel()
                forget(args)
            stdout = "".join(lines)
            check(lines and "stalled mid-write" in lines[-1],
                  "%s iteration %d: no stall line:\n%s\n%s" % (name, i, stdout[-3000:], proc.stderr.read()[-3000:]))
            proc.stderr.close()
            proc.stdout.close()
            m = re.search(r"at byte (\d+) of its output: '([^']+)' holds (\d+) bytes", lines[-1])
            check(m and int(m.group(1)) == stall, "stall line: %r" % lines[-1])
            stalled_seg, holds = os.path.basename(m.group(2)), int(m.group(3))
            if pending is not None:
                verify_recovery(name, framing, out, pending, stdout, None, check_records)
            pre = segment_files(out)
            mine = sorted(set(pre) - before)
            runs.append(mine)
            check(stalled_seg == mine[-1] and len(pre[stalled_seg]) == holds,
                  "%s iteration %d: the stalled segment %s (%d bytes) is not the run's newest %s"
                  % (name, i, stalled_seg, holds, mine[-1]))
            run_bytes = b"".join(pre[s] for s in mine)
            check(len(run_bytes) == stall, "%s iteration %d: the run wrote %d bytes, the stall is at %d"
                  % (name, i, len(run_bytes), stall))
            if name != "ndjson":  # raw output is the same bytes every run
                check(run_bytes == stream[:stall], "%s iteration %d: the run's bytes differ from run 0" % (name, i))
            torn_expected = stall - max([0] + [e for e in rec_ends if e <= stall])
            for s in mine[:-1]:
                check(whole_prefix(pre[s], framing) == len(pre[s]), "%s: rotated segment %s is torn" % (name, s))
            state = open(os.path.join(out, ".logagg-state")).read()
            check(state.endswith("open %s\n" % stalled_seg), "%s: state file %r" % (name, state))
            pending = {"pre": pre, "mine": mine, "torn": torn_expected, "iteration": i,
                       "n_records": sum(1 for e in rec_ends if e <= stall)}
            print("%s %d: killed at byte %d of %d (%s holds %d bytes), %d bytes of a record torn"
                  % (name, i, stall, total, stalled_seg, holds, torn_expected))
            if i % 2 == 1 or i == iterations - 1:
                # Restart to completion: the counters of this start's recovery.
                res, st, _ = clean_run("after-%d" % i)
                verify_recovery(name, framing, out, pending, res.stdout, st["sinks"][0], check_records)
                pending = None
        # Whatever the runs were, `cat` of the directory is whole records: nothing fused.
        allrecs = split_records(b"".join(segment_files(out).values()), framing)
        n_runs_records = 0
        for run in runs:
            n_runs_records += len(split_records(b"".join(segment_files(out)[s] for s in run), framing))
        check(len(allrecs) == n_runs_records, "%s: records of the directory != the sum over runs" % name)
        known = set(expected)
        for r in allrecs:
            if name == "ndjson":
                json.loads(r)
            else:
                check(r in known, "%s: a record of the directory is no message: %r" % (name, r[:200]))
        print("%s: %d kills, %d segments, %d records, %d .torn files" % (
            name, iterations, len(segment_files(out)), len(allrecs),
            len(glob.glob(os.path.join(out, "*.torn")))))

    # A segment that cannot be cut (immutable, even for root) is a start-up failure naming it.
    bad = env.path("crash-immutable")
    os.makedirs(bad)
    seg = os.path.join(bad, "logagg-20260101T000000.000000Z-00000000.log")
    with open(seg, "wb") as f:
        f.write(b"whole\ntorn")
    if subprocess.run(["chattr", "+i", seg], capture_output=True).returncode != 0:
        print("immutable segment: skipped (chattr +i not possible here)")
        return
    args = start(bad, "", ["--exit-on-idle", "400"])
    try:
        res = subprocess.run(args, capture_output=True, text=True, timeout=120)
    finally:
        subprocess.run(["chattr", "-i", seg])
        forget(args)
    check(res.returncode == 1, "immutable torn segment: exit %d, expected 1\n%s" % (res.returncode, describe(res)))
    check(seg in res.stderr and "Operation not permitted" in res.stderr, "error does not name the segment: %r" % res.stderr)
    check(open(seg, "rb").read() == b"whole\ntorn", "the segment changed")


def verify_recovery(name, framing, out, pending, stdout, k, check_records):
    """After a restart: the killed run's segments are whole, with exactly its whole records (the
    capture's first messages, checked by check_records); the cut bytes are in the .torn file; the
    start-up line (and counters k, if given) say so."""
    pre, mine, i = pending["pre"], pending["mine"], pending["iteration"]
    post = segment_files(out)
    cut_total = 0
    torn_lines = [l for l in stdout.splitlines() if "torn record: cut" in l]
    for s in mine:
        keep = whole_prefix(pre[s], framing)
        check(s in post, "%s iteration %d: segment %s vanished" % (name, i, s))
        check(post[s] == pre[s][:keep], "%s iteration %d: %s holds %d bytes, expected its %d whole bytes"
              % (name, i, s, len(post[s]), keep))
        torn = os.path.join(out, s + ".torn")
        if keep < len(pre[s]):
            check(os.path.exists(torn), "%s iteration %d: no %s" % (name, i, torn))
            check(open(torn, "rb").read() == pre[s][keep:], "%s iteration %d: %s does not hold the cut bytes"
                  % (name, i, torn))
            want = "cut %d bytes off '%s' (kept %d bytes" % (len(pre[s]) - keep, os.path.join(out, s), keep)
            check(sum(1 for l in torn_lines if want in l and "'%s'" % torn in l) == 1,
                  "%s iteration %d: no start-up line %r in %r" % (name, i, want, torn_lines))
            cut_total += len(pre[s]) - keep
        else:
            check(not os.path.exists(torn), "%s iteration %d: %s for a whole segment" % (name, i, torn))
    check(cut_total == pending["torn"], "%s iteration %d: %d bytes cut, the stall left %d of a record"
          % (name, i, cut_total, pending["torn"]))
    check(len(torn_lines) == (1 if cut_total else 0), "%s iteration %d: start-up lines %r" % (name, i, torn_lines))
    check(any("after an unclean stop" in l for l in stdout.splitlines()) == (cut_total == 0),
          "%s iteration %d: no 'checked ... after an unclean stop' line: %s" % (name, i, stdout[-2000:]))
    recs = split_records(b"".join(post[s] for s in mine), framing)
    check_records("%s iteration %d" % (name, i), recs, name, pending["n_records"])
    if k is not None:
        check(k["recovery_scanned"] == 1 and k["torn_segments"] == (1 if cut_total else 0)
              and k["torn_bytes"] == cut_total, "%s iteration %d: counters %s, cut %d"
              % (name, i, {x: k[x] for x in ("recovery_scanned", "torn_segments", "torn_bytes")}, cut_total))


def case_cli(env):
    def run(args, **kw):
        return subprocess.run([env.logagg] + args, capture_output=True, text=True, timeout=60, **kw)
    h = run(["--help"])
    check(h.returncode == 0, "--help exit %d" % h.returncode)
    for opt in ["--listen", "--sink", "--rx-lcores", "--worker-lcores", "--sink-lcore", "--stats-interval",
                "--stats-json", "--exit-on-idle", "--on-sink-full", "--framing", "--max-msg", "--on-oversize",
                "--burst", "--rx-desc", "--ring-size", "--sink-ring-size", "--mbufs", "--no-checksum",
                "--ip", "--reply-rate", "--link-timeout", "--promisc", "--reassembly", "--frag-timeout",
                "--on-parse-error", "--json-fields", "format=", "ndjson", "rfc5424", "rfc3164", "gelf",
                "--filter", "--route", "--drain-timeout", "tcp:HOST:PORT", "kafka:BROKERS/TOPIC",
                "port:PORT", "buffer=", "drop=newest|oldest", "batch-ms=", "--pmd-power", "--lcore-affinity", "--version", "--help"]:
        check(opt in h.stdout, "--help does not mention %s" % opt)
    check(run(["--version"]).stdout.startswith("logagg "), "--version")
    bad = [
        (["--bogus"], "--bogus"),
        (["--sink", "file:/tmp/x", "--listen", "tcp:514"], "--listen"),
        (["--sink", "file:/tmp/x", "--listen", "udp:0"], "--listen"),
        (["--sink", "file:/tmp/x", "--listen", "udp:70000"], "--listen"),
        (["--sink", "file:/tmp/x", "--listen", "udp:514,framing=zigzag"], "--listen"),
        (["--sink", "nowhere:/x"], "--sink"),
        (["--sink", "file:"], "--sink"),
        (["--sink", "file:/tmp/x,rotate-bytes=abc"], "--sink"),
        (["--sink", "file:/tmp/x", "--stats-interval", "-1"], "--stats-interval"),
        (["--sink", "file:/tmp/x", "--on-sink-full", "maybe"], "--on-sink-full"),
        (["--sink", "file:/tmp/x", "--burst", "0"], "--burst"),
        (["--sink", "file:/tmp/x", "--ring-size", "1000"], "--ring-size"),
        (["--sink", "file:/tmp/x", "--max-msg", "1"], "--max-msg"),
        (["--sink", "file:/tmp/x", "--framing", "sometimes"], "--framing"),
        (["--sink", "file:/tmp/x", "--stats-json"], "--stats-json"),
        (["--sink", "file:/tmp/x", "--ip", "0:300.1.1.1/24"], "--ip"),
        (["--sink", "file:/tmp/x", "--ip", "0:198.18.0.1/33"], "--ip"),
        (["--sink", "file:/tmp/x", "--ip", "198.18.0.1/24"], "--ip"),
        (["--sink", "file:/tmp/x", "--ip", "0:ff02::1/64"], "--ip"),
        (["--sink", "file:/tmp/x", "--reassembly", "maybe"], "--reassembly"),
        (["--sink", "file:/tmp/x", "--frag-timeout", "0"], "--frag-timeout"),
        (["--sink", "file:/tmp/x", "--reply-rate", "0"], "--reply-rate"),
        (["--sink", "file:/tmp/x", "--listen", "udp:514:xml"], "--listen"),
        (["--sink", "tcp:127.0.0.1"], "--sink"),
        (["--sink", "tcp:127.0.0.1:0"], "--sink"),
        (["--sink", "kafka:127.0.0.1:9092"], "--sink"),
        (["--sink", "kafka:127.0.0.1:9092/bad topic"], "--sink"),
        (["--sink", "kafka:127.0.0.1:9092/t,key=colour"], "--sink"),
        (["--sink", "port:0"], "--sink"),
        (["--sink", "port:0,dst=198.18.0.1"], "--sink"),
        (["--sink", "port:0,dst=198.18.0.1:514,dmac=zz"], "--sink"),
        (["--sink", "file:/tmp/x,buffer=1"], "--sink"),
        (["--sink", "file:/tmp/x,drop=random"], "--sink"),
        (["--sink", "file:/tmp/x", "--filter", "sev<=loud"], "--filter"),
        (["--sink", "file:/tmp/x", "--filter", "colour==red"], "--filter"),
        (["--sink", "file:/tmp/x", "--route", "sev<=err=>nowhere"], "--route"),
        (["--sink", "file:/tmp/x", "--route", "sev<=err"], "--route"),
        (["--sink", "file:/tmp/x", "--drain-timeout", "soon"], "--drain-timeout"),
        (["--sink", "file:/tmp/x,format=xml"], "--sink"),
        (["--sink", "file:/tmp/x", "--on-parse-error", "ignore"], "--on-parse-error"),
        (["--sink", "file:/tmp/x", "--json-fields", "colour=c"], "--json-fields"),
        (["--sink", "file:/tmp/x", "--json-fields", "msg"], "--json-fields"),
        ([], "--sink"),
    ]
    for args, name in bad:
        r = run(["-l", "0-1", "--no-huge", "--"] + args)
        check(r.returncode == 2, "%s: exit %d, expected 2" % (args, r.returncode))
        check(name in r.stderr, "%s: stderr does not name %s: %r" % (args, name, r.stderr))
        check(len(r.stderr.strip().splitlines()) == 1, "%s: error is not one line: %r" % (args, r.stderr))
    # Usage errors that used to be found late (at exit, after EAL) or worded wrongly: exit 2 before
    # EAL, one line naming the option and saying what is wrong. (With EAL options of its own and an
    # empty capture, so that a binary that let one through would still run apart and stop.)
    empty = env.path("empty.pcap")
    gen_capture.Capture().write_pcap(empty)
    out_dir = env.path("cli-dir")
    os.makedirs(out_dir)
    os.symlink(out_dir, env.path("cli-link"))
    said = [
        (["--sink", "file:" + out_dir, "--stats-json", "/nonexistent/dir/s.json"],
         "--stats-json: cannot write '/nonexistent/dir/s.json': directory '/nonexistent/dir' does not exist"),
        (["--sink", "file:" + out_dir, "--stats-json", out_dir], "--stats-json: '%s' is a directory" % out_dir),
        (["--sink", "kafka:127.0.0.1:9092/t,kafka-prop=no.such.property=1"],
         "--sink: kafka sink: kafka-prop no.such.property=1: No such configuration property"),
        (["--sink", "kafka:127.0.0.1:9092/t,kafka-prop=linger.ms=soon"], "kafka-prop linger.ms=soon: "),
        (["--sink", "port:0,dst=198.18.0.9:514,dmac=02:00:00:00:00:09"],
         "--sink port: needs src=IP, or an --ip IPv4 address on port 0"),
        (["--sink", "port:0,dst=198.19.0.9:514", "--ip", "0:198.18.0.1/24"],
         "--sink port: dst is not on a subnet of port 0's --ip IPv4 addresses"),
        (["--sink", "file:%s,rotate-bytes=17179869184G" % out_dir],
         "rotate-bytes '17179869184G' is too large: at most 16384G"),
        (["--sink", "file:" + out_dir, "--max-msg", "99999999999999999999K"], "--max-msg: '99999999999999999999K' is too large: at most 64K"),
        (["--sink", "file:" + out_dir, "--filter", "app==a || app==b"],
         "--filter: 'app==a || app==b': '||' is not supported"),
        (["--sink", "file:" + out_dir, "--rx-lcores", "1,1"], "--rx-lcores: '1,1': lcore 1 is listed twice"),
        (["--sink", "file:" + out_dir, "--sink", "file:%s/" % out_dir],
         "--sink file2: directory '%s/' is also sink file's ('%s')" % (out_dir, out_dir)),
        (["--sink", "file:" + out_dir, "--sink", "file:" + env.path("cli-link")], "is also sink file's"),
        (["--sink", "file:%s,framing=octet,framing=lf" % out_dir], "--sink: file sink: parameter 'framing' given twice"),
        (["--sink", "file:" + out_dir, "--listen", "udp:514,framing=lf,framing=octet"],
         "--listen: parameter 'framing' given twice"),
        (["--sink", "file:" + out_dir, "--listen", "udp:12201:gelf,framing=lf"], "framing does not apply to gelf"),
        (["--sink", "file:" + out_dir, "--stats-json", env.path("a.json"), "--stats-json", env.path("b.json")],
         "--stats-json: given twice"),
        (["--sink", "file:/etc/passwd"], "--sink file: '/etc/passwd' is not a directory"),
    ]
    for args, text in said:
        r = run(env.eal(empty, "0-1")[1:] + ["--", "--exit-on-idle", "100"] + args)
        check(r.returncode == 2, "%s: exit %d, expected 2: %r" % (args, r.returncode, r.stderr))
        check(text in r.stderr, "%s: stderr does not say %r: %r" % (args, text, r.stderr))
        check(len(r.stderr.strip().splitlines()) == 1, "%s: error is not one line: %r" % (args, r.stderr))
    check(os.listdir(out_dir) == [], "usage errors left files behind: %s" % os.listdir(out_dir))
    if os.geteuid() == 0:  # these need EAL
        sink = "file:" + env.path("cli-out")
        r = run(env.eal(empty, "0-1")[1:] + ["--", "--sink", sink, "--worker-lcores", "5"])
        check(r.returncode == 2 and "--worker-lcores" in r.stderr, "lcore not enabled: %s" % describe(r))
        r = run(env.eal(empty, "0-1")[1:] + ["--", "--sink", sink, "--rx-lcores", "1", "--worker-lcores", "1",
                                             "--sink-lcore", "1"])
        check(r.returncode == 2 and "--sink-lcore" in r.stderr, "sink on the RX lcore: %s" % describe(r))
        r = run(env.eal(empty, "0-1")[1:] + ["stray", "--", "--sink", sink])
        check(r.returncode == 2 and "stray" in r.stderr, "stray EAL argument: %s" % describe(r))
        r = run(env.eal(empty, "0-1")[1:] + ["--", "--sink", sink, "--rx-lcores", "1", "--worker-lcores", "1,2"])
        check(r.returncode == 2, "lcore 2 is not enabled: %s" % describe(r))
        # Usage errors only EAL can tell (which ports exist, what they can do), and what librdkafka
        # finds only when the producer is made: still exit 2, one line naming the option.
        after_eal = [
            (["--sink", "port:7,dst=198.18.0.9:514,src=198.18.0.1,dmac=02:00:00:00:00:09"],
             "0-1", "--sink port: port 7 does not exist (EAL probed 1 port: 0 (net_pcap0))"),
            (["--sink", sink, "--ip", "3:198.18.0.1/24"], "0-1", "--ip: port 3 does not exist"),
            (["--sink", sink, "--rx-lcores", "1,2"], "0@0,1@1,2@1", "--rx-lcores: port 0 (net_pcap0): 2 RX lcores need 2 RX queues"),
            (["--sink", "kafka:127.0.0.1:9/t,acks=1,kafka-prop=enable.idempotence=true"], "0-1",
             "--sink kafka: cannot create the Kafka producer: `acks` must be set to `all`"),
        ]
        for args, lcores, text in after_eal:
            r = run(env.eal(empty, lcores)[1:] + ["--"] + args)
            check(r.returncode == 2 and text in r.stderr and len(r.stderr.strip().splitlines()) == 1,
                  "%s: expected exit 2 and one line %r: %s" % (args, text, describe(r)))
        no_ports = [a for a in env.eal(empty, "0-1")[1:] if not a.startswith("--vdev")]
        r = run(no_ports + ["--", "--sink", sink])
        check(r.returncode == 2 and "no ports: give a NIC" in r.stderr, "no ports: %s" % describe(r))
        # A host name that does not exist is the user's; a resolver that cannot answer is not (this
        # host's resolver decides which one the test sees).
        try:
            socket.getaddrinfo("no-such-host.invalid", 514)
            nonexistent = False
        except socket.gaierror as e:
            nonexistent = e.errno == socket.EAI_NONAME
        if nonexistent:
            r = run(env.eal(empty, "0-1")[1:] + ["--", "--sink", "tcp:no-such-host.invalid:514"])
            check(r.returncode == 2 and "--sink tcp: cannot resolve 'no-such-host.invalid'" in r.stderr,
                  "unknown host: %s" % describe(r))
        else:
            print("note: this host's resolver does not say EAI_NONAME for .invalid names; unknown-host check skipped")


CASES = {
    "basic": case_basic,
    "pipeline": case_pipeline,
    "two_workers": case_two_workers,
    "single_lcore": case_single_lcore,
    "pmd_power": case_pmd_power, "lcore_affinity": case_lcore_affinity,
    "rotation": case_rotation_segments,
    "sigterm": case_sigterm,
    "drop_mode": case_drop_mode,
    "replay_blocks": case_replay_blocks,
    "full_disk": case_full_disk,
    "jumbo": case_jumbo,
    "framing": case_framing,
    "append": case_append,
    "formats": case_formats,
    "strict": case_strict,
    "sample": case_sample,
    "cli": case_cli,
    "logger": case_logger,
    "gelf": case_gelf,
    "filters": case_filters,
    "oversize_gelf_and_lines": case_oversize_gelf_and_lines,
    "crash_recovery": case_crash_recovery,
}


if __name__ == "__main__":
    sys.exit(run_cases(CASES, rootless=("cli",)))
