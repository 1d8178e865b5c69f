# SPDX-License-Identifier: BSD-3-Clause
# Side: test of a bench tool (logagg-udp-blast check, the peer comparison's output checker).
"""logagg-udp-blast check, raw and --json: what it accepts and what it must refuse.

The peer comparison counts a message as delivered only when the checker accepts its line, so a
checker that accepted too much would hide a collector's losses or wrong output. The messages come
from the tool itself (`pcap`, payloads read back); the JSON lines are built here in the shapes
the three collectors write (logagg, rsyslog's jsonf, syslog-ng's format-json), then spoiled one
way at a time: each spoiled line must be counted invalid, and nothing else.

    check_output.py BUILD/tests/bench/logagg-udp-blast
"""

import json
import os
import re
import struct
import subprocess
import sys
import tempfile

BLAST = sys.argv[1]
COUNT = 8
SRC = "198.18.250.2"


def messages(tmp):
    """The payloads of messages 0..COUNT-1, from the tool's own capture."""
    pcap = os.path.join(tmp, "m.pcap")
    subprocess.run([BLAST, "pcap", "--out", pcap, "--count", str(COUNT), "--dst", "198.18.250.1:514", "--src",
                    SRC + ":40000"], check=True)
    data = open(pcap, "rb").read()[24:]
    out, i = [], 0
    while i < len(data):
        n = struct.unpack("<I", data[i + 8:i + 12])[0]
        out.append(data[i + 16 + 42:i + 16 + n].decode())
        i += 16 + n
    assert len(out) == COUNT and all(len(m) == 250 for m in out)
    return out


def parts(m):
    """The RFC 5424 parts of one message (the shape udp_blast.cpp renders: one SD-ELEMENT)."""
    r = re.match(r'<(\d+)>1 (\S+) (\S+) (\S+) (\S+) (\S+) (\[(\S+) ([^\]]*)\]) (.*)$', m)
    pri, ts, host, app, procid, msgid, sd, sd_id, params, msg = r.groups()
    return {"pri": int(pri), "ts": ts, "host": host, "app": app, "procid": procid, "msgid": msgid, "sd": sd,
            "sd_id": sd_id, "params": re.findall(r'(\S+)="([^"]*)"', params), "msg": msg}


def logagg_line(p):
    return json.dumps({"ts": p["ts"].replace("Z", "000Z"), "received": "2026-11-27T19:00:58.963120297Z",
                       "host": p["host"], "app": p["app"], "severity": p["pri"] % 8, "facility": p["pri"] // 8,
                       "procid": p["procid"], "msgid": p["msgid"], "source": SRC + ":40000", "format": "rfc5424",
                       "message": p["msg"], "sd": {p["sd_id"]: dict(p["params"])}}, separators=(",", ":"))


