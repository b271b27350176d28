#!/usr/bin/python3
"""The live web view in a real browser: headless Chromium (Debian's) against a running
`flowtag replay --loop --api` with the demo policy and `api.auth: all`.

- without the token the page shows its prompt and no data (nothing of the traffic in the DOM);
- with it (given once in the URL's fragment, then kept in the tab), after a few seconds the
  charts' legends name the replayed applications and every chain with its tag, the chains'
  picture has their hops, the flows table fills, the policy table shows hits, and nothing is
  wider than a 1280x720 window;
- a filter (the page's own, from its URL) narrows the flows table to that application or chain;
- a host name from a packet that is HTML stays text (no element, no handler runs);
- the page's answers carry a Content-Security-Policy, no CORS header, and /v1/view without the
  token is a 401;
- a screenshot at 1280x720 goes to the build folder (--out-dir); the README shows it.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "../hostile"))
sys.path.insert(0, os.path.join(HERE, "../../ovs-integration"))
from testlib import Daemon, check, finish, unavailable  # noqa: E402
import craft  # noqa: E402
import trafficgen  # noqa: E402

TOKEN = "f1" * 32
CHAINS = {"video": "NSH SPI 10", "voip": "VLAN 200", "p2p": "MPLS label", "web": "DSCP 18",
          "default": "NSH SPI 1"}
HTML_HOST = b'<img src=x onerror="document.body.dataset.pwned=1">.x.example'


def browser():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def chrome(exe, url, tmp, extra):
    """Chromium's DOM (or screenshot) after the page ran for a few seconds of virtual time:
    with --virtual-time-budget, timers run as fast as the page's requests come back."""
    profile = tempfile.mkdtemp(prefix="chrome-", dir=tmp)
    r = subprocess.run([exe, "--headless=new", "--no-sandbox", "--disable-gpu",
                        "--no-first-run", "--user-data-dir=" + profile, "--hide-scrollbars",
                        "--window-size=1280,720", "--virtual-time-budget=8000"] + extra + [url],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=120)
    return r.stdout


def dump_with_flows(exe, url, tmp, attr="data-app", want=1, tries=3):
    """The DOM once its flows table holds `want` rows. replay --loop flushes every flow at the
    end of each pass and pauses before the next: a dump that lands there shows an empty table
    (rightly), so a few tries are allowed before the table counts as not filling."""
    dom = ""
    for _ in range(tries):
        dom = chrome(exe, url, tmp, ["--dump-dom"])
        if len(rows(dom, attr)) >= want:
            break
    return dom


def body_attrs(dom):
    m = re.search(r"<body([^>]*)>", dom)
    return dict(re.findall(r'([\w-]+)="([^"]*)"', m.group(1))) if m else {}


