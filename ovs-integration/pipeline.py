#!/usr/bin/python3
"""The service function forwarder pipeline OVS runs around flowtag, derived from its config.

Pure: chains and port numbers in, OpenFlow 1.3 flows (ovs-ofctl syntax) out.

table 0  steering
  access port                    -> flowtag (with offload: -> table 5 first)
  from flowtag, chain's tag      -> the chain's first service function
  from hop k, chain's tag        -> hop k+1 (NSH: SI 255-k, the SF decremented it; MPLS: the
                                    label's SI byte likewise)
  from the last hop              -> tag removed (NSH decap x2, pop_vlan, pop_mpls; DSCP stays),
                                    reg1 = chain number, on to table 1
  from flowtag, untagged         -> egress (flows the policy passes, non-IP, ...)
  anything else                  -> drop (counted by the rule)
table 1  chain end: each chain's packets leave by the egress port; TCP/UDP flows are learnt
         into table 20 + chain number (one entry per direction), so OVS itself can say which
         flows took which chain.
table 5  offload (only with offload on): flowtag installs two exact-match rules per decided
         flow here (its own cookie, priority 1000): they push the flow's tag and resubmit the
         packet to table 0 as if flowtag had sent it. What none of them matches goes on to
         flowtag (priority 0). A full replace-flows deletes flowtag's rules too: their flows
         come back through flowtag and are offloaded again.
"""

OFFLOAD_TABLE = 5


def offload_section(rundir, bridge, ports, instance=0):
    """The `offload:` section of flowtag instance `instance`'s config for this pipeline."""
    vnfs = ports["vnf"] if isinstance(ports["vnf"], list) else [ports["vnf"]]
    return ("offload: {switch: \"unix:%s\", table: %d, in_port: %d, resubmit_port: %d, "
            "resubmit_table: 0, instance: %d}\n" % (
                os.path.join(rundir, bridge + ".mgmt"), OFFLOAD_TABLE, ports["access"],
                vnfs[instance], instance))

import os

import yaml

NSH_SI_CLASSIFIER = 255
COOKIE_CHAIN_END = 0x100  # + chain number: the rule whose packet count is the chain's
LEARN_TABLE = 20  # + chain number


def load_chains(config_path):
    """Chains of a flowtag config: [{name, tag, spi, vid, dscp, md_type, hops}, ...]."""
    with open(config_path) as f:
        cfg = yaml.safe_load(f) or {}
    chains = []
    for c in cfg.get("chains") or []:
        chains.append({
            "name": c["name"], "tag": c["tag"], "spi": int(c.get("spi", 0)),
            "vid": int(c.get("vid", 0)), "dscp": int(c.get("dscp", 0)),
            "md_type": int(c.get("md_type", 1)), "hops": int(c.get("hops", 1)),
        })
    return chains


def sf_port_names(chains):
    """OVS port names of the service functions, in chain order: sf-<chain>-<hop>."""
    return [("sf-%s-%d" % (c["name"], k), c["name"], k) for c in chains
            for k in range(1, c["hops"] + 1)]


def tag_matches(chain, hop_done):
    """Match(es) for a packet of `chain` after `hop_done` service functions (0 = from flowtag)."""
    t = chain["tag"]
    if t == "nsh":
        return ["dl_type=0x894f,nsh_spi=%d,nsh_si=%d" % (chain["spi"],
                                                         NSH_SI_CLASSIFIER - hop_done)]
    if t == "vlan":
        return ["dl_vlan=%d" % chain["vid"]]
    if t == "mpls":
        return ["mpls,mpls_label=%d" % (chain["spi"] << 8 | (NSH_SI_CLASSIFIER - hop_done))]
    if t == "dscp":
        return ["ip,ip_dscp=%d" % chain["dscp"], "ipv6,ip_dscp=%d" % chain["dscp"]]
    raise ValueError("chain %s: unknown tag %s" % (chain["name"], t))


def strip_actions(chain):
    t = chain["tag"]
    if t == "nsh":
        return "decap(),decap()"  # outer Ethernet, then NSH: the original frame remains
    if t == "vlan":
        return "pop_vlan"
    if t == "mpls":
        return "pop_mpls:0x0800"  # networking-sfc's choice: MPLS chains carry IPv4
    return ""  # DSCP: the mark stays, nothing to remove


SCALE_OUT_GROUP = 1


def groups(ports):
    """Several flowtag instances: one select group over them. OVS's default select method
    (dp_hash with OVS_HASH_L4_SYMMETRIC) gives both directions of a flow the same bucket, so
    each flow is classified whole by one instance."""
    vnfs = ports["vnf"] if isinstance(ports["vnf"], list) else [ports["vnf"]]
    if len(vnfs) < 2:
        return []
    return ["group_id=%d,type=select,%s" % (SCALE_OUT_GROUP, ",".join(
        "bucket=output:%d" % v for v in vnfs))]


