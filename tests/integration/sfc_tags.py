#!/usr/bin/python3
"""Tags on the wire, judged by tshark: replay captures with config/examples/sfc-demo.yaml.

For every flow, the chain and the NSH context are judged from ndpiReader's classification
(the ground truth in ../shared/pcaps/expected, or ndpiReader run on the generated capture)
and the policy, evaluated here by a matcher of this test's own, never from flowtag's records:
flowtag must have decided what the policy says for ndpiReader's labels, and its packets in the
tagged output (read by tshark, not by flowtag's parser) must be, in order:
  - before the verdict (packet < verdict_packet): tagged for the default chain (the demo's
    `unclassified: default`);
  - from the verdict on: tagged for the chain the record names — NSH SPI/SI/MD type and
    context (C3 = flow id, C4 = policy version, C1/C2 = the record's ids; MD type 2 TLVs with
    the host), VLAN id, MPLS label (SPI << 8 | SI) and TTL (= SI), DSCP with a valid IPv4
    header checksum;
  - for a dropped flow: nothing after the verdict.
A tagged frame that would exceed the MTU is dropped (datapath.oversize: drop, the default): it
must be missing from the output, never there untagged.

Captures: every one in ../shared/pcaps, plus the project's generated traffic (which has every
chain of the demo). Prints per-chain figures.
"""

import argparse
import collections
import csv
import fnmatch
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from testlib import record_key  # noqa: E402
sys.path.insert(0, os.path.join(HERE, "../../ovs-integration"))
import trafficgen  # noqa: E402

# sfc-demo.yaml's chains (the test reads the file's chain list to stay in step with it).
FIELDS = ["frame.len", "frame.protocols", "eth.type", "nsh.spi", "nsh.si", "nsh.mdtype", "nsh.contextheader",
          "nsh.metadatatype", "nsh.metadata", "vlan.id", "mpls.label", "mpls.ttl",
          "ip.dsfield.dscp", "ip.checksum.status", "ipv6.tclass.dscp", "ip.proto", "ip.src",
          "ip.dst", "ipv6.nxt", "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport",
          "udp.srcport", "udp.dstport", "icmpv6.type", "ip.id", "ip.flags.mf", "ip.frag_offset",
          "ipv6.fraghdr.ident", "ipv6.fraghdr.offset", "ipv6.fraghdr.more"]
L4 = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "132": "sctp", "2": "igmp",
      "112": "vrrp"}


def load_policy(path):
    """(rules, default action, version) of the config's policy, for decide()."""
    import yaml
    with open(path) as f:
        doc = yaml.safe_load(f)
    pol = doc.get("policy", {}) or {}
    return doc.get("rules", []) or [], pol.get("default", "pass"), int(pol.get("version", 1))


def as_list(v):
    return v if isinstance(v, list) else [v]


def decide(policy, gt):
    """The policy's decision for a flow as ndpiReader classified it: ("chain", NAME), ("drop",
    None) or ("pass", None). The demo's match keys only; any other key fails the test."""
    rules, default, _ = policy
    host = (gt["host"] or "").lower()
    names = {"app": [gt["app_proto"]], "master": [gt["master_proto"]],
             "protocol": [gt["app_proto"], gt["master_proto"]], "category": [gt["category"]]}
    for rule in rules:
        ok = True
        for key, want in rule.items():
            if key in ("chain", "action"):
                continue
            if key in names:
                got = {n.lower() for n in names[key] if n}
                ok = ok and any(str(w).lower() in got for w in as_list(want))
            elif key == "host":
                ok = ok and host != "" and any(
                    (host == w[1:].lower() or host.endswith(w.lower())) if w.startswith(".")
                    else fnmatch.fnmatchcase(host, w.lower()) for w in as_list(want))
            else:
                raise NotImplementedError("sfc_tags.py cannot judge rule key '%s'" % key)
        if ok:
            return ("chain", rule["chain"]) if "chain" in rule else (rule["action"], None)
    if isinstance(default, dict):
        return ("chain", default["chain"])
    return (default, None)


