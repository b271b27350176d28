#!/usr/bin/python3
"""Traffic inside tunnels: the inner flows classified, the tunnel's id kept, rules on it.

The project's realistic traffic (the generator's applications) is carried, frame by frame,
inside each tunnel flowtag opens (datapath.tunnels): GTP-U as on S1-U/N3 (a TEID per UE and
direction, extension headers on the downlink), CAPWAP data (802.11 frames with LLC/SNAP),
VXLAN and Geneve (with an option; two VNIs, one per tenant). The same traffic without a
tunnel is the reference.

Checks, per tunnel: flowtag's records are the inner flows, labelled as ndpiReader labels the
traffic without the tunnel (and, for GTP-U and CAPWAP, which ndpiReader -t opens itself, as
it labels the tunnelled capture), with the tunnel and its id (the uplink TEID, the VNI); the
policy's `teid:` and `vni:` rules choose their chains, and every frame of a flow leaves with
its chain's NSH tag on the outer frame (read back from the output, the tunnel headers
untouched inside). With `datapath.tunnels: []` the tunnels are outer UDP flows again.
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
from testlib import check, finish, ndpi_labels, pcap_frames, record_key, unavailable  # noqa: E402
sys.path.insert(0, os.path.join(HERE, "../../ovs-integration"))
import trafficgen  # noqa: E402

UE_TEID_BASE, GW_TEID_BASE = 0x10000000, 0x20000000
CONFIG = """
eal: {hugepages: false}
datapath: {tunnels: %s}
chains:
  - {name: ue1, tag: nsh, md_type: 1, spi: 41}
  - {name: tenant2, tag: nsh, md_type: 1, spi: 42}
  - {name: dns, tag: nsh, md_type: 1, spi: 43}
rules:
  - {teid: %d, chain: ue1}
  - {vni: 5002, chain: tenant2}
  - {protocol: DNS, chain: dns}
policy:
  default: pass
  unclassified: hold
  hold_packets: 32
"""


def ip_of(frame):
    return frame[14:]


def inner_key(ip):
    """(l4, frozenset of the two ends) of an IPv4 TCP/UDP packet."""
    ihl = (ip[0] & 15) * 4
    src = str(ipaddress.IPv4Address(ip[12:16]))
    dst = str(ipaddress.IPv4Address(ip[16:20]))
    sp, dp = struct.unpack("!HH", ip[ihl:ihl + 4])
    return ("tcp" if ip[9] == 6 else "udp", frozenset([(src, sp), (dst, dp)]))


def outer(src, dst, sport, dport, payload, ip_id):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), ip_id & 0xffff, 0x4000, 64, 17, 0,
                     trafficgen.ip_bytes(src), trafficgen.ip_bytes(dst))
    ip = ip[:10] + struct.pack("!H", trafficgen.csum(ip)) + ip[12:]
    return b"\x02\x00\x00\x00\x00\x0b\x02\x00\x00\x00\x00\x0a\x08\x00" + ip + udp


def client_of(frame):
    """The inner packet's client (10.x) address and whether it sent this packet."""
    ip = ip_of(frame)
    src = str(ipaddress.IPv4Address(ip[12:16]))
    dst = str(ipaddress.IPv4Address(ip[16:20]))
    return (src, True) if src.startswith("10.") else (dst, False)


def ue_teid(client):
    return UE_TEID_BASE + int(ipaddress.IPv4Address(client)) % 100000


