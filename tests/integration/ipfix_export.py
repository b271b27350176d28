#!/usr/bin/python3
"""IPFIX export against real collectors: Debian's nfcapd/nfdump and tshark.

1. Every shared capture replayed with export.ipfix on (UDP, active timeout 30 s, so long flows
   send interim records) to nfcapd on loopback. nfcapd repeats each datagram (-R) to a
   listener here, which keeps the stream for tshark. Then:
   - `nfdump -r` holds every flow of the JSON records of the same run, with the same
     addresses, ports, packets and bytes both ways (interim records summed), and its
     application id (`%nbid` 22..id: engine 22, nDPI's id);
   - tshark decodes the stream without a malformed packet: the IPv4 and IPv6 templates, the
     options template scoped on applicationId, an application name for every nDPI protocol,
     and as many flow records as flowtag sent.
2. Faults, each with a pass/fail criterion: a UDP collector that is not there (records counted
   as not exported, replay unharmed); a TCP collector that closes the session (flowtag
   reconnects, templates first in each session); a TCP collector that stops reading (the queue
   fills, records are counted as not exported, the data path and the API go on, the stop is
   bounded); bad targets (config: file:line:col; --ipfix: a usage error); SIGHUP moving the
   export to another collector.
"""

import argparse
import ipaddress
import json
import os
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

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from testlib import Daemon, check, finish, record_key, unavailable  # noqa: E402

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap")
ENGINE_NDPI = 22
L4_TCP_UDP = ("6", "17", "TCP", "UDP")  # nfdump -N prints numbers


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class UdpSink:
    """Keeps every datagram sent to it (a thread)."""

    def __init__(self, port=0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind(("127.0.0.1", port))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.datagrams = []
        self.running = True
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while self.running:
            try:
                self.datagrams.append(self.sock.recv(65535))
            except socket.timeout:
                continue
            except OSError:
                return

    def close(self):
        self.running = False
        self.t.join()
        self.sock.close()


def write_pcap(path, datagrams, dport):
    """The datagrams as a pcap (Ethernet, IPv4, UDP from 127.0.0.1), for tshark."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, d in enumerate(datagrams):
            udp = struct.pack("!HHHH", 40000, dport, 8 + len(d), 0) + d
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xffff, 0, 64, 17, 0,
                             socket.inet_aton("127.0.0.1"), socket.inet_aton("127.0.0.1")) + udp
            frame = b"\x00" * 12 + b"\x08\x00" + ip
            f.write(struct.pack("<IIII", 1000 + i, 0, len(frame), len(frame)) + frame)


def ipfix_sets(msg):
    """(version, domain, [set ids]) of one IPFIX message."""
    version, length, _, _, domain = struct.unpack("!HHIII", msg[:16])
    sets, off = [], 16
    while off + 4 <= min(length, len(msg)):
        sid, slen = struct.unpack("!HH", msg[off:off + 4])
        if slen < 4:
            break
        sets.append(sid)
        off += slen
    return version, domain, sets


def log_figures(log):
    """(records, interim, not exported) from flowtag's closing ipfix line."""
    m = re.search(r"ipfix: (\d+) records to \S+ \((\d+) interim\), (\d+) not exported", log)
    return tuple(int(x) for x in m.groups()) if m else None


def nfdump_flows(nfdump_file):
    out = subprocess.run(["nfdump", "-r", nfdump_file, "-6", "-N", "-q", "-o",
                          "fmt:%pr|%sa|%sp|%da|%dp|%ipkt|%opkt|%ibyt|%obyt|%nbid"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=True)
    rows = []
    for line in out.stdout.splitlines():
        f = [x.strip() for x in line.split("|")]
        if len(f) != 10:
            continue
        rows.append(f)
    return rows


def part_collectors(a, tmp, captures):
    port = free_udp_port()
    relay = UdpSink()
    nfdir = os.path.join(tmp, "nfcapd")
    os.makedirs(nfdir)
    nfcapd = subprocess.Popen(["nfcapd", "-b", "127.0.0.1", "-p", str(port), "-w", nfdir,
                               "-t", "3600", "-B", str(8 << 20),
                               "-R", "127.0.0.1/%d" % relay.port],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(1.0)
    cfg = os.path.join(tmp, "export.yaml")
    with open(cfg, "w") as f:
        f.write("export:\n  ipfix:\n    collector: udp://127.0.0.1:%d\n"
                "    observation_domain: 7\n    active_timeout: 30\n" % port)
    records = os.path.join(tmp, "records.jsonl")
    p = subprocess.run([a.flowtag, "replay", "-c", cfg, "--flows", records] + captures,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    check(p.returncode == 0, "replay with export on exits 0")
    figures = log_figures(p.stdout)
    time.sleep(1.0)
    nfcapd.send_signal(signal.SIGINT)
    nfcapd_log = nfcapd.communicate(timeout=30)[0]
    relay.close()
    if not check(figures is not None, "flowtag reports what it exported: %s" % (figures,)):
        print(p.stdout[-3000:])
        return
    sent, interim, not_exported = figures
    with open(records) as f:
        recs = [json.loads(line) for line in f if line.strip()]
    check(not_exported == 0 and sent == len(recs) + interim,
          "every record left: %d final (= the %d JSON records) + %d interim, %d not exported"
          % (sent - interim, len(recs), interim, not_exported))
    check(interim > 0, "long flows sent interim records at the 30 s active timeout (%d)" % interim)
    check("Sequence Errors: 0" in nfcapd_log and "Bad Packets: 0" in nfcapd_log,
          "nfcapd: no sequence errors, no bad packets")

    files = [os.path.join(nfdir, n) for n in os.listdir(nfdir) if n.startswith("nfcapd.")]
    rows = nfdump_flows(files[0]) if files else []
    check(len(rows) == sent, "nfdump -r shows %d records (flowtag sent %d)" % (len(rows), sent))

    def key_of(sa, sp, da, dp):
        return frozenset([(str(ipaddress.ip_address(sa)), int(sp)),
                          (str(ipaddress.ip_address(da)), int(dp))])

    # JSON: a flow's final record(s); nfdump: its final and interim records. Sum both sides.
    want = {}
    for r in recs:
        if r["l4"] not in ("tcp", "udp"):
            continue
        k = record_key(r)[1]
        w = want.setdefault(k, {"pkts": 0, "bytes": 0, "rpkts": 0, "rbytes": 0, "apps": set(),
                                "src": (r["src_ip"], r["src_port"])})
        w["pkts"] += r["packets"]
        w["bytes"] += r["bytes"]
        w["rpkts"] += r["reverse_packets"]
        w["rbytes"] += r["reverse_bytes"]
        w["apps"].add("%d..%d" % (ENGINE_NDPI, r["app_protocol_id"] or r["master_protocol_id"]))
    got = {}
    for pr, sa, sp, da, dp, ipkt, opkt, ibyt, obyt, nbid in rows:
        if pr not in L4_TCP_UDP:
            continue  # nfdump shows ICMP's type.code in place of ports: counted below
        k = key_of(sa, sp, da, dp)
        g = got.setdefault(k, {"pkts": 0, "bytes": 0, "rpkts": 0, "rbytes": 0, "apps": set()})
        g["pkts"] += int(ipkt) + int(opkt)
        g["bytes"] += int(ibyt) + int(obyt)
        g["rpkts"] += int(opkt)
        g["rbytes"] += int(obyt)
        g["apps"].add(nbid.replace(" ", ""))
    same = counts_off = apps_off = missing = 0
    for k, w in want.items():
        g = got.get(k)
        if g is None:
            missing += 1
            continue
        if (g["pkts"], g["bytes"], g["rpkts"], g["rbytes"]) != (w["pkts"], w["bytes"], w["rpkts"],
                                                                 w["rbytes"]):
            counts_off += 1
            if counts_off <= 5:
                print("  counts differ %s: json %s nfdump %s" % (sorted(k), w, g))
        elif not (w["apps"] <= g["apps"] and g["apps"] - w["apps"] <= {"%d..0" % ENGINE_NDPI}):
            apps_off += 1
            if apps_off <= 5:
                print("  application id differs %s: json %s nfdump %s" % (sorted(k), w["apps"],
                                                                          g["apps"]))
        else:
            same += 1
    other_json = sum(1 for r in recs if r["l4"] not in ("tcp", "udp"))
    check(missing == 0, "every JSON flow is in nfdump (%d missing)" % missing)
    check(counts_off == 0,
          "packets and bytes both ways agree with the JSON records: %d flows, %d differ"
          % (same + apps_off, counts_off))
    check(apps_off == 0, "application ids agree (22..nDPI id; an interim record before the "
          "verdict says 22..0): %d differ" % apps_off)
    check(sum(1 for r in rows if r[0] not in L4_TCP_UDP) >= other_json > 0,
          "flows of other protocols (ICMP, IGMP...) are there too (%d)" % other_json)

    # tshark on the same stream.
    pcap = os.path.join(tmp, "ipfix.pcap")
    write_pcap(pcap, relay.datagrams, port)
    check(len(relay.datagrams) > 0, "nfcapd repeated %d datagrams" % len(relay.datagrams))
    decode = ["tshark", "-r", pcap, "-d", "udp.port==%d,cflow" % port]
    mal = subprocess.run(decode + ["-Y", "_ws.malformed || _ws.expert.severity >= warning"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if mal.stdout.strip():
        print(mal.stdout[:2000])
    check(mal.returncode == 0 and mal.stdout.strip() == "",
          "tshark: no malformed packet, no warning (%d lines)" % len(mal.stdout.splitlines()))
    fields = subprocess.run(decode + ["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=;",
                                      "-e", "cflow.template_id", "-e",
                                      "cflow.template_ipfix_scope_field_count", "-e",
                                      "cflow.appl_name", "-e", "cflow.od_id", "-e",
                                      "cflow.flow_end_reason", "-e",
                                      "cflow.appl_id.classification_engine_id"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    tids, scopes, names, domains, reasons, engines = set(), [], set(), set(), [], []
    for line in fields.splitlines():
        cols = (line.split("\t") + [""] * 6)[:6]
        engines += [x for x in cols[5].split(";") if x]
        tids.update(x for x in cols[0].split(";") if x)
        scopes += [x for x in cols[1].split(";") if x]
        names.update(x for x in cols[2].split(";") if x)
        domains.update(x for x in cols[3].split(";") if x)
        reasons += [x for x in cols[4].split(";") if x]
    check({"256", "257", "258"} <= tids, "templates 256 (IPv4), 257 (IPv6), 258 (options): %s"
          % sorted(tids))
    check(scopes and all(s == "1" for s in scopes),
          "the options template has one scope field (applicationId)")
    check(len(names) >= 250 and {"DNS", "TLS", "HTTP", "QUIC"} <= names,
          "tshark reads an application name for every nDPI protocol (%d names)" % len(names))
    check(len(engines) == sent + len(names) and set(engines) == {str(ENGINE_NDPI)},
          "tshark: every applicationId (records and names) has classification engine 22")
    check(domains == {"7"}, "observation domain 7 in every message: %s" % sorted(domains))
    check(len(reasons) == sent, "tshark counts %d flow records (flowtag sent %d)"
          % (len(reasons), sent))
    check(reasons.count("2") == interim or reasons.count("Active timeout") == interim,
          "interim records carry flowEndReason 2 (active timeout)")


def part_udp_unreachable(a, tmp, captures):
    port = free_udp_port()  # nobody listens there
    records = os.path.join(tmp, "unreachable.jsonl")
    p = subprocess.run([a.flowtag, "replay", "--ipfix", "udp://127.0.0.1:%d" % port, "--flows",
                        records] + captures, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    figures = log_figures(p.stdout)
    with open(records) as f:
        n = sum(1 for line in f if line.strip())
    check(p.returncode == 0 and n > 0, "replay to an absent UDP collector exits 0 with its %d "
          "JSON records" % n)
    check(figures is not None and figures[2] > 0,
          "records to the absent collector are counted as not exported: %s" % (figures,))


class TcpCollector:
    """A TCP collector: each session's bytes; `close_after` ends a session after that many
    bytes (a restart), `read` False accepts and never reads (a stuck collector)."""

    def __init__(self, close_after=None, read=True, junk=0):
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if not read:
            self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(4)
        self.srv.settimeout(0.2)
        self.port = self.srv.getsockname()[1]
        self.sessions = []
        self.close_after = close_after
        self.read = read
        self.junk = junk
        self.running = True
        self.held = []
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while self.running:
            try:
                c, _ = self.srv.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            if not self.read:
                self.held.append(c)
                continue
            data = b""
            if self.junk:
                threading.Thread(target=self._talk, args=(c,), daemon=True).start()
            c.settimeout(0.2)
            while self.running:
                try:
                    chunk = c.recv(65536)
                except socket.timeout:
                    continue
                if not chunk:
                    break
                data += chunk
                if self.close_after is not None and len(data) >= self.close_after and \
                        len(self.sessions) < 2:
                    break
            self.sessions.append(data)
            c.close()

    def _talk(self, c):
        """A hostile collector: `junk` bytes at the exporter, which has nothing to read."""
        chunk, sent = os.urandom(65536), 0
        try:
            while sent < self.junk and self.running:
                c.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass

    def close(self):
        self.running = False
        self.t.join()
        for c in self.held:
            c.close()
        self.srv.close()


def stats_ipfix(d):
    st, body, _ = d.get("/v1/stats")
    return json.loads(body)["ipfix"] if st == 200 else None


def part_tcp(a, tmp, pcap):
    # A collector that ends the session twice after 30 kB: flowtag reconnects each time.
    col = TcpCollector(close_after=30000)
    cfg = os.path.join(tmp, "tcp.yaml")
    with open(cfg, "w") as f:
        f.write("eal: {file_prefix: flowtag-ipfix-%d}\nexport:\n  ipfix:\n"
                "    collector: tcp://127.0.0.1:%d\n    active_timeout: 5\n" % (os.getpid(),
                                                                               col.port))
    d = Daemon(a.flowtag, cfg, pcap, tmp, "tcp", pps=4000, loop_pause=100)
    deadline = time.time() + 40
    s = None
    while time.time() < deadline:
        s = stats_ipfix(d)
        if s and s["connection"]["connects"] >= 3 and s["connection"]["up"]:
            break
        time.sleep(0.5)
    check(s is not None and s["connection"]["connects"] >= 3 and s["connection"]["drops"] >= 2,
          "TCP: the collector closed twice, flowtag reconnected (connects %s, drops %s)"
          % (s and s["connection"]["connects"], s and s["connection"]["drops"]))
    rc, log = d.stop()
    col.close()
    check(rc == 0, "TCP: a graceful stop after the restarts exits 0")
    firsts = [ipfix_sets(x) for x in col.sessions if len(x) >= 16]
    print("  sessions: %s" % [(len(x), ipfix_sets(x)) for x in col.sessions])
    check(len(firsts) >= 3 and all(v == 10 and sets and sets[0] == 2 for v, _, sets in firsts),
          "TCP: every session begins with an IPFIX message of templates (%d sessions)"
          % len(firsts))

    # A collector that accepts and never reads: the queue fills, records are counted.
    col = TcpCollector(read=False)
    with open(cfg, "w") as f:
        f.write("eal: {file_prefix: flowtag-ipfix-%d}\nexport:\n  ipfix:\n"
                "    collector: tcp://127.0.0.1:%d\n    queue_bytes: 65536\n"
                "    active_timeout: 1\n" % (os.getpid(), col.port))
    d = Daemon(a.flowtag, cfg, pcap, tmp, "stuck", pps=20000, loop_pause=10)
    deadline = time.time() + 60
    s = None
    while time.time() < deadline:
        s = stats_ipfix(d)
        if s and s["records_not_exported"] > 0:
            break
        time.sleep(0.5)
    st1, body1, _ = d.get("/v1/stats")
    p1 = sum(w["packets"] for w in json.loads(body1)["workers"])
    t0 = time.time()
    st, _, _ = d.get("/v1/health")
    health_s = time.time() - t0
    time.sleep(1.0)
    _, body2, _ = d.get("/v1/stats")
    p2 = sum(w["packets"] for w in json.loads(body2)["workers"])
    s = json.loads(body2)["ipfix"]
    check(s["connection"]["refused_full"] > 0 and s["records_not_exported"] > 0,
          "TCP, a collector that does not read: the queue filled, %d records counted as not "
          "exported" % s["records_not_exported"])
    check(p2 > p1 and st == 200 and health_s < 2.0,
          "meanwhile the data path goes on (%d -> %d packets) and the API answers (%.2f s)"
          % (p1, p2, health_s))
    t0 = time.time()
    rc, log = d.stop(timeout=20)
    check(rc == 0 and time.time() - t0 < 15,
          "a stop with the collector stuck is bounded (%.1f s, exit %s)" % (time.time() - t0, rc))
    col.close()


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def part_tcp_talker(a, tmp, pcap):
    """A collector that sends 64 MB back: read and dropped, memory stays put."""
    col = TcpCollector(junk=64 << 20)
    cfg = os.path.join(tmp, "talker.yaml")
    with open(cfg, "w") as f:
        f.write("eal: {file_prefix: flowtag-ipfix-t%d}\nexport:\n  ipfix:\n"
                "    collector: tcp://127.0.0.1:%d\n" % (os.getpid(), col.port))
    # Its RSS is the measurement: under AddressSanitizer (tests/run's second pass) freed memory
    # waits in ASan's quarantine (up to 256 MB), so RSS grew with the daemon's ordinary malloc
    # churn over a slow run (+25 MB on a loaded machine, +0.1 MB on a quiet one). No quarantine
    # for this daemon: what is left is what flowtag holds.
    env = dict(os.environ)
    if "ASAN_OPTIONS" in env:
        env["ASAN_OPTIONS"] += ":quarantine_size_mb=0:thread_local_quarantine_size_kb=0"
    d = Daemon(a.flowtag, cfg, pcap, tmp, "talker", pps=2000, loop_pause=100, env=env)
    time.sleep(1.0)
    rss0 = rss_kb(d.p.pid)
    deadline = time.time() + 30
    s = None
    while time.time() < deadline:
        s = stats_ipfix(d)
        if s and s["connection"]["bytes_ignored"] >= 64 << 20:
            break
        time.sleep(0.5)
    rss1 = rss_kb(d.p.pid)
    rc, _ = d.stop()
    col.close()
    check(s is not None and s["connection"]["bytes_ignored"] >= 64 << 20 and
          s["connection"]["up"] and rss1 - rss0 < 16 * 1024 and rc == 0,
          "TCP, a collector that sends 64 MB back: read and dropped (%s bytes), still up, RSS "
          "%+d kB" % (s and s["connection"]["bytes_ignored"], rss1 - rss0))


def part_config_errors(a, tmp):
    bad = os.path.join(tmp, "bad.yaml")
    with open(bad, "w") as f:
        f.write("export:\n  ipfix:\n    collector: http://127.0.0.1:4739\n")
    p = subprocess.run([a.flowtag, "check", "-c", bad], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    check(p.returncode != 0 and "bad.yaml:3:16" in p.stdout and "udp://" in p.stdout,
          "a bad collector is named with file:line:col: %s" % p.stdout.strip()[:160])
    with open(bad, "w") as f:
        f.write("export:\n  ipfix:\n    message_bytes: 100\n")
    p = subprocess.run([a.flowtag, "check", "-c", bad], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    check(p.returncode != 0 and "bad.yaml:3:" in p.stdout, "message_bytes below 512 is refused")
    p = subprocess.run([a.flowtag, "replay", "--ipfix", "udp://127.0.0.1", "x.pcap"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    check(p.returncode == 2 and "--ipfix" in p.stdout, "--ipfix without a port: a usage error")


def part_reload(a, tmp, pcap):
    one, two = UdpSink(), UdpSink()
    cfg = os.path.join(tmp, "reload.yaml")
    body = "eal: {file_prefix: flowtag-ipfix-r%d}\nexport:\n  ipfix:\n" \
           "    collector: udp://127.0.0.1:%d\n    active_timeout: 2\n"
    with open(cfg, "w") as f:
        f.write(body % (os.getpid(), one.port))
    d = Daemon(a.flowtag, cfg, pcap, tmp, "reload", pps=2000, loop_pause=100)
    time.sleep(3.0)
    with open(cfg, "w") as f:
        f.write(body % (os.getpid(), two.port))
    d.p.send_signal(signal.SIGHUP)
    time.sleep(1.0)
    n_one = len(one.datagrams)
    time.sleep(3.0)
    s = stats_ipfix(d)
    rc, log = d.stop()
    one.close()
    two.close()
    check(n_one > 0 and len(one.datagrams) == n_one,
          "SIGHUP: the first collector got %d messages, none after the reload" % n_one)
    firsts = [ipfix_sets(x)[2] for x in two.datagrams[:1]]
    print("  new collector: first sets %s, stats collector %s" % (firsts, s and s["collector"]))
    check(len(two.datagrams) > 1 and firsts and firsts[0][0] == 2 and
          s is not None and s["collector"] == "udp://127.0.0.1:%d" % two.port,
          "SIGHUP: the new collector gets templates first, then records (%d messages)"
          % len(two.datagrams))
    check(rc == 0, "the daemon stops cleanly after the reload")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flowtag", required=True)
    ap.add_argument("--pcaps", required=True)
    a = ap.parse_args()
    a.flowtag = os.path.abspath(a.flowtag)
    for tool in ("nfcapd", "nfdump", "tshark"):
        if shutil.which(tool) is None:
            return unavailable("%s (ovs-integration/install-deps installs it)" % tool,
                               "%s is not installed (ovs-integration/install-deps installs it)"
                               % tool)
    if not os.path.isdir(a.pcaps):
        print("SKIP: no captures at %s" % a.pcaps)
        return 77
    captures = sorted(os.path.join(a.pcaps, n) for n in os.listdir(a.pcaps)
                      if n.endswith(CAPTURE_SUFFIXES))
    tmp = tempfile.mkdtemp(prefix="flowtag-ipfix-")
    try:
        part_collectors(a, tmp, captures)
        part_udp_unreachable(a, tmp, captures[:5])
        part_config_errors(a, tmp)
        long_pcap = os.path.join(a.pcaps, "rtsp.pcap")
        part_tcp(a, tmp, long_pcap)
        part_tcp_talker(a, tmp, long_pcap)
        part_reload(a, tmp, long_pcap)
    finally:
        if os.environ.get("KEEP_TMP") is None:
            shutil.rmtree(tmp, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
