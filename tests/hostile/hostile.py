#!/usr/bin/python3
"""flowtag's adversarial tier: inputs an attacker (or months of uptime) would send, each with a
pass/fail criterion, all on loopback, bounded in time. Judged by real peers where one exists
(tshark for the wire, ndpiReader, promtool), never by flowtag's own word alone.

  hostile.py --flowtag BUILD/vnf/flowtag --source-root DIR [--only NAME ...]
"""

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from testlib import Daemon, check, finish, http  # noqa: E402
import craft  # noqa: E402

MD2_POLICY = """chains:
  - {name: md2, tag: nsh, md_type: 2, spi: 5}
rules:
  - {protocol: HTTP, chain: md2}
  - {protocol: TLS, chain: md2}
"""


def replay(flowtag, tmp, cfg_text, pcap, name, extra=(), env=None):
    """flowtag replay with a config; returns (exit code, log, records, seconds, out.pcap)."""
    cfg = os.path.join(tmp, name + ".yaml")
    with open(cfg, "w") as f:
        f.write(cfg_text)
    flows, out = os.path.join(tmp, name + ".jsonl"), os.path.join(tmp, name + "-out.pcap")
    t0 = time.monotonic()
    r = subprocess.run([flowtag, "replay", "-c", cfg, "--flows", flows, "--out", out] +
                       list(extra) + [pcap], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       env=env, timeout=600)
    took = time.monotonic() - t0
    recs = []
    if os.path.exists(flows):
        with open(flows, "rb") as f:
            raw = f.read()
        try:
            recs = [json.loads(line) for line in raw.decode("utf-8").splitlines()]
        except (UnicodeDecodeError, ValueError) as e:
            check(False, "%s: records are UTF-8 JSON lines (%s)" % (name, e))
    return r.returncode, r.stdout.decode("utf-8", "replace"), recs, took, out


