#!/usr/bin/python3
"""Captures taken on hosts with GRO/TSO, and captures cut to a snap length, through replay.

A capture this test generates holds what such hosts record: TCP segments far larger than the
MTU (GRO merges received ones: up to 64 KB with a correct IP length), segments sent with TSO
(the IP length is 0: the NIC fills it in), and one frame past 64 KB (a BIG TCP send: length 0
too). flowtag replay must classify each flow as ndpiReader does on the same capture, count no
frame as malformed, and count every frame's real length. Then the same capture cut to 128
bytes a frame (editcap -s): the bytes counted are still the frames' wire lengths (the IP
header's), not the 128 kept.

Live ports keep the MTU rules (an IP length of 0 there is malformed): tests/unit/test_parse.c.
"""

import argparse
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


def tso(frame):
    """The frame as a TSO send is captured: IP total length 0 (checksum over that)."""
    ip = bytearray(frame[14:34])
    ip[2:4] = b"\0\0"
    ip[10:12] = b"\0\0"
    ip[10:12] = struct.pack("!H", trafficgen.csum(bytes(ip)))
    return frame[:14] + bytes(ip) + frame[34:]


def build(path):
    """Three HTTP flows and a TLS one; returns {flow key: (frames, wire bytes)}."""
    trafficgen.reset_ip_ids()
    w = trafficgen.Writer()
    t = 1700000000.0
    page = b"<p>" + b"large frames " * 40 + b"</p>\n"
    # 1. GRO on the client: the server's answer arrives as one 30 KB segment.
    s = trafficgen.TcpSession(w, t, "10.1.0.1", 41000, "10.1.0.80", 80)
    s.send(True, b"GET /gro HTTP/1.1\r\nHost: gro.example.org\r\nAccept: */*\r\n\r\n")
    body = page * (30000 // len(page))
    s.send(False, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n"
           % len(body) + body, mss=65000)
    s.close()
    # 2. TSO on the client: a 20 KB POST sent with IP length 0.
    mark = len(w.packets)
    s = trafficgen.TcpSession(w, t + 1, "10.1.0.2", 41001, "10.1.0.80", 80)
    post = b"x" * 20000
    s.send(True, b"POST /tso HTTP/1.1\r\nHost: tso.example.org\r\nContent-Length: %d\r\n\r\n"
           % len(post) + post, mss=65000)
    s.send(False, b"HTTP/1.1 204 No Content\r\n\r\n")
    s.close()
    w.packets[mark:] = [(tt, tso(fr) if len(fr) > 1514 else fr) for tt, fr in w.packets[mark:]]
    # 3. BIG TCP: a 70,000-byte frame (length 0: no IPv4 length goes that far).
    mark = len(w.packets)
    s = trafficgen.TcpSession(w, t + 2, "10.1.0.3", 41002, "10.1.0.80", 80)
    s.send(True, b"GET /big HTTP/1.1\r\nHost: big.example.org\r\n\r\n")
    body = page * (70000 // len(page))
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
    s.send(False, head + body[:60000], mss=65000)
    s.close()
    # The 60 KB segment grows by the rest of the body: 70 KB in one frame, IP length 0.
    w.packets[mark:] = [(tt, tso(fr + body[60000:]) if len(fr) > 60000 else fr)
                        for tt, fr in w.packets[mark:]]
    # 4. TLS with a GRO-sized server flight.
    s = trafficgen.TcpSession(w, t + 3, "10.1.0.4", 41003, "10.1.0.44", 443)
    s.send(True, trafficgen.tls_client_hello("large.example.org"))
    s.send(False, trafficgen.tls_server_hello() + trafficgen.tls_app_data(40000), mss=65000)
    s.close()
    w.write(path)
    with open(path, "r+b") as f:  # the file's snap length: room for the 70 KB frame
        f.seek(16)
        f.write(struct.pack("<I", 262144))
    flows = {}
    for _, fr in w.packets:
        k = trafficgen.flow_id_of(fr)
        n, b = flows.get(k, (0, 0))
        # Past 64 KB: the first 65,535 bytes are read, and the frame counts as long as the
        # longest IPv4 packet, 14 + 65,535 bytes (README, limits).
        flows[k] = (n + 1, b + min(len(fr), 14 + 65535))
    return flows


def build_jumbo_burst(path):
    """One HTTP flow whose answer is 96 frames of 64,000 bytes: a burst of them needs more
    mbufs (33 each) than the smallest pool has. Returns the flow's (frames, wire bytes)."""
    trafficgen.reset_ip_ids()
    w = trafficgen.Writer()
    s = trafficgen.TcpSession(w, 1700000100.0, "10.1.0.9", 41009, "10.1.0.80", 80)
    s.send(True, b"GET /many HTTP/1.1\r\nHost: many.example.org\r\n\r\n")
    s.send(False, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (96 * 64000))
    for i in range(96):
        s.send(False, bytes([0x61 + i % 26]) * 64000, mss=65000)
    s.close()
    w.write(path)
    with open(path, "r+b") as f:
        f.seek(16)
        f.write(struct.pack("<I", 262144))
    return len(w.packets), sum(len(fr) for _, fr in w.packets)


def replay(flowtag, cap, tmp, config=None):
    recs_path = os.path.join(tmp, "flows.jsonl")
    r = subprocess.run([flowtag, "replay", "--flows", recs_path] +
                       (["-c", config] if config else []) + [cap], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=120)
    recs = {}
    if r.returncode == 0:
        with open(recs_path) as f:
            recs = {record_key(rec): rec for rec in map(json.loads, f)}
    return r, recs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flowtag", required=True)
    ap.add_argument("--pcaps", required=True, help="../shared/pcaps (for ndpi_truth.py)")
    a = ap.parse_args()
    for tool in ("ndpiReader", "editcap"):
        if shutil.which(tool) is None:
            return unavailable(tool, "%s is not installed" % tool)
    with tempfile.TemporaryDirectory(prefix="flowtag-large-") as tmp:
        cap = os.path.join(tmp, "large.pcap")
        flows = build(cap)
        theirs = ndpi_labels(a.pcaps, cap) or {}
        check(len(theirs) == len(flows),
              "ndpiReader reports the %d generated flows (%d)" % (len(flows), len(theirs)))

        r, recs = replay(a.flowtag, cap, tmp)
        check(r.returncode == 0, "replay exits 0")
        c = exit_counters(r.stdout) or {}
        check("0 malformed" in r.stdout,
              "no frame counted as malformed (%s)" % [l for l in r.stdout.splitlines()
                                                      if "not classified" in l])
        labels = {k: recs[k]["label"] for k in recs}
        check(labels == theirs, "every flow labelled as ndpiReader labels it (%s)" % labels)
        counts = {k: (recs[k]["packets"], recs[k]["bytes"]) for k in recs}
        check(counts == flows, "every flow's packets and bytes counted whole: %s" % counts)
        check(c.get("bytes") == sum(b for _, b in flows.values()),
              "the bytes counter holds every frame's length (%s of %d)"
              % (c.get("bytes"), sum(b for _, b in flows.values())))

        cut = os.path.join(tmp, "cut.pcap")
        subprocess.run(["editcap", "-s", "128", cap, cut], check=True)
        r, recs = replay(a.flowtag, cut, tmp)
        check(r.returncode == 0, "snap length 128: replay exits 0")
        counts = {k: (recs[k]["packets"], recs[k]["bytes"]) for k in recs}
        check(counts == flows, "snap length 128: packets and bytes are the wire's, not the "
              "capture's: %s" % counts)
        check("0 malformed" in r.stdout, "snap length 128: no frame counted as malformed")

        # Replay reads the capture into the data path's mbufs itself, a 64 KB frame as a chain
        # of 33: with the smallest pool and a run of such frames every frame still arrives
        # whole (a frame that finds no mbufs waits for the next receive).
        jumbo = os.path.join(tmp, "jumbo.pcap")
        frames, wire = build_jumbo_burst(jumbo)
        small = os.path.join(tmp, "small-pool.yaml")
        with open(small, "w") as f:
            f.write("datapath: {mbufs: 1023}\nflows: {fragments: {held: 256}}\n")
        r, recs = replay(a.flowtag, jumbo, tmp, small)
        c = exit_counters(r.stdout) or {}
        check(r.returncode == 0, "1023 mbufs: replay exits 0")
        check(c.get("packets") == frames and c.get("bytes") == wire,
              "1023 mbufs: every frame read and counted whole (%s of %d packets, %s of %d "
              "bytes)" % (c.get("packets"), frames, c.get("bytes"), wire))
        check([rec["label"] for rec in recs.values()] == ["HTTP"],
              "1023 mbufs: the flow is HTTP (%s)" % [rec["label"] for rec in recs.values()])
    return finish()


if __name__ == "__main__":
    sys.exit(main())
