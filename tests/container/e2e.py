#!/usr/bin/python3
"""The flowtag container on a host's OVS-DPDK, checked at OVS's side; then scale-out.

1. One container (podman, the image tests/container/run built): it attaches by vhost-user to
   a private OVS-DPDK on the host, classifies and tags generated traffic; OVS counts at least
   four chains, every packet leaves by egress, and every flow flowtag put on a chain was learnt
   by OVS at that chain's last hop. The image's HEALTHCHECK command answers.
2. Two containers behind one OVS select group: each flow's two directions reach the same
   instance (no 5-tuple has records in both, and OVS learnt it on the chain the instance
   chose), both instances get a share of the flows, and tags stay right.
"""

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from testlib import check, finish, record_key  # noqa: E402
sys.path.insert(0, os.path.join(HERE, "../../ovs-integration"))
sys.path.insert(0, os.path.join(HERE, "../ovs"))
import e2e as ovs_e2e  # noqa: E402
import testbed  # noqa: E402



def learnt_on_chain(tb, recs):
    learnt = {c["name"]: tb.chain_flows(i + 1) for i, c in enumerate(tb.chains)}
    ok, bad = 0, []
    for r in recs:
        if r["action"] != "chain" or r["l4"] not in ("tcp", "udp") or \
                r["verdict_packet"] > r["packets"]:
            continue
        if record_key(r) in learnt[r["chain"]]:
            ok += 1
        else:
            bad.append((r["label"], r["chain"]))
    return ok, bad


def run_traffic(tb, seconds):
    tb.start_traffic(seconds)
    tb.traffic.wait(timeout=seconds + 60)
    time.sleep(1.0)
    return tb.chain_counts(), tb.egress_packets()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flowtag", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--image", required=True)
    a = ap.parse_args()
    reason = ovs_e2e.skip_reason()
    if reason:
        print("SKIP: " + reason)
        return 77

    # 1. One containerised instance.
    tb = testbed.Testbed(a.flowtag, a.config, rate=1500, flows_per_pass=60, image=a.image)
    try:
        t0 = time.time()
        tb.up()
        print("testbed with the flowtag container up in %.1f s" % (time.time() - t0))
        h = subprocess.run(["podman", "exec", "-e", "FLOWTAG_API=127.0.0.1:%d" % tb.api_port,
                            tb.container_name(0), "flowtag-entrypoint", "health"])
        check(h.returncode == 0, "the image's healthcheck command answers (API /v1/health)")
        chains, egress = run_traffic(tb, 6)
        rc = tb.stop_flowtag()
        recs = tb.records_list()
        busy = [k for k, v in chains.items() if v["packets"] > 0]
        check(rc == 0, "the container stopped cleanly (podman stop: SIGTERM, exit 0)")
        check(len(busy) >= 4, "OVS: chains with traffic from the container: %s" % busy)
        check(sum(v["packets"] for v in chains.values()) == egress > 0,
              "OVS: every chain end left by egress (%d)" % egress)
        out = sum(r["packets"] for r in recs if r["action"] != "drop")
        check(egress >= out * 0.999, "OVS: egress carried the container's %d packets" % out)
        ok, bad = learnt_on_chain(tb, recs)
        check(ok > 0 and not bad, "OVS learnt %d flows on the chain the container chose (%d "
                                  "missing %s)" % (ok, len(bad), bad[:4]))
    finally:
        tb.down()

    # 2. Scale-out: two instances behind one select group.
    tb = testbed.Testbed(a.flowtag, a.config, rate=1500, flows_per_pass=80, image=a.image,
                         instances=2)
    try:
        tb.up()
        groups = tb.ovs.ofctl(testbed.BRIDGE, "dump-groups")
        check("type=select" in groups, "OVS select group over the two instances")
        chains, egress = run_traffic(tb, 6)
        for i in range(2):
            tb.stop_flowtag(i=i)
        recs = [tb.records_list(0), tb.records_list(1)]
        keys = [{record_key(r) for r in rs} for rs in recs]
        both = keys[0] & keys[1]
        print("instance 0: %d flows, instance 1: %d flows" % (len(keys[0]), len(keys[1])))
        check(len(keys[0]) > 0 and len(keys[1]) > 0,
              "both instances get a share of the flows (%d / %d)" % (len(keys[0]), len(keys[1])))
        check(not both, "no flow seen by both instances: both directions stay together (%d split)"
              % len(both))
        two_way = sum(1 for rs in recs for r in rs if r["packets"] >= 2 and r["l4"] == "tcp")
        check(two_way > 0, "TCP sessions classified whole by one instance (%d)" % two_way)
        ok, bad = learnt_on_chain(tb, recs[0] + recs[1])
        check(ok > 0 and not bad, "tags right with two instances: OVS learnt %d flows on their "
                                  "chains (%d missing)" % (ok, len(bad)))
        check(sum(1 for v in chains.values() if v["packets"] > 0) >= 4 and
              sum(v["packets"] for v in chains.values()) == egress,
              "OVS: chains and egress counted with two instances (%d)" % egress)
    finally:
        tb.down()
    left = subprocess.run(["podman", "ps", "-a", "--format", "{{.Names}}"],
                          stdout=subprocess.PIPE, text=True).stdout.split()
    check(not [n for n in left if n.startswith("ftb-")], "no container left behind (%s)" % left)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
