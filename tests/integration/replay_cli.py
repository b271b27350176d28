#!/usr/bin/python3
"""`flowtag replay` and `flowtag check` as a user meets them, checked with real peers.

- every packet of a capture leaves by --out unchanged, as tshark reads it;
- records: one JSON object a line, every DESIGN.md field present, packets add up to the
  capture's IP packets;
- pcapng, Linux SLL, BSD null, raw IP and PPP/Cisco-HDLC inputs are accepted, anything else
  is refused with the link type named;
- config errors exit 2 with file:line:col; `check` accepts the shipped config;
- replay runs as an ordinary user, without hugepages, and leaves nothing behind.

Standard library only; run with /usr/bin/python3.
"""

import argparse
import glob
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from testlib import check, finish, leaked_dpdk_dirs  # noqa: E402

RECORD_FIELDS = ["l4", "src_ip", "src_port", "dst_ip", "dst_port", "vlan", "master_protocol",
                 "app_protocol", "category", "host", "ja3c", "risk", "packets", "bytes",
                 "first_seen_ms", "last_seen_ms", "chain", "action", "label"]



def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def tshark_count(path):
    out = run(["tshark", "-r", path, "-T", "fields", "-e", "frame.number"]).stdout
    return len(out.split())


def tshark_frames(path):
    """Frame bytes as tshark reads them (hex), in order."""
    out = run(["tshark", "-r", path, "-T", "fields", "-e", "frame.len", "-x"]).stdout
    return out


def records(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_pcap(path, linktype, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, linktype))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1700000000 + i, 0, len(fr), len(fr)))
            f.write(fr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flowtag", required=True)
    ap.add_argument("--pcaps", required=True)
    ap.add_argument("--source-root", required=True)
    a = ap.parse_args()
    flowtag = os.path.abspath(a.flowtag)
    if shutil.which("tshark") is None:
        print("SKIP: tshark is not installed (apt-get install tshark)")
        return 77

    tmp = tempfile.mkdtemp(prefix="flowtag-cli-")
    os.chmod(tmp, 0o777)
    try:
        # 1. Packets out equal packets in, byte for byte (tshark's view).
        src = os.path.join(a.pcaps, "dns_fragmented.pcap")
        out = os.path.join(tmp, "out.pcap")
        flows = os.path.join(tmp, "flows.jsonl")
        r = run([flowtag, "replay", "--flows", flows, "--out", out, src])
        check(r.returncode == 0, "replay exits 0 (%s)" % r.stderr.strip()[-200:])
        check(tshark_count(out) == tshark_count(src) == 66,
              "--out holds every packet (66 of 66, fragments and non-IP included)")
        check(tshark_frames(out) == tshark_frames(src), "--out frames are byte-identical")
        recs = records(flows)
        check(all(all(k in rec for k in RECORD_FIELDS) for rec in recs),
              "every record has the DESIGN.md fields")
        # 66 frames, all of flows: 59 whole datagrams or first fragments (what ndpiReader
        # counts as IP packets, ../shared/pcaps/summary.csv) and 7 later fragments, which
        # follow their datagram's first into its flow.
        check(sum(rec["packets"] for rec in recs) == 66,
              "record packets add up to the capture's packets, later fragments included (%d)"
              % sum(rec["packets"] for rec in recs))
        check("later IP fragments: 7, 7 of them with their flow" in r.stderr and
              "0 non-IP, 0 later fragments of no known flow, 0 malformed" in r.stderr,
              "summary counts later fragments")

        # 2. Link types: SLL (rtsp), null (rdp), raw IP, PPP/Cisco HDLC, pcapng.
        for name, label in [("rtsp.pcap", "RTSP"), ("rdp.pcap", "RDP"),
                            ("http-crash-content-disposition.pcap", "HTTP"),
                            ("BGP_Cisco_hdlc_slarp.pcap", "BGP"), ("ocsp.pcapng", "OCSP")]:
            r = run([flowtag, "replay", "--flows", flows, os.path.join(a.pcaps, name)])
            labels = {rec["label"] for rec in records(flows)} if r.returncode == 0 else set()
            check(any(label in x.split(".") for x in labels),
                  "%s is read (%s among %s)" % (name, label, sorted(labels)[:5]))

        # 3. An unsupported link type is refused, naming it.
        bad = os.path.join(tmp, "wifi.pcap")
        write_pcap(bad, 105, [b"\x08\x00" + b"\x00" * 30])
        r = run([flowtag, "replay", bad])
        check(r.returncode == 1 and "link type 105 (IEEE802_11) is not supported" in r.stderr,
              "802.11 capture refused: %s" % r.stderr.strip())
        r = run([flowtag, "replay", os.path.join(tmp, "absent.pcap")])
        check(r.returncode == 1 and "absent.pcap" in r.stderr, "missing capture refused")

        # 4. Config errors: exit 2 with file:line:col.
        cfg = os.path.join(tmp, "bad.yaml")
        with open(cfg, "w") as f:
            f.write("flows:\n  timeouts:\n    udp: soon\n")
        r = run([flowtag, "check", "-c", cfg])
        check(r.returncode == 2 and r.stderr.startswith(cfg + ":3:10: 'udp' must be a whole"),
              "check: bad value -> exit 2, %s" % r.stderr.strip())
        r = run([flowtag, "replay", "-c", cfg, src])
        check(r.returncode == 2 and ":3:10:" in r.stderr, "replay with a bad config -> exit 2")
        r = run([flowtag, "check", "-c", os.path.join(a.source_root, "config/flowtag.yaml")])
        check(r.returncode == 0 and "ok" in r.stdout, "check accepts config/flowtag.yaml")
        r = run([flowtag, "frobnicate"])
        check(r.returncode == 2 and "unknown command" in r.stderr, "unknown command -> exit 2")

        # 5. An ordinary user, no hugepages: the same replay works.
        if os.geteuid() == 0:
            user_flows = os.path.join(tmp, "user.jsonl")
            r = run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                     flowtag, "replay", "--flows", user_flows, src],
                    env=dict(os.environ, TMPDIR=tmp, XDG_RUNTIME_DIR=tmp))
            check(r.returncode == 0 and len(records(user_flows)) == len(recs),
                  "replay as user nobody (%s)" % r.stderr.strip()[-200:])
        else:
            r = run([flowtag, "replay", "--flows", flows, src])
            check(r.returncode == 0, "replay as an ordinary user (this one)")

        # 6. Nothing left behind: no hugepage files, no EAL runtime dir, no temp capture.
        left = glob.glob("/dev/hugepages/flowtag-*") + leaked_dpdk_dirs() + \
            glob.glob(os.path.join(tmp, "flowtag-replay-*"))
        check(not left, "no files left behind (%s)" % left)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    return finish()


if __name__ == "__main__":
    sys.exit(main())
