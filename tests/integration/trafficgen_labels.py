#!/usr/bin/python3
"""The traffic generator makes what it says: every application gets its intended nDPI label,
through flowtag replay and, independently, through ndpiReader on the same capture."""

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../ovs-integration"))
import trafficgen  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flowtag", required=True)
    a = ap.parse_args()
    failed = passed = 0
    if shutil.which("ndpiReader") is None:
        # The second opinion is the point of this test: without it, nothing is checked twice.
        print("FAIL: ndpiReader is not installed (libndpi-bin)")
        return 1
    with tempfile.TemporaryDirectory(prefix="flowtag-gen-") as tmp:
        pcap, recs = os.path.join(tmp, "t.pcap"), os.path.join(tmp, "t.jsonl")
        for app, (_, label, _) in trafficgen.APPS.items():
            w, _ = trafficgen.generate(3, "realistic", [app], 1.0, seed=7)
            w.write(pcap)
            subprocess.run([a.flowtag, "replay", "--flows", recs, pcap], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with open(recs) as f:
                labels = collections.Counter(json.loads(line)["label"] for line in f)
            ok = labels[label] >= 3
            # ndpiReader's own view: its per-protocol table names the application.
            out = subprocess.run(["ndpiReader", "-i", pcap, "-v", "1"], text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
            detected = out.split("Detected protocols:")[-1].split("Protocol statistics")[0]
            app_name = label.split(".")[-1]
            m = re.search(r"^\s*%s\s+packets:.*flows:\s+(\d+)" % re.escape(app_name),
                          detected, re.M)
            ndpi_ok = m is not None and int(m.group(1)) >= 3
            status = "ok  " if ok and ndpi_ok else "FAIL"
            print("%s %-16s -> %-14s flowtag %s, ndpiReader %s" % (
                status, app, label, dict(labels), "agrees" if ndpi_ok else "DISAGREES"))
            if ok and ndpi_ok:
                passed += 1
            else:
                failed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
