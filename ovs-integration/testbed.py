#!/usr/bin/python3
"""flowtag testbed: generated traffic of known applications through flowtag, counted.

Today: the traffic generator's sessions are classified by `flowtag replay` (the DPDK data
path fed by a net_pcap vdev) and the per-application counts are shown and, with
--summary-json, written as {"apps": {APP: {"packets": N, "flows": N}}}.
"""

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--flowtag", required=True)
    ap.add_argument("--flows", type=int, default=300, help="generated sessions (default 300)")
    ap.add_argument("--summary-json", metavar="FILE", help="write the counts as JSON")
    a = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="flowtag-testbed-") as tmp:
        pcap = os.path.join(tmp, "traffic.pcap")
        records = os.path.join(tmp, "flows.jsonl")
        subprocess.run([sys.executable, os.path.join(HERE, "trafficgen.py"), "--out", pcap,
                        "--flows", str(a.flows)], check=True)
        subprocess.run([a.flowtag, "replay", "--flows", records, pcap], check=True)
        apps = collections.defaultdict(lambda: {"packets": 0, "flows": 0})
        with open(records, encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                apps[r["label"]]["packets"] += r["packets"]
                apps[r["label"]]["flows"] += 1

    print("\n%-24s %10s %8s" % ("application", "packets", "flows"))
    for label, c in sorted(apps.items(), key=lambda kv: -kv[1]["packets"]):
        print("%-24s %10d %8d" % (label, c["packets"], c["flows"]))
    if a.summary_json:
        with open(a.summary_json, "w", encoding="utf-8") as f:
            json.dump({"apps": apps}, f, indent=2, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