def ground_truth(cap, expected_dir, tmp):
    """ndpiReader's flows for a capture: its shared CSV, or ndpiReader run now (generated
    traffic), keyed as flow records are."""
    path = os.path.join(expected_dir, os.path.basename(cap) + ".csv")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    else:
        sys.path.insert(0, os.path.dirname(expected_dir))
        import ndpi_truth
        table = ndpi_truth.proto_table("ndpiReader")
        rc, out, report = ndpi_truth.run_ndpireader("ndpiReader", cap)
        if rc != 0:
            raise RuntimeError("ndpiReader failed on %s: %s" % (cap, out[-300:]))
        rows = ndpi_truth.parse_report(report, table)
    by_key = collections.defaultdict(list)
    for row in rows:
        k = (row["l4_proto"], frozenset([(str(ipaddress.ip_address(row["src_ip"])), int(row["src_port"])),
                                         (str(ipaddress.ip_address(row["dst_ip"])), int(row["dst_port"]))]))
        by_key[(k, int(row["vlan"] or 0))].append(row)
    return by_key


def load_chains(path):
    """The demo's chains, read with a tiny YAML subset parser (flow mappings per line)."""
    chains, cur = {}, None
    with open(path) as f:
        in_chains = False
        for line in f:
            s = line.split("#")[0].rstrip()
            if not s:
                continue
            if not s.startswith(" "):
                in_chains = s.startswith("chains:")
                continue
            if not in_chains:
                continue
            s = s.strip()
            if s.startswith("- "):
                cur = {}
                s = s[2:]
            k, _, v = s.partition(":")
            cur[k.strip()] = v.strip()
            if "name" in cur:
                chains[cur["name"]] = cur
    return chains


def tshark_packets(path):
    out = subprocess.run(
        ["tshark", "-r", path, "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
         "-o", "ip.check_checksum:TRUE",
         "-T", "fields", "-E", "occurrence=a", "-E", "separator=\t", "-E", "aggregator=|"]
        + sum((["-e", f] for f in FIELDS), []),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=True).stdout
    pkts = []
    for line in out.splitlines():
        vals = line.split("\t")
        pkts.append({f: (vals[i].split("|") if i < len(vals) and vals[i] else [])
                     for i, f in enumerate(FIELDS)})
    return pkts


def flow_key_of_packet(p):
    """(l4, frozenset of endpoints) of the packet's flow, or None.

    The carrier is the first IP header, or the IPv6 one inside 6in4 (IPv4 protocol 41); later
    occurrences belong to packets quoted inside ICMP errors. Ports: the first TCP/UDP header.
    """
    if p["ip.src"] and p["ip.proto"][0] == "41" and p["ipv6.src"]:
        src, dst, proto = p["ipv6.src"][0], p["ipv6.dst"][0], p["ipv6.nxt"][0]
    elif p["ip.src"]:
        src, dst, proto = p["ip.src"][0], p["ip.dst"][0], p["ip.proto"][0]
    elif p["ipv6.src"]:
        src, dst, proto = p["ipv6.src"][0], p["ipv6.dst"][0], p["ipv6.nxt"][0]
    else:
        return None
    if proto not in L4:  # IPv6 extension headers first: the transport says which
        proto = "6" if p["tcp.srcport"] else "17" if p["udp.srcport"] else \
            "58" if p["icmpv6.type"] else proto
    l4 = L4.get(proto, proto)
    if l4 == "tcp" and p["tcp.srcport"]:
        sp, dp = p["tcp.srcport"][0], p["tcp.dstport"][0]
    elif l4 == "udp" and p["udp.srcport"]:
        sp, dp = p["udp.srcport"][0], p["udp.dstport"][0]
    elif l4 in ("tcp", "udp"):
        return None  # a later fragment: no ports, not a flow packet
    else:
        sp = dp = "0"
    return (l4, frozenset([(src, int(sp)), (dst, int(dp))]))


# What may follow the outer Ethernet header for flowtag to parse the frame; anything else
# (e.g. Cisco FabricPath, which tshark decodes down to an inner frame) is non-IP to flowtag:
# passed untagged, part of no flow.
PARSED_AFTER_ETHERNET = {"ip", "ipv6", "vlan", "mpls", "pppoes", "nsh"}


def fragment_of(p):
    """(datagram, is a later fragment) of a packet that is an IP fragment, else None. The
    datagram: the fragmented header's addresses and id."""
    if p["ipv6.fraghdr.ident"]:
        first = p["ipv6.fraghdr.offset"][:1] == ["0"]
        if first and p["ipv6.fraghdr.more"][:1] != ["1"]:
            return None  # an atomic fragment: a whole datagram
        return (p["ipv6.src"][0], p["ipv6.dst"][0], p["ipv6.fraghdr.ident"][0]), not first
    if p["ip.src"] and (p["ip.flags.mf"][:1] == ["1"] or p["ip.frag_offset"][:1] not in ([], ["0"])):
        return (p["ip.src"][0], p["ip.dst"][0], p["ip.id"][0]), p["ip.frag_offset"][:1] != ["0"]
    return None