def tshark_fields(path, fields, display_filter=None):
    cmd = ["tshark", "-r", path, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|"]
    if display_filter:
        cmd += ["-Y", display_filter]
    for f in fields:
        cmd += ["-e", f]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError("tshark failed on %s: %s" % (path, r.stderr.strip()[:300]))
    return [line.split("\t") for line in r.stdout.splitlines()]


def test_long_hosts(a, tmp):
    """NSH MD type 2 carries the flow's host name in a TLV: with a name of up to 79 bytes
    (nDPI's longest) the header needs 138 bytes before the frame, more than an mbuf's 128 of
    headroom. Every packet from the verdict on must leave tagged, with the host, in standard
    frames and in jumbo ones (multi-segment mbufs); none untagged, none counted as failed."""
    pcap = os.path.join(tmp, "long_hosts.pcap")
    n_in = craft.craft("long_hosts", pcap)
    rc, log, recs, _, out = replay(a.flowtag, tmp, MD2_POLICY, pcap, "long_hosts")
    check(rc == 0 and "0 oversize, 0 could not be tagged" in log and
          "%d packets in, %d out" % (n_in, n_in) in log,
          "long hosts: replay exit 0, every packet out, none oversize or untaggable")
    longest = max((len(r["host"] or "") for r in recs), default=0)
    check(len(recs) == 3 * len(craft.LONG_HOST_LENGTHS) and longest >= 79,
          "long hosts: %d flows, hosts up to %d bytes (nDPI keeps 79)" % (len(recs), longest))
    rows = tshark_fields(out, ["frame.len", "nsh.mdtype", "nsh.metadatatype", "nsh.metadata",
                               "ip.src", "tcp.srcport", "ip.dst", "tcp.dstport"])
    check(len(rows) == n_in, "long hosts: tshark reads %d frames from the output (%d in)"
          % (len(rows), n_in))
    by_flow = collections.defaultdict(list)
    for r in rows:
        ends = frozenset([(r[4].split("|")[-1], r[5].split("|")[-1]),
                          (r[6].split("|")[-1], r[7].split("|")[-1])])
        by_flow[ends].append(r)
    bad, tagged_with_host, jumbo = [], 0, 0
    for rec in recs:
        ends = frozenset([(rec["src_ip"], str(rec["src_port"])),
                          (rec["dst_ip"], str(rec["dst_port"]))])
        pkts = by_flow.get(ends, [])
        if len(pkts) != rec["packets"]:
            bad.append("%s: %d frames, record says %d" % (rec["host"], len(pkts), rec["packets"]))
            continue
        for i, p in enumerate(pkts, 1):
            if i < rec["verdict_packet"]:
                continue
            types, values = p[2].split("|"), p[3].split("|")
            host = dict(zip(types, values)).get("5")
            text = bytes.fromhex(host.replace(":", "")).rstrip(b"\0").decode() if host else None
            if p[1] != "2" or text != rec["host"]:
                bad.append("%s packet %d: md %r host %r" % (rec["host"], i, p[1], text))
            else:
                tagged_with_host += 1
                jumbo += int(p[0]) > 2048
    check(not bad and tagged_with_host > 0 and jumbo > 0,
          "long hosts: %d packets from the verdict on carry NSH MD2 with the record's host "
          "(%d of them jumbo frames) %s" % (tagged_with_host, jumbo, bad[:3]))


def test_hostile_names(a, tmp):
    """Host names with invalid UTF-8, terminal escape sequences, quotes and bidi overrides, as
    a packet may carry them: records and API answers are valid UTF-8 JSON (strict decoding),
    /metrics passes promtool, and flowtagctl prints them without sending a single control
    byte to the terminal (it crashed with UnicodeDecodeError and printed raw escapes)."""
    pcap = os.path.join(tmp, "hostile_names.pcap")
    craft.craft("hostile_names", pcap)
    rc, log, recs, _, _ = replay(a.flowtag, tmp, MD2_POLICY, pcap, "hostile_names")
    hosts = [r["host"] for r in recs if r["host"] and r["label"] == "HTTP"]
    check(rc == 0 and len(hosts) == len(craft.HOSTILE_HOSTS),
          "hostile names: replay exit 0, records decode as strict UTF-8, %d hosts" % len(hosts))
    check(any("\ufffd" in h for h in hosts) and any("\U0001F600" in h for h in hosts) and
          any("\x1b" in h for h in hosts),
          "hostile names: invalid bytes became U+FFFD, valid emoji kept, ESC kept as data")
    cfg = os.path.join(tmp, "names-api.yaml")
    with open(cfg, "w") as f:
        f.write(MD2_POLICY)
    d = Daemon(a.flowtag, cfg, pcap, tmp, "names-api", pps=200, loop_pause=50)
    try:
        seen, raw = set(), b""
        deadline = time.time() + 20
        while time.time() < deadline and len(seen) < len(craft.HOSTILE_HOSTS):
            req = urllib.request.Request(d.url + "/v1/flows?limit=100")
            with urllib.request.urlopen(req, timeout=10) as r:
                raw = r.read()
            for fl in json.loads(raw.decode("utf-8"))["flows"]:
                if fl["host"] and fl["label"] == "HTTP":
                    seen.add(fl["host"])
            time.sleep(0.1)
        check(len(seen) == len(craft.HOSTILE_HOSTS),
              "hostile names: GET /v1/flows is strict UTF-8 JSON with all %d hosts" % len(seen))
        st, metrics, _ = http("GET", d.url + "/metrics")
        mpath = os.path.join(tmp, "metrics.txt")
        with open(mpath, "w") as f:
            f.write(metrics)
        r = subprocess.run(["promtool", "check", "metrics"], stdin=open(mpath),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        check(st == 200 and r.returncode == 0, "hostile names: /metrics passes promtool")
        ctl = os.path.join(a.source_root, "vnf/ctl/flowtagctl")
        outs = []
        for args in (["flows", "--limit", "100"], ["--json", "flows", "--limit", "100"]):
            r = subprocess.run([sys.executable, ctl, "--url", d.url] + args,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            outs.append(r)
        ok = all(r.returncode == 0 and not r.stderr for r in outs)
        ctrl = [b for r in outs for b in r.stdout if b < 0x20 and b not in (0x0a, 0x09)]
        c1 = [r for r in outs if "\u0085" in r.stdout.decode("utf-8") or
              "\u202e" in r.stdout.decode("utf-8")]
        check(ok and not ctrl and not c1 and b"\\x1b" in outs[0].stdout,
              "hostile names: flowtagctl flows prints them escaped (no control bytes, no bidi "
              "override; exit %s, %d control bytes)" % ([r.returncode for r in outs], len(ctrl)))
    finally:
        rc, _ = d.stop()
    check(rc == 0, "hostile names: the daemon stops cleanly (exit %s)" % rc)


def test_files(a, tmp):
    """Files flowtag writes, often as root: the records file is never written through a
    symbolic link and is created 0600; --out refuses a link; the exit cleanup of DPDK's
    runtime directory removes only the files EAL made there (a prefix like ../../dir made it
    empty another directory)."""
    pcap = os.path.join(tmp, "files.pcap")
    craft.craft("hostile_names", pcap)
    victim = os.path.join(tmp, "victim")
    with open(victim, "w") as f:
        f.write("precious\n")
    link = os.path.join(tmp, "link.jsonl")
    os.symlink(victim, link)
    r1 = subprocess.run([a.flowtag, "replay", "--flows", link, pcap], stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, text=True)
    r2 = subprocess.run([a.flowtag, "replay", "--out", link, pcap], stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, text=True)
    with open(victim) as f:
        kept = f.read() == "precious\n"
    check(r1.returncode != 0 and "symbolic link: refused" in r1.stdout and
          r2.returncode != 0 and "symbolic link: refused" in r2.stdout and kept,
          "files: records and --out through a symbolic link are refused, the target untouched")
    recs = os.path.join(tmp, "fresh.jsonl")
    r = subprocess.run([a.flowtag, "replay", "--flows", recs, pcap], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    mode = os.stat(recs).st_mode & 0o777 if os.path.exists(recs) else None
    check(r.returncode == 0 and mode == 0o600, "files: a new records file is created 0600 (%s)"
          % (oct(mode) if mode is not None else "missing"))
    bad = os.path.join(tmp, "prefix.yaml")
    with open(bad, "w") as f:
        f.write('eal:\n  file_prefix: "../../../%s"\n' % tmp.strip("/"))
    r = subprocess.run([a.flowtag, "check", "-c", bad], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    check(r.returncode == 2 and "prefix.yaml:2:16: 'file_prefix' must be a plain name" in r.stdout,
          "files: a file_prefix that is a path is refused with line:col")
    if os.geteuid() != 0:
        check(os.environ.get("CI") != "true", "files: the runtime-directory check needs root "
              "(skipped outside CI)")
        return
    prefix = "flowtag-hostile-%d" % os.getpid()
    rundir = "/var/run/dpdk/" + prefix
    os.makedirs(rundir, exist_ok=True)
    keep = os.path.join(rundir, "not-from-eal")
    with open(keep, "w") as f:
        f.write("x")
    cfg = os.path.join(tmp, "cleanup.yaml")
    with open(cfg, "w") as f:
        f.write("eal: {file_prefix: %s}\n" % prefix)
    r = subprocess.run([a.flowtag, "replay", "-c", cfg, pcap], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    left = sorted(os.listdir(rundir)) if os.path.isdir(rundir) else []
    check(r.returncode == 0 and left == ["not-from-eal"],
          "files: the exit cleanup removes EAL's files only (left: %s)" % left)
    shutil.rmtree(rundir, ignore_errors=True)


TESTS = {"long_hosts": test_long_hosts, "hostile_names": test_hostile_names,
         "files": test_files}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flowtag", required=True)
    ap.add_argument("--source-root", required=True)
    ap.add_argument("--only", nargs="*")
    a = ap.parse_args()
    a.flowtag = os.path.abspath(a.flowtag)
    if shutil.which("tshark") is None:
        print("SKIP: tshark is not installed")
        return 77
    tmp = tempfile.mkdtemp(prefix="flowtag-hostile-")
    try:
        for name, fn in TESTS.items():
            if a.only and name not in a.only:
                continue
            print("--- %s" % name, flush=True)
            fn(a, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
