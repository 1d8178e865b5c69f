# SPDX-License-Identifier: BSD-3-Clause
"""scripts/bench --only tcp: logagg ingesting the same messages over TCP and over UDP (module).

The messages are scripts/bench --only peers' (250 bytes of RFC 5424, numbered, written and
checked by build/tests/bench/logagg-udp-blast), sent from a namespace over a veth pair to logagg
on the other end (net_af_packet), which owns 198.18.250.1 (--ip) and listens on udp:514 and
tcp:601; the file sink (tmpfs, raw) writes each message as one line, and every line is checked
against its number. The transports:

    udp        one message per datagram, sendmmsg(2) in batches of 64 (the peers benchmark)
    tcp x1     one kernel TCP connection, LF-framed, 64 messages per write(2)
    tcp x64    64 connections, batches round robin

each at fixed rates and flat out, taking turns --rounds times. The topology, the CPU accounting
and the kernel's share are bench_peers.py's: CPU is what logagg's threads were charged
(/proc/PID/task/*/stat, busy polling included) from just before the sender starts to the last
growth of the output; the sender's own user and system time (getrusage: its TCP stack and, on a
veth, the receive path that runs in its context) and the machine's softirq time (/proc/stat) are
reported beside it, as the kernel's share. logagg's own TCP (ACKs, the engine) is in its CPU.
"""

import json
import os
import statistics
import time

import bench_peers
from bench_peers import BLAST, NET_R, NET_S

TCP_PORT = 601


class LogaggTcp(bench_peers.LogaggAfPacket):
    """logagg owning the receiver's address (TCP needs one to answer as) with both listeners."""

    name, path = "logagg", "veth, net_af_packet"

    def command(self):
        cmd = super().command()
        return cmd + ["--ip", "0:%s/24" % NET_R, "--listen", "udp:514", "--listen", "tcp:%d" % TCP_PORT,
                      "--on-sink-full", "block"]

    def extra(self):
        out = super().extra()
        try:
            st = json.load(open(self.stats))
        except (OSError, ValueError):
            return out
        tcp = st.get("tcp")
        if tcp:
            out["tcp"] = tcp
        out["bytes_copied_per_msg"] = st["bytes_copied"] / max(1, st["messages"]["routed"])
        return out


class TcpBench(bench_peers.Bench):
    def __init__(self, a, tmp, results):
        super().__init__(a, tmp, results)
        self.transport = ("udp", 1)

    def send(self, count, rate, seconds=None):
        proto, conns = self.transport
        cmd = ["ip", "netns", "exec", self.net.s, BLAST, "send", "--src", NET_S, "--count", str(count)]
        if proto == "tcp":
            cmd += ["--dst", "%s:%d" % (NET_R, TCP_PORT), "--tcp", "--conns", str(conns)]
        else:
            cmd += ["--dst", NET_R + ":514"]
        if rate:
            cmd += ["--rate", str(rate)]
        if seconds:
            cmd += ["--seconds", str(seconds)]
        return bench_peers.subprocess.Popen(cmd, stdout=bench_peers.subprocess.PIPE, text=True)

    def run(self):
        a = self.a
        transports = [("udp", 1), ("tcp", 1), ("tcp", 64)]
        print("\nTCP against UDP: the same 250-byte messages, veth + net_af_packet, file sink on tmpfs, "
              "%.0f s per run, %d rounds; load average %s" % (
                  a.seconds, a.rounds, " ".join(open("/proc/loadavg").read().split()[:3])))
        print("us/msg: logagg's CPU (all threads) per delivered message; sndr: the sender's user+sys per "
              "message (its TCP or UDP stack, and the veth's receive path in its context); softirq: the "
              "machine's per message")
        head = "%-9s %-8s %5s %9s %9s %9s %8s %8s %8s %8s %8s" % (
            "rate", "transport", "round", "sent", "delivered", "msgs/s", "lost", "us/msg", "sndr us", "softirq",
            "copied/m")
        print(head)
        self.net = bench_peers.Net()
        rows = []
        try:
            self.net.up()
            for rate in a.tcp_rates:
                label = "flat out" if rate == 0 else "%dk/s" % (rate // 1000)
                for rnd in range(a.rounds):
                    for t in transports:
                        self.transport = t
                        r = self.measure(LogaggTcp, rate, label)
                        r["transport"] = "%s x%d" % t if t[0] == "tcp" else "udp"
                        r["round"] = rnd
                        d = max(1, r["delivered"])
                        r["msgs_per_s"] = round(r["delivered"] / r["window_s"])
                        r["sender_us_per_msg"] = round(1e6 * (r["sender_user_s"] + r["sender_sys_s"]) / d, 3)
                        r["softirq_us_per_msg"] = round(1e6 * r["machine_s"]["softirq"] / d, 3)
                        rows.append(r)
                        print("%-9s %-8s %5d %9d %9d %9d %8d %8.2f %8.2f %8.2f %8.1f" % (
                            label, r["transport"], rnd, r["sent"], r["delivered"], r["msgs_per_s"], r["lost"],
                            r["us_per_msg"] or 0, r["sender_us_per_msg"], r["softirq_us_per_msg"],
                            r.get("bytes_copied_per_msg", 0)), flush=True)
                        if r["transport"] != "udp" and (r["lost"] or r["duplicates"] or r["invalid"]):
                            raise RuntimeError("TCP lost, duplicated or garbled messages: %s" % r)
        finally:
            self.net.down()
            bench_peers.shutil.rmtree(self.shm, ignore_errors=True)
        print("\nMedians over the rounds")
        print("%-9s %-8s %9s %8s %8s %8s %8s" % ("rate", "transport", "msgs/s", "us/msg", "ratio", "sndr us",
                                                "softirq"))
        summary = []
        for rate in a.tcp_rates:
            label = "flat out" if rate == 0 else "%dk/s" % (rate // 1000)
            base = None
            for t in ("udp", "tcp x1", "tcp x64"):
                rs = [r for r in rows if r["rate"] == label and r["transport"] == t]
                med = lambda k: statistics.median(r[k] or 0 for r in rs)  # noqa: E731
                s = {"rate": label, "transport": t, "msgs_per_s": med("msgs_per_s"), "us_per_msg": med("us_per_msg"),
                     "sender_us_per_msg": med("sender_us_per_msg"), "softirq_us_per_msg": med("softirq_us_per_msg")}
                base = base or s["us_per_msg"]
                s["ratio_to_udp"] = round(s["us_per_msg"] / base, 2) if base else None
                summary.append(s)
                print("%-9s %-8s %9.0f %8.2f %8.2f %8.2f %8.2f" % (
                    label, t, s["msgs_per_s"], s["us_per_msg"], s["ratio_to_udp"] or 0, s["sender_us_per_msg"],
                    s["softirq_us_per_msg"]))
        self.results["tcp"] = {"message_bytes": 250, "rows": rows, "summary": summary, "seconds": a.seconds,
                               "rounds": a.rounds, "logagg_lcores": a.peer_lcores,
                               "load_average_end": open("/proc/loadavg").read().split()[:3],
                               "when": time.strftime("%Y-%m-%d %H:%M:%S")}


def run(a, tmp, results):
    TcpBench(a, tmp, results).run()
