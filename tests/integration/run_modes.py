#!/usr/bin/python3
"""`flowtag run` with two ports and with a return port, through net_pcap vdevs; tshark judges.

- inline mode: everything that comes in on port A leaves by port B (tagged per the policy),
  nothing leaves by A;
- a return port with `nsh_in: decap`: NSH-tagged traffic coming back from the chains leaves
  without its NSH encapsulation, byte for byte the frames that were tagged, never
  reclassified (no flow records);
- malformed policy files: `flowtag check` exits 2 with the message each file expects;
- SIGTERM stops the daemon cleanly: exit 0, every flow's record written.
"""

import argparse
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from testlib import check, finish, leaked_dpdk_dirs, pcap_frames  # noqa: E402
sys.path.insert(0, os.path.join(HERE, "../../ovs-integration"))
import trafficgen  # noqa: E402



def frames(path):
    """Frame bytes in order, as tshark reads them."""
    out = subprocess.run(["tshark", "-r", path, "-T", "fields", "-e", "frame.len", "-e",
                          "nsh.spi"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def run_daemon(flowtag, cfg, tmp, expect_out, out_path, timeout=30):
    """Start `flowtag run`, wait until out_path holds expect_out frames, SIGTERM, wait."""
    log = open(os.path.join(tmp, "run.log"), "w")
    p = subprocess.Popen([flowtag, "run", "-c", cfg], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + timeout
    n = 0
    while time.time() < deadline:
        time.sleep(0.3)
        if os.path.exists(out_path) and os.path.getsize(out_path) > 24:
            n = len(pcap_frames(out_path))
            if n >= expect_out:
                break
        if p.poll() is not None:
            break
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = -9
    log.close()
    with open(os.path.join(tmp, "run.log")) as f:
        text = f.read()
    return rc, text


def write_config(path, ports, extra, records):
    with open(path, "w") as f:
        f.write("eal:\n  hugepages: false\n  memory_mb: 256\n")
        f.write("ports:\n")
        for name, vdev, ret in ports:
            f.write("  - name: %s\n    vdev: \"%s\"\n    return: %s\n" % (name, vdev, ret))
        f.write("records:\n  path: %s\n" % records)
        f.write(extra)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flowtag", required=True)
    ap.add_argument("--source-root", required=True)
    a = ap.parse_args()
    if shutil.which("tshark") is None:
        print("SKIP: tshark is not installed")
        return 77
    flowtag = os.path.abspath(a.flowtag)
    with open(os.path.join(a.source_root, "config/examples/sfc-demo.yaml")) as f:
        demo = f.read()

    # Malformed policies: each file says what flowtag must answer.
    bad_dir = os.path.join(HERE, "bad-policies")
    for path in sorted(glob.glob(os.path.join(bad_dir, "*.yaml"))):
        with open(path) as f:
            want = f.readline().split("# expect: ", 1)[1].strip()
        r = subprocess.run([flowtag, "check", "-c", os.path.basename(path)], cwd=bad_dir,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        check(r.returncode == 2 and r.stderr.strip() == want,
              "%s rejected: exit %d, %s" % (os.path.basename(path), r.returncode,
                                           r.stderr.strip()))

    tmp = tempfile.mkdtemp(prefix="flowtag-run-")
    try:
        traffic = os.path.join(tmp, "traffic.pcap")
        w, _ = trafficgen.generate(40, "realistic", list(trafficgen.APPS), 2.0, seed=5)
        n_in = w.write(traffic)
        empty = os.path.join(tmp, "empty.pcap")
        trafficgen.Writer().write(empty)

        # 1. Inline: in on A, out by B, tagged.
        a_out, b_out = os.path.join(tmp, "a_out.pcap"), os.path.join(tmp, "b_out.pcap")
        records = os.path.join(tmp, "inline.jsonl")
        cfg = os.path.join(tmp, "inline.yaml")
        write_config(cfg, [("a", "net_pcap_a,rx_pcap=%s,tx_pcap=%s" % (traffic, a_out), "false"),
                           ("b", "net_pcap_b,rx_pcap=%s,tx_pcap=%s" % (empty, b_out), "false")],
                     demo + "datapath:\n  mode: inline\n", records)
        rc, log = run_daemon(flowtag, cfg, tmp, n_in, b_out)
        check(rc == 0, "inline: SIGTERM -> exit 0 (%s)" % log.strip()[-300:])
        out_b = frames(b_out) if os.path.exists(b_out) else []
        out_a = pcap_frames(a_out) if os.path.exists(a_out) else []
        check(len(out_b) == n_in and len(out_a) == 0,
              "inline: %d of %d packets left by port B, %d by port A" % (len(out_b), n_in,
                                                                          len(out_a)))
        check(sum(1 for f in out_b if f[1:] and f[1]) > 0, "inline: NSH-tagged packets on B")
        with open(records) as f:
            recs = [json.loads(line) for line in f]
        check(len(recs) > 0 and sum(r["packets"] for r in recs) == n_in,
              "inline: every flow's record written on SIGTERM (%d records, %d packets)"
              % (len(recs), sum(r["packets"] for r in recs)))

        # 2. A return port: NSH back from the chains is decapsulated, never reclassified.
        tagged = os.path.join(tmp, "tagged.pcap")
        r = subprocess.run([flowtag, "replay", "-c",
                            os.path.join(a.source_root, "config/examples/sfc-demo.yaml"),
                            "--out", tagged, traffic], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        check(r.returncode == 0, "replay tags the traffic for the return test")
        ret_out = os.path.join(tmp, "ret_out.pcap")
        records = os.path.join(tmp, "return.jsonl")
        cfg = os.path.join(tmp, "return.yaml")
        write_config(cfg, [("ret", "net_pcap_r,rx_pcap=%s,tx_pcap=%s" % (tagged, ret_out),
                            "true")], demo + "  nsh_in: decap\n", records)
        rc, log = run_daemon(flowtag, cfg, tmp, n_in, ret_out)
        check(rc == 0, "return port: SIGTERM -> exit 0")
        orig, tagged_f, back = pcap_frames(traffic), pcap_frames(tagged), pcap_frames(ret_out)
        nsh = [i for i, f in enumerate(tagged_f) if f[12:14] == b"\x89\x4f"]
        check(len(back) == n_in, "return port: %d of %d packets out" % (len(back), n_in))
        check(len(nsh) > 0 and all(back[i] == orig[i] for i in nsh),
              "return port: %d NSH frames decapsulated to the original bytes" % len(nsh))
        check(all(back[i] == tagged_f[i] for i in range(len(back)) if i not in set(nsh)),
              "return port: non-NSH frames pass unchanged")
        with open(records) as f:
            check(f.read() == "", "return port: nothing reclassified (no flow records)")
        left = glob.glob("/dev/hugepages/flowtag-*") + leaked_dpdk_dirs()
        check(not left, "nothing left behind (%s)" % left)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
