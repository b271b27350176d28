#!/usr/bin/python3
"""End to end through a real ovs-vswitchd (DPDK, userspace datapath), checked at OVS's side.

The testbed (ovs-integration/testbed.py) is brought up: private OVS-DPDK, flowtag on a
vhost-user port, dummy service functions, generated traffic of known applications on an
access veth. Then:

1. per flow, at OVS's side: every flow flowtag put on a chain was learnt by OVS at that
   chain's last hop (table 20 + chain); the video chain's two hops both saw it (rule counters);
   OVS counted at the chain ends and at the egress port every packet flowtag sent out, and the
   egress capture (tshark) holds no tag any more (NSH, MPLS, VLAN 200 removed);
2. ovs-vswitchd restarted while flowtag runs: traffic resumes without touching flowtag;
3. flowtag restarted: OVS's vhost-user client port reconnects by itself;
each recovery time is measured and printed.

Needs root, hugepages and the DPDK build of OVS; skips (exit 77) with the reason otherwise.
"""

import argparse
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from testlib import check, finish, record_key  # noqa: E402
sys.path.insert(0, os.path.join(HERE, "../../ovs-integration"))
import ovs as ovslib  # noqa: E402
import testbed  # noqa: E402



def skip_reason():
    if os.geteuid() != 0:
        return "needs root (OVS-DPDK, hugepages, network namespaces)"
    if not os.path.exists(ovslib.VSWITCHD):
        return "no %s (apt-get install openvswitch-switch-dpdk)" % ovslib.VSWITCHD
    with open("/proc/meminfo") as f:
        free = [int(line.split()[1]) for line in f if line.startswith("HugePages_Free")]
    if not free or free[0] < 700:
        return "needs ~1.4 GiB of free 2 MiB hugepages (echo 1024 > /proc/sys/vm/nr_hugepages)"
    if shutil.which("tshark") is None:
        return "tshark is not installed"
    return None


def chain_end_total(tb):
    return sum(c["packets"] for c in tb.chain_counts().values())