def rsyslog_line(p):
    # jsonf: ", " between members, '/' escaped as "\/", the STRUCTURED-DATA as one string.
    fields = [("ts", p["ts"]), ("received", "2026-11-27T19:01:49.333183+00:00"), ("host", p["host"]),
              ("app", p["app"]), ("severity", p["pri"] % 8), ("facility", p["pri"] // 8), ("procid", p["procid"]),
              ("msgid", p["msgid"]), ("source", SRC), ("sd", p["sd"]), ("message", p["msg"])]
    return "{" + ", ".join('"%s":%s' % (k, json.dumps(v).replace("/", "\\/")) for k, v in fields) + "}"


def syslog_ng_line(p):
    # format-json: its own member order, +00:00 for UTC, the STRUCTURED-DATA under _SDATA.
    return json.dumps({"ts": p["ts"].replace("Z", "+00:00"), "source": SRC, "severity": p["pri"] % 8,
                       "received": "2026-11-27T19:02:02.781022+00:00", "procid": p["procid"], "msgid": p["msgid"],
                       "message": p["msg"], "host": p["host"], "facility": p["pri"] // 8, "app": p["app"],
                       "_SDATA": {p["sd_id"]: dict(p["params"])}}, separators=(",", ":"))


ROLES = ("message=message,ts=ts,received=received,host=host,app=app,procid=procid,msgid=msgid,"
         "severity=severity,facility=facility,source=source,sd=%s")


def check(tmp, lines, *args, raw_bytes=None):
    path = os.path.join(tmp, "out")
    with open(path, "wb") as f:
        f.write(raw_bytes if raw_bytes is not None else "".join(l + "\n" for l in lines).encode())
    r = subprocess.run([BLAST, "check", "--count", str(COUNT)] + list(args) + [path], capture_output=True,
                       text=True, check=True)
    return json.loads(r.stdout)


def expect(got, what, **want):
    bad = {k: (got[k], v) for k, v in want.items() if got[k] != v}
    if bad:
        sys.exit("FAIL %s: %s (got %s)" % (what, bad, got))


def main():
    tmp = tempfile.mkdtemp(prefix="logagg-check-output-")
    msgs = messages(tmp)
    ps = [parts(m) for m in msgs]

    # Raw: the messages as sent; one changed byte, a cut last line, a duplicate, a number beyond --count.
    expect(check(tmp, msgs), "raw, as sent", lines=COUNT, valid=COUNT, distinct=COUNT, invalid=0, out_of_order=0)
    spoiled = msgs[:]
    spoiled[3] = spoiled[3].replace("GET", "PUT")
    expect(check(tmp, spoiled), "raw, one byte changed", valid=COUNT - 1, invalid=1)
    expect(check(tmp, msgs + [msgs[2]]), "raw, a duplicate", valid=COUNT + 1, distinct=COUNT, duplicates=1,
           out_of_order=1)
    cut = ("".join(m + "\n" for m in msgs) + msgs[0][:100]).encode()
    expect(check(tmp, None, raw_bytes=cut), "raw, a last line without LF", lines=COUNT + 1, invalid=1)

    shapes = {"logagg": (logagg_line, "sd"), "rsyslog": (rsyslog_line, "sd"), "syslog-ng": (syslog_ng_line, "_SDATA")}
    for name, (make, sd) in shapes.items():
        args = ["--json", ROLES % sd, "--source", SRC]
        good = [make(p) for p in ps]
        expect(check(tmp, good, *args), name + ", as written", lines=COUNT, valid=COUNT, distinct=COUNT, invalid=0)
        expect(check(tmp, good + [good[1]], *args), name + ", a duplicate", valid=COUNT + 1, distinct=COUNT,
               duplicates=1)
        other_sd = "sd" if sd == "_SDATA" else "_SDATA"
        expect(check(tmp, good, "--json", ROLES % other_sd, "--source", SRC), name + ", sd at the wrong path",
               valid=0, invalid=COUNT)
        expect(check(tmp, good, "--json", ROLES % sd, "--source", "198.18.250.3"), name + ", another sender",
               valid=0, invalid=COUNT)

    # One spoiled line at a time (logagg's shape, and rsyslog's for its string STRUCTURED-DATA).
    p = ps[5]
    base = json.loads(logagg_line(p))

    def variant(**change):
        d = dict(base)
        for k, v in change.items():
            if v is None:
                d.pop(k)
            else:
                d[k] = v
        return json.dumps(d, separators=(",", ":"))

    spoils = {
        "ts one microsecond later": variant(ts=p["ts"][:-2] + str((int(p["ts"][-2]) + 1) % 10) + "Z"),
        "ts without its fraction": variant(ts=p["ts"][:19] + "Z"),
        "ts not RFC 3339": variant(ts=p["ts"].replace("T", " ")),
        "received missing": variant(received=None),
        "host changed": variant(host="gw-08.example.net"),
        "app missing": variant(app=None),
        "procid as a number": variant(procid=int(p["procid"])),
        "msgid changed": variant(msgid="ORDEr"),
        "severity as a string": variant(severity=str(p["pri"] % 8)),
        "facility wrong": variant(facility=p["pri"] // 8 + 1),
        "source another address": variant(source="198.18.250.20:40000"),
        "source with a non-numeric port": variant(source=SRC + ":x"),
        "message one byte changed": variant(message=p["msg"].replace("GET", "PUT")),
        "message cut": variant(message=p["msg"][:-1]),
        "sd parameter changed": variant(sd={p["sd_id"]: dict(p["params"][:1] + [(p["params"][1][0], "1")])}),
        "sd parameter missing": variant(sd={p["sd_id"]: dict(p["params"][:1])}),
        "sd parameter added": variant(sd={p["sd_id"]: dict(p["params"] + [("x", "1")])}),
        "sd parameters reordered": variant(sd={p["sd_id"]: dict(reversed(p["params"]))}),
        "sd another element": variant(sd={p["sd_id"]: dict(p["params"]), "origin": {"ip": "192.0.2.1"}}),
        "sd as a string in logagg's object place": variant(sd=p["sd"][:-2] + "x]"),
        "a repeated key": logagg_line(p)[:-1] + ',"host":"gw-07.example.net"}',
        "text after the object": logagg_line(p) + " x",
        "two objects": logagg_line(p) + logagg_line(p),
        # In a member no role reads: only the JSON grammar refuses these.
        "a bad escape": logagg_line(p).replace('"format":"rfc5424"', '"format":"rfc\\q5424"'),
        "a lone surrogate": logagg_line(p).replace('"format":"rfc5424"', '"format":"rfc5424\\ud800"'),
        "a lone low surrogate": logagg_line(p).replace('"format":"rfc5424"', '"format":"\\udc00rfc5424"'),
        "a raw control byte": logagg_line(p).replace('"format":"rfc5424"', '"format":"rfc\t5424"'),
        "a number with a leading zero": logagg_line(p).replace('"format":"rfc5424"', '"format":06'),
        "a bare word": logagg_line(p).replace('"format":"rfc5424"', '"format":rfc5424'),
        "no closing brace": logagg_line(p)[:-1],
        "an array": "[" + logagg_line(p) + "]",
        "the raw message": msgs[5],
        "a sequence number beyond --count": variant(message=p["msg"].replace("seq=0000000005", "seq=0000000099")),
    }
    good = [logagg_line(q) for q in ps]
    for what, line in spoils.items():
        lines = good[:5] + [line] + good[6:]
        expect(check(tmp, lines, "--json", ROLES % "sd", "--source", SRC), "logagg shape, " + what,
               lines=COUNT, valid=COUNT - 1, invalid=1)
    # Escapes that decode to the same text are fine: \u escapes and an escaped '/'.
    same = (logagg_line(p).replace('"app":"checkout"', '"app":"\\u0063heckout"')
            .replace('"host":"gw-07.example.net"', '"host":"gw-07.example\\u002enet"').replace("/", "\\/"))
    expect(check(tmp, good[:5] + [same] + good[6:], "--json", ROLES % "sd", "--source", SRC),
           "logagg shape, escapes decoding to the same text", valid=COUNT, invalid=0)
    rs = rsyslog_line(p)
    for what, line in {"rsyslog sd string changed": rs.replace('order=\\"', 'order=\\"1'),
                       "rsyslog sd string unescaped quote": rs.replace('order=\\"', 'order="')}.items():
        lines = [rsyslog_line(q) for q in ps[:5]] + [line] + [rsyslog_line(q) for q in ps[6:]]
        expect(check(tmp, lines, "--json", ROLES % "sd", "--source", SRC), what, valid=COUNT - 1, invalid=1)

    # Usage errors: exit 2 with one line naming the option.
    for args in (["--json", "foo=bar"], ["--json", "ts=ts"], ["--json", "message"]):
        r = subprocess.run([BLAST, "check", "--count", "1"] + args + [os.devnull], capture_output=True, text=True)
        if r.returncode != 2 or "--json" not in r.stderr or r.stderr.count("\n") != 1:
            sys.exit("FAIL usage %s: exit %d, %r" % (args, r.returncode, r.stderr))
    subprocess.run(["rm", "-rf", tmp])
    print("ok: %d spoiled lines refused, the three collectors' shapes accepted" % (len(spoils) + 2))


main()
