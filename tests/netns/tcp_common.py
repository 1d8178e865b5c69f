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
import textwrap
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from netns import Failure, Link, check, run_netns_cases, sh  # noqa: E402,F401  (re-exported for the cases)
import harness  # noqa: E402

TCP_PORT = 514


class Logagg:
    """logagg on link.outer with --ip on both address families, TCP (and UDP) listeners, one file
    sink (extra args may add more) and --stats-json."""

    def __init__(self, logagg, link, tmp, listen=("tcp:%d" % TCP_PORT,), extra=(), sink=None,
                 lcores="0-1", vdev=None):
        vdev = vdev or getattr(link, "vdev", None)
        self.logagg = logagg
        self.link = link
        self.tmp = tmp
        self.out = os.path.join(tmp, "out")
        self.stats_path = os.path.join(tmp, "stats.json")
        self.logname = os.path.join(tmp, "logagg.log")
        self.prefix = "logagg-tcp-%d" % os.getpid()
        # "0-1" is -l; a map with '@' ("0@0,1@1,2@0") is --lcores (more lcores than CPUs).
        args = [logagg, "--lcores" if "@" in lcores else "-l", lcores, "--no-huge", "-m", "1024",
                "--no-pci", "--file-prefix", self.prefix, "--log-level=error",
                vdev or "--vdev=net_af_packet0,iface=%s" % link.outer, "--",
                "--ip", "0:%s/24" % link.v4_ours, "--ip", "0:%s/64" % link.v6_ours,
                "--sink", sink or "file:%s" % self.out, "--stats-json", self.stats_path]
        for l in listen:
            args += ["--listen", l]
        self.args = getattr(link, "command_prefix", []) + args + list(extra)
        self.proc = None

    def start(self):
        log = open(self.logname, "w")
        self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise Failure("logagg exited early:\n" + self.log())
            if "lcore 1:" in self.log():
                if hasattr(self.link, "started"):
                    self.link.started()
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

    def out_bytes(self):
        """Bytes in the file sink's segments so far (cheaper than lines() for a large output)."""
        return sum(os.path.getsize(p) for p in glob.glob(os.path.join(self.out, "logagg-*.log")))

    def lines(self, out=None):
        data = b""
        for seg in sorted(glob.glob(os.path.join(out or self.out, "logagg-*.log"))):
            data += open(seg, "rb").read()
        return data.split(b"\n")[:-1] if data else []


class TapLink:
    """logagg on net_tap inside a namespace made here (`ip netns exec` runs it there), the tap
    interface it creates carrying the peer's addresses, kernel clients in the same namespace:
    the path where the kernel segments GSO packets before the tap, so frames never exceed the
    MTU. Same attributes as netns.Link for Logagg and ns_python; up() before, started() once
    logagg runs (the tap exists from then on), down() after."""

    def __init__(self):
        tag = "%d" % (os.getpid() % 100000)
        self.ns = "lgtns%s" % tag
        self.iface = "lgt%s" % tag
        self.subnet = 20 + (os.getpid() + 11) % 200
        self.v4_ours = "198.18.%d.1" % self.subnet
        self.v4_peer = "198.18.%d.2" % self.subnet
        self.v6_ours = "2001:db8:%x::1" % self.subnet
        self.v6_peer = "2001:db8:%x::2" % self.subnet
        self.vdev = "--vdev=net_tap0,iface=%s" % self.iface
        self.command_prefix = ["ip", "netns", "exec", self.ns]

    def up(self):
        sh("ip", "netns", "add", self.ns)
        sh("ip", "link", "set", "lo", "up", ns=self.ns)

    def started(self):
        sh("ip", "addr", "add", self.v4_peer + "/24", "dev", self.iface, ns=self.ns)
        sh("ip", "-6", "addr", "add", self.v6_peer + "/64", "dev", self.iface, "nodad", ns=self.ns)
        sh("ip", "link", "set", self.iface, "up", ns=self.ns)

    def down(self):
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)


def telemetry(prefix, *cmds):
    """Answers of DPDK's telemetry socket (SOCK_SEQPACKET, JSON) to each command."""
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        s.connect("/var/run/dpdk/%s/dpdk_telemetry.v2" % prefix)
        info = json.loads(s.recv(1 << 16).decode())
        out = []
        for c in cmds:
            s.send(c.encode())
            out.append(json.loads(s.recv(info["max_output_len"]).decode())[c.split(",")[0]])
        return out
    finally:
        s.close()


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
    try:  # the listeners (TCP's included) split the totals exactly
        harness.check_listener_sums(st)
    except harness.Failure as e:
        raise Failure(str(e))


# The frame of a client script: argv = host port n_conns lines_per_conn; the connections are
# concurrent (one thread each) and closed cleanly (shutdown + EOF). Prints the seconds the sends
# took; a connection that fails is named on stderr and the script exits 1.
_CLIENT_CONCURRENT = r'''
import socket, sys, threading, time
host, port, n, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
errs = []
def run(c):
    try:
        s = socket.create_connection((host, port), timeout=@TIMEOUT@)
@SEND@
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


def concurrent_client(send, timeout):
    """A client script in _CLIENT_CONCURRENT's frame; `send` is what each connection sends: Python
    statements with s (the socket), c (the connection's number) and per (its lines) in scope."""
    body = textwrap.indent(textwrap.dedent(send).strip("\n"), " " * 8)
    return _CLIENT_CONCURRENT.replace("@TIMEOUT@", str(timeout)).replace("@SEND@", body)


# A client sending JSON lines (json_line(c, i), in batches of 256); each line carries its
# connection id and sequence number, so per-connection order can be checked.
CLIENT_JSON_LINES = concurrent_client(r'''
    batch = []
    for i in range(per):
        batch.append(b'{"conn":%d,"seq":%d,"msg":"hello from a tcp client"}\n' % (c, i))
        if len(batch) == 256:
            s.sendall(b"".join(batch)); batch = []
    if batch:
        s.sendall(b"".join(batch))
''', 60)


def json_line(c, i):
    """Line i of connection c as CLIENT_JSON_LINES sends it, without its LF."""
    return b'{"conn":%d,"seq":%d,"msg":"hello from a tcp client"}' % (c, i)


def json_lines_bytes(n_conns, per):
    """The bytes CLIENT_JSON_LINES sends for n_conns connections of per lines, LFs included."""
    return sum(len(json_line(c, i)) + 1 for c in range(n_conns) for i in range(per))


def check_json_lines(lines, n_conns, per):
    """Every (conn, seq) exactly once, in order per connection, byte for byte."""
    nxt = [0] * n_conns
    for line in lines:
        obj = json.loads(line)
        c, i = obj["conn"], obj["seq"]
        check(i == nxt[c], "connection %d: seq %d after %d" % (c, i, nxt[c] - 1))
        check(line == json_line(c, i), "line not byte for byte: %r" % line)
        nxt[c] += 1
    check(nxt == [per] * n_conns, "lines per connection %s, want %d each" % (nxt, per))
