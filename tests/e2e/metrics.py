#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""--metrics, /healthz, the telemetry commands and scripts/logagg-top against the real binary,
real peers (Debian's Prometheus and promtool, a kernel TCP collector, tmux), loopback only.

    tests/e2e/metrics.py --logagg build/app/logagg/logagg --case prometheus

Every phase is placed by what logagg or the peer reports (its stdout, /metrics, Prometheus' query
API), never by a sleep. Exit status: 0 pass, 1 fail, 77 skipped.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "common"))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "tests", "sinks"))
import gen_capture  # noqa: E402
from harness import SKIP, Failure, check, check_invariants, describe, output_lines, run_cases  # noqa: E402

SAMPLE_PCAP = os.path.join(ROOT, "docs", "samples", "sample.pcap")
TOP = os.path.join(ROOT, "scripts", "logagg-top")
LIMIT = 60  # seconds any one wait may take before the case fails


def free_port():
    """A loopback TCP port nobody listens on right now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_get(url, timeout=5):
    """(status, body) of GET url; 4xx/5xx are answers, not errors."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """Text format 0.0.4 -> {(name, frozenset(labels)): float}; every sample line must parse."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        check(m is not None, "unparsable exposition line: %r" % line)
        key = (m.group(1), frozenset(LABEL.findall(m.group(3) or "")))
        check(key not in out, "sample given twice: %r" % line)
        out[key] = float(m.group(4))
    return out


def metric(ms, name, **labels):
    want = set(labels.items())
    rows = [v for (n, ls), v in ms.items() if n == name and want <= set(ls)]
    check(len(rows) == 1, "%d samples of %s%s in the exposition" % (len(rows), name, labels))
    return rows[0]


