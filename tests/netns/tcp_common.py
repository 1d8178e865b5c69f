# SPDX-License-Identifier: BSD-3-Clause
"""Helpers for TCP tests over a real link (tests/netns/tcp.py and others): a namespace and a veth
pair (netns.Link, 198.18.0.0/15 only), logagg terminating TCP on the root-side end with
net_af_packet and --ip, and unmodified kernel clients in the namespace (logger, rsyslog, Python
sockets run with `ip netns exec`).

    link = Link(); link.up()
    la = Logagg(logagg, link, tmp, listen=["tcp:514"]).start()
    ns_python(link, CLIENT_JSON_LINES, args...)
    la.stop(); st = la.stats()
"""

import glob
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netns import Failure, Link, check, run_netns_cases, sh  # noqa: E402,F401  (re-exported for the cases)

TCP_PORT = 514


class Logagg:
    """logagg on link.outer with --ip on both address families, TCP (and UDP) listeners, one file
    sink (extra args may add more) and --stats-json."""

    def __init__(self, logagg, link, tmp, listen=("tcp:%d" % TCP_PORT,), extra=(), sink=None,
                 lcores="0-1", vdev=None):
        self.logagg = logagg
        self.link = link
        self.tmp = tmp
        self.out = os.path.join(tmp, "out")
        self.stats_path = os.path.join(tmp, "stats.json")
        self.logname = os.path.join(tmp, "logagg.log")
        args = [logagg, "-l", lcores, "--no-huge", "-m", "1024", "--no-pci", "--file-prefix",
                "logagg-tcp-%d" % os.getpid(), "--log-level=error",
                vdev or "--vdev=net_af_packet0,iface=%s" % link.outer, "--",
                "--ip", "0:%s/24" % link.v4_ours, "--ip", "0:%s/64" % link.v6_ours,
                "--sink", sink or "file:%s" % self.out, "--stats-json", self.stats_path]
        for l in listen:
            args += ["--listen", l]
        self.args = args + list(extra)
        self.proc = None

    def start(self):
        log = open(self.logname, "w")
        self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise Failure("logagg exited early:\n" + self.log())
            if "lcore 1:" in self.log():
                return self
            time.sleep(0.1)
        raise Failure("logagg did not start:\n" + self.log())

    def log(self):
        return open(self.logname).read()

    def stop(self, timeout=60):
        """SIGTERM; logagg must exit 0 (no leak, invariants hold)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise Failure("logagg did not stop on SIGTERM:\n" + self.log()[-3000:])
        check(self.proc.returncode == 0,
              "logagg exit %d:\n%s" % (self.proc.returncode, self.log()[-3000:]))

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stats(self):
        return json.load(open(self.stats_path))

    def lines(self, out=None):
        data = b""
        for seg in sorted(glob.glob(os.path.join(out or self.out, "logagg-*.log"))):
            data += open(seg, "rb").read()
        return data.split(b"\n")[:-1] if data else []


def ns_python(link, code, *args, timeout=120, check_rc=True):
    """Runs Python @code in the namespace (a real kernel TCP client); returns the CompletedProcess."""
    r = subprocess.run(["ip", "netns", "exec", link.ns, sys.executable, "-c", code] +
                       [str(a) for a in args], capture_output=True, timeout=timeout)
    if check_rc and r.returncode != 0:
        raise Failure("client failed (%d): %s %s" % (r.returncode, r.stdout[-2000:],
                                                     r.stderr[-2000:]))
    return r


def ns_popen(link, code, *args):
    return subprocess.Popen(["ip", "netns", "exec", link.ns, sys.executable, "-c", code] +
                            [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(what, pred, timeout=30, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(step)
    raise Failure("timed out waiting for " + what)


def check_tcp_invariants(st):
    """The stats document's invariants, TCP's included, and no mbuf left behind."""
    inv = st["invariants"]
    check(inv["packets"] and inv["messages"] and inv["sinks"] and inv.get("tcp", False),
          "invariants do not hold: %s" % inv)
    check(st["mbufs"]["in_use_at_exit"] == 0, "mbufs leaked: %s" % st["mbufs"])
    tcp = st["tcp"]
    outcomes = sum(v for k, v in tcp["segments"].items() if k not in ("total", "checksum_partial"))
    check(outcomes == tcp["segments"]["total"], "segment outcomes %d != total %d" %
          (outcomes, tcp["segments"]["total"]))


# A client sending JSON lines: argv = host port n_conns lines_per_conn; each line carries its
# connection id and sequence number, so per-connection order can be checked. Prints the seconds
# the sends took. Connections are concurrent (one thread each), closed cleanly (shutdown + EOF).
CLIENT_JSON_LINES = r'''
import socket, sys, threading, time
host, port, n, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
errs = []
def run(c):
    try:
        s = socket.create_connection((host, port), timeout=60)
        batch = []
        for i in range(per):
            batch.append(b'{"conn":%d,"seq":%d,"msg":"hello from a tcp client"}\n' % (c, i))
            if len(batch) == 256:
                s.sendall(b"".join(batch)); batch = []
        if batch:
            s.sendall(b"".join(batch))
        s.shutdown(socket.SHUT_WR)
        while s.recv(4096):
            pass
        s.close()
    except Exception as e:
        errs.append("%d: %r" % (c, e))
t0 = time.time()
ts = [threading.Thread(target=run, args=(c,)) for c in range(n)]
for t in ts: t.start()
for t in ts: t.join()
print("%.3f" % (time.time() - t0))
if errs:
    print("\n".join(errs), file=sys.stderr); sys.exit(1)
'''


def check_json_lines(lines, n_conns, per):
    """Every (conn, seq) exactly once, in order per connection, byte for byte."""
    nxt = [0] * n_conns
    for line in lines:
        obj = json.loads(line)
        c, i = obj["conn"], obj["seq"]
        check(i == nxt[c], "connection %d: seq %d after %d" % (c, i, nxt[c] - 1))
        check(line == b'{"conn":%d,"seq":%d,"msg":"hello from a tcp client"}' % (c, i),
              "line not byte for byte: %r" % line)
        nxt[c] += 1
    check(nxt == [per] * n_conns, "lines per connection %s, want %d each" % (nxt, per))