def flows(chains, ports, offload=False):
    """ports: {"access": n, "vnf": n or [n, ...], "egress": n, "sf": {(chain, hop): n}}.
    offload: access traffic meets flowtag's offload rules (table 5) before flowtag."""
    vnfs = ports["vnf"] if isinstance(ports["vnf"], list) else [ports["vnf"]]
    to_vnf = "output:%d" % vnfs[0] if len(vnfs) == 1 else "group:%d" % SCALE_OUT_GROUP
    if offload:
        out = ["table=0,priority=100,in_port=%d,actions=goto_table:%d" % (ports["access"],
                                                                          OFFLOAD_TABLE),
               "table=%d,priority=0,actions=%s" % (OFFLOAD_TABLE, to_vnf)]
    else:
        out = ["table=0,priority=100,in_port=%d,actions=%s" % (ports["access"], to_vnf)]
    for i, c in enumerate(chains):
        num = i + 1
        first = ports["sf"][(c["name"], 1)]
        for v in vnfs:
            for m in tag_matches(c, 0):
                out.append("table=0,priority=200,in_port=%d,%s,actions=output:%d" % (v, m, first))
        for k in range(1, c["hops"] + 1):
            here = ports["sf"][(c["name"], k)]
            for m in tag_matches(c, k):
                if k < c["hops"]:
                    act = "output:%d" % ports["sf"][(c["name"], k + 1)]
                else:
                    strip = strip_actions(c)
                    act = (strip + "," if strip else "") + \
                        "load:%d->NXM_NX_REG1[],resubmit(,1)" % num
                out.append("table=0,priority=200,cookie=%#x,in_port=%d,%s,actions=%s"
                           % (COOKIE_CHAIN_END + num if k == c["hops"] else 0, here, m, act))
        learn = LEARN_TABLE + num
        for proto, l4 in (("tcp", "TCP"), ("udp", "UDP")):
            out.append("table=1,priority=100,reg1=%d,%s,actions=learn(table=%d,"
                       "idle_timeout=3600,eth_type=0x800,nw_proto=%d,NXM_OF_IP_SRC[],"
                       "NXM_OF_IP_DST[],NXM_OF_%s_SRC[],NXM_OF_%s_DST[]),output:%d"
                       % (num, proto, learn, 6 if proto == "tcp" else 17, l4, l4,
                          ports["egress"]))
            out.append("table=1,priority=100,reg1=%d,%s6,actions=learn(table=%d,"
                       "idle_timeout=3600,eth_type=0x86dd,nw_proto=%d,NXM_NX_IPV6_SRC[],"
                       "NXM_NX_IPV6_DST[],NXM_OF_%s_SRC[],NXM_OF_%s_DST[]),output:%d"
                       % (num, proto, learn, 6 if proto == "tcp" else 17, l4, l4,
                          ports["egress"]))
        out.append("table=1,priority=50,reg1=%d,actions=output:%d" % (num, ports["egress"]))
    for v in vnfs:
        out.append("table=0,priority=10,in_port=%d,actions=output:%d" % (v, ports["egress"]))
    out.append("table=0,priority=0,actions=drop")
    return out


def main():
    import argparse

    ap = argparse.ArgumentParser(
        description="Print the OVS pipeline for a flowtag config (ovs-ofctl replace-flows "
                    "input). Service-function ports are numbered from --sf-base in the order "
                    "of sf_port_names(): sf-<chain>-<hop>, chains in config order.")
    ap.add_argument("--config", required=True)
    ap.add_argument("--access", type=int, default=1)
    ap.add_argument("--vnf", type=int, default=2)
    ap.add_argument("--egress", type=int, default=3)
    ap.add_argument("--sf-base", type=int, default=10)
    ap.add_argument("--vnf-extra", type=int, nargs="*", default=[],
                    help="ports of more flowtag instances: a select group spreads flows")
    ap.add_argument("--offload", action="store_true",
                    help="leave table 5 to flowtag's offload rules (see offload_section)")
    a = ap.parse_args()
    chains = load_chains(a.config)
    names = sf_port_names(chains)
    ports = {"access": a.access, "vnf": [a.vnf] + a.vnf_extra if a.vnf_extra else a.vnf,
             "egress": a.egress,
             "sf": {(chain, hop): a.sf_base + i for i, (_, chain, hop) in enumerate(names)}}
    for i, (name, _, _) in enumerate(names):
        print("# port %d: %s" % (a.sf_base + i, name))
    for g in groups(ports):
        print("# group (ovs-ofctl -O OpenFlow13 add-group BRIDGE '%s')" % g)
    print("\n".join(flows(chains, ports, offload=a.offload)))


if __name__ == "__main__":
    main()