def rows(dom, attr="data-app"):
    return re.findall(r'<tr [^>]*%s="([^"]*)"' % attr, dom)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flowtag", required=True)
    ap.add_argument("--source-root", required=True)
    ap.add_argument("--out-dir", default=".")
    a = ap.parse_args()
    exe = browser()
    if exe is None:
        return unavailable("chromium (ovs-integration/install-deps installs it)",
                           "no chromium (ovs-integration/install-deps installs Debian's)")
    tmp = tempfile.mkdtemp(prefix="flowtag-webview-")
    d = None
    try:
        pcap = os.path.join(tmp, "traffic.pcap")
        w, _ = trafficgen.generate(300, "realistic", list(trafficgen.APPS), 60.0, seed=11)
        w.write(pcap)
        hostile = os.path.join(tmp, "html-host.pcap")
        hw, net = trafficgen.Writer(), trafficgen.Net()
        for i in range(3):
            craft.http_get(hw, 1700000000.0 + i, net, HTML_HOST, body=3000)
        hw.write(hostile)
        token_file = os.path.join(tmp, "api.token")
        with open(token_file, "w") as f:
            f.write(TOKEN)
        os.chmod(token_file, 0o600)
        cfg = os.path.join(tmp, "flowtag.yaml")
        with open(os.path.join(a.source_root, "config/examples/sfc-demo.yaml")) as f, \
                open(cfg, "w") as out:
            out.write(f.read() + "\neal: {file_prefix: flowtag-web-%d}\n"
                      "api: {auth: all, token_file: %s}\n" % (os.getpid(), token_file))
        d = Daemon(a.flowtag, cfg, pcap, tmp, "web", extra=[hostile], pps=1500, loop_pause=50)
        base = d.url + "/"

        # The page's own answers.
        with urllib.request.urlopen(urllib.request.Request(base, headers={
                "Origin": "http://attacker.example"}), timeout=10) as r:
            page, hdrs = r.read().decode(), r.headers
        csp = hdrs.get("Content-Security-Policy", "")
        check("script-src 'self'" in csp and "frame-ancestors 'none'" in csp and
              hdrs.get("Access-Control-Allow-Origin") is None and "<canvas" in page,
              "GET / serves the page without the token, with a CSP and no CORS header")
        st, _, h = d.get("/v1/view")
        check(st == 401, "GET /v1/view without the token: 401")
        st, body, _ = d.get("/v1/view?cidr=not-a-cidr", token=TOKEN)
        check(st == 400 and "error" in json.loads(body),
              "a bad filter: 400 with a JSON reason")
        st, _, h = d.get("/ui/chart.min.js")
        check(st == 200, "Chart.js is served by flowtag itself (no CDN)")

        # No token: the prompt, no data.
        dom = chrome(exe, base, tmp, ["--dump-dom"])
        attrs = body_attrs(dom)
        check(attrs.get("data-state") == "need-token" and 'id="token-prompt" hidden' not in dom
              and "wants its API token" in dom and not rows(dom) and "data-name=" not in dom
              and 'class="chain-row"' not in dom and "<td" not in dom,
              "without the token: the prompt, and nothing of the traffic (state %s)"
              % attrs.get("data-state"))

        # The screenshot (first: mid-pass, the most flows live).
        shot = os.path.join(os.path.abspath(a.out_dir), "webview.png")
        chrome(exe, base + "#token=" + TOKEN, tmp, ["--screenshot=" + shot])
        with open(shot, "rb") as f:
            png = f.read()
        check(png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20000,
              "a 1280x720 screenshot: %s (%d bytes)" % (shot, len(png)))
        # With the token.
        dom = dump_with_flows(exe, base + "#token=" + TOKEN, tmp, want=10)
        attrs = body_attrs(dom)
        names = set(re.findall(r'data-name="([^"]*)"', dom))
        apps = names - set(CHAINS)
        flows = rows(dom)
        check(attrs.get("data-state") == "live" and int(attrs.get("data-updates", "0")) >= 3,
              "with the token the page is live (%s updates)" % attrs.get("data-updates"))
        check(len(apps & {"YouTube", "NetFlix", "BitTorrent", "Facebook", "Google", "HTTP",
                          "DNS", "TLS", "QUIC"}) >= 4,
              "the applications chart names the replayed applications: %s" % sorted(apps))
        legend = re.search(r'id="chains-legend"(.*?)</ul>', dom, re.S)
        check(set(CHAINS) <= names and legend and
              all(tag in legend.group(1) for tag in CHAINS.values()),
              "the chains chart has one series a chain, with its tag")
        check(len(re.findall(r'class="chain-row" data-chain=', dom)) == 5 and
              dom.count(">video SF 2<") == 1,
              "the chains' picture: classifier, each hop, egress (video has 2 hops)")
        check(len(flows) >= 10 and len(set(flows)) >= 3,
              "the flows table fills (%d rows, %d applications)" % (len(flows), len(set(flows))))
        hits = [int(x) for x in re.findall(r'<td class="num">(\d+)</td></tr>',
                                           re.search(r'id="rules"(.*?)</table>', dom,
                                                     re.S).group(1))]
        check(len(hits) == 7 and sum(hits) > 0,
              "the policy table: 6 rules and the default, with their hits %s" % hits)
        check(attrs.get("data-hscroll") == "no", "no horizontal scrolling at 1280x720")
        # Filters narrow the table.
        dom = dump_with_flows(exe, base + "#token=" + TOKEN + "&app=YouTube", tmp)
        yt = rows(dom)
        check(yt and set(yt) == {"YouTube"},
              "app=YouTube: only YouTube flows (%d rows)" % len(yt))
        dom = dump_with_flows(exe, base + "#token=" + TOKEN + "&chain=video", tmp, "data-chain")
        video = rows(dom, "data-chain")
        check(video and set(video) == {"video"}, "chain=video: only the video chain's flows (%d)"
              % len(video))
        dom = dump_with_flows(exe, base + "#token=" + TOKEN + "&host=*.x.example", tmp)
        check(len(rows(dom)) >= 1 and "&lt;img src=x onerror=" in dom and "<img" not in dom
              and "data-pwned" not in dom,
              "host=*.x.example: a host name that is HTML shows as text (%d rows); no element, "
              "no handler ran" % len(rows(dom)))

        rc, _ = d.stop()
        d = None
        check(rc == 0, "flowtag stops cleanly")
    finally:
        if d is not None:
            d.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
