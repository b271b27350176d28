#!/usr/bin/python3
"""IP fragments follow their flow: every fragment of a flow carries the flow's tag (tshark).

A capture this test generates: DNS answers too big for one frame (IPv4 and IPv6), each
fragmented in order and out of order (the last fragment first), and an HTTP GET fragmented
over IPv4, with a policy that puts DNS and HTTP on NSH chains of their own and holds packets
until the verdict (so every packet of a flow carries its final chain). Replayed with one
worker and with two (the I/O lcore must send a later fragment, which has no ports, to its
flow's worker). Judged from outside: tshark reads the tagged output; each frame's datagram
(addresses and IP id) says which flow, and so which chain, it belongs to.

Also the flow records (packets = all of a flow's frames, labels as ndpiReader's on the same
capture) and, adversarial, a flood of 20,000 later fragments whose first never comes ahead
of the same traffic: each leaves untagged (datapath.malformed: pass) and counted, within the
fragment table's bounds, and the real flows' fragments are still followed.
"""

import argparse
import collections
import ipaddress
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from testlib import check, exit_counters, finish, ndpi_labels, record_key, unavailable  # noqa: E402
sys.path.insert(0, os.path.join(HERE, "../../ovs-integration"))
import trafficgen  # noqa: E402

CONFIG = """
eal: {hugepages: false, lcores: "%s"}
chains:
  - {name: dns, tag: nsh, spi: 10}
  - {name: web, tag: nsh, spi: 20}
  - {name: other, tag: nsh, spi: 99}
rules:
  - {app: DNS, chain: dns}
  - {app: HTTP, chain: web}
policy:
  default: {chain: other}
  unclassified: hold
  hold_packets: 32
flows:
  fragments: {capacity: 1024, held: 256, timeout: 2}
"""
SPI = {"DNS": "10", "HTTP": "20"}
MAC_C, MAC_S = trafficgen.CLIENT_MAC, trafficgen.SERVER_MAC


def ipv4_fragments(src, dst, proto, l4, ip_id, mtu=1500):
    """An IPv4 datagram carrying l4, cut into frames of at most mtu bytes of IP."""
    step = (mtu - 20) // 8 * 8
    frames = []
    for off in range(0, len(l4), step):
        part = l4[off:off + step]
        more = off + step < len(l4)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(part), ip_id,
                         (0x2000 if more else 0) | off // 8, 64, proto, 0,
                         trafficgen.ip_bytes(src), trafficgen.ip_bytes(dst))
        ip = ip[:10] + struct.pack("!H", trafficgen.csum(ip)) + ip[12:]
        frames.append(MAC_S + MAC_C + b"\x08\x00" + ip + part)
    return frames


def ipv6_addr(a):
    return ipaddress.IPv6Address(a).packed


def ipv6_fragments(src, dst, proto, l4, frag_id, mtu=1280):
    """An IPv6 datagram carrying l4, cut with fragment headers (RFC 8200 §4.5)."""
    step = (mtu - 40 - 8) // 8 * 8
    frames = []
    for off in range(0, len(l4), step):
        part = l4[off:off + step]
        more = off + step < len(l4)
        fh = struct.pack("!BBHI", proto, 0, off | (1 if more else 0), frag_id)
        ip = struct.pack("!IHBB16s16s", 0x60000000, len(fh) + len(part), 44, 64,
                         ipv6_addr(src), ipv6_addr(dst))
        frames.append(MAC_S + MAC_C + b"\x86\xdd" + ip + fh + part)
    return frames


def udp(sport, dport, payload):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def big_dns_answer(qid, name, n):
    """A DNS response with n A records: bigger than one frame."""
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0\x00\x01\x00\x01"
    msg = struct.pack("!HHHHHH", qid, 0x8180, 1, n, 0, 0) + q
    for i in range(n):
        msg += b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04" + bytes([198, 51, i // 250, i % 250 + 1])
    return msg


