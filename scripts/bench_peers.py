# SPDX-License-Identifier: BSD-3-Clause
"""scripts/bench --only peers: logagg side by side with rsyslog and syslog-ng (module, not a script).

Every program gets the same 250-byte RFC 5424 messages, one per UDP datagram, numbered so that
each program's output can be checked line by line (build/tests/bench/logagg-udp-blast writes,
sends and checks them). Two jobs (--peer-job): raw, every program writes each message unchanged
plus LF; ndjson, every program parses each message as RFC 5424 and writes one JSON object per
line with its parts (timestamp, received, host, app, severity, facility, procid, msgid, sender,
structured data, message text), checked field by field (logagg-udp-blast check --json).
Topology, made here and removed at the end:

    namespace S (sender)  veth  namespace R (receivers)
    198.18.250.2/24  ---------  198.18.250.1/24 while a kernel-socket peer runs; no address
                                while logagg runs (the kernel then drops the frames as
                                InAddrErrors and sends no ICMP: checked, see kernel_quiet)

The sender's neighbour entry for .1 is static, so nothing depends on ARP. The veth keeps its
default offloads. rsyslog and syslog-ng run in R with kernel sockets on .1:514; logagg runs in R
on the veth end with net_af_packet. Flat out, logagg is also fed from memory (net_pcap
infinite_rx=1 over a capture of the same messages).

CPU is what each program's threads were charged (utime + stime summed over /proc/PID/task/*/stat,
busy polling included) over a window that opens just before the sender starts and closes at the
later of the sender's exit and the last growth of the program's output (polled every 50 ms), so
start-up and shutdown are not counted. The kernel's share (the receive path runs in softirq,
mostly in the sender's own context on a veth) is reported separately: the sender's user and
system time (getrusage) and the machine's softirq time (/proc/stat) over the same window.
"""

import glob
import json
import os
import shutil
import signal
import subprocess
import time

BLAST = "build/tests/bench/logagg-udp-blast"
LOGAGG = "build/app/logagg/logagg"
LINE = 251  # a 250-byte message and its LF: in the raw job every program writes it unchanged
# The ndjson job: where each part of the message is in a program's JSON line (the ROLE=PATH
# list of logagg-udp-blast check --json). The same names for every program (the peers' templates
# use logagg's), except syslog-ng's structured data, which format-json names _SDATA.
JSON_ROLES = ("message=message,ts=ts,received=received,host=host,app=app,procid=procid,msgid=msgid,"
              "severity=severity,facility=facility,source=source,sd=%s")
HZ = os.sysconf("SC_CLK_TCK")
SETTLE = 1.5  # output silent this long after the sender ended: done (rsyslog flushes every 1 s)
NET_R, NET_S = "198.18.250.1", "198.18.250.2"