def wait_for_traffic(tb, since, timeout=30):
    """Seconds until the chain ends count packets beyond `since` again, or None."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            if chain_end_total(tb) > since:
                return time.time() - t0
        except ovslib.OVSError:
            pass  # ovs-vswitchd still starting
        time.sleep(0.05)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flowtag", required=True)
    ap.add_argument("--config", required=True)
    a = ap.parse_args()
    reason = skip_reason()
    if reason:
        print("SKIP: " + reason)
        return 77

    tb = testbed.Testbed(a.flowtag, a.config, rate=1500, flows_per_pass=60)
    try:
        t0 = time.time()
        tb.up()
        print("testbed up in %.1f s" % (time.time() - t0))

        # 1. Traffic of every generated application; then everything is counted at OVS.
        tb.start_traffic(8)
        tb.traffic.wait(timeout=60)
        time.sleep(1.0)
        chains = tb.chain_counts()
        egress = tb.egress_packets()
        ports = tb.ovs.port_stats(testbed.BRIDGE)
        access_in = ports[testbed.PORT_ACCESS]["rx"]
        rc = tb.stop_flowtag()
        check(rc == 0, "flowtag stopped by SIGTERM with exit 0")
        recs = tb.records_list()
        out = sum(r["packets"] for r in recs if r["action"] != "drop")
        print("access in %d, flowtag flows %d (%d packets), chain ends %s, egress %d" % (
            access_in, len(recs), sum(r["packets"] for r in recs),
            {k: v["packets"] for k, v in chains.items()}, egress))
        check(sum(c["packets"] for c in chains.values()) == egress,
              "OVS: every packet that ended a chain left by the egress port (%d)" % egress)
        check(egress >= out * 0.999,
              "OVS: egress carried flowtag's %d packets (%d)" % (out, egress))
        check(sum(1 for c in chains.values() if c["packets"] > 0) >= 4,
              "OVS: at least four chains carried packets (%s)" %
              [k for k, v in chains.items() if v["packets"]])

        learnt = {c["name"]: tb.chain_flows(i + 1) for i, c in enumerate(tb.chains)}
        per_chain_ok, per_chain_bad = 0, []
        for r in recs:
            if r["action"] != "chain" or r["l4"] not in ("tcp", "udp") or \
                    r["verdict_packet"] > r["packets"]:
                continue  # no packet left after the verdict, or not TCP/UDP (not learnt)
            if record_key(r) in learnt[r["chain"]]:
                per_chain_ok += 1
            else:
                per_chain_bad.append((r["label"], r["chain"], r["src_port"], r["dst_port"]))
        check(per_chain_ok > 0 and not per_chain_bad,
              "OVS learnt %d flows at the last hop of the chain flowtag chose (%d missing %s)"
              % (per_chain_ok, len(per_chain_bad), per_chain_bad[:5]))
        video_rules = [f for f in tb.ovs.dump_flows(testbed.BRIDGE, "table=0")
                       if "nsh_spi=0xa" in f]
        hops = sorted(ovslib.flow_packets(f) for f in video_rules)
        check(len(hops) == 3 and hops[0] == hops[-1] > 0,
              "video chain: SI 255 -> hop 1 -> SI 254 -> hop 2 -> SI 253, every hop saw all "
              "%s packets" % hops)
        # The capture is whole only once its port has closed (net_pcap buffers writes).
        closed, counted = tb.close_egress()
        r = subprocess.run(["tshark", "-r", closed, "-T", "fields", "-e", "frame.number",
                            "-e", "nsh.spi", "-e", "mpls.label", "-e", "vlan.id"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        rows = [line.split("\t") for line in r.stdout.splitlines()]
        tagged = [x for x in rows if any(x[1:])]
        check(r.returncode == 0 and counted > 0 and len(rows) == counted,
              "egress capture: tshark reads %d frames, OVS sent %d (tshark exit %d %s)"
              % (len(rows), counted, r.returncode, r.stderr.strip()[:100]))
        check(rows and not tagged, "egress capture: no NSH, MPLS or VLAN tag left (%d tagged of "
              "%d)" % (len(tagged), len(rows)))

        # 2. ovs-vswitchd restarts under traffic; flowtag keeps running.
        tb.start_flowtag(connect=False)
        tb.wait_connected()
        tb.start_traffic(0)
        before = chain_end_total(tb)
        wait_for_traffic(tb, before)
        flowtag_pid = tb.procs["flowtag"].pid
        t0 = time.time()
        tb.ovs.restart_vswitchd()
        tb.ovs.replace_flows(testbed.BRIDGE, tb.flows)  # OpenFlow flows live in ovs-vswitchd
        rec = wait_for_traffic(tb, 0)
        check(rec is not None and tb.procs["flowtag"].poll() is None and
              tb.procs["flowtag"].pid == flowtag_pid,
              "ovs-vswitchd restarted: traffic through flowtag again %.2f s after the restart "
              "began (flowtag not restarted)" % ((time.time() - t0) if rec is None else
                                                  (time.time() - t0 - 0.0)))
        ovs_recovery = time.time() - t0

        # 3. flowtag restarts; OVS's client port reconnects by itself.
        before = chain_end_total(tb)
        t0 = time.time()
        tb.stop_flowtag()
        tb.start_flowtag(connect=False)
        rec = wait_for_traffic(tb, before + 5)
        flowtag_recovery = time.time() - t0
        check(rec is not None,
              "flowtag restarted: OVS reconnected and traffic flows again %.2f s after the stop"
              % flowtag_recovery)
        tb.stop_traffic()
        print("recovery: ovs-vswitchd restart %.2f s, flowtag restart %.2f s"
              % (ovs_recovery, flowtag_recovery))
    finally:
        tb.down()
    left = [p for p in ("/var/run/dpdk/ftb-ovs-" + tb.id, "/var/run/dpdk/ftb-ft-" + tb.id,
                        "/var/run/dpdk/ftb-sf-" + tb.id, tb.dir) if os.path.exists(p)]
    procs = subprocess.run(["pgrep", "-f", tb.dir], stdout=subprocess.PIPE, text=True).stdout
    check(not left and not procs.strip(),
          "teardown left nothing (files %s, processes %s)" % (left, procs.split()))
    return finish()


if __name__ == "__main__":
    sys.exit(main())
