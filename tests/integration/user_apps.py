#!/usr/bin/python3
"""User-defined applications (`apps:`), labelled by nDPI itself and steered by rules that name them.

A capture this test generates holds flows to made-up services: a lab portal known by its host
name (TLS SNI and HTTP Host), a 5G core function known by its servers' prefix, a test tool
known by its ports (a UDP range and a TCP port), and built-in applications beside them (DNS,
HTTP). The config (config/examples/user-apps.yaml) defines the apps and chains them.

Checks: `flowtag protos` writes the apps as an nDPI protocols file; ndpiReader -p on that file
labels the capture's flows, and flowtag's records agree flow by flow (the built-ins unchanged);
every packet of an app's flow carries its chain's NSH SPI in the output (tshark; the policy
holds packets until the verdict); the apps appear in /v1/apps and /metrics of a running
flowtag; a policy change that would change the apps is refused (4xx, a JSON reason, the
policy unchanged) since nDPI takes them at start.
"""

import argparse
import collections
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from testlib import Daemon, check, finish, ndpi_labels, record_key, unavailable  # noqa: E402
sys.path.insert(0, os.path.join(HERE, "../../ovs-integration"))
import trafficgen  # noqa: E402

EXAMPLE = os.path.join(HERE, "../../config/examples/user-apps.yaml")


