#!/usr/bin/python3
"""Shared by flowtag's Python tests: named checks with a closing line the CI reads
("N passed, N failed"), a free loopback port, and the two-way key of a flow record."""

import ipaddress
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

_passed = 0
_failures = []


def check(cond, what):
    """Record one named check and print it; returns cond."""
    global _passed
    if cond:
        _passed += 1
        print("ok   " + what, flush=True)
    else:
        _failures.append(what)
        print("FAIL " + what, flush=True)
    return cond


def finish():
    """Print the closing line; the process exit code (0 when nothing failed)."""
    print("%d passed, %d failed" % (_passed, len(_failures)))
    return 1 if _failures else 0


def unavailable(what, why):
    """A prerequisite is missing. Under CI, which has every tool, that is a failed check
    ("WHAT is there"); elsewhere a skip (exit code 77) that says WHY. Returns the exit code."""
    if os.environ.get("CI") == "true":
        check(False, what + " is there")
        return finish()
    print("SKIP: " + why)
    return 77


def exit_counters(log):
    """The counters flowtag prints as it exits ("flowtag: counters: name=value ..."; the
    names of worker_counters.def, datapath.* of dp_counters.def, records.*), as a dict; a
    counter that is not there was 0. None when the line is missing."""
    for line in log.splitlines():
        if line.startswith("flowtag: counters:"):
            return {k: int(v) for k, v in (kv.split("=", 1) for kv in line.split(":", 2)[2].split())}
    return None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def record_key(r):
    """(l4, {(addr, port), (addr, port)}) of a flow record: the same for both directions, with
    addresses in their canonical spelling (RFC 5952 for IPv6)."""
    return (r["l4"], frozenset([(str(ipaddress.ip_address(r["src_ip"])), r["src_port"]),
                                (str(ipaddress.ip_address(r["dst_ip"])), r["dst_port"])]))


def pcap_frames(path):
    """Frame bytes in order (pcap, microsecond or nanosecond, little-endian)."""
    import struct
    with open(path, "rb") as f:
        data = f.read()
    off, out = 24, []
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack("<IIII", data[off:off + 16])
        out.append(data[off + 16:off + 16 + caplen])
        off += 16 + caplen
    return out


def ndpi_labels(pcaps, cap, extra=(), open_tunnels=True):
    """ndpiReader's label for each flow of a capture, keyed as record_key() keys a record;
    run by ../shared/pcaps/ndpi_truth.py (`pcaps`), with its -t (GTP-U and CAPWAP opened)
    unless open_tunnels is False, and `extra` arguments (e.g. -p FILE). None if it failed."""
    import sys
    if pcaps not in sys.path:
        sys.path.insert(0, pcaps)
    import ndpi_truth
    saved = list(ndpi_truth.NDPI_ARGS)
    ndpi_truth.NDPI_ARGS[:] = [x for x in saved if open_tunnels or x != "-t"] + list(extra)
    try:
        rc, _, report = ndpi_truth.run_ndpireader("ndpiReader", cap)
        table = ndpi_truth.proto_table("ndpiReader")
    finally:
        ndpi_truth.NDPI_ARGS[:] = saved
    if rc != 0:
        return None
    return {record_key({"l4": row["l4_proto"], "src_ip": row["src_ip"],
                        "src_port": int(row["src_port"]), "dst_ip": row["dst_ip"],
                        "dst_port": int(row["dst_port"])}): row["ndpi_label"]
            for row in ndpi_truth.parse_report(report, table)}


def leaked_dpdk_dirs(pattern="/var/run/dpdk/flowtag-*"):
    """DPDK runtime directories left by flowtag processes that have exited. A directory whose
    process (the pid at the end of its name) still runs is in use, not leaked; that keeps the
    check right when other flowtag instances run on the same machine."""
    import glob
    import os
    import re

    leaked = []
    for d in glob.glob(pattern):
        m = re.search(r"-(\d+)$", d)
        if m and os.path.exists("/proc/" + m.group(1)):
            continue
        leaked.append(d)
    return leaked


def http(method, url, body=None, token=None, timeout=10):
    """(status, body text, headers) of one request; HTTP errors are answers, not exceptions."""
    req = urllib.request.Request(url, data=body, method=method)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8"), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8"), dict(e.headers)


class Daemon:
    """`flowtag replay --loop --api` on a free loopback port: a live classifier without OVS."""

    def __init__(self, flowtag, cfg, pcap, tmp, name, extra=(), pps=1500, loop_pause=300,
                 env=None):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.records = os.path.join(tmp, name + ".jsonl")
        self.log_path = os.path.join(tmp, name + ".log")
        self.log = open(self.log_path, "w")
        self.p = subprocess.Popen([flowtag, "replay", "-c", cfg, "--loop", "--loop-pause",
                                   str(loop_pause), "--pps", str(pps),
                                   "--api", "127.0.0.1:%d" % self.port,
                                   "--flows", self.records] + list(extra) + [pcap],
                                  stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                if http("GET", self.url + "/v1/health")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("flowtag did not serve its API; see %s" % self.log_path)

    def get(self, path, token=None):
        return http("GET", self.url + path, token=token)

    def stop(self, timeout=30):
        """SIGTERM, then the exit code (None if it had to be killed after `timeout` s) and
        the log."""
        self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            rc = None
        self.log.close()
        with open(self.log_path) as f:
            return rc, f.read()
