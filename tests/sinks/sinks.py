#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Forwarding sinks against real peers: the real logagg binary (net_pcap input) sending to
rsyslog (Debian's, started by the test with imtcp on a loopback port), to librdkafka's mock
cluster (tests/sinks/kafka_peer: in-process brokers plus a real consumer), and out of a DPDK
port. Every record is checked byte for byte, and every counter.

    tests/sinks/sinks.py --logagg build/app/logagg/logagg --case tcp_octet
    tests/sinks/sinks.py --logagg build/app/logagg/logagg \
        --kafka-peer build/tests/sinks/kafka_peer --case kafka

Exit status: 0 pass, 1 fail, 77 skipped (printed reason; meson's skip code).
"""

import base64
import collections
import json
import random
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "tests", "common"))
import gen_capture  # noqa: E402
from harness import SKIP, Failure, check, check_invariants, describe, output_lines, run_cases  # noqa: E402


def free_port():
    """A loopback TCP port nobody listens on right now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Rsyslog:
    """rsyslogd in the foreground with imtcp on 127.0.0.1:PORT, writing each message as received
    (%rawmsg%) plus a LF to one file per start. As a context manager: started on entry, stopped
    on exit (lines() still reads what it wrote)."""

    def __init__(self, env, name, port, octet=True):
        self.env = env
        # rsyslog takes a frame starting with a digit for an octet count; with LF framing that
        # would misread messages such as access-log lines, so it is turned off for LF.
        self.octet = octet
        self.dir = env.path("rsyslog-" + name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = port
        self.proc = None
        self.starts = 0

    def start(self):
        self.starts += 1
        conf = os.path.join(self.dir, "rsyslog-%d.conf" % self.starts)
        out = os.path.join(self.dir, "out-%d.log" % self.starts)
        with open(conf, "w") as f:
            f.write("""
global(workDirectory="%s" maxMessageSize="64k" parser.escapeControlCharactersOnReceive="off")
module(load="imtcp")
template(name="raw" type="string" string="%%rawmsg%%\\n")
ruleset(name="in") {
  action(type="omfile" file="%s" template="raw")
}
input(type="imtcp" address="127.0.0.1" port="%d" ruleset="in"
      supportOctetCountedFraming="%s")
""" % (self.dir, out, self.port, "on" if self.octet else "off"))
        self.proc = subprocess.Popen(["rsyslogd", "-n", "-f", conf, "-i", os.path.join(self.dir, "pid")],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise Failure("rsyslogd exited: %s" % self.proc.stdout.read())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise Failure("rsyslogd did not listen on port %d" % self.port)

    def stop(self, sig=signal.SIGTERM):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self.proc = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def lines(self):
        """Every whole line rsyslog wrote, over all its starts, in order. A line cut short by a
        SIGKILL in the middle of rsyslog's own write() (no final LF) is not a whole line."""
        out = []
        for i in range(1, self.starts + 1):
            path = os.path.join(self.dir, "out-%d.log" % i)
            if os.path.exists(path):
                with open(path, "rb") as f:
                    data = f.read()
                out += data.split(b"\n")[:-1]
        return out


def run_logagg(env, pcap, sinks, opts=(), lcores=None, timeout=300, wait=True, idle_ms=500):
    """Starts logagg on `pcap` with the given --sink values; returns (result or Popen, stats path)."""
    stats = env.path("stats-%d.json" % (env.runs + 1))
    args = env.eal(pcap, lcores) + ["--", "--stats-json", stats, "--exit-on-idle", str(idle_ms)]
    for s in sinks:
        args += ["--sink", s]
    args += list(opts)
    if not wait:
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), stats
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout), stats


def load(stats):
    check(os.path.exists(stats), "no --stats-json written")
    with open(stats) as f:
        return json.load(f)


def sink_of(st, name):
    for k in st["sinks"]:
        if k["name"] == name:
            return k
    raise Failure("no sink named %s in %s" % (name, [k["name"] for k in st["sinks"]]))


def check_exactly_once(cap, lines, what):
    """The lines are exactly the capture's messages, each once, in per-flow order."""
    idx = {}
    for flow, msgs in cap.expected_messages_by_flow().items():
        for i, m in enumerate(msgs):
            idx[m] = (flow, i)
    seen = set()
    last = {}
    for n, line in enumerate(lines):
        check(line in idx, "%s: line %d is not an expected message: %r" % (what, n, line[:120]))
        check(line not in seen, "%s: line %d is a duplicate: %r" % (what, n, line[:120]))
        seen.add(line)
        flow, i = idx[line]
        check(i > last.get(flow, -1), "%s: flow %s out of order at line %d" % (what, flow, n))
        last[flow] = i
    check(len(seen) == len(idx), "%s: %d of %d messages arrived" % (what, len(seen), len(idx)))


def run_checked(env, pcap, sinks, opts=(), **kw):
    """run_logagg() that must exit 0 with its invariants holding; returns (result, stats)."""
    res, stats = run_logagg(env, pcap, sinks, opts, **kw)
    check(res.returncode == 0, describe(res))
    st = load(stats)
    check_invariants(st)
    return res, st


def big_capture(env, seed, n=50000):
    cap = gen_capture.build(seed=seed, n_messages=n, flows=64, noise=True, malformed=True)
    pcap = env.path("in-%d.pcap" % seed)
    cap.write_pcap(pcap)
    return cap, pcap


def case_tcp_octet(env):
    """50,000 messages to rsyslog imtcp with RFC 6587 octet counting: every one, byte for byte,
    with short records appended to the worker's byte ring with their count (the default) and
    with every record sent from its packet (append-max=0)."""
    cap, pcap = big_capture(env, 41)
    counts = sum(len(str(len(m))) + 1 for m in cap.expected_messages())  # "LEN " of each
    for param in ("", ",append-max=0"):
        with Rsyslog(env, "octet%s" % param.replace(",", "-").replace("=", ""), free_port()) as rs:
            res, st = run_checked(env, pcap, ["tcp:127.0.0.1:%d,framing=octet%s" % (rs.port, param)],
                                  ["--on-sink-full", "block"])
            k = sink_of(st, "tcp")
            check(k["delivered"] == 50000 and k["dropped_total"] == 0, "tcp sink: %s" % k)
            appended = st["bytes_copied_by_reason"]["sink_append"]
            if param:
                check(k["bytes_copied"] == 0 and st["bytes_copied"] == 0, "raw tcp output copied bytes")
            else:
                # Every message of the capture is shorter than append-max's default (512).
                check(appended == k["in_bytes"] and st["bytes_copied"] == appended and k["bytes_copied"] == 0,
                      "appended %d bytes of %d, copied %d: %s" % (appended, k["in_bytes"], st["bytes_copied"], k))
            check(k["bytes"] == k["in_bytes"] + counts,
                  "delivered bytes %d are not the messages and their counts" % k["bytes"])
            check(k["batches"] < 50000 / 4, "records were not batched: %d batches" % k["batches"])
            check(st["mbufs"]["in_use_at_exit"] == 0, "mbufs leaked")
        check_exactly_once(cap, rs.lines(), "rsyslog (octet%s)" % param)
        print("octet%s: sink_append %d bytes, %d batches" % (param, appended, k["batches"]))


def case_tcp_small_records(env):
    """Records far smaller than the replay window's share of the queue: 30,000 messages of 20-40
    bytes through a TCP sink with buffer=256K (4,096 record slots) and the default 256 KiB replay
    window, which alone would hold ~8,000 of them. The window gives up records beyond half the
    slots, so the queue keeps pulling and every message arrives (it stopped for good before)."""
    rnd = random.Random(45)
    flows = [gen_capture.Flow(i, random.Random(200 + i)) for i in range(4)]
    cap = gen_capture.Capture()
    for k in range(7500):
        f = flows[k % len(flows)]
        msgs = [b"<13>1 - h a - - - %06d" % (4 * k + j) + b"x" * rnd.randint(0, 15) for j in range(4)]
        cap.add_log(f.datagram(b"\n".join(msgs) + b"\n", 514), f.key, msgs, 0)
    pcap = env.path("small.pcap")
    cap.write_pcap(pcap)
    with Rsyslog(env, "small", free_port()) as rs:
        res, st = run_checked(env, pcap, ["tcp:127.0.0.1:%d,buffer=256K" % rs.port],
                              ["--on-sink-full", "block"], idle_ms=2000)
        k = sink_of(st, "tcp")
        check(k["delivered"] == 30000 and k["dropped_total"] == 0, "tcp sink: %s" % k)
    check_exactly_once(cap, rs.lines(), "rsyslog (small records)")


def case_tcp_lf(env):
    """The same with LF framing (rsyslog splits on LF)."""
    cap, pcap = big_capture(env, 42)
    with Rsyslog(env, "lf", free_port(), octet=False) as rs:
        res, st = run_checked(env, pcap, ["tcp:127.0.0.1:%d,framing=lf,name=collector" % rs.port],
                              ["--on-sink-full", "block", "--stats-interval", "0.2"])
        check("collector delivered" in res.stdout, "the periodic line names the sink")
        k = sink_of(st, "collector")
        check(k["delivered"] == 50000 and k["bytes"] == k["in_bytes"] + 50000, "tcp sink: %s" % k)
    check_exactly_once(cap, rs.lines(), "rsyslog (lf)")


def case_tcp_ndjson(env):
    """ndjson over TCP: every line rsyslog writes is a JSON object whose message is the input's."""
    cap, pcap = big_capture(env, 43)
    with Rsyslog(env, "ndjson", free_port(), octet=False) as rs:
        res, st = run_checked(env, pcap, ["tcp:127.0.0.1:%d,framing=lf,format=ndjson" % rs.port],
                              ["--on-sink-full", "block"])
        check(sink_of(st, "tcp")["delivered"] == 50000, "delivered: %s" % sink_of(st, "tcp"))
    lines = rs.lines()
    check(len(lines) == 50000, "rsyslog wrote %d lines" % len(lines))
    formats = collections.Counter()
    for line in lines:
        rec = json.loads(line)
        formats[rec["format"]] += 1
        check("received" in rec and "source" in rec and "message" in rec, "envelope %r" % rec)
    check(formats["rfc5424"] > 0 and formats["rfc3164"] > 0 and formats["json"] > 0,
          "formats seen: %s" % dict(formats))


def case_tcp_restart(env):
    """rsyslog killed (SIGKILL) mid-stream and started again: every message is there afterwards;
    duplicates only from the resend after the reconnect, and no more than counted."""
    cap, pcap = big_capture(env, 44)
    port = free_port()
    with Rsyslog(env, "restart", port) as rs:
        # A slow sink (50 records per write, 5 ms pause after each) makes the stream last ~5 s.
        proc, stats = run_logagg(env, pcap, ["tcp:127.0.0.1:%d,batch-records=50,reconnect-max-ms=200" % port],
                                 ["--on-sink-full", "block", "--test-sink-delay-us", "5000",
                                  "--stats-interval", "0.1"], wait=False,
                                 idle_ms=5000)  # nothing moves while the collector is down
        # The kill is placed by what logagg reports (deliveries under way, far from done), not by
        # a wall-clock guess about how long its start takes on a loaded machine.
        with Running(proc) as run:
            deadline = time.time() + 120
            while True:
                rows = run.rows("tcp")
                if rows and rows[-1][2] >= 1000:
                    break
                check(proc.poll() is None, "logagg exited before deliveries started")
                check(time.time() < deadline, "timed out waiting for deliveries to start")
                time.sleep(0.02)
            check(rows[-1][2] < 40000, "the stream was nearly over before the kill: %s" % (rows[-1],))
            rs.stop(signal.SIGKILL)  # no goodbye: whatever it held unwritten is gone
            time.sleep(1.0)
            rs.start()
            out, err = run.finish(300)
    st, k = finished(proc, out, err, stats)
    check(k["reconnects"] >= 1, "no reconnect counted: %s" % k)
    check(k["delivered"] == 50000 and k["dropped_total"] == 0, "tcp sink: %s" % k)
    lines = rs.lines()
    counts = collections.Counter(lines)
    dups = sum(c - 1 for c in counts.values())
    check(dups <= k["retries"], "%d duplicate lines but only %d records resent" % (dups, k["retries"]))
    check_exactly_once(cap, list(dict.fromkeys(lines)), "rsyslog across a restart (duplicates removed)")
    print("restart: %d reconnects, %d records resent, %d duplicates at the collector"
          % (k["reconnects"], k["retries"], dups))


class Running:
    """logagg started with run_logagg(wait=False): a reader thread keeps its stdout lines as they
    come, so a test places its phases by what logagg reports, not by wall-clock guesses about its
    start. As a context manager, kills logagg on exit if it still runs."""

    def __init__(self, proc):
        self.proc = proc
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in iter(self.proc.stdout.readline, ""):
            self.lines.append(line)

    def rows(self, sink):
        """periodic() of the output so far."""
        return periodic("".join(self.lines), sink)

    def finish(self, timeout):
        """Waits for logagg to exit and for the last of its output; returns (stdout, stderr)."""
        self.proc.wait(timeout=timeout)
        self.reader.join(timeout=10)
        return "".join(self.lines), self.proc.stderr.read()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()


def finished(proc, out, err, stats, sink="tcp"):
    """logagg exited 0 and its invariants hold; returns (stats, the sink's entry)."""
    check(proc.returncode == 0, "exit %d\n%s\n%s" % (proc.returncode, out[-3000:], err[-3000:]))
    st = load(stats)
    check_invariants(st)
    return st, sink_of(st, sink)


def periodic(stdout, sink):
    """(uptime, received, delivered, queued, pinned, dropped) of `sink` from each periodic line."""
    out = []
    for line in stdout.splitlines():
        if not line.startswith("[") or (" %s delivered " % sink) not in line:
            continue
        up = float(line[1:line.index("s]")])
        rx = int(line.split(" rx ")[1].split()[0])
        part = line.split(" %s delivered " % sink)[1].split()
        out.append((up, rx, int(part[0]), int(part[3]), int(part[5]), int(part[7])))
    return out


def case_tcp_paused(env):
    """A collector that stops reading (SIGSTOP): the sink's memory stays within buffer=, the
    overflow is dropped and counted (buffer_full), RX keeps going, and delivery resumes by itself
    when the collector does (SIGCONT)."""
    sample = os.path.join(ROOT, "docs", "samples", "sample.pcap")
    stats = env.path("stats-paused.json")
    buffer = 2 << 20
    env.runs += 1
    with Rsyslog(env, "paused", free_port()) as rs:
        args = [env.logagg, "-l", "0-1", "--no-huge", "-m", "1024", "--no-pci", "--file-prefix",
                "logagg-sinks-paused-%d" % os.getpid(), "--log-level=error",
                "--vdev=net_pcap0,rx_pcap=%s,infinite_rx=1" % sample, "--",
                "--sink", "tcp:127.0.0.1:%d,buffer=%d,drop=newest" % (rs.port, buffer),
                "--stats-json", stats, "--stats-interval", "0.1"]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with Running(proc) as run:

            def wait_for(cond, what, limit=60):
                deadline = time.time() + limit
                while time.time() < deadline:
                    if proc.poll() is not None:
                        raise Failure("logagg exited early: %s" % proc.stderr.read())
                    if cond(run.rows("tcp")):
                        return run.rows("tcp")[-1]
                    time.sleep(0.05)
                raise Failure("timed out waiting for %s" % what)

            wait_for(lambda r: r and r[-1][2] > 10000, "deliveries to start")
            rs.proc.send_signal(signal.SIGSTOP)
            stopped = wait_for(lambda r: r, "a line after SIGSTOP")
            time.sleep(3.0)
            rs.proc.send_signal(signal.SIGCONT)
            resumed = wait_for(lambda r: r[-1][0] > stopped[0] + 2.5, "a line after SIGCONT")
            wait_for(lambda r: r[-1][0] > resumed[0] + 1.5, "1.5 s of run after SIGCONT")
            proc.send_signal(signal.SIGTERM)
            out, err = run.finish(60)
    st, k = finished(proc, out, err, stats)
    check(k["dropped"]["buffer_full"] > 0, "no buffer_full drops while the collector was stopped: %s" % k)
    rows = periodic(out, "tcp")
    check(len(rows) > 30, "too few periodic lines (%d)" % len(rows))
    # Slack of a few mbufs: a record whose packet reference moves to an earlier record of the
    # same packet (when the later one is dropped) keeps that packet pinned (docs/sinks.md).
    # The replay window (at most 8 x replay=, 256 KiB by default) is pinned on top of buffer=.
    bound = buffer + 8 * (256 << 10) + 4 * 2304
    check(max(r[4] for r in rows) <= bound, "pinned memory above buffer= and the replay window: %d" % max(r[4] for r in rows))
    # During the pause (from 1 s after SIGSTOP, once the collector's socket buffer is full, to
    # SIGCONT, in logagg's own uptime): RX keeps receiving in every interval, delivery stands
    # still, and drops grow; after SIGCONT delivery resumes.
    pause = [r for r in rows if stopped[0] + 1.0 <= r[0] <= resumed[0] - 0.2]
    check(len(pause) > 5 and all(b[1] > a[1] for a, b in zip(pause, pause[1:])), "RX stalled during the pause")
    check(pause[-1][2] == pause[0][2], "records were delivered while the collector was stopped: %d"
          % (pause[-1][2] - pause[0][2]))
    check(pause[-1][5] > pause[0][5], "nothing was dropped while the collector was stopped")
    after = [r for r in rows if r[0] >= resumed[0] + 0.5]
    check(len(after) >= 2 and after[-1][2] > pause[-1][2], "delivery did not resume after SIGCONT")
    print("paused: delivered %d, buffer_full %d, max pinned %d of %d"
          % (k["delivered"], k["dropped"]["buffer_full"], max(r[4] for r in rows), buffer))


def case_tcp_deadline(env):
    """No collector at all: records wait until the drain deadline, then are dropped and counted
    (shutdown); logagg exits 0 on time and says so."""
    sample = os.path.join(ROOT, "docs", "samples", "sample.pcap")
    port = free_port()
    t0 = time.time()
    res, stats = run_logagg(env, sample, ["tcp:127.0.0.1:%d,reconnect-max-ms=100" % port],
                            ["--drain-timeout", "1500"], idle_ms=300)
    took = time.time() - t0
    check(res.returncode == 0, describe(res))
    st = load(stats)
    check_invariants(st)
    k = sink_of(st, "tcp")
    check(k["delivered"] == 0 and k["dropped"]["shutdown"] == k["in"] == 4000, "tcp sink: %s" % k)
    check(k["connect_failures"] >= 2, "connect failures not counted: %s" % k)
    check("dropped shutdown" in res.stdout, "the summary does not report the shutdown drops")
    check(took < 60, "took %.1f s" % took)


def case_fanout(env):
    """The same input to a file sink, a TCP collector and a DPDK port (chained, with an ndjson
    file sink too) at once: each gets everything, and every mbuf (direct and indirect) is back
    in the pools at exit."""
    cap, pcap = big_capture(env, 45, 20000)
    outdir = env.path("fan-file")
    ndjson = env.path("fan-ndjson")
    tx = env.path("fan-tx.pcap")
    stats = env.path("stats-fanout.json")
    env.runs += 1
    with Rsyslog(env, "fanout", free_port()) as rs:
        args = [env.logagg, "-l", "0-1", "--no-huge", "-m", "1024", "--no-pci", "--file-prefix",
                "logagg-sinks-fanout-%d" % os.getpid(), "--log-level=error",
                "--vdev=net_pcap0,rx_pcap=%s,tx_pcap=%s" % (pcap, tx), "--",
                "--sink", "file:%s" % outdir, "--sink", "tcp:127.0.0.1:%d" % rs.port,
                "--sink", "port:0,dst=198.18.7.7:5514,src=198.18.7.1,dmac=02:00:00:00:00:07",
                "--sink", "file:%s,format=ndjson" % ndjson, "--test-tx-chains",
                "--on-sink-full", "block", "--exit-on-idle", "500", "--stats-json", stats]
        res = subprocess.run(args, capture_output=True, text=True, timeout=300)
        check(res.returncode == 0, describe(res))
    st = load(stats)
    check_invariants(st)
    check(st["messages"]["routed"] == 20000 and st["messages"]["delivered"] == 80000, "messages: %s" % st["messages"])
    check(all(k["in"] == k["delivered"] == 20000 for k in st["sinks"]), "sinks: %s" % st["sinks"])
    check(st["mbufs"]["in_use_at_exit"] == 0, "mbufs leaked")
    check_exactly_once(cap, output_lines(outdir), "file sink")
    check_exactly_once(cap, rs.lines(), "tcp sink")
    check_exactly_once(cap, check_datagrams(read_pcap(tx), "02:00:00:00:00:07", "198.18.7.1", "198.18.7.7",
                                            514, 5514, 1500, "lf"), "port sink")
    check(len(output_lines(ndjson)) == 20000, "ndjson file sink")


def case_routes(env):
    """--route sends matching records to named sinks, the rest to the sinks no route names;
    --filter drops before routing. Counted per filter and route."""
    cap, pcap = big_capture(env, 46, 12000)
    outdir = env.path("rest")
    with Rsyslog(env, "routes", free_port()) as rs:
        res, st = run_checked(env, pcap, ["file:%s,name=rest,format=ndjson" % outdir,
                                          "tcp:127.0.0.1:%d,name=alerts,format=ndjson,framing=lf" % rs.port],
                              ["--on-sink-full", "block", "--filter", "sev<=info",
                               "--route", "sev<=err=>alerts"])
    rest = [json.loads(x) for x in output_lines(outdir)]
    alerts = [json.loads(x) for x in rs.lines()]
    check(all(r.get("severity", 9) <= 3 for r in alerts), "a record above err went to alerts")
    check(all(r.get("severity", 9) > 3 and r.get("severity", 9) <= 6 for r in rest),
          "a record went to the default sink that it should not have")
    f = st["filters"][0]
    r = st["routes"][0]
    check(f["dropped"] == st["messages"]["dropped"]["filtered"] > 0 and f["kept"] == len(rest) + len(alerts),
          "filter counters %s, %d + %d delivered" % (f, len(rest), len(alerts)))
    check(r["hits"] == len(alerts) > 0 and r["sinks"] == ["alerts"], "route counters %s" % r)
    check(st["messages"]["framed"] == f["kept"] + f["dropped"], "messages %s" % st["messages"])


def read_pcap(path):
    """Frames of a classic pcap file."""
    import struct
    with open(path, "rb") as f:
        data = f.read()
    check(len(data) >= 24, "%s is not a pcap file" % path)
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    frames, off = [], 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        frames.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return frames


def check_datagrams(frames, dmac, src, dst, sport, dport, mtu, framing):
    """Every frame is a well-formed UDP datagram from src:sport to dst:dport (valid checksums,
    at most mtu bytes of IP) for dmac; returns the records it carries, in order."""
    import ipaddress
    import struct
    v6 = ":" in dst
    records = []
    for n, fr in enumerate(frames):
        check(fr[0:6] == bytes.fromhex(dmac.replace(":", "")), "frame %d: destination MAC %s" % (n, fr[0:6].hex()))
        etype = struct.unpack("!H", fr[12:14])[0]
        if v6:
            check(etype == 0x86DD, "frame %d: EtherType %#x" % (n, etype))
            ip = fr[14:54]
            plen = struct.unpack("!H", ip[4:6])[0]
            check(ip[6] == 17 and 40 + plen <= mtu, "frame %d: next header %d, length %d" % (n, ip[6], plen))
            check(ip[8:24] == ipaddress.IPv6Address(src).packed and ip[24:40] == ipaddress.IPv6Address(dst).packed,
                  "frame %d: addresses" % n)
            udp = fr[54:54 + plen]
            pseudo = ip[8:40] + struct.pack("!IxxxB", plen, 17)
        else:
            check(etype == 0x0800, "frame %d: EtherType %#x" % (n, etype))
            ip = fr[14:34]
            total = struct.unpack("!H", ip[2:4])[0]
            check(ip[0] == 0x45 and ip[9] == 17 and total <= mtu, "frame %d: IP header %s" % (n, ip.hex()))
            check(gen_capture.checksum(ip) == 0, "frame %d: bad IPv4 header checksum" % n)
            check(ip[12:16] == ipaddress.IPv4Address(src).packed and ip[16:20] == ipaddress.IPv4Address(dst).packed,
                  "frame %d: addresses" % n)
            udp = fr[34:14 + total]
            pseudo = ip[12:20] + struct.pack("!BBH", 0, 17, len(udp))
        sp, dp, ulen, csum = struct.unpack("!HHHH", udp[:8])
        check(ulen == len(udp) and sp == sport and dp == dport, "frame %d: UDP %d->%d len %d" % (n, sp, dp, ulen))
        check(csum != 0 and gen_capture.checksum(pseudo + udp) == 0, "frame %d: bad UDP checksum" % n)
        payload = udp[8:]
        if framing == "lf":
            check(payload.endswith(b"\n"), "frame %d: payload does not end with LF" % n)
            records += payload[:-1].split(b"\n")
        else:
            while payload:
                sp_at = payload.index(b" ")
                ln = int(payload[:sp_at])
                records.append(payload[sp_at + 1:sp_at + 1 + ln])
                payload = payload[sp_at + 1 + ln:]
    return records


def run_port_pcap(env, seed, n, sink_params, dst, src, framing="lf", extra=(), mtu=1500):
    cap, pcap = big_capture(env, seed, n)
    out = env.path("tx-%d.pcap" % seed)
    stats = env.path("stats-tx-%d.json" % seed)
    env.runs += 1
    dport = 5514
    args = [env.logagg, "-l", "0-1", "--no-huge", "-m", "512", "--no-pci", "--file-prefix",
            "logagg-sinks-port-%d-%d" % (os.getpid(), env.runs), "--log-level=error",
            "--vdev=net_pcap0,rx_pcap=%s,tx_pcap=%s" % (pcap, out), "--",
            "--sink", "port:0,dst=%s,src=%s,dmac=02:00:00:00:00:07,framing=%s%s"
            % ("[%s]:%d" % (dst, dport) if ":" in dst else "%s:%d" % (dst, dport),
               "[%s]" % src if ":" in src else src, framing, sink_params),
            "--stats-json", stats, "--exit-on-idle", "500", "--on-sink-full", "block"] + list(extra)
    res = subprocess.run(args, capture_output=True, text=True, timeout=300)
    check(res.returncode == 0, describe(res))
    st = load(stats)
    check_invariants(st)
    records = check_datagrams(read_pcap(out), "02:00:00:00:00:07", src, dst, 514, dport, mtu, framing)
    return cap, st, records


def case_port_pcap(env):
    """Out of a DPDK port through net_pcap's tx_pcap (which does not advertise multi-segment TX:
    the counted copy fallback): every datagram well-formed, every record once, per-flow order."""
    cap, st, records = run_port_pcap(env, 51, 20000, "", "198.18.7.7", "198.18.7.1")
    k = sink_of(st, "port")
    check(k["delivered"] == 20000 and k["dropped_total"] == 0, "port sink: %s" % k)
    check(k["multi_seg"] is False and k["bytes_copied"] == k["in_bytes"], "copy fallback not counted: %s" % k)
    check(k["datagrams"] == st["ports"][0]["opackets"] and k["datagrams"] < 20000 / 3,
          "datagrams %d, opackets %d" % (k["datagrams"], st["ports"][0]["opackets"]))
    check_exactly_once(cap, records, "port (copied)")


def case_port_chains(env):
    """The zero-copy path (header mbuf + indirect segments attached to the received packets),
    forced on net_pcap, over IPv6 with octet counting and a small MTU: nothing copied, valid
    checksums over the chains, every record once; a record too large for any datagram is
    rejected and counted."""
    cap, st, records = run_port_pcap(env, 52, 20000, ",mtu=900", "2001:db8:7::7", "2001:db8:7::1",
                                     framing="octet", extra=["--test-tx-chains"], mtu=900)
    k = sink_of(st, "port")
    check(k["multi_seg"] is True and k["bytes_copied"] == 0, "chains copied bytes: %s" % k)
    rejected = k["dropped"]["rejected"]
    check(k["delivered"] + rejected == 20000, "port sink: %s" % k)
    idx = {}
    for flow, msgs in cap.expected_messages_by_flow().items():
        for i, m in enumerate(msgs):
            idx[m] = (flow, i)
    too_big = [m for m in idx if len(m) + len(str(len(m))) + 1 > 900 - 48]
    check(rejected == len(too_big), "rejected %d, expected %d over-MTU records" % (rejected, len(too_big)))
    seen = set(records)
    check(len(seen) == len(records) == 20000 - rejected and all(r in idx for r in records), "records differ")
    check(st["bytes_copied"] == 0, "bytes copied on the datapath: %d" % st["bytes_copied"])


def case_port_ndjson(env):
    """Encoded output out of a port: generated bytes in direct segments between references."""
    cap, st, records = run_port_pcap(env, 53, 5000, ",format=ndjson", "198.18.7.7", "198.18.7.1",
                                     extra=["--test-tx-chains"])
    k = sink_of(st, "port")
    check(k["delivered"] == 5000, "port sink: %s" % k)
    check(len(records) == 5000, "%d records" % len(records))
    expected = cap.expected_messages()
    recs = [json.loads(r) for r in records]
    check(all("received" in r and "source" in r and "message" in r for r in recs), "ndjson envelopes")
    n_json = sum(1 for m in expected if m.startswith(b"{"))
    check(sum(1 for r in recs if r["format"] == "json") == n_json, "json records")
    # JSON input is embedded verbatim under "log": byte-identical objects after re-serialising.
    originals = sorted(json.dumps(json.loads(m), sort_keys=True) for m in expected if m.startswith(b"{"))
    got = sorted(json.dumps(r["log"], sort_keys=True) for r in recs if r["format"] == "json")
    check(originals == got, "embedded JSON objects differ")


class KafkaCluster:
    """librdkafka's mock cluster in a kafka_peer process: brokers on loopback ports, the topic
    created with `partitions` partitions, optionally the next `errors` ProduceRequests failing
    with transient errors (NOT_LEADER_FOR_PARTITION, REQUEST_TIMED_OUT)."""

    def __init__(self, env, peer, topic="logs", brokers=3, partitions=6, errors=0):
        self.env = env
        self.peer = peer
        self.topic = topic
        self.args = [peer, "cluster", "--brokers", str(brokers), "--partitions", str(partitions),
                     "--topic", topic] + (["--errors", str(errors)] if errors else [])
        self.proc = None
        self.bootstrap = None

    def start(self):
        """Returns None when started, else why it could not start (the case then skips)."""
        if not self.peer or not os.access(self.peer, os.X_OK):
            return "no kafka_peer helper at %r (it is built with the tests)" % self.peer
        self.log = open(self.env.path("kafka-cluster.log"), "w")
        try:
            self.proc = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=self.log)
        except OSError as e:
            return "cannot run kafka_peer: %s" % e
        ready, _, _ = select.select([self.proc.stdout], [], [], 20)
        line = self.proc.stdout.readline().decode().strip() if ready else ""
        if not line:
            self.stop()
            with open(self.env.path("kafka-cluster.log")) as f:
                return "the mock cluster did not start: %s" % f.read()[-500:]
        self.bootstrap = line
        return None

    def set_brokers(self, state):
        """Takes every broker "down" (connections closed, new ones refused) or brings them "up";
        returns once the helper confirms it."""
        self.proc.stdin.write(("%s\n" % state).encode())
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], 20)
        line = self.proc.stdout.readline().decode().strip() if ready else ""
        check(line == "%s ok" % state, "kafka_peer answered %r to %r" % (line, state))

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()  # the helper's signal to shut down
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def consume(self, expect, timeout_s=120):
        """Every message of the topic, read back by a real consumer (group, from the earliest
        offset), as dicts with partition, offset, key (bytes or None) and value (bytes)."""
        res = subprocess.run([self.peer, "consume", "--bootstrap", self.bootstrap, "--topic", self.topic,
                              "--expect", str(expect), "--timeout-s", str(timeout_s)],
                             capture_output=True, text=True, timeout=timeout_s + 60)
        out = []
        for line in res.stdout.splitlines():
            r = json.loads(line)
            out.append({"partition": r["partition"], "offset": r["offset"],
                        "key": None if r["key_b64"] is None else base64.b64decode(r["key_b64"]),
                        "value": base64.b64decode(r["value_b64"])})
        check(res.returncode == 0 or len(out) >= expect,
              "consumer: %s\n%s" % (res.returncode, res.stderr[-2000:]))
        return out