def packets_by_flow(path):
    """A capture's packets per flow, in the order flowtag sends them: a later IP fragment
    belongs to the flow of its datagram's first fragment, and one that comes before that
    first leaves right after it (flowtag holds it for the first)."""
    by_key = collections.defaultdict(list)
    datagram_flow, waiting = {}, collections.defaultdict(list)
    for p in tshark_packets(path):
        layers = p["frame.protocols"][0].split(":") if p["frame.protocols"] else []
        after = layers[2] if layers[1:2] == ["ethertype"] else layers[1] if len(layers) > 1 else ""
        if layers[:1] == ["eth"] and after not in PARSED_AFTER_ETHERNET:
            continue
        frag = fragment_of(p)
        if frag is not None and frag[1]:
            if frag[0] in datagram_flow:
                by_key[datagram_flow[frag[0]]].append(p)
            else:
                waiting[frag[0]].append(p)
            continue
        k = flow_key_of_packet(p)
        if k is not None:
            by_key[k].append(p)
            if frag is not None:
                datagram_flow[frag[0]] = k
                by_key[k].extend(waiting.pop(frag[0], []))
    return by_key


def tag_overhead(chain, host):
    if chain["tag"] == "nsh":
        if chain.get("md_type", "1") == "1":
            return 14 + 24
        return 14 + 8 + 32 + ((4 + ((len(host or "") + 3) // 4) * 4) if host else 0)
    return 4 if chain["tag"] in ("vlan", "mpls") else 0


def check_tag(p, chain, rec, final, orig):
    """'' if packet p carries the chain's tag for record rec, else what is wrong. Before the
    verdict (final False) the context holds what was known then, so only the path (SPI, SI,
    MD type) and the flow's own fields (flow id, policy version) are fixed."""
    t = chain["tag"]
    if t == "nsh":
        if p["nsh.spi"][:1] != [chain["spi"]] or p["nsh.si"][:1] != ["255"]:
            return "NSH spi/si %s/%s, want %s/255" % (p["nsh.spi"], p["nsh.si"], chain["spi"])
        if p["nsh.mdtype"][:1] != [chain.get("md_type", "1")]:
            return "NSH MD type %s" % p["nsh.mdtype"]
        want = [rec["expect_c1"], rec["expect_c2"], rec["flow_id"], rec["expect_version"]]
        if chain.get("md_type", "1") == "1":
            got = [int(x, 16) for x in p["nsh.contextheader"][:4]]
        else:
            meta = dict(zip(p["nsh.metadatatype"], p["nsh.metadata"]))
            got = [int(meta.get(str(i), "0").replace(":", ""), 16) for i in (1, 2, 3, 4)]
        if not final:
            got, want = got[2:], want[2:]
        if got != want:
            return "NSH context %s, want %s" % (got, want)
        if chain.get("md_type", "1") == "2" and final:
            host = bytes.fromhex(meta.get("5", "").replace(":", "")).rstrip(b"\0").decode() \
                if "5" in meta else None
            if host != rec["expect_host"] and not (host is None and not rec["expect_host"]):
                return "NSH host TLV %r, want %r" % (host, rec["expect_host"])
    elif t == "vlan":
        if not p["vlan.id"] or p["vlan.id"][0] != chain["vid"]:
            return "VLAN %s, want %s" % (p["vlan.id"], chain["vid"])
    elif t == "mpls":
        label = str(int(chain["spi"]) << 8 | 255)
        if p["mpls.label"][:1] != [label] or p["mpls.ttl"][:1] != ["255"]:
            return "MPLS %s ttl %s, want %s ttl 255" % (p["mpls.label"], p["mpls.ttl"], label)
    elif t == "dscp":
        if p["ip.dsfield.dscp"]:
            if p["ip.dsfield.dscp"][0] != chain["dscp"]:
                return "DSCP %s, want %s" % (p["ip.dsfield.dscp"], chain["dscp"])
            # 0 bad, 1 good: the rewrite keeps a good checksum good (some captures come with
            # bad ones, from checksum offload; those stay as they were).
            if p["ip.checksum.status"][:1] != orig["ip.checksum.status"][:1]:
                return "IPv4 checksum status %s, was %s" % (p["ip.checksum.status"],
                                                            orig["ip.checksum.status"])
        elif p["ipv6.tclass.dscp"][:1] != [chain["dscp"]]:
            return "IPv6 DSCP %s, want %s" % (p["ipv6.tclass.dscp"], chain["dscp"])
    return ""


def untagged(p):
    return not p["nsh.spi"] and not p["mpls.label"] and p["eth.type"][:1] != ["0x8100"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flowtag", required=True)
    ap.add_argument("--pcaps", required=True)
    ap.add_argument("--config", required=True)
    a = ap.parse_args()
    if shutil.which("tshark") is None:
        print("SKIP: tshark is not installed")
        return 77
    chains = load_chains(a.config)
    policy = load_policy(a.config)
    expected_dir = os.path.join(a.pcaps, "expected")
    default = chains["default"]
    mtu = 9000
    max_frame = mtu + 14 + 4
    captures = sorted(os.path.join(a.pcaps, n) for n in os.listdir(a.pcaps)
                      if n.endswith((".pcap", ".pcapng")))
    stats = collections.Counter()
    per_chain = collections.Counter()
    failures = []
    with tempfile.TemporaryDirectory(prefix="flowtag-sfc-") as tmp:
        gen = os.path.join(tmp, "generated.pcap")
        w, _ = trafficgen.generate(120, "realistic", list(trafficgen.APPS), 10.0, seed=3)
        w.write(gen)
        for cap in [gen] + captures:
            out, flows = os.path.join(tmp, "out.pcap"), os.path.join(tmp, "flows.jsonl")
            r = subprocess.run([a.flowtag, "replay", "-c", a.config, "--flows", flows, "--out",
                                out, cap], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
            if r.returncode != 0:
                failures.append("%s: replay exited %d: %s" % (cap, r.returncode, r.stdout))
                continue
            with open(flows) as f:
                recs = [json.loads(line) for line in f]
            recs.sort(key=lambda x: (x["first_seen_ms"], x["flow_id"]))
            truth = ground_truth(cap, expected_dir, tmp)
            per_key = collections.Counter((record_key(r), r["vlan"] or 0) for r in recs)
            for rec in recs:
                rows = truth.get((record_key(rec), rec["vlan"] or 0), [])
                # Judged from ndpiReader's classification and the policy: the chain flowtag
                # chose and the ids it carries. A flow flowtag split in two (listed with its
                # reason in ndpi_expectations.txt) is judged by its records instead.
                if len(rows) == 1 and per_key[(record_key(rec), rec["vlan"] or 0)] == 1:
                    gt = rows[0]
                    ids = [int(x) for x in gt["ndpi_proto_id"].split(".")]
                    master, app = (ids[0], ids[1]) if len(ids) == 2 else (0, ids[0])
                    action, chain = decide(policy, gt)
                    rec["expect_c1"], rec["expect_c2"] = master << 16 | app, int(gt["category_id"])
                    rec["expect_host"] = gt["host"] if gt["app_proto"] != "SSH" else rec["host"]
                    stats["judged_by_truth"] += 1
                    if (rec["action"], rec["chain"]) != (action, chain):
                        failures.append("%s: %s %s:%s-%s:%s (%s): flowtag decided %s %s, the "
                                        "policy on ndpiReader's %s says %s %s" % (
                                            os.path.basename(cap), rec["l4"], rec["src_ip"],
                                            rec["src_port"], rec["dst_ip"], rec["dst_port"],
                                            rec["label"], rec["action"], rec["chain"],
                                            gt["ndpi_label"], action, chain))
                else:
                    rec["expect_c1"] = rec["master_protocol_id"] << 16 | rec["app_protocol_id"]
                    rec["expect_c2"], rec["expect_host"] = rec["category_id"], rec["host"]
                    stats["judged_by_record"] += 1
                rec["expect_version"] = policy[2]
            by_key = packets_by_flow(out)
            in_key = packets_by_flow(cap)
            cursor = collections.Counter()

            def vlan_of(p):
                return int(p["vlan.id"][0]) if p["vlan.id"] else 0

            def of_vlan(pkts, rec):
                """Flows differing only by VLAN are distinct: keep the record's VLAN (or
                its chain's VID, which replaces it once the flow is tagged)."""
                want = {rec["vlan"] or 0}
                if rec["action"] == "chain" and chains[rec["chain"]]["tag"] == "vlan":
                    want.add(int(chains[rec["chain"]]["vid"]))
                return [p for p in pkts if vlan_of(p) in want]
            name = os.path.basename(cap)
            for rec in recs:
                k = record_key(rec)
                pkts = of_vlan(by_key.get(k, []), rec)
                kv = (k, rec["vlan"] or 0)
                k_in = in_key.get(k, [])
                start, out_start = cursor[kv], cursor[("out",) + kv]
                n_in = rec["packets"] if rec["action"] != "drop" else rec["verdict_packet"] - 1
                theirs = [p for p in k_in if vlan_of(p) == (rec["vlan"] or 0)][start:start + n_in]
                # A packet whose tag would take it past the MTU is dropped (datapath.oversize:
                # drop, the default): it must not leave untagged, skipping its chain.
                expect_out = []
                for i, q in enumerate(theirs, 1):
                    chain_i = chains[rec["chain"]] if (i >= rec["verdict_packet"] and
                                                       rec["action"] == "chain") else default
                    tagged = not (rec["action"] == "pass" and i >= rec["verdict_packet"])
                    if tagged and int(q["frame.len"][0]) + tag_overhead(chain_i, rec["host"]) > max_frame:
                        stats["oversize_dropped"] += 1
                        continue
                    expect_out.append((i, q))
                mine = pkts[out_start:out_start + len(expect_out)]
                cursor[kv] += n_in
                cursor[("out",) + kv] += len(expect_out)
                stats["flows"] += 1
                if len(theirs) != n_in or len(mine) != len(expect_out):
                    failures.append("%s: %s %s:%s-%s:%s: %d packets out, want %d (of %d in)" % (
                        name, rec["l4"], rec["src_ip"], rec["src_port"], rec["dst_ip"],
                        rec["dst_port"], len(mine), len(expect_out), len(theirs)))
                    continue
                if rec["action"] == "drop":
                    stats["dropped_flows"] += 1
                    # Nothing after the verdict: the flow's packets stop there.
                    if len(pkts) > cursor[("out",) + kv] and all(
                            record_key(o) != k for o in recs
                            if o is not rec and o["first_seen_ms"] > rec["first_seen_ms"]):
                        failures.append("%s: dropped flow %s sent %d packets after its verdict"
                                        % (name, k, len(pkts) - cursor[("out",) + kv]))
                for p, (i, q) in zip(mine, expect_out):
                    after = i >= rec["verdict_packet"] and rec["action"] == "chain"
                    chain = chains[rec["chain"]] if after else default
                    if rec["action"] == "pass" and i >= rec["verdict_packet"]:
                        ok = untagged(p)
                        why = "" if ok else "tagged, but the flow passes untagged"
                    else:
                        why = check_tag(p, chain, rec, i >= rec["verdict_packet"], q)
                    stats["packets"] += 1
                    if after:
                        per_chain[rec["chain"]] += 1
                    if why:
                        failures.append("%s: %s %s:%s-%s:%s (%s, %s) packet %d of %d: %s" % (
                            name, rec["l4"], rec["src_ip"], rec["src_port"], rec["dst_ip"],
                            rec["dst_port"], rec["label"], rec["chain"], i, rec["packets"], why))
    print("flows checked: %d (%d dropped); packets checked: %d; oversize dropped: %d"
          % (stats["flows"], stats["dropped_flows"], stats["packets"], stats["oversize_dropped"]))
    print("decisions judged from ndpiReader's classification: %d flows; by flowtag's own "
          "records (split flows, no ground truth row): %d" % (stats["judged_by_truth"],
                                                              stats["judged_by_record"]))
    if stats["judged_by_truth"] < 0.99 * stats["flows"]:
        failures.append("only %d of %d flows judged from the ground truth"
                        % (stats["judged_by_truth"], stats["flows"]))
    for c in sorted(chains):
        print("  chain %-8s %-5s packets after the verdict: %d" % (c, chains[c]["tag"],
                                                                  per_chain[c]))
    for f in failures[:40]:
        print("FAIL " + f)
    if len(failures) > 40:
        print("... and %d more" % (len(failures) - 40))
    missing = [c for c in chains if per_chain[c] == 0]
    if missing:
        print("FAIL: no packet reached chain(s) %s" % missing)
    ok = not failures and not missing
    print("%d passed, %d failed" % (stats["flows"] - len(failures), len(failures)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