def sh(*cmd, ns=None, check=True):
    full = (["ip", "netns", "exec", ns] if ns else []) + list(cmd)
    r = subprocess.run(full, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s%s" % (" ".join(full), r.returncode, r.stdout, r.stderr))
    return r.stdout


def task_cpu(pid):
    """CPU seconds of every live thread of pid (utime + stime, /proc/PID/task/*/stat)."""
    total = 0
    for stat in glob.glob("/proc/%d/task/*/stat" % pid):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a thread that just ended
        total += int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat(5)
    return total / HZ


def meminfo(field):
    """A /proc/meminfo field in bytes."""
    for line in open("/proc/meminfo"):
        name, value = line.split(":", 1)
        if name == field:
            return int(value.split()[0]) * 1024
    raise KeyError(field)


def machine_cpu():
    """The machine's CPU seconds by state (/proc/stat, all CPUs)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    names = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
    return {n: x / HZ for n, x in zip(names, v)}


def netns_snmp(pid):
    """Selected counters of /proc/net/snmp in pid's network namespace."""
    out = {}
    with open("/proc/%d/net/snmp" % pid) as f:
        lines = f.read().splitlines()
    for names, values in zip(lines[0::2], lines[1::2]):
        proto = names.split(":")[0]
        for n, v in zip(names.split()[1:], values.split()[1:]):
            out["%s.%s" % (proto, n)] = int(v)
    keep = ("Ip.InReceives", "Ip.InAddrErrors", "Icmp.OutMsgs", "Icmp.OutDestUnreachs", "Udp.InDatagrams",
            "Udp.RcvbufErrors", "Udp.InErrors", "Udp.NoPorts")
    return {k: out.get(k, 0) for k in keep}


def diff(a, b):
    return {k: round(b[k] - a[k], 3) for k in a}


def udp_bound(pid, port=514):
    try:
        with open("/proc/%d/net/udp" % pid) as f:
            return any(l.split()[1].endswith(":%04X" % port) for l in f.read().splitlines()[1:])
    except OSError:
        return False


class Net:
    def __init__(self):
        tag = os.getpid() % 100000
        self.s, self.r = "lgpeer-s%d" % tag, "lgpeer-r%d" % tag
        self.outer, self.inner = "lgpo%d" % tag, "lgpi%d" % tag  # outer: R's end

    def up(self):
        sh("ip", "netns", "add", self.s)
        sh("ip", "netns", "add", self.r)
        sh("ip", "link", "add", self.outer, "type", "veth", "peer", "name", self.inner)
        sh("ip", "link", "set", self.inner, "netns", self.s)
        sh("ip", "link", "set", self.outer, "netns", self.r)
        for ns in (self.s, self.r):
            # No IPv6 chatter (router solicitations) on the path being measured.
            sh("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1", ns=ns)
            sh("ip", "link", "set", "lo", "up", ns=ns)
        sh("ip", "addr", "add", NET_S + "/24", "dev", self.inner, ns=self.s)
        sh("ip", "link", "set", self.inner, "up", ns=self.s)
        sh("ip", "link", "set", self.outer, "up", ns=self.r)
        mac = sh("cat", "/sys/class/net/%s/address" % self.outer, ns=self.r).strip()
        sh("ip", "neigh", "replace", NET_R, "lladdr", mac, "dev", self.inner, "nud", "permanent", ns=self.s)

    def address(self, on):
        if on:
            sh("ip", "addr", "replace", NET_R + "/24", "dev", self.outer, ns=self.r)
        else:
            sh("ip", "addr", "flush", "dev", self.outer, ns=self.r)

    def down(self):
        for ns in (self.s, self.r):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


class Program:
    """One collector run: start, readiness, output size, stop."""

    name = path = ""
    needs_address = True
    sd_path = "sd"  # where the ndjson job's structured data is (JSON_ROLES)

    def __init__(self, bench, work, job="raw"):
        self.b, self.work, self.job = bench, work, job
        self.line = LINE if job == "raw" else None
        self.out = os.path.join(work, "out")
        self.proc = None
        self.log = os.path.join(work, "program.log")

    def start(self):
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        if self.b.net:
            self.b.net.address(self.needs_address)
        self.proc = subprocess.Popen(self.command(), stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not self.ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop(check=False)
                raise RuntimeError("%s did not start:\n%s" % (self.name, open(self.log).read()[-3000:]))
            time.sleep(0.05)
        time.sleep(0.5)  # let start-up work (threads, first allocations) finish before measuring

    def ready(self):
        return udp_bound(self.proc.pid)

    def out_files(self):
        return sorted(glob.glob(self.out + "*"))

    def out_bytes(self):
        total = 0
        for p in self.out_files():
            try:
                total += os.path.getsize(p) if os.path.isfile(p) else sum(
                    os.path.getsize(q) for q in glob.glob(os.path.join(p, "*")))
            except OSError:
                pass
        return total

    def line_bytes(self):
        """Bytes per output line: LINE in the raw job; in the ndjson job the first line's length
        (every line has the same length here: the numbers in the messages have fixed widths,
        and so have the programs' received stamps), or None before the first line is written."""
        if self.line is None:
            for p in self.files_to_check():
                try:
                    with open(p, "rb") as f:
                        first = f.readline()
                except OSError:
                    continue
                if first.endswith(b"\n"):
                    self.line = len(first)
                    break
        return self.line

    def json_roles(self):
        return JSON_ROLES % self.sd_path

    def stop(self, check=True):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if check and self.proc.returncode != 0:
            raise RuntimeError("%s exited %d:\n%s" % (self.name, self.proc.returncode, open(self.log).read()[-3000:]))

    def files_to_check(self):
        out = []
        for p in self.out_files():
            out += sorted(glob.glob(os.path.join(p, "*"))) if os.path.isdir(p) else [p]
        return out

    def extra(self):
        return {}

    def cleanup(self):
        shutil.rmtree(self.work, ignore_errors=True)


class Rsyslog(Program):
    name, path = "rsyslog", "veth, kernel UDP socket"

    def config(self):
        # imudp: two input threads (one per CPU here) taking up to 128 datagrams per recvmmsg;
        # a 4 MiB socket buffer (rsyslog sets it with SO_RCVBUFFORCE; the kernel doubles it).
        # The ruleset has its own in-memory queue (100,000 messages, dequeued 1,024 at a time),
        # and omfile writes asynchronously from 256 KiB buffers flushed at least once a second
        # (flushOnTXEnd off: no write per batch). Raw job: %rawmsg% writes each message as
        # received. ndjson job: the ruleset runs only the RFC 5424 parser (not the default chain)
        # and a list template with option.jsonf writes the parsed properties as one JSON object
        # (jsonf escapes each value); STRUCTURED-DATA is the one string rsyslog keeps it as
        # (an object would take mmpstrucdata and a JSON tree per message: more work than asked).
        if self.job == "raw":
            template, parser = 'template(name="bench_raw" type="string" string="%rawmsg%\\n")\n', ""
        else:
            template, parser = """template(name="bench_json" type="list" option.jsonf="on") {
  property(outname="ts" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="received" name="timegenerated" dateFormat="rfc3339" format="jsonf")
  property(outname="host" name="hostname" format="jsonf")
  property(outname="app" name="app-name" format="jsonf")
  property(outname="severity" name="syslogseverity" format="jsonf" datatype="number")
  property(outname="facility" name="syslogfacility" format="jsonf" datatype="number")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="source" name="fromhost-ip" format="jsonf")
  property(outname="sd" name="structured-data" format="jsonf")
  property(outname="message" name="msg" format="jsonf")
}
""", ' parser="rsyslog.rfc5424"'
        return """global(workDirectory="{w}" processInternalMessages="on" maxMessageSize="8k")
module(load="imudp" threads="2" batchSize="128")
{template}ruleset(name="bench"{parser} queue.type="FixedArray" queue.size="100000" queue.dequeueBatchSize="1024") {{
  action(type="omfile" file="{out}" template="{name}" asyncWriting="on" ioBufferSize="256k"
         flushOnTXEnd="off" flushInterval="1")
}}
input(type="imudp" address="{addr}" port="514" rcvbufSize="4m" ruleset="bench")
""".format(w=self.work, out=self.out, addr=NET_R, template=template, parser=parser,
           name="bench_raw" if self.job == "raw" else "bench_json")

    def command(self):
        conf = os.path.join(self.work, "rsyslog.conf")
        with open(conf, "w") as f:
            f.write(self.config())
        return ["ip", "netns", "exec", self.b.net.r, "rsyslogd", "-n", "-f", conf, "-i",
                os.path.join(self.work, "rsyslog.pid")]


class SyslogNg(Program):
    name, path = "syslog-ng", "veth, kernel UDP socket"
    sd_path = "_SDATA"

    def config(self):
        # One network() UDP source on the veth address with a 4 MiB socket buffer (capped by
        # net.core.rmem_max, 4 MiB here; the kernel doubles it); flags(no-parse): the datagram
        # is the message, written unchanged by the template. Large windows and output queue so
        # bursts are queued, not dropped; file() writes 1,000 lines per batch. ndjson job:
        # flags(syslog-protocol) parses each datagram as RFC 5424, and format-json writes the
        # parsed values under logagg's names plus the structured data (--scope sdata: an object
        # per SD-ID, which format-json names _SDATA); frac-digits(6) keeps the timestamps'
        # microseconds (the default, 0, would drop them).
        if self.job == "raw":
            flags, frac, template = "no-parse", "", "${MSG}\\n"
        else:
            flags, frac = "syslog-protocol", " frac-digits(6);"
            template = ("$(format-json ts=${ISODATE} received=${R_ISODATE} host=${HOST} app=${PROGRAM} "
                        "severity=int(${LEVEL_NUM}) facility=int(${FACILITY_NUM}) procid=${PID} msgid=${MSGID} "
                        "source=${SOURCEIP} message=${MSG} --scope sdata)\\n")
        return """@version: 3.38
options {{
  threaded(yes); use-dns(no); dns-cache(no); use-fqdn(no); keep-hostname(yes); chain-hostnames(no);
  mark-freq(0); stats-freq(0); log-fifo-size(100000); flush-lines(1000); time-reopen(1);{frac}
}};
source s_bench {{
  network(ip("{addr}") port(514) transport("udp") so-rcvbuf(4194304) flags({flags})
          log-fetch-limit(1000) log-iw-size(100000));
}};
destination d_bench {{ file("{out}" template("{template}")); }};
log {{ source(s_bench); destination(d_bench); }};
""".format(addr=NET_R, out=self.out, flags=flags, frac=frac, template=template)

    def command(self):
        root = self.b.syslog_ng_root
        conf = os.path.join(self.work, "syslog-ng.conf")
        with open(conf, "w") as f:
            f.write(self.config())
        mods = glob.glob(os.path.join(root, "usr/lib/syslog-ng/3*"))[0]
        libs = glob.glob(os.path.join(root, "usr/lib/*-linux-gnu*")) + [os.path.join(root, "usr/lib/syslog-ng")]
        return ["ip", "netns", "exec", self.b.net.r, "env", "LD_LIBRARY_PATH=" + ":".join(libs),
                os.path.join(root, "usr/sbin/syslog-ng"), "-F", "--no-caps", "-f", conf, "--module-path=" + mods,
                "-p", os.path.join(self.work, "pid"), "-R", os.path.join(self.work, "persist"),
                "-c", os.path.join(self.work, "ctl")]


class LogaggAfPacket(Program):
    name, path = "logagg", "veth, net_af_packet"
    needs_address = False
    options = []  # --poll adaptive, the default
    sink_params = ""
    lcores = None  # --peer-lcores

    def job_args(self, sink):
        """The sink spec and options of the job: the ndjson job parses every datagram as RFC 5424
        (the format named on the listener: no detection) and encodes it as ndjson."""
        if self.job == "raw":
            return ["--sink", sink]
        return ["--listen", "udp:514:rfc5424", "--sink", sink + ",format=ndjson"]

    def command(self):
        self.b.runs += 1
        self.stats = os.path.join(self.work, "stats.json")
        # framecnt=2048: a 4 MiB ring (2048 frames of 2 KiB), the peers' socket buffer size.
        cmd = ["ip", "netns", "exec", self.b.net.r, LOGAGG, "-l", self.lcores or self.b.a.peer_lcores, "--no-huge", "-m", "1024", "--no-pci",
               "--file-prefix", "logagg-bench-%d-%d" % (os.getpid(), self.b.runs), "--log-level=error",
               "--vdev=net_af_packet0,iface=%s,framecnt=2048" % self.b.net.outer, "--"]
        sink = "file:%s,rotate-bytes=1G%s" % (self.out, self.sink_params)
        return cmd + self.job_args(sink) + ["--stats-json", self.stats] + self.options

    def ready(self):
        try:
            return "  lcore " in open(self.log).read()  # the role map: start-up is done
        except OSError:
            return False

    def extra(self):
        try:
            st = json.load(open(self.stats))
        except (OSError, ValueError):
            return {}
        port, sink = st["ports"][0], st["sinks"][0]
        return {"ipackets": port["ipackets"], "imissed": port["imissed"],
                "udp_bad_checksum": st["packets"]["dropped"]["udp_bad_checksum"],
                "packets_dropped": st["packets"]["dropped_total"], "messages_dropped": st["messages"]["dropped_total"],
                "sink_dropped": sink["dropped_total"],
                "sink_dropped_by": {k: v for k, v in sink["dropped"].items() if v},
                "latency_us": sink["latency_us"],
                "busy_fraction": {str(l["lcore_id"]): l["busy_fraction"] for l in st["lcores"]},
                "sleeps": {str(l["lcore_id"]): l["sleeps"] for l in st["lcores"]},
                "affinity_changes": {str(l["lcore_id"]): l.get("affinity_changes", 0) for l in st["lcores"]},
                "rx_interrupts": {str(l["lcore_id"]): l["rx_interrupts"] for l in st["lcores"]},
                "rx_bounded_sleeps": {str(l["lcore_id"]): l.get("rx_bounded_sleeps", 0) for l in st["lcores"]},
                "invariants": st["invariants"]}


class LogaggBusy(LogaggAfPacket):
    name, path = "logagg-busy", "veth, net_af_packet"
    options = ["--poll", "busy"]


class LogaggOneLcore(LogaggAfPacket):
    """RX, worker and sink on one lcore (-l 0): one thread wakes per frame and writes it, where
    two lcores wake twice (RX, then the sink). Cheapest at a trickle; one core's worth at most."""
    name, path = "logagg-1lc", "veth, net_af_packet, -l 0"
    lcores = "0"


class LogaggLowLatency(LogaggAfPacket):
    """For the latency figure at a low rate: the file sink writes each record at once."""
    name, path = "logagg", "veth, af_packet, batch-ms=0"
    sink_params = ",batch-ms=0"


class LogaggMemory(LogaggAfPacket):
    name, path = "logagg", "memory, net_pcap infinite_rx"

    def command(self):
        self.b.runs += 1
        self.stats = os.path.join(self.work, "stats.json")
        return [LOGAGG, "-l", self.b.a.peer_lcores, "--no-huge", "-m", "2048", "--no-pci", "--file-prefix",
                "logagg-bench-%d-%d" % (os.getpid(), self.b.runs), "--log-level=error",
                "--vdev=net_pcap0,rx_pcap=%s,infinite_rx=1" % self.b.pcap, "--"] + self.job_args(
                    "file:%s,rotate-bytes=1G" % self.out) + ["--stats-json", self.stats,
                                                             "--on-sink-full", "block"]


class Bench:
    def __init__(self, a, tmp, results):
        self.a, self.tmp, self.results = a, tmp, results
        self.runs = 0
        self.net = None
        self.syslog_ng_root = os.environ.get("SYSLOG_NG_ROOT", "")
        self.rows, self.idle, self.notes, self.latency = [], [], [], []
        self.ndjson_rows = []
        self.shm = "/dev/shm/logagg-bench-peers-%d" % os.getpid()

    def programs(self, job="raw"):
        # The ndjson job leaves out --poll busy: the raw job shows what busy polling costs.
        progs = ([LogaggAfPacket, LogaggOneLcore, LogaggBusy, Rsyslog] if job == "raw"
                 else [LogaggAfPacket, LogaggOneLcore, Rsyslog])
        if self.syslog_ng_root:
            progs.append(SyslogNg)
        return progs

    def make(self, cls, job="raw"):
        return cls(self, os.path.join(self.shm, cls.__name__.lower()), job)

    def check(self, prog, count):
        cmd = [BLAST, "check", "--count", str(count)]
        if prog.job == "ndjson":
            cmd += ["--json", prog.json_roles(), "--source", NET_S]
        r = subprocess.run(cmd + prog.files_to_check(), capture_output=True, text=True, check=True)
        got = json.loads(r.stdout)
        if got.get("first_invalid"):
            self.notes.append("%s (%s): first invalid line: %s" % (prog.name, prog.job, got["first_invalid"]))
        if got.get("min_len") != got.get("max_len"):
            self.notes.append("%s (%s): output lines of %d to %d bytes (the end of a run is detected by "
                              "the output's size, which assumes one length)"
                              % (prog.name, prog.job, got["min_len"], got["max_len"]))
        return got

    def send(self, count, rate, seconds=None):
        cmd = ["ip", "netns", "exec", self.net.s, BLAST, "send", "--dst", NET_R + ":514", "--src", NET_S,
               "--count", str(count)]
        if rate:
            cmd += ["--rate", str(rate)]
        if seconds:
            cmd += ["--seconds", str(seconds)]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)

    def idle_and_probe(self, cls):
        """CPU over a.seconds with no traffic; then 1,000 messages at 10 k/s as a functional check."""
        prog = self.make(cls)
        prog.start()
        try:
            c0, t0 = task_cpu(prog.proc.pid), time.monotonic()
            time.sleep(self.a.idle_seconds)
            c1, t1 = task_cpu(prog.proc.pid), time.monotonic()
            snd = self.send(1000, 10000)
            sent = json.loads(snd.communicate()[0])["sent"]
            deadline = time.monotonic() + 10
            while prog.out_bytes() < sent * LINE and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            prog.stop()
        got = self.check(prog, sent)
        extra = prog.extra()
        prog.cleanup()
        r = {"program": prog.name, "path": prog.path, "seconds": round(t1 - t0, 3), "cpu_s": round(c1 - c0, 3),
             "core_percent": round(100 * (c1 - c0) / (t1 - t0), 2), "probe_sent": sent,
             "probe_delivered": got["distinct"], **extra}
        return r

    def measure(self, cls, rate, label, job="raw"):
        prog = self.make(cls, job)
        prog.start()
        pid = prog.proc.pid
        try:
            flat = rate == 0
            count = 10**12 if flat else int(rate * self.a.seconds)
            snap = lambda: (task_cpu(pid), machine_cpu(), netns_snmp(pid), time.monotonic())
            counting = self.count_syscalls(pid)
            start = snap()
            snd = self.send(count, rate, self.a.seconds if flat else None)
            size, grown, sent, sender_end = prog.out_bytes(), None, None, None
            deadline = start[3] + 3 * self.a.seconds + 60
            while True:
                time.sleep(0.05)
                now_size = prog.out_bytes()
                if now_size != size:
                    size, grown = now_size, snap()
                if sent is None and snd.poll() is not None:
                    sent = json.loads(snd.stdout.read())
                    sender_end = snap()
                if sent is not None:
                    last = grown if grown and grown[3] > sender_end[3] else sender_end
                    line = prog.line_bytes()
                    if (line and size >= sent["sent"] * line) or time.monotonic() - last[3] > SETTLE:
                        break
                if time.monotonic() > deadline:
                    snd.kill()
                    raise RuntimeError("%s at %s: no end after %.0f s" % (prog.name, label, deadline - start[3]))
            end = last
            counted = self.counted(counting)
        finally:
            prog.stop()
        got = self.check(prog, sent["sent"])
        extra = prog.extra()
        prog.cleanup()
        r = self.row(prog, label, rate, start, end, sent, got, extra)
        if counted is not None and r["delivered"]:
            r["syscalls_per_msg"] = round(counted["syscalls"] / r["delivered"], 3)
            r["switches_per_msg"] = round(counted["switches"] / r["delivered"], 3)
        return r

    def count_syscalls(self, pid):
        """--peer-syscalls: perf stat counting the syscalls and context switches of every thread
        of @p pid (tracepoints raw_syscalls:sys_enter and sched:sched_switch) until counted()."""
        if not getattr(self.a, "peer_syscalls", False):
            return None
        return subprocess.Popen(["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "-e", "sched:sched_switch",
                                 "-p", str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    @staticmethod
    def counted(proc):
        """Stops count_syscalls()'s perf. @return {"syscalls": n, "switches": n}, or None."""
        if proc is None:
            return None
        proc.send_signal(signal.SIGINT)
        err = proc.communicate(timeout=30)[1]
        got = {}
        for line in err.splitlines():
            f = line.split(",")
            if len(f) > 2 and f[0].isdigit():
                got["syscalls" if f[2] == "raw_syscalls:sys_enter" else "switches"] = int(f[0])
        return got if len(got) == 2 else None

    def row(self, prog, label, rate, start, end, sent, got, extra):
        cpu = end[0] - start[0]
        delivered = got["distinct"]
        m = diff(start[1], end[1])
        k = diff(start[2], end[2])
        r = {"program": prog.name, "path": prog.path, "job": prog.job, "rate": label, "offered_per_s": rate,
             "sent": sent["sent"], "sent_per_s": round(sent["rate"]), "delivered": delivered,
             "lost": sent["sent"] - delivered, "duplicates": got["duplicates"], "invalid": got["invalid"],
             "out_of_order": got["out_of_order"], "window_s": round(end[3] - start[3], 3), "cpu_s": round(cpu, 3),
             "us_per_msg": round(1e6 * cpu / delivered, 3) if delivered else None,
             "sender_user_s": round(sent["utime_s"], 3), "sender_sys_s": round(sent["stime_s"], 3),
             "machine_s": m, "receiver_netns": k, **extra}
        return r

    def warm_tmpfs(self, job):
        """Writes and deletes as much as a from-memory run writes, in the tmpfs its output goes to.
        On a virtual machine, the first touch of guest memory the hypervisor has not backed yet
        costs a host page fault, charged to whoever touches it first; a guest with free page
        reporting (here: page_reporting.page_reporting_order=11) hands freed memory back to the
        host about 2 s after it is freed. Measured here: new tmpfs pages at 0.3-1.0 GB/s on first
        touch, 3.8-7.1 GB/s once backed. The raw from-memory run writes over 1 GB/s into new tmpfs
        pages, so without this its figure measured the hypervisor (1.5-3.3 M msgs/s, 3.9-4.4 M
        right after a warm-up). The pages freed here are the ones the run gets back, if it starts
        before they are reported."""
        nbytes = int(min(self.a.seconds * 1.5e9, meminfo("MemAvailable") / 3))
        path = os.path.join(self.shm, "warm-up")
        os.makedirs(self.shm, exist_ok=True)
        block = bytes(1 << 20)
        t0 = time.monotonic()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for _ in range(nbytes >> 20):
                os.write(fd, block)
        finally:
            os.close(fd)
            os.unlink(path)
        took = time.monotonic() - t0
        self.notes.append("tmpfs warmed before the from-memory %s run: %.1f GB written and deleted at %.1f GB/s"
                          % (job, nbytes / 1e9, nbytes / took / 1e9))

    def memory(self, job="raw"):
        self.warm_tmpfs(job)
        prog = self.make(LogaggMemory, job)
        prog.start()
        pid = prog.proc.pid
        try:
            s0, c0, m0, t0 = prog.out_bytes(), task_cpu(pid), machine_cpu(), time.monotonic()
            time.sleep(self.a.seconds)
            s1, c1, m1, t1 = prog.out_bytes(), task_cpu(pid), machine_cpu(), time.monotonic()
        finally:
            prog.stop()
        got = self.check(prog, self.a.peer_capture)
        line = prog.line_bytes()
        extra = prog.extra()
        prog.cleanup()
        delivered = (s1 - s0) // line
        return {"program": prog.name, "path": prog.path, "job": prog.job, "rate": "flat out", "offered_per_s": 0,
                "sent": None, "sent_per_s": None, "delivered": delivered, "lost": 0,
                "delivered_per_s": round(delivered / (t1 - t0)), "lines_checked": got["lines"],
                "invalid": got["invalid"], "window_s": round(t1 - t0, 3), "cpu_s": round(c1 - c0, 3),
                "us_per_msg": round(1e6 * (c1 - c0) / delivered, 3) if delivered else None,
                "sender_user_s": None, "sender_sys_s": None, "machine_s": diff(m0, m1), **extra}

    def rates(self, job):
        """One job's table: every program at every offered rate, and logagg from memory flat out."""
        a = self.a
        if job == "raw":
            print("\nSame messages at fixed rates over the veth and flat out (%.0f s of traffic per run); raw job: "
                  "each message written unchanged" % a.seconds)
        else:
            print("\nSame messages at fixed rates over the veth and flat out (%.0f s of traffic per run); ndjson "
                  "job: each message parsed as RFC 5424 and written as one JSON object, checked field by field"
                  % a.seconds)
        print("CPU s: the program's threads over the run; us/msg: per delivered message; ratio: us/msg over "
              "logagg's at the same rate;\nsndr s: the sender's user+sys (on a veth the receive path runs "
              "in its context); softirq: the machine's (/proc/stat)")
        print("load average now: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
        head = "%-9s %-12s %-30s %9s %8s %9s %8s %7s %7s %6s %7s %7s  %s" % (
            "rate", "program", "path", "sent", "sent/s", "delivered", "lost", "CPU s", "us/msg", "ratio",
            "sndr s", "softirq", "lost where")
        print(head)
        out = self.rows if job == "raw" else self.ndjson_rows
        for rate in a.peer_rates:
            label = "flat out" if rate == 0 else "%dk/s" % (rate // 1000)
            rows = [self.measure(cls, rate, label, job) for cls in self.programs(job)]
            if rate == 0:
                rows.append(self.memory(job))
            base = rows[0]["us_per_msg"]
            for r in rows:
                r["ratio_to_logagg"] = round(r["us_per_msg"] / base, 2) if base and r["us_per_msg"] else None
                out.append(r)
                self.print_row(r)
            if rate == 0 and rows[-1]["us_per_msg"]:
                mem = rows[-1]["us_per_msg"]
                for r in rows[1:-1]:
                    r["ratio_to_logagg_memory"] = round(r["us_per_msg"] / mem, 2) if r["us_per_msg"] else None
                print("%-9s ratio to logagg from memory: %s" % ("", ", ".join(
                    "%s %.2f" % (r["program"], r["ratio_to_logagg_memory"]) for r in rows[1:-1]
                    if r.get("ratio_to_logagg_memory"))))

    def run(self):
        a = self.a
        if not shutil.which("rsyslogd"):
            raise RuntimeError("rsyslogd is not installed (scripts/lib/common.sh installs rsyslog)")
        if not self.syslog_ng_root:
            self.notes.append("syslog-ng skipped: its package could not be fetched (see above)")
        self.pcap = os.path.join(self.tmp, "peers.pcap")
        subprocess.run([BLAST, "pcap", "--out", self.pcap, "--count", str(a.peer_capture), "--dst", NET_R + ":514",
                        "--src", NET_S + ":40000"], check=True)
        load = [open("/proc/loadavg").read().split()[:3]]
        print("\nload average at the start: %s (other work on the machine skews every figure below)"
              % " ".join(load[0]))
        self.net = Net()
        try:
            self.net.up()
            # Idle and the latency runs do not depend on the output format: with the raw job.
            if "raw" in a.peer_jobs:
                print("\nIdle: CPU over %.0f s with no traffic (then 1,000 messages as a functional check)"
                      % a.idle_seconds)
                print("%-12s %-28s %8s %8s %9s" % ("program", "path", "CPU s", "% core", "probe"))
            for cls in self.programs() if "raw" in a.peer_jobs else []:
                r = self.idle_and_probe(cls)
                self.idle.append(r)
                bad = r.get("udp_bad_checksum", 0)
                print("%-12s %-28s %8.2f %8.1f %4d/%-4d%s" % (
                    r["program"], r["path"], r["cpu_s"], r["core_percent"], r["probe_delivered"], r["probe_sent"],
                    "  (%d udp_bad_checksum)" % bad if bad else ""))
                if r["probe_delivered"] != r["probe_sent"]:
                    raise RuntimeError("%s did not deliver the probe: %s" % (r["program"], r))
            for job in a.peer_jobs:
                self.rates(job)
            if a.peer_latency_rate and "raw" in a.peer_jobs:
                print("\nRX-to-file latency at %d msgs/s (logagg's histogram, bucket floors; %.0f s)"
                      % (a.peer_latency_rate, a.seconds))
                print("%-12s %-30s %9s %8s %8s %8s %8s" % ("program", "path", "delivered", "lost", "p50 us",
                                                          "p99 us", "max us"))
                for cls in (LogaggLowLatency, LogaggAfPacket, LogaggOneLcore, LogaggBusy):
                    r = self.measure(cls, a.peer_latency_rate, "%dk/s" % (a.peer_latency_rate // 1000))
                    r["latency_run"] = True
                    self.latency.append(r)
                    lat = r.get("latency_us", {})
                    print("%-12s %-30s %9d %8d %8s %8s %8s" % (r["program"], r["path"], r["delivered"], r["lost"],
                                                              lat.get("p50"), lat.get("p99"), lat.get("max")))
        finally:
            self.net.down()
            shutil.rmtree(self.shm, ignore_errors=True)
        quiet = [r["receiver_netns"] for r in self.rows + self.ndjson_rows
                 if r["program"] == "logagg" and "receiver_netns" in r]
        if quiet:
            icmp = sum(k["Icmp.OutMsgs"] for k in quiet)
            self.kernel_quiet = {"datagrams": sum(k["Ip.InReceives"] for k in quiet),
                                 "in_addr_errors": sum(k["Ip.InAddrErrors"] for k in quiet), "icmp_out": icmp}
            self.notes.append("while logagg ran, the receivers' kernel took %(datagrams)d datagrams and dropped "
                              "%(in_addr_errors)d as InAddrErrors (no address on the veth end); ICMP sent: "
                              "%(icmp_out)d" % self.kernel_quiet)
        load.append(open("/proc/loadavg").read().split()[:3])
        self.notes.append("load average at the start %s, at the end %s" % (" ".join(load[0]), " ".join(load[1])))
        for n in self.notes:
            print("note: " + n)
        self.results["peers"] = {"message_bytes": 250, "jobs": a.peer_jobs, "rows": self.rows,
                                 "ndjson": {"rows": self.ndjson_rows, "check": {
                                     c.name: JSON_ROLES % c.sd_path for c in (LogaggAfPacket, Rsyslog, SyslogNg)}},
                                 "idle": self.idle, "notes": self.notes,
                                 "latency": self.latency,
                                 "versions": self.versions(), "seconds": a.seconds, "logagg_lcores": a.peer_lcores,
                                 "kernel_quiet": getattr(self, "kernel_quiet", None),
                                 "load_average": load}

    @staticmethod
    def where_lost(r):
        """Where the lost messages went, as far as the counters tell."""
        if not r["lost"]:
            return ""
        parts = []
        if "ipackets" in r and r["sent"] is not None:
            parts.append("kernel %d" % (r["sent"] - r["ipackets"]))  # the af_packet ring was full
            for k, v in sorted(r.get("sink_dropped_by", {}).items()):
                parts.append("%s %d" % (k, v))
            if r.get("packets_dropped"):
                parts.append("packets %d" % r["packets_dropped"])
        elif "receiver_netns" in r:
            parts.append("rcvbuf %d" % r["receiver_netns"]["Udp.RcvbufErrors"])
        return ", ".join(parts)

    def print_row(self, r):
        sndr = "" if r["sender_user_s"] is None else "%.2f" % (r["sender_user_s"] + r["sender_sys_s"])
        print("%-9s %-12s %-30s %9s %8s %9d %8s %7.2f %7s %6s %7s %7.2f  %s" % (
            r["rate"], r["program"], r["path"], "" if r["sent"] is None else r["sent"],
            "" if r["sent_per_s"] is None else r["sent_per_s"], r["delivered"], r["lost"], r["cpu_s"],
            "-" if r["us_per_msg"] is None else "%.2f" % r["us_per_msg"],
            "-" if r["ratio_to_logagg"] is None else "%.2f" % r["ratio_to_logagg"], sndr,
            r["machine_s"]["softirq"], self.where_lost(r)) + (
            "  syscalls/msg %.2f switches/msg %.2f" % (r["syscalls_per_msg"], r["switches_per_msg"])
            if "syscalls_per_msg" in r else ""))

    def versions(self):
        v = {"rsyslog": sh("dpkg-query", "-W", "-f", "${Version}", "rsyslog", check=False) or
             sh("rsyslogd", "-v").splitlines()[0].split(" compiled")[0].strip()}
        if self.syslog_ng_root:
            root = self.syslog_ng_root
            libs = glob.glob(os.path.join(root, "usr/lib/*-linux-gnu*")) + [os.path.join(root, "usr/lib/syslog-ng")]
            out = subprocess.run([os.path.join(root, "usr/sbin/syslog-ng"), "--version"], capture_output=True,
                                 text=True, env=dict(os.environ, LD_LIBRARY_PATH=":".join(libs))).stdout
            rev = [l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith("Revision:")]
            v["syslog-ng"] = rev[0] if rev else "?"
        v["logagg"] = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True,
                                     text=True).stdout.strip()
        return v


def run(a, tmp, results):
    Bench(a, tmp, results).run()