TOKEN = re.compile(rb"(%s)-(\d{6})" % b"|".join(re.escape(h.encode()) for h in gen_capture.HOSTS))


def token_of(data):
    """(host, serial) of the unique token gen_capture puts in every message."""
    m = TOKEN.search(data)
    check(m is not None, "no token in %r" % data[:160])
    return m.group(1).decode(), int(m.group(2))


def expected_key(msg):
    """The partition key of a message under key=host: the host name its parser finds (RFC 5424,
    RFC 3164 and JSON lines name one; the Cisco-style and access-log lines do not)."""
    host, serial = token_of(msg)
    return host.encode() if serial % 6 in (0, 1, 3, 4) else None


def straddling_bytes(cap):
    """Bytes of the messages that cross a segment boundary of a reassembled datagram: the one
    kind of message that is not one piece in the packet, so the worker copies it (counted)."""
    total = 0
    for e in cap.expected:
        if e[0] != "log" or not e[4]:
            continue
        v6 = len(e[1].split(":")[0]) == 32  # the flow key starts with the source address in hex
        step = 1480 - (8 if v6 else 0)  # gen_capture.fragment_frames: IP payload per fragment
        size = sum(len(m) + 1 for m in e[2])
        bounds = [k * step - 8 for k in range(1, size // step + 2)]  # in UDP payload offsets
        off = 0
        for m in e[2]:
            if any(off < b < off + len(m) for b in bounds):
                total += len(m)
            off += len(m) + 1
    return total


def check_keys_and_partitions(recs, key_of_value, what):
    """Every record has its expected key, and every key lands on exactly one partition."""
    parts = collections.defaultdict(set)
    for r in recs:
        want = key_of_value(r["value"])
        check(r["key"] == want, "%s: key %r, expected %r for %r" % (what, r["key"], want, r["value"][:120]))
        if r["key"] is not None:
            parts[r["key"]].add(r["partition"])
    split = {k: sorted(p) for k, p in parts.items() if len(p) != 1}
    check(not split, "%s: keys on several partitions: %s" % (what, split))
    used = {r["partition"] for r in recs}
    check(len(used) >= 3, "%s: only partitions %s used" % (what, sorted(used)))
    return parts


def check_partition_order(cap, recs, what):
    """Within a partition, records of one flow keep the order they were sent in."""
    idx = {}
    for flow, msgs in cap.expected_messages_by_flow().items():
        for i, m in enumerate(msgs):
            idx[m] = (flow, i)
    last = {}
    for r in sorted(recs, key=lambda r: (r["partition"], r["offset"])):
        flow, i = idx[r["value"]]
        k = (r["partition"], flow)
        check(i > last.get(k, -1), "%s: flow %s out of order in partition %d" % (what, flow, r["partition"]))
        last[k] = i


def kafka_run(env, peer, seed, sink_params="", errors=0, opts=(), idle_ms=500):
    """20,000 messages through a Kafka sink into a mock cluster of 3 brokers and 6 partitions;
    returns (capture, stats, sink stats, records read back), or SKIP."""
    cap, pcap = big_capture(env, seed, 20000)
    kc = KafkaCluster(env, peer, errors=errors)
    why = kc.start()
    if why:
        print("skipped: %s" % why)
        return SKIP
    try:
        res, st = run_checked(env, pcap, ["kafka:%s/logs,key=host%s" % (kc.bootstrap, sink_params)],
                              ["--on-sink-full", "block"] + list(opts), idle_ms=idle_ms)
        k = sink_of(st, "kafka")
        check(k["delivered"] == k["in"] == 20000 and k["dropped_total"] == 0, "kafka sink: %s" % k)
        check(k["produced"] == 20000 + k["produced_again"] and k["split_records"] == 0, "kafka sink: %s" % k)
        recs = kc.consume(20000)
    finally:
        kc.stop()
    return cap, st, k, recs


def case_kafka(env):
    """20,000 messages (raw, key=host) to a mock cluster of 3 brokers and 6 partitions, read
    back by a real consumer: each exactly once and byte for byte, keyed by host name, one
    partition per key, per-flow order kept within partitions; nothing copied but the messages
    that straddle the segments of reassembled datagrams."""
    peer = env.opts.kafka_peer and os.path.abspath(env.opts.kafka_peer)
    r = kafka_run(env, peer, 51)
    if r == SKIP:
        return SKIP
    cap, st, k, recs = r
    values = collections.Counter(r["value"] for r in recs)
    dups = {v: n for v, n in values.items() if n > 1}
    check(not dups, "%d duplicated records, e.g. %r" % (len(dups), next(iter(dups), b"")[:120]))
    expected = collections.Counter(cap.expected_messages())
    check(values == expected, "records read back differ: %d missing, %d unexpected"
          % (sum((expected - values).values()), sum((values - expected).values())))
    parts = check_keys_and_partitions(recs, expected_key, "kafka")
    check_partition_order(cap, recs, "kafka")
    check(k["bytes_copied"] == 0, "the Kafka sink copied %d bytes" % k["bytes_copied"])
    # Single-segment messages go to librdkafka as pointers into the packet; a message split
    # over the segments of a reassembled datagram is linearised to parse it and copied into
    # the lane's arena to be one piece: twice its length, counted. Each key (a host name out of
    # the message) is copied into the arena too, counted.
    keys = sum(len(expected_key(m) or b"") for m in cap.expected_messages())
    want = 2 * straddling_bytes(cap) + keys
    check(st["bytes_copied"] == want, "bytes_copied %d, expected %d" % (st["bytes_copied"], want))
    print("kafka: %d records over %d partitions, %d keys, %d produce rounds, copied %d B"
          % (len(recs), len({r["partition"] for r in recs}), len(parts), k["batches"], st["bytes_copied"]))


NDJSON_MESSAGE = {
    0: lambda m: m.split(b"] ", 1)[1],  # RFC 5424 with STRUCTURED-DATA
    1: lambda m: m.split(b"]: ", 1)[1],  # RFC 3164 with a TAG[PID]
    2: lambda m: m.split(b"UPDOWN: ", 1)[1],  # Cisco-style: the mnemonic is the app
    3: lambda m: json.loads(m)["msg"].encode(),  # JSON lines: the msg role
    4: lambda m: m.split(b" - - - ", 1)[1],  # RFC 5424 without STRUCTURED-DATA
    5: lambda m: m,  # no syslog header: all of it
}


def case_kafka_ndjson(env):
    """The same with format=ndjson: every record is one JSON object whose message is the one
    its input line carries (found through the line's token), each input exactly once."""
    peer = env.opts.kafka_peer and os.path.abspath(env.opts.kafka_peer)
    r = kafka_run(env, peer, 52, ",format=ndjson")
    if r == SKIP:
        return SKIP
    cap, st, k, recs = r
    originals = {token_of(m): m for m in cap.expected_messages()}
    seen = set()
    for rec in recs:
        doc = json.loads(rec["value"])
        tok = token_of(rec["value"])
        check(tok not in seen, "token %s twice" % (tok,))
        seen.add(tok)
        want = NDJSON_MESSAGE[tok[1] % 6](originals[tok]).decode()
        check(doc["message"] == want, "message %r, expected %r" % (doc["message"], want))
        check(rec["key"] == expected_key(originals[tok]), "key %r for %r" % (rec["key"], originals[tok][:100]))
    check(len(seen) == len(originals) == 20000, "%d of %d records" % (len(seen), len(originals)))
    check(k["bytes_copied"] == 0, "the Kafka sink copied %d bytes" % k["bytes_copied"])
    print("kafka_ndjson: %d JSON records, %d B encoded, worker copied %d B"
          % (len(recs), k["bytes"], st["bytes_copied"]))


def case_kafka_errors(env):
    """50 ProduceRequests fail (NOT_LEADER_FOR_PARTITION, REQUEST_TIMED_OUT): librdkafka
    retries them (idempotent producer), every record still arrives exactly once, and the
    resends are counted. The idle wait covers one statistics period after the last delivery."""
    peer = env.opts.kafka_peer and os.path.abspath(env.opts.kafka_peer)
    r = kafka_run(env, peer, 53, errors=50, idle_ms=1500)
    if r == SKIP:
        return SKIP
    cap, st, k, recs = r
    values = collections.Counter(r["value"] for r in recs)
    check(values == collections.Counter(cap.expected_messages()),
          "records differ from the capture (%d read, %d distinct)" % (len(recs), len(values)))
    check(k["retries"] > 0 and k["retries"] == k["librdkafka_resent"] + k["produced_again"],
          "retries not counted: %s" % k)
    check_keys_and_partitions(recs, expected_key, "kafka_errors")
    check_partition_order(cap, recs, "kafka_errors")
    print("kafka_errors: %d records exactly once; %d records resent by librdkafka, %d produced again"
          % (len(recs), k["librdkafka_resent"], k["produced_again"]))


def case_kafka_down(env):
    """No broker at all: records wait in librdkafka (no message timeout) until the drain
    deadline, then are purged and counted (shutdown); logagg exits 0 on time."""
    peer = env.opts.kafka_peer and os.path.abspath(env.opts.kafka_peer)
    del peer  # no cluster: a loopback port nobody listens on
    sample = os.path.join(ROOT, "docs", "samples", "sample.pcap")
    t0 = time.time()
    res, stats = run_logagg(env, sample, ["kafka:127.0.0.1:%d/logs" % free_port()],
                            ["--drain-timeout", "1500"], idle_ms=300)
    took = time.time() - t0
    check(res.returncode == 0, describe(res))
    st = load(stats)
    check_invariants(st)
    k = sink_of(st, "kafka")
    check(k["delivered"] == 0 and k["dropped"]["shutdown"] == k["in"] == 4000, "kafka sink: %s" % k)
    check(k["purged"] == k["produced"] > 0 and k["errors"] >= 1, "kafka sink: %s" % k)
    check("dropped shutdown" in res.stdout, "the summary does not report the shutdown drops")
    check(took < 60, "took %.1f s" % took)
    print("kafka_down: %d records purged at the deadline, %d broker errors, %.1f s" % (k["purged"], k["errors"], took))


def case_kafka_too_large(env):
    """Records larger than the producer takes (kafka-prop=message.max.bytes=1000): librdkafka
    refuses each when it is produced; logagg drops it as rejected (it would fail the same way
    again), says why, and every other record arrives exactly once. 2,000 records, one in five
    of 1,200 bytes, the rest of 150."""
    peer = env.opts.kafka_peer and os.path.abspath(env.opts.kafka_peer)
    flows = [gen_capture.Flow(i, random.Random(300 + i)) for i in range(8)]
    cap = gen_capture.Capture()
    big, small = [], []
    for k in range(2000):
        f = flows[k % len(flows)]
        size = 1200 if k % 5 == 0 else 150
        m = b"<13>1 - h a - - - too-large %06d " % k
        m += b"x" * (size - len(m))
        (big if size > 1000 else small).append(m)
        cap.add_log(f.datagram(m, 514), f.key, [m], 0)
    pcap = env.path("too-large.pcap")
    cap.write_pcap(pcap)
    kc = KafkaCluster(env, peer)
    why = kc.start()
    if why:
        print("skipped: %s" % why)
        return SKIP
    try:
        res, st = run_checked(env, pcap, ["kafka:%s/logs,kafka-prop=message.max.bytes=1000" % kc.bootstrap],
                              ["--on-sink-full", "block"])
        k = sink_of(st, "kafka")
        check(k["in"] == 2000 and k["dropped"]["rejected"] == len(big) == 400 and k["delivered"] == len(small)
              and k["dropped_total"] == len(big), "kafka sink: %s" % k)
        said = res.stdout + res.stderr
        check("record rejected" in said and "too large" in said, "the refusal is not reported:\n%s" % said[-2000:])
        recs = kc.consume(len(small))
    finally:
        kc.stop()
    values = collections.Counter(r["value"] for r in recs)
    check(values == collections.Counter(small), "records read back differ: %d read, %d distinct, %d too large"
          % (len(recs), len(values), sum(1 for v in values if len(v) > 1000)))
    print("kafka_too_large: %d records of 1,200 bytes rejected, %d delivered exactly once"
          % (k["dropped"]["rejected"], len(recs)))


CASES = {
    "tcp_octet": case_tcp_octet,
    "tcp_lf": case_tcp_lf, "tcp_small_records": case_tcp_small_records,
    "tcp_ndjson": case_tcp_ndjson,
    "tcp_restart": case_tcp_restart,
    "tcp_paused": case_tcp_paused,
    "tcp_deadline": case_tcp_deadline,
    "fanout": case_fanout,
    "routes": case_routes,
    "port_pcap": case_port_pcap,
    "port_chains": case_port_chains,
    "port_ndjson": case_port_ndjson,
    "kafka": case_kafka,
    "kafka_ndjson": case_kafka_ndjson,
    "kafka_errors": case_kafka_errors,
    "kafka_down": case_kafka_down,
    "kafka_too_large": case_kafka_too_large,
}


if __name__ == "__main__":
    sys.exit(run_cases(CASES, options=[("--kafka-peer", "tests/sinks/kafka_peer (the Kafka cases)")]))