def build(path, flood=0, gap=0.0):
    """The capture (after `flood` stray fragments and `gap` seconds); returns {datagram key:
    (app, out of order)} for every fragmented datagram and {flow: (app, frames)}."""
    w = trafficgen.Writer()
    t = 1700000000.0
    datagram_app = {}
    flows = {}

    def add(frames, order=None):
        nonlocal t
        for i in (order if order is not None else range(len(frames))):
            t += 0.001
            w.add(t, frames[i])

    # Adversarial: later fragments of datagrams whose first never comes.
    for i in range(flood):
        fr = ipv4_fragments("203.0.113.%d" % (1 + i % 200), "192.0.2.9", 17,
                            b"\0" * 3000, 40000 + i)[1]
        t += 0.00001
        w.add(t, fr)
    t += gap
    # DNS over IPv4 and IPv6, the answer fragmented: in order, and the last fragment first.
    for k, reverse in enumerate((False, True)):
        c, s, cp = "10.0.%d.1" % k, "10.0.%d.53" % k, 40000 + k
        q = udp(cp, 53, trafficgen.dns_message(0x100 + k, "big%d.example.org" % k, False))
        add(ipv4_fragments(c, s, 17, q, 1))
        frames = ipv4_fragments(s, c, 17, udp(53, cp, big_dns_answer(0x100 + k, "big%d.example.org" % k, 200)), 7 + k)
        add(frames, list(reversed(range(len(frames)))) if reverse else None)
        flows[("udp", c, cp, s, 53)] = ("DNS", 1 + len(frames))
        datagram_app[(s, c, 7 + k)] = ("DNS", reverse)
        c6, s6 = "2001:db8:%d::1" % (k + 1), "2001:db8:%d::53" % (k + 1)
        q6 = udp(cp, 53, trafficgen.dns_message(0x200 + k, "big6-%d.example.org" % k, False))
        fq = [MAC_C + MAC_S + b"\x86\xdd" +
              struct.pack("!IHBB16s16s", 0x60000000, len(q6), 17, 64, ipv6_addr(c6),
                          ipv6_addr(s6)) + q6]  # the query: one whole datagram
        add(fq)
        frames = ipv6_fragments(s6, c6, 17, udp(53, cp, big_dns_answer(0x200 + k, "big6-%d.example.org" % k, 200)),
                                0x22220000 + k)
        order = [len(frames) - 1] + list(range(len(frames) - 1)) if reverse else None
        add(frames, order)
        flows[("udp", c6, cp, s6, 53)] = ("DNS", len(fq) + len(frames))
        datagram_app[(s6, c6, 0x22220000 + k)] = ("DNS", reverse)
    # HTTP over IPv4 with the GET in two fragments (its second one first).
    trafficgen.reset_ip_ids()
    hw = trafficgen.Writer()
    sess = trafficgen.TcpSession(hw, t + 0.01, "10.9.0.1", 50000, "10.9.0.80", 80)
    get = (b"GET /index.html HTTP/1.1\r\nHost: frag.example.org\r\nUser-Agent: flowtag-test\r\n"
           b"X-Pad: " + b"p" * 1800 + b"\r\n\r\n")
    sess.t += 0.001
    sess.seg(True, 0x18, get)  # one segment bigger than the MTU: IP fragments it
    sess.cseq += len(get)
    sess.send(False, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 0\r\n\r\n")
    sess.close()
    n_http = 0
    for tt, fr in sorted(hw.packets, key=lambda p: p[0]):
        ip = fr[14:]
        if len(ip) > 1500:  # the GET: fragment it, second fragment first
            l4 = ip[20:]
            parts = [fr[:12] + p[12:]  # the session's MACs
                     for p in ipv4_fragments("10.9.0.1", "10.9.0.80", 6, l4, 0x4242)]
            w.add(tt + 0.0001, parts[1])
            w.add(tt + 0.0002, parts[0])
            n_http += 2
            datagram_app[("10.9.0.1", "10.9.0.80", 0x4242)] = ("HTTP", True)
        else:
            w.add(tt, fr)
            n_http += 1
    flows[("tcp", "10.9.0.1", 50000, "10.9.0.80", 80)] = ("HTTP", n_http)
    w.write(path)
    return datagram_app, flows


FIELDS = ["nsh.spi", "ip.src", "ip.dst", "ip.id", "ip.flags.mf", "ip.frag_offset", "ipv6.src",
          "ipv6.dst", "ipv6.fraghdr.ident", "udp.srcport", "udp.dstport", "tcp.srcport",
          "tcp.dstport"]


def tshark(path):
    out = subprocess.run(["tshark", "-r", path, "-o", "ip.defragment:FALSE", "-o",
                          "ipv6.defragment:FALSE", "-T", "fields", "-E", "separator=\t",
                          "-E", "occurrence=f"] + sum((["-e", f] for f in FIELDS), []),
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         check=True).stdout
    return [dict(zip(FIELDS, line.split("\t"))) for line in out.splitlines()]


def app_of(p, datagram_app, flows):
    """(app, whether out of order) of the flow a frame belongs to, from its datagram or its
    ports; (None, False) for none."""
    if p["ip.src"]:
        src, dst, did = p["ip.src"], p["ip.dst"], int(p["ip.id"], 16)
    else:
        src, dst = p["ipv6.src"], p["ipv6.dst"]
        did = int(p["ipv6.fraghdr.ident"], 16) if p["ipv6.fraghdr.ident"] else None
    if (src, dst, did) in datagram_app:
        return datagram_app[(src, dst, did)]
    for l4 in ("udp", "tcp"):
        if p[l4 + ".srcport"]:
            sp, dp = int(p[l4 + ".srcport"]), int(p[l4 + ".dstport"])
            for k in ((l4, src, sp, dst, dp), (l4, dst, dp, src, sp)):
                if k in flows:
                    return flows[k][0], False
    return None, False


def run_case(flowtag, tmp, cap, lcores, datagram_app, flows, flood, name, flood_window=False):
    """flood_window: the traffic comes while the flood's fragments still wait (the hold pool
    full): in-order datagrams must still follow their flow; an out-of-order one may find no
    room to wait and leave untagged (counted), but never with a wrong tag."""
    cfg = os.path.join(tmp, "cfg.yaml")
    with open(cfg, "w") as f:
        f.write(CONFIG % lcores)
    out, recs_path = os.path.join(tmp, "out.pcap"), os.path.join(tmp, "flows.jsonl")
    r = subprocess.run([flowtag, "replay", "-c", cfg, "--flows", recs_path, "--out", out, cap],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    if not check(r.returncode == 0, "%s: replay exits 0" % name):
        print(r.stdout[-2000:])
        return
    pin, pout = tshark(cap), tshark(out)
    check(len(pout) == len(pin), "%s: every frame comes out (%d of %d)" % (name, len(pout), len(pin)))
    wrong, tagged, flood_seen, unfollowed = [], collections.Counter(), 0, 0
    for p in pout:
        app, ooo = app_of(p, datagram_app, flows)
        if app is None:
            flood_seen += 1
            if p["nsh.spi"]:
                wrong.append("an unattributed fragment left tagged (spi %s)" % p["nsh.spi"])
            continue
        if flood_window and ooo and p["nsh.spi"] == "":
            unfollowed += 1
        elif p["nsh.spi"] != SPI[app]:
            wrong.append("%s frame %s > %s id %s: spi %r, want %s" % (
                app, p["ip.src"] or p["ipv6.src"], p["ip.dst"] or p["ipv6.dst"],
                p["ip.id"] or p["ipv6.fraghdr.ident"], p["nsh.spi"], SPI[app]))
        else:
            tagged[app] += 1
    frag_frames = sum(1 for p in pout if (p["ip.src"] and (p["ip.flags.mf"] == "1" or
                                                           p["ip.frag_offset"] not in ("", "0")))
                      or p["ipv6.fraghdr.ident"])
    check(not wrong, "%s: every frame of a flow, fragments included, carries its chain's SPI "
          "(%d DNS, %d HTTP frames; %d of them fragments)%s" % (
              name, tagged["DNS"], tagged["HTTP"], frag_frames - flood,
              ": " + "; ".join(wrong[:5]) if wrong else ""))
    check(flood_seen == flood, "%s: the flood's %d fragments leave untagged (%d)" % (name, flood, flood_seen))
    if flood_window:
        # 4: the later fragments that come before their first (2 + 1 + 1).
        check(unfollowed <= 4, "%s: out-of-order fragments that found no room to wait: %d "
              "(of 4), untagged" % (name, unfollowed))
        return
    with open(recs_path) as f:
        recs = [json.loads(line) for line in f]
    got = {}
    for rec in recs:
        ends = {(rec["src_ip"], rec["src_port"]), (rec["dst_ip"], rec["dst_port"])}
        for k, (app, n) in flows.items():
            if ends == {(k[1], k[2]), (k[3], k[4])} and rec["l4"] == k[0]:
                got[k] = (rec["label"], rec["packets"])
    want = {k: (app, n) for k, (app, n) in flows.items()}
    check(got == want, "%s: one record per flow, its label and all of its frames counted %s"
          % (name, "" if got == want else "(got %s, want %s)" % (got, want)))
    c = exit_counters(r.stdout) or {}
    n_later = sum(1 for p in pin if (p["ip.src"] and p["ip.frag_offset"] not in ("", "0")) or
                  (p["ipv6.fraghdr.ident"] and p["ipv6.src"] and not p["udp.srcport"]))
    check(c.get("fragments_attributed", 0) == n_later - flood and
          c.get("fragments_unattributed", 0) == flood,
          "%s: counters: %d later fragments with their flow, %d of no known flow (%s)"
          % (name, n_later - flood, flood, {k: v for k, v in c.items() if "frag" in k}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flowtag", required=True)
    ap.add_argument("--pcaps", required=True, help="../shared/pcaps (for ndpi_truth.py)")
    a = ap.parse_args()
    for tool in ("tshark", "ndpiReader"):
        if shutil.which(tool) is None:
            return unavailable(tool, "%s is not installed" % tool)
    with tempfile.TemporaryDirectory(prefix="flowtag-frag-") as tmp:
        cap = os.path.join(tmp, "fragments.pcap")
        datagram_app, flows = build(cap)
        # ndpiReader decides on the first fragment too: the labels must agree.
        labels = ndpi_labels(a.pcaps, cap) or {}
        theirs = {k: labels.get(record_key({"l4": k[0], "src_ip": k[1], "src_port": k[2],
                                            "dst_ip": k[3], "dst_port": k[4]}))
                  for k in flows}
        check(theirs == {k: v[0] for k, v in flows.items()},
              "ndpiReader labels the generated flows as the test expects (%s)" % theirs)
        run_case(a.flowtag, tmp, cap, "0,1", datagram_app, flows, 0, "one worker")
        run_case(a.flowtag, tmp, cap, "0@0,1@1,2@1,3@0", datagram_app, flows, 0, "two workers")
        flood_cap = os.path.join(tmp, "flood.pcap")
        datagram_app, flows = build(flood_cap, flood=20000)
        run_case(a.flowtag, tmp, flood_cap, "0,1", datagram_app, flows, 20000,
                 "during a flood", flood_window=True)
        # Past the flood's timeout (2 s; forgotten within 3) everything is followed again.
        datagram_app, flows = build(flood_cap, flood=20000, gap=4.0)
        run_case(a.flowtag, tmp, flood_cap, "0,1", datagram_app, flows, 20000, "after a flood")
    return finish()


if __name__ == "__main__":
    sys.exit(main())