def encapsulate(kind, frame, n, vni_of):
    """One inner frame inside the tunnel `kind` (n: the frame's number, for ids)."""
    ip = ip_of(frame)
    client, up = client_of(frame)
    if kind == "gtpu":
        if up:  # uplink: to the UPF, the TEID the UPF chose for this UE
            hdr = struct.pack("!BBHI", 0x30, 0xff, len(ip), ue_teid(client))
            return outer("10.100.0.1", "10.100.0.2", 2152, 2152, hdr + ip, n)
        # downlink (N3): a PDU session container extension header, the eNB/gNB's TEID
        ext = bytes([1, 0x00, 0x09, 0x00])
        hdr = struct.pack("!BBHIHBB", 0x34, 0xff, len(ip) + 4 + len(ext),
                          GW_TEID_BASE + int(ipaddress.IPv4Address(client)) % 100000, 0, 0,
                          0x85) + ext
        return outer("10.100.0.2", "10.100.0.1", 2152, 2152, hdr + ip, n)
    if kind == "capwap":
        capwap = bytes([0x00, 2 << 3, (1 << 1) | 1, 0x00, 0, 0, 0, 0])  # HLEN 2, WBID 1, T
        fc = b"\x08\x01" if up else b"\x08\x02"  # data, to / from the DS
        dot11 = fc + b"\x00\x00" + b"\x02\x00\x00\x00\x00\x01" * 3 + b"\x00\x00"
        llc = b"\xaa\xaa\x03\x00\x00\x00\x08\x00"
        if up:
            return outer("10.101.0.1", "10.101.0.2", 5247, 5247, capwap + dot11 + llc + ip, n)
        return outer("10.101.0.2", "10.101.0.1", 5247, 5247, capwap + dot11 + llc + ip, n)
    vni = vni_of(frame)
    entropy = 49152 + hash(inner_key(ip)) % 16000
    if kind == "vxlan":
        hdr = struct.pack("!II", 0x08000000, vni << 8)
        return outer("10.102.0.1", "10.102.0.2", entropy, 4789, hdr + frame, n)
    # geneve: 8 bytes of options (one TLV), transparent Ethernet bridging
    opt = struct.pack("!HBB", 0x0102, 0x80, 1) + b"\x00\x00\x00\x07"
    hdr = struct.pack("!BBHI", len(opt) // 4, 0, 0x6558, vni << 8) + opt
    return outer("10.103.0.1", "10.103.0.2", entropy, 6081, hdr + frame, n)


def nsh_spi(frame):
    """(SPI or None, the frame without its NSH)."""
    if frame[12:14] != b"\x89\x4f":
        return None, frame
    length = (frame[14 + 1] & 0x3f) * 4
    spi = struct.unpack("!I", frame[18:22])[0] >> 8
    return spi, frame[14 + length:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flowtag", required=True)
    ap.add_argument("--pcaps", required=True, help="../shared/pcaps (for ndpi_truth.py)")
    a = ap.parse_args()
    if shutil.which("ndpiReader") is None:
        return unavailable("ndpiReader", "ndpiReader is not installed")
    with tempfile.TemporaryDirectory(prefix="flowtag-tunnels-") as tmp:
        w, _ = trafficgen.generate(60, "realistic", list(trafficgen.APPS), 10.0, seed=11)
        w.packets.sort(key=lambda p: p[0])
        plain = os.path.join(tmp, "plain.pcap")
        w.write(plain)
        truth = ndpi_labels(a.pcaps, plain, open_tunnels=False)
        frames = [(t, fr) for t, fr in w.packets if trafficgen.flow_id_of(fr) is not None]
        flows = collections.OrderedDict()
        for _, fr in frames:
            flows.setdefault(inner_key(ip_of(fr)), client_of(fr)[0])
        order = list(flows)
        vni = {k: 5001 + i % 2 for i, k in enumerate(order)}
        first_client = flows[order[0]]
        check(len(truth) == len(flows), "ndpiReader labels the %d inner flows without a tunnel "
              "(%d)" % (len(flows), len(truth)))

        for kind in ("gtpu", "capwap", "vxlan", "geneve"):
            cap = os.path.join(tmp, kind + ".pcap")
            tw = trafficgen.Writer()
            for n, (t, fr) in enumerate(frames):
                tw.add(t, encapsulate(kind, fr, n, lambda f: vni[inner_key(ip_of(f))]))
            tw.write(cap)
            cfg = os.path.join(tmp, kind + ".yaml")
            with open(cfg, "w") as f:
                f.write(CONFIG % ("[gtpu, capwap, vxlan, geneve]", ue_teid(first_client)))
            out, recs_path = os.path.join(tmp, "out.pcap"), os.path.join(tmp, "flows.jsonl")
            r = subprocess.run([a.flowtag, "replay", "-c", cfg, "--flows", recs_path, "--out",
                                out, cap], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, timeout=300)
            if not check(r.returncode == 0, "%s: replay exits 0" % kind):
                print(r.stdout[-1500:])
                continue
            with open(recs_path) as f:
                recs = [json.loads(line) for line in f]
            mine = {record_key(rec): rec for rec in recs}
            labels = {k: rec["label"] for k, rec in mine.items()}
            diff = {str(sorted(k[1])): (labels.get(k), truth.get(k)) for k in set(labels) | set(truth)
                    if labels.get(k) != truth.get(k)}
            check(not diff, "%s: %d inner flows, labelled as ndpiReader labels them without the "
                  "tunnel%s" % (kind, len(labels), "" if not diff else ": differ %s" % diff))
            if kind in ("gtpu", "capwap"):
                theirs = ndpi_labels(a.pcaps, cap)
                check(theirs == truth, "%s: ndpiReader -t opens the tunnel too and agrees (%d "
                      "flows)" % (kind, len(theirs)))
            want_ids = {}
            for k, client in flows.items():
                want_ids[k] = (ue_teid(client) if kind == "gtpu" else 0 if kind == "capwap"
                               else vni[k])
            got_ids = {k: (rec["tunnel"], rec["tunnel_id"]) for k, rec in mine.items()}
            check(all(got_ids.get(k) == (kind, v) for k, v in want_ids.items()),
                  "%s: every record names the tunnel and its id (the uplink TEID, the VNI)" % kind)

            # Every frame leaves with its flow's chain on the outer frame, the tunnel inside.
            def chain_of(k):
                if kind == "gtpu" and flows[k] == first_client:
                    return 41
                if kind in ("vxlan", "geneve") and vni[k] == 5002:
                    return 42
                if truth.get(k, "").split(".")[0] == "DNS" or truth.get(k) == "DNS":
                    return 43
                return None
            sent = pcap_frames(out)
            wrong, per_chain = [], collections.Counter()
            by_outer = {bytes(encapsulate(kind, fr, n, lambda f: vni[inner_key(ip_of(f))])): fr
                        for n, (_, fr) in enumerate(frames)}
            for fr in sent:
                spi, inner = nsh_spi(fr)
                orig = by_outer.get(bytes(inner))
                if orig is None:
                    wrong.append("a frame that is not one of the capture's")
                    continue
                want = chain_of(inner_key(ip_of(orig)))
                if spi != want:
                    wrong.append("%s: spi %s, want %s" % (sorted(inner_key(ip_of(orig))[1]), spi, want))
                per_chain[spi] += 1
            check(len(sent) == len(frames) and not wrong,
                  "%s: all %d frames out, each with its chain's NSH on the outer frame and the "
                  "tunnel intact (%s)%s" % (kind, len(sent), dict(per_chain),
                                            ": " + "; ".join(wrong[:3]) if wrong else ""))

            if kind == "gtpu":
                with open(cfg, "w") as f:
                    f.write(CONFIG % ("[]", ue_teid(first_client)))
                r = subprocess.run([a.flowtag, "replay", "-c", cfg, "--flows", recs_path, cap],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   timeout=300)
                with open(recs_path) as f:
                    recs = [json.loads(line) for line in f]
                check(r.returncode == 0 and {(x["dst_port"], x["tunnel"]) for x in recs} <= {(2152, None)},
                      "datapath.tunnels: [] leaves GTP-U an outer UDP flow (%d records)" % len(recs))
    return finish()


if __name__ == "__main__":
    sys.exit(main())