class Logagg:
    """logagg running in the background with --metrics on a free port; its stdout is read by a thread
    so the bound URL and later lines can be waited for."""

    def __init__(self, env, name, vdev, opts, lcores="0-1", listen="127.0.0.1:0"):
        env.runs += 1
        self.prefix = "logagg-metrics-%s-%d-%d" % (name, os.getpid(), env.runs)
        self.stats = env.path("stats-%s-%d.json" % (name, env.runs))
        self.out = env.path("out-%s-%d" % (name, env.runs))
        args = [env.logagg, "-l", lcores, "--no-huge", "-m", "512", "--no-pci", "--file-prefix",
                self.prefix, "--log-level=error", "--vdev=" + vdev, "--",
                "--metrics", listen, "--stats-json", self.stats] + list(opts)
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        line = self.wait_line(r"metrics: (http://\S+)/metrics")
        self.url = re.search(r"(http://\S+)/metrics", line).group(1)
        # Serving starts once the runtime exists; the lcores are launched right after.
        self.wait_line(r"^  lcore \d+: ")

    def _read(self):
        for line in iter(self.proc.stdout.readline, ""):
            self.lines.append(line)

    def wait_line(self, pattern):
        deadline = time.time() + LIMIT
        seen = 0
        while time.time() < deadline:
            while seen < len(self.lines):
                if re.search(pattern, self.lines[seen]):
                    return self.lines[seen]
                seen += 1
            if self.proc.poll() is not None:
                self.reader.join(2)
                raise Failure("logagg exited (%s) before printing %r:\n%s%s" % (
                    self.proc.returncode, pattern, "".join(self.lines), self.proc.stderr.read()))
            time.sleep(0.02)
        raise Failure("timed out waiting for logagg to print %r" % pattern)

    def metrics(self):
        status, body = http_get(self.url + "/metrics")
        check(status == 200, "/metrics answered %d: %s" % (status, body[:200]))
        return body

    def wait_metrics(self, cond, what):
        """Polls /metrics until cond(parsed) holds; returns the parsed exposition."""
        deadline = time.time() + LIMIT
        while time.time() < deadline:
            ms = parse_metrics(self.metrics())
            if cond(ms):
                return ms
            check(self.proc.poll() is None, "logagg exited while waiting for %s" % what)
            time.sleep(0.05)
        raise Failure("timed out waiting for %s" % what)

    def stop(self):
        """SIGTERM, wait, and the --stats-json document."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(LIMIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Failure("logagg did not stop on SIGTERM")
        self.reader.join(5)
        err = self.proc.stderr.read()
        check(self.proc.returncode == 0, "logagg exited %d:\n%s%s" % (
            self.proc.returncode, "".join(self.lines)[-3000:], err[-3000:]))
        with open(self.stats) as f:
            return json.load(f)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def replay(env, name, cap, opts=(), lcores="0-1"):
    pcap = env.path("%s.pcap" % name)
    cap.write_pcap(pcap)
    return Logagg(env, name, "net_pcap0,rx_pcap=%s" % pcap, opts, lcores)


def delivered_all(n):
    """The whole replay is delivered: n records delivered by the (single) sink, none in flight."""
    def cond(ms):
        return (metric(ms, "logagg_messages_total", stage="delivered") == n and
                metric(ms, "logagg_sink_in_flight_records") == 0)
    return cond


# --- Prometheus -----------------------------------------------------------------------------

class Prometheus:
    """Debian's prometheus on 127.0.0.1 with its own storage, scraping `target` every second."""

    def __init__(self, env, target):
        self.dir = env.path("prometheus")
        os.makedirs(self.dir)
        conf = os.path.join(self.dir, "prometheus.yml")
        with open(conf, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: logagg\n    static_configs:\n"
                    "      - targets: ['%s']\n" % target)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen(
            ["prometheus", "--config.file=" + conf, "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + LIMIT
        while time.time() < deadline:
            check(self.proc.poll() is None, "prometheus exited: %s" % open(self.log.name).read()[-2000:])
            try:
                if http_get(self.url + "/-/ready", timeout=1)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise Failure("prometheus did not become ready")

    def query(self, expr):
        """[(labels, timestamp, value)] of an instant query."""
        status, body = http_get(self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        check(status == 200, "prometheus query %r: %d %s" % (expr, status, body[:300]))
        doc = json.loads(body)
        check(doc["status"] == "success", "prometheus query %r: %s" % (expr, body[:300]))
        return [(r["metric"], float(r["value"][0]), float(r["value"][1])) for r in doc["data"]["result"]]

    def one(self, expr):
        rows = self.query(expr)
        check(len(rows) == 1, "prometheus: %r gave %d series: %s" % (expr, len(rows), rows))
        return rows[0][2]

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def case_prometheus(env):
    """A real Prometheus scrapes logagg every second during and after a replay; once it holds a
    sample taken after the replay was fully delivered, its query API gives the same values as
    --stats-json for packets received, messages framed, delivered per sink and drop reasons.
    promtool accepts the exposition with no lint problem."""
    for tool in ("prometheus", "promtool"):
        if shutil.which(tool) is None:
            print("skipped: %s is not installed (Debian package prometheus; scripts/test installs it)" % tool)
            return SKIP
    cap = gen_capture.build(seed=31, n_messages=3000, flows=16)
    exp = cap.expected_stats()
    la = replay(env, "prometheus", cap, ["--sink", "file:%s" % env.path("out-prom")])
    prom = None
    try:
        ms = la.wait_metrics(delivered_all(exp["messages"]["framed"]), "the replay to be delivered")
        done = time.time()
        text = la.metrics()
        lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
        check(lint.returncode == 0 and lint.stdout.strip() == "" and lint.stderr.strip() == "",
              "promtool check metrics: exit %d\n%s%s" % (lint.returncode, lint.stdout, lint.stderr))
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ")
                check(kind != "counter" or name.endswith("_total"), "counter %s without _total" % name)
        check(metric(ms, "logagg_build_info", version=re.search(r'version="([^"]+)"', text).group(1),
                     dpdk=re.search(r'dpdk="(\d+\.\d+\.\d+)"', text).group(1)) == 1, "build_info is not 1")
        # Every family issue 13 asks for, with its type: per stage, drop reason, listener and
        # sink (in, delivered, dropped by reason, in flight, pinned bytes, batches, reconnects,
        # retries, copied bytes), latency, port counters, mempool, lcore busy time, build info.
        types = dict(line.split(" ")[2:4] for line in text.splitlines() if line.startswith("# TYPE "))
        wanted = {"logagg_packets_total": "counter", "logagg_packets_dropped_total": "counter",
                  "logagg_messages_total": "counter", "logagg_messages_dropped_total": "counter",
                  "logagg_listener_packets_total": "counter", "logagg_listener_payload_bytes_total": "counter",
                  "logagg_listener_messages_total": "counter", "logagg_listener_messages_dropped_total": "counter",
                  "logagg_sink_in_records_total": "counter", "logagg_sink_delivered_records_total": "counter",
                  "logagg_sink_dropped_records_total": "counter", "logagg_sink_in_flight_records": "gauge",
                  "logagg_sink_pinned_bytes": "gauge", "logagg_sink_batches_total": "counter",
                  "logagg_sink_reconnects_total": "counter", "logagg_sink_retries_total": "counter",
                  "logagg_sink_copied_bytes_total": "counter", "logagg_sink_latency_seconds": "histogram",
                  "logagg_port_received_packets_total": "counter", "logagg_port_missed_packets_total": "counter",
                  "logagg_port_rx_nombuf_total": "counter", "logagg_port_receive_errors_total": "counter",
                  "logagg_port_send_errors_total": "counter", "logagg_mempool_mbufs_in_use": "gauge",
                  "logagg_lcore_busy_seconds_total": "counter", "logagg_copied_bytes_by_reason_total": "counter",
                  "logagg_build_info": "gauge"}
        missing = {n: t for n, t in wanted.items() if types.get(n) != t}
        check(not missing, "families missing or of another type: %s" % missing)
        prom = Prometheus(env, la.url[len("http://"):])
        # The handshake: wait until Prometheus holds a scrape taken after everything was delivered.
        deadline = time.time() + LIMIT
        while True:
            rows = prom.query('timestamp(logagg_messages_total{stage="delivered"})')
            if rows and rows[0][2] > done:
                break
            check(time.time() < deadline, "prometheus never scraped logagg after the replay: %s\n%s"
                  % (rows, open(prom.log.name).read()[-2000:]))
            time.sleep(0.1)
        got = {
            "received": prom.one('logagg_packets_total{stage="received"}'),
            "framed": prom.one('logagg_messages_total{stage="framed"}'),
            "delivered": prom.one('logagg_sink_delivered_records_total{sink="file"}'),
            "not_ip": prom.one('logagg_packets_dropped_total{reason="not_ip"}'),
            "port_not_listened": prom.one('logagg_packets_dropped_total{reason="port_not_listened"}'),
            "buckets": prom.one('logagg_sink_latency_seconds_count{sink="file"}'),
        }
        st = la.stop()
    finally:
        la.kill()
        if prom:
            prom.close()
    check_invariants(st)
    k = st["sinks"][0]
    want = {
        "received": st["packets"]["received"],
        "framed": st["messages"]["framed"],
        "delivered": k["delivered"],
        "not_ip": st["packets"]["dropped"]["not_ip"],
        "port_not_listened": st["packets"]["dropped"]["port_not_listened"],
        "buckets": k["latency_us"]["timed"],
    }
    check(got == want, "prometheus has %s, --stats-json says %s" % (got, want))
    check(want["framed"] == exp["messages"]["framed"] and want["not_ip"] == exp["packets"]["dropped"]["not_ip"],
          "stats differ from the capture's truth: %s" % want)


# --- per listener ------------------------------------------------------------------------------

def case_listeners(env):
    """A replay to two listeners (514 auto, 5514 rfc5424 with --on-parse-error drop): each
    listener's frames, payload bytes and messages are the capture's, only 5514 drops messages,
    and the summary, --stats-json, /metrics and /logagg/stats give the same per-listener numbers
    (promtool accepts the exposition)."""
    cap = gen_capture.build(seed=33, n_messages=3000, flows=16, listen_ports=(514, 5514))
    exp = cap.expected_stats()
    la = replay(env, "listeners", cap, ["--listen", "udp:514", "--listen", "udp:5514:rfc5424",
                                        "--on-parse-error", "drop", "--sink", "file:%s" % env.path("out-ls")])
    try:
        def done(ms):
            return (metric(ms, "logagg_messages_total", stage="framed") == exp["messages"]["framed"] and
                    metric(ms, "logagg_messages_total", stage="delivered") ==
                    metric(ms, "logagg_messages_total", stage="routed") and
                    metric(ms, "logagg_sink_in_flight_records") == 0)
        ms = la.wait_metrics(done, "the replay to be delivered")
        text = la.metrics()
        (tel,) = telemetry(la.prefix, "/logagg/stats")
        st = la.stop()
    finally:
        la.kill()
    check_invariants(st)
    if shutil.which("promtool") is not None:
        lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
        check(lint.returncode == 0 and lint.stdout.strip() == "" and lint.stderr.strip() == "",
              "promtool check metrics: exit %d\n%s%s" % (lint.returncode, lint.stdout, lint.stderr))
    got = {x["listener"]: x for x in st["listeners"]}
    check(sorted(got) == ["udp:514", "udp:5514"] and got["udp:514"]["format"] == "auto" and
          got["udp:5514"]["format"] == "rfc5424", "--stats-json listeners: %s" % st["listeners"])
    summary = "".join(la.lines)
    for port, truth in sorted(cap.listeners.items()):
        name = "udp:%d" % port
        x = got[name]
        check({k: x[k] for k in truth} == truth, "%s: logagg counted %s, the capture holds %s" % (name, x, truth))
        prom = {
            "packets": metric(ms, "logagg_listener_packets_total", listener=name),
            "payload_bytes": metric(ms, "logagg_listener_payload_bytes_total", listener=name),
            "messages": metric(ms, "logagg_listener_messages_total", listener=name),
            "dropped": metric(ms, "logagg_listener_messages_dropped_total", listener=name),
        }
        check(prom == {k: x[k] for k in prom}, "%s: /metrics %s, --stats-json %s" % (name, prom, x))
        t = tel["listeners"]["udp_%d" % port]
        check(t == {k: x[k] for k in t} and set(t) == {"format", "packets", "payload_bytes", "messages", "dropped"},
              "%s: /logagg/stats %s, --stats-json %s" % (name, t, x))
        line = "listener %s (%s): packets %d (%d payload bytes) messages %d dropped %d" % (
            name, x["format"], x["packets"], x["payload_bytes"], x["messages"], x["dropped"])
        check(line in summary, "the summary lacks %r:\n%s" % (line, summary[-3000:]))
    check(got["udp:514"]["dropped"] == 0 and got["udp:5514"]["dropped"] > 0 and
          got["udp:5514"]["dropped"] == st["messages"]["dropped"]["parse_error"],
          "drops by listener: %s, by reason %s" % (st["listeners"], st["messages"]["dropped"]))


# --- DPDK telemetry --------------------------------------------------------------------------

def telemetry(prefix, *cmds):
    """Answers of DPDK's telemetry socket (SOCK_SEQPACKET, JSON) to each command."""
    path = "/var/run/dpdk/%s/dpdk_telemetry.v2" % prefix
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        s.connect(path)
        info = json.loads(s.recv(1 << 16).decode())
        out = []
        for c in cmds:
            s.send(c.encode())
            out.append(json.loads(s.recv(info["max_output_len"]).decode())[c])
        return out
    finally:
        s.close()


def threads_cpus(pid):
    """{thread name: Cpus_allowed_list} of a process's threads. A thread may end while they are
    listed (DPDK's per-client telemetry thread does when the client has gone): it is skipped."""
    out = {}
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, t)) as f:
                comm = f.read().strip()
            with open("/proc/%d/task/%s/status" % (pid, t)) as f:
                cpus = re.search(r"Cpus_allowed_list:\s*(\S+)", f.read()).group(1)
        except (FileNotFoundError, ProcessLookupError):
            continue
        out[comm] = cpus
    return out


def case_telemetry(env):
    """/logagg/stats, /logagg/sinks and /logagg/ports on DPDK's telemetry socket agree with
    /metrics once a replay is delivered, and DPDK's own commands still answer. The bytes copied
    by reason agree in all three (--stats-json too); the ndjson sink makes two reasons non-zero
    (linearise: messages across fragments, parsed; sink_append: the short records). The HTTP thread
    is a control thread: with the only lcore on CPU 1 it runs on CPU 0, as EAL's own threads."""
    if os.cpu_count() < 2:
        print("skipped: needs two CPUs (one for the lcore, one for the control threads)")
        return SKIP
    cap = gen_capture.build(seed=32, n_messages=2000, flows=8)
    exp = cap.expected_stats()
    la = replay(env, "telemetry", cap, ["--sink", "file:%s,format=ndjson" % env.path("out-tel")], lcores="1")
    try:
        ms = la.wait_metrics(delivered_all(exp["messages"]["framed"]), "the replay to be delivered")
        stats, sinks, ports, lcores, ethdev = telemetry(la.prefix, "/logagg/stats", "/logagg/sinks",
                                                        "/logagg/ports", "/logagg/lcores", "/ethdev/list")
        cpus = threads_cpus(la.proc.pid)
        ms2 = parse_metrics(la.metrics())
        st = la.stop()
    finally:
        la.kill()
    # Time moves on idle: uptime, and the lcores' busy time and sleeps (they poll and sleep).
    clock = ("logagg_uptime_seconds", "logagg_lcore_busy_seconds_total", "logagg_lcore_sleeps_total")
    check(ms == ms2 or all(ms[k] == ms2[k] for k in ms if k[0] not in clock),
          "/metrics changed after the replay was delivered")
    check(ethdev == [0], "/ethdev/list: %s" % ethdev)
    check(list(lcores) == ["1"] and lcores["1"]["roles"] == "main+rx+worker+sink" and
          lcores["1"]["rx_packets"] == metric(ms, "logagg_lcore_rx_packets_total", lcore="1") and
          lcores["1"]["messages_framed"] == metric(ms, "logagg_lcore_messages_framed_total", lcore="1"),
          "/logagg/lcores: %s" % lcores)
    check(metric(ms, "logagg_build_info", version=stats["version"]) == 1, "/logagg/stats version %s" % stats["version"])
    for stage in ("received", "to_workers", "framed_by_workers", "reassembled", "fragments_merged"):
        check(stats["packets"][stage] == metric(ms, "logagg_packets_total", stage=stage),
              "packets %s: telemetry %s, /metrics %s" % (stage, stats["packets"][stage],
                                                          metric(ms, "logagg_packets_total", stage=stage)))
    for reason, n in stats["packets_dropped"].items():
        check(n == metric(ms, "logagg_packets_dropped_total", reason=reason), "packets dropped %s differ" % reason)
    for stage in ("framed", "routed", "delivered", "empty_skipped"):
        check(stats["messages"][stage] == metric(ms, "logagg_messages_total", stage=stage),
              "messages %s differ" % stage)
    for reason, n in stats["messages_dropped"].items():
        check(n == metric(ms, "logagg_messages_dropped_total", reason=reason), "messages dropped %s differ" % reason)
    check(stats["messages"]["delivered"] == exp["messages"]["framed"], "telemetry delivered %s" % stats["messages"])
    check(list(sinks) == ["file"], "/logagg/sinks: %s" % sinks)
    f = sinks["file"]
    check(f["delivered"] == metric(ms, "logagg_sink_delivered_records_total", sink="file") and
          f["in"] == metric(ms, "logagg_sink_in_records_total", sink="file") and
          f["in_flight"] == 0 and f["type"] == "file", "/logagg/sinks file: %s" % f)
    check(list(ports) == ["0"] and ports["0"]["ipackets"] == metric(ms, "logagg_port_received_packets_total", port="0")
          and ports["0"]["link_up"] == 1, "/logagg/ports: %s" % ports)
    # The numbers are the run's: what --stats-json wrote at exit.
    check(st["packets"]["received"] == stats["packets"]["received"] and
          st["sinks"][0]["delivered"] == f["delivered"], "telemetry and --stats-json differ")
    by_reason = st["bytes_copied_by_reason"]
    prom = {r: metric(ms, "logagg_copied_bytes_by_reason_total", reason=r) for r in by_reason}
    check(stats["copied_bytes_by_reason"] == by_reason == prom,
          "bytes copied by reason: /logagg/stats %s, /metrics %s, --stats-json %s"
          % (stats["copied_bytes_by_reason"], prom, by_reason))
    check(sum(by_reason.values()) == st["bytes_copied"] == stats["copied_bytes"] ==
          metric(ms, "logagg_copied_bytes_total") and sum(1 for v in by_reason.values() if v) >= 2,
          "bytes copied: total %d, by reason %s" % (st["bytes_copied"], by_reason))
    check(cpus.get("logagg-http") == "0" and cpus.get("logagg") == "1",
          "the HTTP thread is not on the control CPU: %s" % cpus)
    check(cpus.get("logagg-http") == cpus.get("eal-intr-thread"), "HTTP thread and EAL's differ: %s" % cpus)


# --- /healthz --------------------------------------------------------------------------------

class Collector:
    """A kernel TCP listener on 127.0.0.1:port that reads and discards; stop() closes the
    listening socket and every connection (the collector is gone), start() listens again."""

    def __init__(self, port):
        self.port = port
        self.sock = None
        self.conns = []
        self.thread = None
        self.running = False

    def start(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(8)
        s.settimeout(0.05)
        self.sock = s
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        import select
        while self.running:
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except (socket.timeout, OSError):
                pass
            live = [c for c in self.conns if c.fileno() >= 0]
            if live:
                r, _, _ = select.select(live, [], [], 0)
                for c in r:
                    try:
                        c.recv(1 << 16)
                    except OSError:
                        pass

    def stop(self):
        self.running = False
        self.thread.join()
        self.sock.close()
        for c in self.conns:
            c.close()
        self.conns = []


def wait_health(la, want, what):
    """Polls /healthz until it answers `want`; returns its JSON body."""
    deadline = time.time() + LIMIT
    status, doc = None, None
    while time.time() < deadline:
        status, body = http_get(la.url + "/healthz")
        doc = json.loads(body)
        if status == want:
            return doc
        check(la.proc.poll() is None, "logagg exited")
        time.sleep(0.05)
    raise Failure("/healthz never answered %d (%s); last %s %s" % (want, what, status, doc))


def case_kafka_healthz(env):
    """A Kafka sink in /healthz: 200 while its producer has a broker up, 503 naming the sink once
    every broker of librdkafka's mock cluster (a kafka_peer process the test controls through
    its stdin) has been down longer than reconnect.backoff.max.ms, 200 again when they are back;
    logagg_sink_connected follows, and every record is delivered in the end."""
    from sinks import KafkaCluster  # tests/sinks: the mock cluster's driver
    peer = env.opts.kafka_peer and os.path.abspath(env.opts.kafka_peer)
    kc = KafkaCluster(env, peer, brokers=3, partitions=3)
    why = kc.start()
    if why:
        print("skipped: %s" % why)
        return SKIP
    la = None
    try:
        la = Logagg(env, "kafkahz", "net_pcap0,rx_pcap=%s" % SAMPLE_PCAP,
                    ["--sink", "kafka:%s/logs,kafka-prop=reconnect.backoff.max.ms=300" % kc.bootstrap])
        doc = wait_health(la, 200, "a broker up")
        check(doc == {"status": "ok"}, "healthy body: %s" % doc)
        ms = la.wait_metrics(lambda ms: metric(ms, "logagg_sink_connected", sink="kafka") == 1 and
                             metric(ms, "logagg_sink_delivered_records_total", sink="kafka") == 4000,
                             "the sample delivered with a broker up")
        kc.set_brokers("down")
        doc = wait_health(la, 503, "every broker down")
        check(doc["status"] == "unhealthy" and len(doc["reasons"]) == 1 and
              doc["reasons"][0].startswith("sink kafka: no Kafka broker of %s up for " % kc.bootstrap) and
              "reconnect.backoff.max.ms 300)" in doc["reasons"][0], "unhealthy body: %s" % doc)
        check(metric(parse_metrics(la.metrics()), "logagg_sink_connected", sink="kafka") == 0,
              "the sink is still shown connected")
        kc.set_brokers("up")
        doc = wait_health(la, 200, "the brokers back")
        check(metric(parse_metrics(la.metrics()), "logagg_sink_connected", sink="kafka") == 1,
              "the sink is not shown connected")
        st = la.stop()
    finally:
        if la is not None:
            la.kill()
        kc.stop()
    check_invariants(st)
    k = st["sinks"][0]
    check(k["delivered"] == k["in"] == 4000 and k["connections"] >= 2 and
          k["disconnects"] == k["connections"] - 1,
          "kafka sink: delivered %d of %d, connections %d, disconnects %d"
          % (k["delivered"], k["in"], k["connections"], k["disconnects"]))


def case_healthz(env):
    """/healthz is 200 while the port is up and the TCP sink connected, 503 naming the sink once
    its collector has been gone longer than reconnect-max-ms, and 200 again when it returns.
    Other paths are 404; other methods 405. Served on IPv6 loopback."""
    col = Collector(free_port())
    col.start()
    la = Logagg(env, "healthz", "net_pcap0,rx_pcap=%s" % SAMPLE_PCAP,
                ["--sink", "tcp:127.0.0.1:%d,reconnect-max-ms=200" % col.port], listen="[::1]:0")
    try:
        check(la.url.startswith("http://[::1]:"), "not served on [::1]: %s" % la.url)
        def health():
            status, body = http_get(la.url + "/healthz")
            return status, json.loads(body)

        def wait_health(want, what):
            deadline = time.time() + LIMIT
            while time.time() < deadline:
                status, doc = health()
                if status == want:
                    return doc
                check(la.proc.poll() is None, "logagg exited")
                time.sleep(0.05)
            raise Failure("/healthz never answered %d (%s); last %d %s" % (want, what, status, doc))

        doc = wait_health(200, "collector up")
        check(doc == {"status": "ok"}, "healthy body: %s" % doc)
        check(http_get(la.url + "/nothing")[0] == 404, "unknown path is not 404")
        req = urllib.request.Request(la.url + "/metrics", data=b"x", method="POST")
        try:
            urllib.request.urlopen(req, timeout=5)
            raise Failure("POST /metrics was accepted")
        except urllib.error.HTTPError as e:
            check(e.code == 405, "POST /metrics answered %d" % e.code)
        col.stop()
        doc = wait_health(503, "collector stopped")
        check(doc["status"] == "unhealthy" and len(doc["reasons"]) == 1 and "sink tcp" in doc["reasons"][0]
              and "reconnect-max-ms 200" in doc["reasons"][0], "unhealthy body: %s" % doc)
        ms = parse_metrics(la.metrics())
        check(metric(ms, "logagg_sink_connected", sink="tcp") == 0, "sink still shown connected")
        col.start()
        doc = wait_health(200, "collector back")
        ms = parse_metrics(la.metrics())
        check(metric(ms, "logagg_sink_connected", sink="tcp") == 1, "sink not shown connected")
        check(metric(ms, "logagg_sink_reconnects_total", sink="tcp") >= 1, "no reconnect counted")
        st = la.stop()
    finally:
        la.kill()
        if col.running:
            col.stop()
    check_invariants(st)
    k = st["sinks"][0]
    check(k["connections"] == k["reconnects"] + 1 and k["disconnects"] >= 1,
          "connections %d reconnects %d disconnects %d" % (k["connections"], k["reconnects"], k["disconnects"]))


# --- scraping while traffic flows --------------------------------------------------------------

def case_scrape_loop(env):
    """1,000 scrapes of /metrics in a tight loop while an endless replay flows (block mode): every
    counter only grows from scrape to scrape, deliveries progress during the loop, and at exit the
    accounting balances, nothing is dropped, and the files hold exactly the delivered records."""
    la = Logagg(env, "scrape", "net_pcap0,rx_pcap=%s,infinite_rx=1" % SAMPLE_PCAP,
                ["--sink", "file:%s" % env.path("out-scrape"), "--on-sink-full", "block",
                 "--test-sink-delay-us", "20000"])
    try:
        la.wait_metrics(lambda ms: metric(ms, "logagg_messages_total", stage="delivered") > 0,
                        "the first deliveries")
        prev = None
        first_delivered = None
        n = 0
        for n in range(1000):
            ms = parse_metrics(la.metrics())
            if prev is not None:
                for key, v in ms.items():
                    if key[0].endswith("_total") or key[0].endswith("_bucket") or key[0].endswith("_count"):
                        check(v >= prev.get(key, 0), "%s went down: %s -> %s" % (key, prev.get(key), v))
            if first_delivered is None:
                first_delivered = metric(ms, "logagg_messages_total", stage="delivered")
            # While running: nothing a sink was given is lost, and framed = routed + dropped to
            # within the messages a worker is between counting them (a handful).
            check(metric(ms, "logagg_sink_in_records_total") >=
                  metric(ms, "logagg_sink_delivered_records_total") + sum(
                      v for (name, _), v in ms.items() if name == "logagg_sink_dropped_records_total"),
                  "sink in < delivered + dropped")
            prev = ms
        last_delivered = metric(prev, "logagg_messages_total", stage="delivered")
        check(last_delivered > first_delivered, "no delivery during the %d scrapes (%d)" % (n + 1, last_delivered))
        st = la.stop()
    finally:
        la.kill()
    check_invariants(st)
    k = st["sinks"][0]
    check(k["dropped_total"] == 0 and st["messages"]["dropped_total"] == 0,
          "records dropped: sink %s, messages %s" % (k["dropped"], st["messages"]["dropped"]))
    check(k["delivered"] == st["messages"]["framed"] >= last_delivered,
          "framed %d, delivered %d" % (st["messages"]["framed"], k["delivered"]))
    lines = output_lines(env.path("out-scrape"))
    check(len(lines) == k["delivered"], "%d lines in the files, %d delivered" % (len(lines), k["delivered"]))


# --- scripts/logagg-top ---------------------------------------------------------------------

def case_top(env):
    """scripts/logagg-top --metrics URL in a tmux pane shows the running pipeline and its numbers
    move: two captures of the pane, a refresh apart, differ in the sink's delivered count."""
    return top_in_tmux(env, "top", lambda la: "--metrics %s" % la.url)


def case_top_telemetry(env):
    """scripts/logagg-top --file-prefix NAME reads DPDK's telemetry socket instead of /metrics
    and shows the same view, numbers moving (two captures of its tmux pane)."""
    return top_in_tmux(env, "toptel", lambda la: "--file-prefix %s" % la.prefix)


def top_in_tmux(env, name, source):
    """logagg-top with the source options source(la) in a tmux pane, against an endless replay:
    every section shows, with the default listener, and the delivered count moves."""
    if shutil.which("tmux") is None:
        print("skipped: tmux is not installed")
        return SKIP
    la = Logagg(env, name, "net_pcap0,rx_pcap=%s,infinite_rx=1" % SAMPLE_PCAP,
                ["--sink", "file:%s" % env.path("out-" + name), "--on-sink-full", "block",
                 "--test-sink-delay-us", "20000"])
    session = "logagg-%s-%d" % (name, os.getpid())
    sock = env.path("tmux-%s.sock" % name)
    tmux = ["tmux", "-S", sock]
    try:
        subprocess.run(tmux + ["new-session", "-d", "-s", session, "-x", "160", "-y", "60",
                               "%s %s %s" % (sys.executable, TOP, source(la))], check=True)

        def delivered_shown():
            """The file sink's delivered count as the pane shows it now, or None."""
            pane = subprocess.run(tmux + ["capture-pane", "-p", "-t", session], capture_output=True,
                                  text=True).stdout
            m = re.search(r"^file\s+file\s+\S+\s+\S+\s+(\S+)", pane, re.M)
            return (m.group(1) if m else None), pane

        def wait_shown(cond, what):
            deadline = time.time() + LIMIT
            while time.time() < deadline:
                v, pane = delivered_shown()
                if v is not None and cond(v):
                    return v, pane
                time.sleep(0.1)
            raise Failure("logagg-top never showed %s; pane:\n%s" % (what, pane))

        first, pane = wait_shown(lambda v: v not in ("0", "-"), "a delivered count")
        check("logagg top" in pane and "PIPELINE" in pane and "net_pcap0" in pane and "rx+worker" in pane
              and re.search(r"^udp:514\s+auto\s", pane, re.M) is not None,
              "pane lacks a section:\n%s" % pane)
        second, pane2 = wait_shown(lambda v: v != first, "a changed delivered count")
        check(re.search(r"^messages delivered\s+\S+\s+[0-9.]+k?", pane2, re.M) is not None,
              "no delivery rate shown:\n%s" % pane2)
        check(re.search(r"^udp:514\s+auto\s+[0-9.]+k?\s", pane2, re.M) is not None and
              re.search(r"^file\s+file(\s+\S+){7}\s+[0-9.]+(us|ms|s)\s+[0-9.]+(us|ms|s)\s*$", pane2, re.M) is not None and
              re.search(r"^\d+\s+rx\+worker\s+[0-9.]+k?\s+[0-9.]+k?\s+[0-9.]+k?\s+\d+%", pane2, re.M) is not None,
              "the listener rate, sink latency or lcore busy fraction is not shown:\n%s" % pane2)
        la.stop()
    finally:
        subprocess.run(tmux + ["kill-server"], capture_output=True)
        la.kill()


# --- the option --------------------------------------------------------------------------------

def case_cli(env):
    """--metrics usage errors exit 2 naming the option (before EAL); a port in use exits 1
    naming it before any port starts."""
    for bad in ("127.0.0.1", "::1:9514", "[::1]", "[::1]:99999", "localhost:9514", "127.0.0.1:x", ""):
        res = subprocess.run([env.logagg, "--", "--metrics", bad, "--sink", "file:/nonexistent-dir/x"],
                             capture_output=True, text=True, timeout=30)
        check(res.returncode == 2 and res.stderr.startswith("logagg: --metrics") and
              len(res.stderr.strip().splitlines()) == 1, "--metrics %r: %s" % (bad, describe(res)))
    res = subprocess.run([env.logagg, "--help"], capture_output=True, text=True)
    check("--metrics ADDR:PORT" in res.stdout, "--help does not list --metrics")
    if os.geteuid() != 0:
        print("cli: bind failure not checked (needs root for EAL)")
        return
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        env.runs += 1
        stats = env.path("cli-stats.json")
        res = subprocess.run([env.logagg, "-l", "0-1", "--no-huge", "-m", "512", "--no-pci", "--file-prefix",
                              "logagg-metrics-cli-%d" % os.getpid(), "--log-level=error",
                              "--vdev=net_pcap0,rx_pcap=%s" % SAMPLE_PCAP, "--",
                              "--metrics", "127.0.0.1:%d" % port, "--sink", "file:%s" % env.path("out-cli"),
                              "--stats-json", stats], capture_output=True, text=True, timeout=120)
    finally:
        busy.close()
    check(res.returncode == 1 and "--metrics 127.0.0.1:%d: cannot listen: Address already in use" % port in res.stderr,
          "port in use: %s" % describe(res))
    check("port 0" not in res.stdout and "lcore" not in res.stdout and not os.path.exists(stats),
          "logagg started before failing:\n%s" % describe(res))


CASES = {
    "prometheus": case_prometheus,
    "telemetry": case_telemetry,
    "healthz": case_healthz,
    "scrape_loop": case_scrape_loop,
    "top": case_top,
    "top_telemetry": case_top_telemetry,
    "listeners": case_listeners,
    "kafka_healthz": case_kafka_healthz,
    "cli": case_cli,
}

if __name__ == "__main__":
    sys.exit(run_cases(CASES, rootless=("cli",),
                       options=[("--kafka-peer", "tests/sinks/kafka_peer (the kafka_healthz case)")]))