def build(path):
    """The capture; returns {flow key: the app it is} for every flow."""
    random.seed(7)
    trafficgen.reset_ip_ids()
    w = trafficgen.Writer()
    t = 1700000000.0
    want = {}

    def key(l4, a, ap, b, bp):
        return (l4, frozenset([(a, ap), (b, bp)]))

    # The lab portal by name: TLS SNI, and HTTP Host.
    s = trafficgen.TcpSession(w, t, "10.2.0.1", 50001, "192.0.2.10", 443)
    s.send(True, trafficgen.tls_client_hello("portal.lab.example"))
    s.send(False, trafficgen.tls_server_hello() + trafficgen.tls_app_data(3000))
    s.close()
    want[key("tcp", "10.2.0.1", 50001, "192.0.2.10", 443)] = "LabPortal"
    s = trafficgen.TcpSession(w, t + 0.5, "10.2.0.1", 50002, "192.0.2.11", 80)
    s.send(True, b"GET / HTTP/1.1\r\nHost: portal.lab.example\r\nAccept: */*\r\n\r\n")
    s.send(False, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello")
    s.close()
    want[key("tcp", "10.2.0.1", 50002, "192.0.2.11", 80)] = "LabPortal"
    # The 5G core function by its servers' prefix: an opaque UDP protocol.
    for i in range(2):
        for j in range(4):
            trafficgen.udp_packet(w, t + 1 + i + j * 0.01, j % 2 == 0, "10.2.0.2", 40000 + i,
                                  "100.64.50.%d" % (20 + i), 38412, random.randbytes(120))
        want[key("udp", "10.2.0.2", 40000 + i, "100.64.50.%d" % (20 + i), 38412)] = "FiveGCore"
    # The test tool by its ports: a UDP range and a TCP port.
    for j in range(4):
        trafficgen.udp_packet(w, t + 3 + j * 0.01, j % 2 == 0, "10.2.0.3", 50000,
                              "192.0.2.50", 47005, random.randbytes(64))
    want[key("udp", "10.2.0.3", 50000, "192.0.2.50", 47005)] = "TestTool"
    s = trafficgen.TcpSession(w, t + 4, "10.2.0.3", 50003, "192.0.2.51", 47100)
    s.send(True, random.randbytes(200))
    s.send(False, random.randbytes(400))
    s.close()
    want[key("tcp", "10.2.0.3", 50003, "192.0.2.51", 47100)] = "TestTool"
    # Built-in applications beside them: still nDPI's own.
    net = trafficgen.Net()
    trafficgen.dns_session(w, t + 5, net)
    trafficgen.http_session(w, t + 6, net, short=True)
    w.write(path)
    return want


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flowtag", required=True)
    ap.add_argument("--pcaps", required=True, help="../shared/pcaps (for ndpi_truth.py)")
    a = ap.parse_args()
    for tool in ("ndpiReader", "tshark"):
        if shutil.which(tool) is None:
            return unavailable(tool, "%s is not installed" % tool)
    with tempfile.TemporaryDirectory(prefix="flowtag-apps-") as tmp:
        cap = os.path.join(tmp, "apps.pcap")
        want = build(cap)
        r = subprocess.run([a.flowtag, "check", "-c", EXAMPLE], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        check(r.returncode == 0 and "3 apps" in r.stdout, "flowtag check takes the example "
              "(%s)" % r.stdout.strip())
        protos = os.path.join(tmp, "protos.txt")
        with open(protos, "w") as f:
            r = subprocess.run([a.flowtag, "protos", "-c", EXAMPLE], stdout=f, text=True)
        with open(protos) as f:
            text = f.read()
        check(r.returncode == 0 and "host:\"portal.lab.example\"@LabPortal" in text and
              "ip:100.64.50.0/24@FiveGCore" in text and "udp:47000-47010@TestTool" in text,
              "flowtag protos writes the apps as nDPI rules")

        # ndpiReader on the same rules file: the ground truth.
        theirs = ndpi_labels(a.pcaps, cap, extra=["-p", protos]) or {}
        # Known by name, an app is the sub-protocol of what carries it (TLS.LabPortal), as
        # nDPI's own services are (TLS.YouTube).
        check(all(theirs.get(k) in (v, "TLS." + v, "HTTP." + v) for k, v in want.items()),
              "ndpiReader -p labels the made-up services' flows as their apps (%s)"
              % {str(sorted(k[1])): theirs.get(k) for k in want})

        out = os.path.join(tmp, "out.pcap")
        recs_path = os.path.join(tmp, "flows.jsonl")
        r = subprocess.run([a.flowtag, "replay", "-c", EXAMPLE, "--flows", recs_path, "--out",
                            out, cap], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=120)
        check(r.returncode == 0, "replay exits 0")
        with open(recs_path) as f:
            recs = [json.loads(line) for line in f]
        mine = {record_key(rec): rec["label"] for rec in recs}
        check(mine == theirs, "flowtag's labels agree with ndpiReader -p on every flow "
              "(%d flows; differing: %s)" % (len(theirs), {str(sorted(k[1])): (mine.get(k), theirs.get(k))
                                                           for k in set(mine) | set(theirs)
                                                           if mine.get(k) != theirs.get(k)}))
        apps = ("LabPortal", "FiveGCore", "TestTool")
        chains = {rec["app_protocol"]: rec["chain"] for rec in recs if rec["app_protocol"] in apps}
        check(chains == {"LabPortal": "portal", "FiveGCore": "lab", "TestTool": "lab"},
              "rules that name the apps chose their chains (%s)" % chains)
        ids = {rec["app_protocol"]: rec["app_protocol_id"] for rec in recs if rec["app_protocol"] in apps}
        check(len(set(ids.values())) == 3 and min(ids.values()) >= 200,
              "the apps have ids of their own after nDPI's (%s)" % ids)
        cats = {rec["app_protocol"]: rec["category"] for rec in recs if rec["app_protocol"] in apps}
        check(cats.get("LabPortal") == "Web" and cats.get("FiveGCore") == "Network",
              "the apps carry their configured categories (%s)" % cats)

        # Every packet of an app's flow carries its chain's SPI (held until the verdict).
        spi = {"portal": "31", "lab": "30"}
        fields = ["nsh.spi", "ip.src", "ip.dst", "tcp.srcport", "tcp.dstport", "udp.srcport",
                  "udp.dstport"]
        res = subprocess.run(["tshark", "-r", out, "-T", "fields", "-E", "separator=\t",
                              "-E", "occurrence=f"] + sum((["-e", x] for x in fields), []),
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             check=True).stdout
        per_app, wrong = collections.Counter(), []
        for line in res.splitlines():
            p = dict(zip(fields, line.split("\t")))
            l4 = "tcp" if p["tcp.srcport"] else "udp"
            k = (l4, frozenset([(p["ip.src"], int(p[l4 + ".srcport"] or 0)),
                                (p["ip.dst"], int(p[l4 + ".dstport"] or 0))]))
            app = want.get(k)
            if app is None:
                if p["nsh.spi"]:
                    wrong.append("a built-in flow's packet tagged %s" % p["nsh.spi"])
                continue
            expect = spi["portal" if app == "LabPortal" else "lab"]
            if p["nsh.spi"] != expect:
                wrong.append("%s packet spi %r, want %s" % (app, p["nsh.spi"], expect))
            per_app[app] += 1
        check(not wrong and sum(per_app.values()) > 0,
              "every packet of an app's flow carries its chain's SPI, the built-ins none (%s)%s"
              % (dict(per_app), ": " + "; ".join(wrong[:4]) if wrong else ""))

        # A running flowtag: the apps in /v1/apps and /metrics; apps cannot change live.
        cfg = os.path.join(tmp, "live.yaml")
        with open(EXAMPLE) as f:
            live = f.read()
        with open(cfg, "w") as f:
            f.write(live + "\napi: {auth: none}\n")
        d = Daemon(a.flowtag, cfg, cap, tmp, "live", pps=2000, loop_pause=50)
        try:
            import time
            listed = set()
            deadline = time.time() + 15
            while time.time() < deadline and not {"LabPortal", "FiveGCore", "TestTool"} <= listed:
                st, body, _ = d.get("/v1/apps")
                if st == 200:
                    listed = {x["app"] for x in json.loads(body)["apps"]}
                time.sleep(0.3)
            check({"LabPortal", "FiveGCore", "TestTool"} <= listed,
                  "/v1/apps lists the apps (%s)" % sorted(listed))
            st, metrics, _ = d.get("/metrics")
            check(st == 200 and 'app="LabPortal"' in metrics and 'app="TestTool"' in metrics,
                  "/metrics counts the apps by name")
            st, before, _ = d.get("/v1/policy")
            changed = live.replace("portal.lab.example", "portal2.lab.example")
            st, body, _ = __import__("testlib").http("PUT", d.url + "/v1/policy",
                                                     body=changed.encode())
            reason = json.loads(body).get("error", "") if body.startswith("{") else body
            check(400 <= st < 500 and "restart" in reason,
                  "a policy that changes the apps is refused: %d %s" % (st, reason[:160]))
            st2, after, _ = d.get("/v1/policy")
            check(before == after, "the policy in force is unchanged")
            st, body, _ = __import__("testlib").http("PUT", d.url + "/v1/policy",
                                                     body=live.replace("spi: 31", "spi: 32").encode())
            check(st == 200, "the same apps with a new policy are taken (%d %s)" % (st, body[:160]))
        finally:
            rc, log = d.stop()
        check(rc == 0, "flowtag stops cleanly (%s)" % rc)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
