#!/usr/bin/python3
"""The README's main command, as a user runs it: ovs-integration/testbed --duration S
--summary-json FILE exits 0 and the summary has non-zero counts on at least four chains, at
egress and for the applications; with --ipfix it exports to nfcapd (Debian's nfdump), where
nfdump shows the records with nDPI's application ids; and --ovs-db attaches to an OVS that is
already running (here a private one this test starts), leaving that OVS running and its bridge
removed."""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../../ovs-integration"))
import ovs as ovslib  # noqa: E402
import e2e  # noqa: E402  (its skip rules)


def run_testbed(args, summary):
    r = subprocess.run([os.path.join(HERE, "../../ovs-integration/testbed")] + args +
                       ["--summary-json", summary], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    return r.returncode, r.stdout


def check_summary(path, label, failures):
    with open(path) as f:
        s = json.load(f)
    busy = [c for c, v in s["chains"].items() if v["packets"] > 0 and v["flows"] > 0]
    ok = len(busy) >= 4 and s["egress"]["packets"] > 0 and len(s["apps"]) >= 10
    print("%s %s: chains with traffic %s, egress %d, %d applications" % (
        "ok  " if ok else "FAIL", label, busy, s["egress"]["packets"], len(s["apps"])))
    if not ok:
        failures.append(label)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", default="10")
    a = ap.parse_args()
    reason = e2e.skip_reason()
    if reason:
        print("SKIP: " + reason)
        return 77
    failures = []
    checks = 3
    with tempfile.TemporaryDirectory(prefix="flowtag-testbed-cli-") as tmp:
        summary = os.path.join(tmp, "out.json")
        # The lab's own collector: nfcapd on loopback.
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        nfdir = os.path.join(tmp, "nfcapd")
        os.makedirs(nfdir)
        nfcapd = subprocess.Popen(["nfcapd", "-b", "127.0.0.1", "-p", str(port), "-w", nfdir,
                                   "-t", "3600"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        rc, out = run_testbed(["--duration", a.duration, "--ipfix",
                               "udp://127.0.0.1:%d" % port], summary)
        nfcapd.send_signal(signal.SIGINT)
        nfcapd.wait(timeout=30)
        print(out[-1500:])
        if rc != 0:
            failures.append("testbed exited %d" % rc)
        else:
            check_summary(summary, "private OVS", failures)
            checks += 1
            with open(summary) as f:
                sent = json.load(f).get("ipfix", {}).get("records", 0)
            files = [os.path.join(nfdir, n) for n in os.listdir(nfdir) if n.startswith("nfcapd.")]
            ids = []
            if files:
                ids = subprocess.run(["nfdump", "-r", files[0], "-q", "-o", "fmt:%nbid"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True).stdout.split()
            ok = sent > 0 and len(ids) >= sent and all(x.startswith("22..") for x in ids)
            print("%s --ipfix: nfdump shows %d records from the testbed (%d before the stop), "
                  "each with an nDPI application id (22..)" % ("ok  " if ok else "FAIL",
                                                                len(ids), sent))
            if not ok:
                failures.append("--ipfix to nfcapd")

        # Attach to a running OVS.
        mine = ovslib.OVS(os.path.join(tmp, "ovs"), "ftb-attach-%d" % os.getpid())
        mine.start()
        try:
            rc, out = run_testbed(["--duration", "5", "--ovs-db",
                                   os.path.join(tmp, "ovs", "db.sock"), "--ovs-rundir",
                                   os.path.join(tmp, "ovs")], summary)
            if rc != 0:
                print(out[-1500:])
                failures.append("testbed --ovs-db exited %d" % rc)
            else:
                check_summary(summary, "attached to a running OVS", failures)
            alive = all(ovslib._pid_alive(mine.pid(n) or -1)
                        for n in ("ovs-vswitchd", "ovsdb-server"))
            bridges = mine.vsctl("list-br").split()
            ok = alive and not bridges
            print("%s the attached OVS still runs (%s), its testbed bridge is gone (%s)" % (
                "ok  " if ok else "FAIL", alive, bridges))
            if not ok:
                failures.append("attached OVS state")
        finally:
            mine.stop()
    print("%d passed, %d failed" % (checks - len(failures), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
