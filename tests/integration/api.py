#!/usr/bin/python3
"""The control plane against a running flowtag (replay --loop --pps --api), with real peers:
curl-like requests (urllib), promtool for /metrics, dpdk-telemetry.py for telemetry,
flowtagctl as a user runs it.

- every endpoint, and every error: 400 (bad query, bad policy with line:col, malformed JSON),
  401 (token), 404, 405 (+ Allow), 413 (body limit);
- a policy swap under traffic: the new chain reaches new flows, no packet lost (the exit
  summary: packets in = packets out + counted drops);
- SIGHUP with a broken file keeps the old policy and says why; with a good one, swaps;
- a graceful stop under traffic loses no flow record (records written = flows created).
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from testlib import Daemon, check, exit_counters, finish, free_port, http  # noqa: E402
sys.path.insert(0, os.path.join(HERE, "../../ovs-integration"))
import trafficgen  # noqa: E402



def live_flows(d, query, ok, timeout=10):
    """GET /v1/flows?query until ok(status, body) or the deadline: live flows come and go
    (each --loop pass ends them all, then pauses), so one query may land in the pause."""
    deadline = time.time() + timeout
    while True:
        st, body, _ = d.get("/v1/flows?" + query)
        if st == 200 and ok(json.loads(body)) or time.time() > deadline:
            return st, json.loads(body) if st == 200 else body
        time.sleep(0.1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flowtag", required=True)
    ap.add_argument("--source-root", required=True)
    a = ap.parse_args()
    flowtag = os.path.abspath(a.flowtag)
    ctl = os.path.join(a.source_root, "vnf/ctl/flowtagctl")
    demo = os.path.join(a.source_root, "config/examples/sfc-demo.yaml")
    tmp = tempfile.mkdtemp(prefix="flowtag-api-")
    try:
        pcap = os.path.join(tmp, "traffic.pcap")
        w, _ = trafficgen.generate(300, "realistic", list(trafficgen.APPS), 60.0, seed=11)
        w.write(pcap)
        cfg = os.path.join(tmp, "flowtag.yaml")
        prefix = "flowtag-api-%d" % os.getpid()
        with open(demo) as f, open(cfg, "w") as out:
            out.write(f.read() + "\neal: {file_prefix: %s}\napi: {max_body_bytes: 4096}\n" % prefix)
        d = Daemon(flowtag, cfg, pcap, tmp, "main")
        time.sleep(2.0)

        # Every endpoint.
        st, body, _ = d.get("/v1/health")
        check(st == 200 and json.loads(body)["status"] == "ok", "GET /v1/health 200")
        st, body, _ = d.get("/v1/ready")
        check(st == 200 and json.loads(body)["ready"], "GET /v1/ready 200, ready")
        st, body, _ = d.get("/v1/stats")
        s = json.loads(body)
        check(st == 200 and s["workers"][0]["packets"] > 0 and "malformed" in s["drops"]
              and s["ports"][0]["link"] == "up", "GET /v1/stats: ports, workers, drops by reason")
        w0 = s["workers"][0]
        check(w0["metadata_in_use"] > 0 and w0["metadata_not_kept"] == 0 and
              "ipv6_flows_active" in w0,
              "GET /v1/stats: interned metadata held (%d values for %d flows), none lost" % (
                  w0["metadata_in_use"], w0["flows_active"]))
        st, body, _ = d.get("/v1/apps")
        apps = {x["app"]: x for x in json.loads(body)["apps"]}
        check(st == 200 and apps.get("YouTube", {}).get("packets", 0) > 0 and
              len(json.loads(body)["categories"]) > 3, "GET /v1/apps: per application and category")
        st, body, _ = d.get("/v1/chains")
        chains = {c["name"]: c for c in json.loads(body)["chains"]}
        check(st == 200 and set(chains) == {"video", "voip", "p2p", "web", "default"} and
              chains["video"]["packets"] > 0, "GET /v1/chains: the demo's five chains, counted")
        st, f = live_flows(d, "limit=3", lambda f: f["returned"] == 3 and f["more"])
        check(st == 200 and f["returned"] == 3 and f["more"], "GET /v1/flows: limit and more")
        st2, body2, _ = d.get("/v1/flows?limit=3&offset=3")
        check(st2 == 200 and json.loads(body2)["offset"] == 3, "GET /v1/flows: paging by offset")
        st, body = live_flows(d, "app=YouTube&limit=50", lambda f: f["flows"])
        ff = body["flows"]
        check(ff and all("YouTube" in x["label"] for x in ff), "GET /v1/flows?app=YouTube")
        st, body = live_flows(d, "host=*.googlevideo.com&limit=50", lambda f: f["flows"])
        ff = body["flows"]
        check(ff and all(x["host"].endswith(".googlevideo.com") for x in ff),
              "GET /v1/flows?host=*.googlevideo.com (glob)")
        st, body = live_flows(d, "chain=p2p&limit=50", lambda f: f["flows"])
        ff = body["flows"]
        check(ff and all(x["chain"] == "p2p" and x["label"] == "BitTorrent" for x in ff),
              "GET /v1/flows?chain=p2p")
        st, body = live_flows(d, "cidr=198.51.100.0/24&limit=50", lambda f: f["flows"])
        ff = body["flows"]
        check(ff and all(x["dst_ip"].startswith("198.51.100.") or
                         x["src_ip"].startswith("198.51.100.") for x in ff),
              "GET /v1/flows?cidr=198.51.100.0/24")
        st, body, _ = d.get("/v1/policy")
        check(st == 200 and "chains:" in json.loads(body)["text"] and
              json.loads(body)["version"] == 1, "GET /v1/policy: the YAML in force, version 1")
        st, body, hdr = d.get("/metrics")
        mpath = os.path.join(tmp, "metrics.txt")
        with open(mpath, "w") as out:
            out.write(body)
        if shutil.which("promtool"):
            r = subprocess.run("promtool check metrics < %s" % mpath, shell=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            check(st == 200 and r.returncode == 0 and "flowtag_app_packets_total" in body
                  and "\nflowtag_metadata_not_kept_total{worker=\"0\"} 0\n" in body,
                  "GET /metrics passes promtool check metrics (%s)" % r.stdout.strip()[:200])
        else:
            check(False, "promtool is installed (apt-get install prometheus)")

        # Errors.
        st, body, _ = d.get("/v1/nothing")
        check(st == 404 and "error" in json.loads(body), "404 for an unknown route, JSON reason")
        st, body, hdr = http("DELETE", d.url + "/v1/stats")
        check(st == 405 and hdr.get("Allow") == "GET", "405 for a wrong method, with Allow")
        st, body, _ = d.get("/v1/flows?limit=lots")
        check(st == 400 and "limit" in json.loads(body)["error"], "400 for a bad limit")
        st, body, _ = d.get("/v1/flows?app=NoSuchApp")
        check(st == 400, "400 for an unknown application")
        st, body, _ = d.get("/v1/flows?cidr=300.1.1.1/8")
        check(st == 400, "400 for a bad CIDR")
        st, body, _ = http("PUT", d.url + "/v1/policy", b"rules:\n  - {app: YuoTube, action: drop}\n")
        e = json.loads(body)
        check(st == 400 and e["line"] == 2 and e["col"] == 11 and "unknown protocol" in e["error"],
              "PUT a policy with an unknown protocol: 400 at line 2 col 11 (%s)" % e["error"])
        st, body, _ = http("PUT", d.url + "/v1/policy", b'{"chains": [{"name": "x", "tag": "nsh"')
        e = json.loads(body)
        check(st == 400 and e["line"] >= 1 and e["error"].startswith("request:"),
              "PUT malformed JSON: 400 with line:col (%s)" % e["error"])
        st, body, _ = http("PUT", d.url + "/v1/policy", b"x" * 10000)
        check(st == 413, "413 for a body over api.max_body_bytes")
        st, body, _ = d.get("/v1/policy")
        check(json.loads(body)["version"] == 1, "after the rejected PUTs the old policy stays")

        # A policy swap under traffic: YouTube to a new chain.
        with open(demo) as f:
            new_policy = f.read().replace("rules:\n", "rules:\n  - app: YouTube\n    chain: yt\n", 1)
        new_policy = new_policy.replace("chains:\n", "chains:\n  - {name: yt, tag: nsh, spi: 77}\n", 1)
        new_policy = new_policy.replace("version: 1", "version: 2")
        st, body, _ = http("PUT", d.url + "/v1/policy", new_policy.encode())
        check(st == 200 and json.loads(body)["version"] == 2,
              "PUT a valid policy under traffic: 200, version 2 (%s)" % body)
        time.sleep(2.5)
        st, body = live_flows(d, "chain=yt&limit=100", lambda f: f["flows"])
        ff = body["flows"]
        check(ff and all("YouTube" in x["label"] and x["policy_version"] == 2 for x in ff),
              "after the swap YouTube flows take the new chain 'yt' (%d flows)" % len(ff))
        st, body, _ = d.get("/v1/chains")
        check(any(c["name"] == "yt" and c["packets"] > 0 for c in json.loads(body)["chains"]),
              "GET /v1/chains: the new chain carries packets")

        # flowtagctl as a user runs it.
        env = dict(os.environ, FLOWTAG_URL=d.url)
        for args, want in ((["stats"], "worker"), (["apps"], "YouTube"), (["chains"], "yt"),
                           (["policy", "get"], "policy version 2"),
                           (["top", "--iterations", "1", "--interval", "0.1"], "chain")):
            r = subprocess.run([sys.executable, ctl] + args, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
            check(r.returncode == 0 and want in r.stdout, "flowtagctl %s" % " ".join(args))
        # Live flows come and go (each pass ends them all): ask until some are live.
        rows = []
        for _ in range(20):
            r = subprocess.run([sys.executable, ctl, "flows", "--app", "NetFlix", "--limit", "3"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            rows = [line for line in r.stdout.splitlines()[1:] if line.startswith(("tcp", "udp"))]
            if r.returncode != 0 or rows:
                break
            time.sleep(0.2)
        check(r.returncode == 0 and 0 < len(rows) <= 3 and all("NetFlix" in x for x in rows),
              "flowtagctl flows --app NetFlix --limit 3 (%d rows)" % len(rows))
        bad = os.path.join(tmp, "bad.yaml")
        with open(bad, "w") as out:
            out.write("chains:\n  - {name: a, tag: vlan}\n")
        r = subprocess.run([sys.executable, ctl, "policy", "set", bad], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        check(r.returncode == 1 and "request:2:5:" in r.stdout,
              "flowtagctl policy set with a bad file: exit 1, %s" % r.stdout.strip()[-100:])

        # DPDK telemetry: flowtag's commands next to the ethdev ones.
        tel = shutil.which("dpdk-telemetry.py")
        if tel and os.geteuid() == 0:
            r = subprocess.run([tel, "-f", prefix], input="/flowtag/stats\n/flowtag/chains\n",
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               timeout=20)
            check('"/flowtag/stats"' in r.stdout and '"packets"' in r.stdout and '"yt"' in r.stdout,
                  "dpdk-telemetry.py shows /flowtag/stats and /flowtag/chains")

        # SIGHUP: a broken file keeps the old policy, a good one swaps it in.
        with open(cfg, "a") as out:
            out.write("rules:\n  - {category: NoSuchCategory, action: drop}\n")
        d.p.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        with open(d.log_path) as f:
            log = f.read()
        st, body, _ = d.get("/v1/policy")
        check("SIGHUP: reload failed, the old policy stays" in log and "unknown category" in log
              and json.loads(body)["version"] == 2,
              "SIGHUP with a broken file: old policy stays, the log says why")
        with open(demo) as f, open(cfg, "w") as out:
            out.write(f.read().replace("version: 1", "version: 7") +
                      "\neal: {file_prefix: %s}\n" % prefix)
        d.p.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        st, body, _ = d.get("/v1/policy")
        check(json.loads(body)["version"] == 7, "SIGHUP with a good file: policy version 7")

        # Flush, then a graceful stop under traffic.
        st, body, _ = http("POST", d.url + "/v1/flows/flush")
        check(st == 200 and json.loads(body)["flushed"] >= 0, "POST /v1/flows/flush: %s" % body)
        time.sleep(1.0)
        rc, log = d.stop()
        c = exit_counters(log)
        with open(d.records) as f:
            lines = sum(1 for _ in f)
        check(rc == 0 and c is not None, "SIGTERM under traffic: exit 0")
        if c:
            pin, pout = c.get("datapath.rx", 0), c.get("datapath.tx", 0)
            drop = c.get("datapath.dropped", 0) + c.get("datapath.tx_failed", 0)
            flows, recs = c.get("flows_created", 0), c.get("records.written", 0)
            check(pin > 0 and pin == pout + drop,
                  "no packet lost: %d in = %d out + %d dropped" % (pin, pout, drop))
            check(flows == recs == lines,
                  "no flow record lost: %d flows, %d records, %d lines" % (flows, recs, lines))

        # A bearer token in a file the config names (replay keeps no token otherwise).
        token = os.path.join(tmp, "token")
        with open(token, "w") as out:
            out.write("s3cret-token\n")
        os.chmod(token, 0o600)
        policy_body = open(demo, "rb").read()
        for auth, want in (("writes", (200, 401, 401, 200, 200)),
                           ("all", (401, 401, 401, 200, 200))):
            with open(demo) as f, open(cfg, "w") as out:
                out.write(f.read() + "\napi: {token_file: %s, auth: %s}\n" % (token, auth))
            d2 = Daemon(flowtag, cfg, pcap, tmp, "token-" + auth)
            got = (d2.get("/v1/stats")[0],
                   http("PUT", d2.url + "/v1/policy", policy_body)[0],
                   http("PUT", d2.url + "/v1/policy", policy_body, token="wrong")[0],
                   http("PUT", d2.url + "/v1/policy", policy_body, token="s3cret-token")[0],
                   d2.get("/v1/health")[0])
            d2.stop()
            check(got == want, "api.auth %s: read without token, write without, wrong, right, "
                  "health: %s (want %s)" % (auth, got, want))

        # flowtag run makes its own token (0600), requires it for changes, removes it at exit.
        run_token = os.path.join(tmp, "run", "api.token")
        for auth in ("writes", "none"):
            port = free_port()
            with open(demo) as f, open(cfg, "w") as out:
                out.write(f.read() + "\neal: {hugepages: false, file_prefix: %s-run}\n"
                          "ports: [{name: null0, vdev: \"net_null0,no-rx=1\"}]\n"
                          "api: {listen: \"127.0.0.1:%d\", token_file: %s, auth: %s}\n"
                          % (prefix, port, run_token, auth))
            log = open(os.path.join(tmp, "run-%s.log" % auth), "w")
            p = subprocess.Popen([flowtag, "run", "-c", cfg], stdout=log, stderr=subprocess.STDOUT)
            url = "http://127.0.0.1:%d" % port
            deadline = time.time() + 20
            while time.time() < deadline:
                try:
                    if http("GET", url + "/v1/health")[0] == 200:
                        break
                except OSError:
                    time.sleep(0.1)
            exists = os.path.exists(run_token)
            mode = os.stat(run_token).st_mode & 0o777 if exists else None
            tok = open(run_token).read().strip() if exists else None
            bare = http("PUT", url + "/v1/policy", policy_body)[0]
            with_tok = http("PUT", url + "/v1/policy", policy_body, token=tok)[0] if tok else None
            r = subprocess.run([sys.executable, ctl, "--url", url, "--token-file", run_token,
                                "flush"] if tok else [sys.executable, ctl, "--url", url, "flush"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            p.send_signal(signal.SIGTERM)
            rc = p.wait(timeout=30)
            log.close()
            if auth == "writes":
                check(exists and mode == 0o600 and tok and len(tok) == 64 and bare == 401 and
                      with_tok == 200 and r.returncode == 0 and rc == 0 and
                      not os.path.exists(run_token),
                      "flowtag run makes a 0600 token (%s, %s chars), a change without it 401 "
                      "(%s), with it 200 (%s), flowtagctl flush with it (%s), removed at exit"
                      % (oct(mode) if mode else None, len(tok) if tok else 0, bare, with_tok,
                         r.returncode))
            else:
                check(not exists and bare == 200 and r.returncode == 0 and rc == 0,
                      "api.auth none: no token file, changes open (%s)" % bare)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
