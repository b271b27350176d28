#!/usr/bin/python3
"""flowtag's local testbed: OVS-DPDK + flowtag + dummy service functions + generated traffic.

  access veth (traffic generator, in its own network namespace)
      -> OVS bridge (netdev datapath, private ovs-vswitchd-dpdk) -> flowtag (vhost-user)
      -> OVS steers each tagged packet through its chain's service functions (vhost-user,
         `flowtag sf`), removes the tag at the chain's end -> egress port (a pcap capture)

Everything lives in a run directory of its own and is torn down at the end (processes, sockets,
namespace, veth; DPDK runs --in-memory, so no hugepage files). Live counters are printed while
it runs: per chain and at egress as OVS counts them, per application as flowtag classified the
flows finished so far.

  testbed.py --flowtag BUILD/vnf/flowtag [--config sfc-demo.yaml] [--duration S]
             [--summary-json FILE] [--rate PPS] [--flows N] [--egress-pcap FILE] [--keep]
             [--offload] [--mix realistic|long|short] [--ipfix udp://HOST:PORT]
             [--ovs-db SOCK [--ovs-rundir DIR]]     (attach to an OVS you already run)

--offload: flowtag installs each decided flow's rules in OVS (table 5, over OpenFlow on the
bridge's management socket) and OVS carries the rest of the flow itself; the view then shows
how many flows OVS carries and the share of packets that still reached flowtag.

--ipfix: flowtag also exports its flow records over IPFIX to that collector (e.g. nfcapd:
`nfcapd -b 127.0.0.1 -p 4739 -w DIR`, then `nfdump -R DIR -o "fmt:%ts %sa %da %nbid %ibyt %obyt"`);
instance i uses observation domain i. The view shows what left for the collector.

Without --duration it runs until Ctrl-C. The summary:
  {"chains": {NAME: {"packets": N, "flows": N}}, "egress": {"packets": N},
   "apps": {APP: {"packets": N, "flows": N}},
   "offload": {"flows_offloaded": N, "installed": N, "switch_packets": N,
               "flowtag_rx_packets": N, "access_packets": N, "flowtag_share": F},   (--offload)
   "ipfix": {"records": N, "not_exported": N, "messages": N}}                  (--ipfix)
chains: packets = the chain's last-hop rule counter; flows = distinct two-way TCP/UDP flows OVS
learnt at that hop (before its verdict a flow's packets take the default chain, so it counts
there too); egress = packets the egress port sent; apps = flowtag's flow records.
"""

import argparse
import collections
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ovs as ovslib  # noqa: E402
import pipeline  # noqa: E402

BRIDGE = "br-ft"
PORT_ACCESS, PORT_VNF, PORT_EGRESS, PORT_VNF_EXTRA, PORT_SF_BASE = 1, 2, 3, 4, 10


def _free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Testbed:
    """instances: flowtag instances behind one select group (scale-out).
    image: run flowtag from this container image (podman) instead of the host binary; the
    service functions still run on the host."""

    def __init__(self, flowtag, config, rate=2000, flows_per_pass=100, rundir=None,
                 db_sock=None, ovs_rundir=None, log=print, instances=1, image=None,
                 offload=False, ipfix=None):
        self.flowtag = os.path.abspath(flowtag)
        self.config = os.path.abspath(config)
        self.rate, self.flows_per_pass = rate, flows_per_pass
        self.id = secrets.token_hex(3)
        self.dir = rundir or tempfile.mkdtemp(prefix="flowtag-testbed-")
        self.log = log
        self.chains = pipeline.load_chains(self.config)
        self.sf_ports = pipeline.sf_port_names(self.chains)
        self.ovs = ovslib.OVS(ovs_rundir or os.path.join(self.dir, "ovs"), "ftb-ovs-" + self.id,
                              db_sock=db_sock)
        self.netns = "ftb-" + self.id
        self.veth = "ftb%sa" % self.id  # OVS side; the peer ("...p") is in the namespace
        self.procs = {}
        self.traffic = None
        self.egress_pcap = os.path.join(self.dir, "egress.pcap")
        self.egress_generation = 0
        self.api_port = _free_port()
        self.instances = instances
        self.image = image
        self.vnfs = ["vnf%d" % i for i in range(instances)]
        self.vnf_ports = [PORT_VNF] + [PORT_VNF_EXTRA + i for i in range(instances - 1)]
        self.records = os.path.join(self.dir, "flows.jsonl")  # instance 0's
        if offload and image:
            raise RuntimeError("--offload runs flowtag from the host binary (the container "
                               "would need the bridge's management socket mounted)")
        self.offload = offload
        self.ipfix = ipfix

    # ---- configs for flowtag and the service functions ----

    def records_of(self, i):
        return self.records if i == 0 else os.path.join(self.dir, "flows%d.jsonl" % i)

    def _write_configs(self):
        with open(self.config) as f:
            policy_text = f.read()
        # The policy for the container (its entrypoint adds ports, prefix, API, records).
        with open(os.path.join(self.dir, "policy.yaml"), "w") as f:
            f.write(policy_text)
            # The vhost-user ports' MTU (ovs.VHOST_MTU): a larger tagged frame is counted.
            f.write("\ndatapath: {mtu: %d}\n" % ovslib.VHOST_MTU)
            if self.ipfix:
                f.write(self.ipfix_section(0))
        for i, vnf in enumerate(self.vnfs):
            with open(os.path.join(self.dir, "flowtag%d.yaml" % i), "w") as f:
                f.write(policy_text)
                f.write("\n# -- the testbed's own settings --\n")
                f.write("eal: {lcores: \"0,1\", memory_mb: 256, file_prefix: ftb-ft-%s-%d}\n"
                        % (self.id, i))
                f.write("ports:\n  - name: %s\n    vdev: \"net_virtio_user%d,path=%s,server=1,"
                        "queues=1,queue_size=1024\"\n" % (vnf, i, self.sock(vnf)))
                f.write("records: {path: %s}\n" % self.records_of(i))
                f.write("api: {listen: \"127.0.0.1:%d\", token_file: %s}\n"
                        % (self.api_port + i, self.token_of(i)))
                f.write("datapath: {mtu: %d}\n" % ovslib.VHOST_MTU)
                if self.offload:
                    f.write(pipeline.offload_section(self.ovs.rundir, BRIDGE, {
                        "access": PORT_ACCESS, "vnf": self.vnf_ports}, i))
                if self.ipfix:
                    f.write(self.ipfix_section(i))
        with open(os.path.join(self.dir, "sf.yaml"), "w") as f:
            f.write("eal: {lcores: \"0,1\", memory_mb: 256, file_prefix: ftb-sf-%s}\n" % self.id)
            # Six ports with 1024-descriptor rings: enough mbufs to keep every ring filled.
            f.write("datapath: {mbufs: 32767}\n")
            f.write("ports:\n")
            for i, (name, _, _) in enumerate(self.sf_ports):
                f.write("  - name: %s\n    vdev: \"net_virtio_user%d,path=%s,server=1,queues=1,"
                        "queue_size=1024\"\n" % (name, i, self.sock(name)))
        with open(os.path.join(self.dir, "empty.pcap"), "wb") as f:
            f.write(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))

    def ipfix_section(self, i):
        # Interim records every minute: a demo's long flows show up while they last.
        return ("export:\n  ipfix:\n    collector: \"%s\"\n    observation_domain: %d\n"
                "    active_timeout: 60\n" % (self.ipfix, i))

    def ipfix_counts(self):
        """What left for the IPFIX collector (live, from the API); None without --ipfix."""
        if not self.ipfix:
            return None
        out = {"records": 0, "not_exported": 0, "messages": 0}
        for i in range(self.instances):
            st = self.api("/v1/stats", i)
            if not st or not st.get("ipfix"):
                return None
            x = st["ipfix"]
            out["records"] += x["records"] - x["records_not_exported"]
            out["not_exported"] += x["records_not_exported"]
            out["messages"] += x["messages"]
        return out

    def sock(self, name):
        return os.path.join(self.dir, name + ".sock")

    def token_of(self, i):
        """Where flowtag instance i writes its API token (a container sees this directory as
        /run/flowtag)."""
        return os.path.join(self.dir, "api.token" if i == 0 else "api%d.token" % i)

    def _spawn(self, name, args):
        out = open(os.path.join(self.dir, name + ".log"), "w")
        self.procs[name] = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)

    def _wait_sockets(self, names, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if all(os.path.exists(self.sock(n)) for n in names):
                return
            for pname, p in self.procs.items():
                if p.poll() is not None:
                    raise RuntimeError("%s exited early; see %s" % (
                        pname, os.path.join(self.dir, pname + ".log")))
            time.sleep(0.1)
        raise RuntimeError("vhost-user sockets did not appear: %s" % names)

    def container_name(self, i):
        return "ftb-%s-vnf%d" % (self.id, i)

    def start_flowtag(self, connect=True, i=0):
        vnf = self.vnfs[i]
        name = "flowtag" if i == 0 else "flowtag%d" % i
        if self.image:
            # The socket directory is shared with OVS; hugepages come from the host.
            self._spawn(name, ["podman", "run", "--rm", "--name", self.container_name(i),
                               "--network=host", "--cap-add=IPC_LOCK", "--cap-add=SYS_NICE",
                               "-v", "/dev/hugepages:/dev/hugepages",
                               "-v", "%s:/run/flowtag" % self.dir,
                               "-v", "%s:/etc/flowtag/flowtag.yaml:ro" % os.path.join(
                                   self.dir, "policy.yaml"),
                               "-e", "FLOWTAG_SOCKET=/run/flowtag/%s.sock" % vnf,
                               "-e", "FLOWTAG_FILE_PREFIX=ftb-ft-%s-%d" % (self.id, i),
                               "-e", "FLOWTAG_API=127.0.0.1:%d" % (self.api_port + i),
                               "-e", "FLOWTAG_TOKEN_FILE=/run/flowtag/%s" % os.path.basename(
                                   self.token_of(i)),
                               "-e", "FLOWTAG_RECORDS=/run/flowtag/%s" % os.path.basename(
                                   self.records_of(i)),
                               "-e", "FLOWTAG_MEMORY_MB=256", self.image, "run"])
        else:
            self._spawn(name, [self.flowtag, "run", "-c",
                               os.path.join(self.dir, "flowtag%d.yaml" % i)])
        self._wait_sockets([vnf], timeout=120 if self.image else 30)
        if connect:
            self.ovs.add_vhost_client(BRIDGE, vnf, self.vnf_ports[i], self.sock(vnf))

    def stop_flowtag(self, sig=signal.SIGTERM, i=0):
        name = "flowtag" if i == 0 else "flowtag%d" % i
        p = self.procs.pop(name, None)
        if p is None:
            return None
        if self.image:
            # podman stop sends SIGTERM to flowtag (the entrypoint execs it).
            subprocess.run(["podman", "stop", "-t", "30", self.container_name(i)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        else:
            p.send_signal(sig)
        try:
            return p.wait(timeout=40)
        except subprocess.TimeoutExpired:
            p.kill()
            return p.wait()

    # ---- bring-up and teardown ----

    def up(self):
        os.makedirs(self.dir, exist_ok=True)
        self._write_configs()
        self.log("testbed: run directory %s; flowtag's API: http://127.0.0.1:%d/v1/ "
                 "(vnf/ctl/flowtagctl --url http://127.0.0.1:%d top; changes need "
                 "--token-file %s)" % (self.dir, self.api_port, self.api_port, self.token_of(0)))
        self.log("testbed: flowtag's live web view: http://127.0.0.1:%d/ (from another "
                 "machine: ssh -L %d:127.0.0.1:%d, then the same address; the page asks for "
                 "the token in %s only if api.auth says so)"
                 % (self.api_port, self.api_port, self.api_port, self.token_of(0)))
        # The container runs as an unprivileged user: it must create its socket here too.
        os.chmod(self.dir, 0o1777 if self.image else 0o755)
        self.ovs.start()
        self.ovs.add_bridge(BRIDGE)
        # A DPDK virtio-user server waits in its probe for the client: OVS connects to each
        # socket as it appears, then the process goes on to its next port.
        for i in range(self.instances):
            self.start_flowtag(i=i)
        self._spawn("sf", [self.flowtag, "sf", "-c", os.path.join(self.dir, "sf.yaml")])
        ports = {"access": PORT_ACCESS, "vnf": self.vnf_ports if self.instances > 1 else PORT_VNF,
                 "egress": PORT_EGRESS, "sf": {}}
        for i, (name, chain, hop) in enumerate(self.sf_ports):
            self._wait_sockets([name])
            self.ovs.add_vhost_client(BRIDGE, name, PORT_SF_BASE + i, self.sock(name))
            ports["sf"][(chain, hop)] = PORT_SF_BASE + i
        self._add_egress()
        self.flows = pipeline.flows(self.chains, ports, offload=self.offload)
        self.groups = pipeline.groups(ports)
        self.ovs.replace_groups(BRIDGE, self.groups)
        self.ovs.replace_flows(BRIDGE, self.flows)
        # The access port last: packets arriving before the pipeline is in place are lost.
        subprocess.run(["ip", "netns", "add", self.netns], check=True)
        subprocess.run(["ip", "link", "add", self.veth, "type", "veth", "peer", "name",
                        self.veth[:-1] + "p", "netns", self.netns], check=True)
        subprocess.run(["ip", "link", "set", self.veth, "up"], check=True)
        subprocess.run(["ip", "-n", self.netns, "link", "set", self.veth[:-1] + "p", "up"],
                       check=True)
        self.ovs.add_port(BRIDGE, self.veth, PORT_ACCESS)
        self.wait_connected()

    def wait_connected(self, timeout=30):
        """Until every vhost-user port is up (both sides of each socket connected)."""
        names = self.vnfs + [n for n, _, _ in self.sf_ports]
        deadline = time.time() + timeout
        while time.time() < deadline:
            states = [self.ovs.vsctl("get", "Interface", n, "link_state", check=False).strip()
                      for n in names]
            if all(s == "up" for s in states):
                return
            time.sleep(0.2)
        raise RuntimeError("vhost-user ports not up after %d s: %s" % (timeout, dict(
            zip(names, states))))

    def start_traffic(self, duration, flows=None, apps=None, mix="realistic", seed=1,
                      manifest=None):
        args = ["ip", "netns", "exec", self.netns, sys.executable,
                os.path.join(HERE, "trafficgen.py"), "--feed", self.veth[:-1] + "p",
                "--rate", str(self.rate), "--duration", str(duration), "--flows",
                str(flows or self.flows_per_pass), "--mix", mix, "--seed", str(seed)]
        if apps:
            args += ["--apps", ",".join(apps)]
        if manifest:
            args += ["--manifest", manifest]
        out = open(os.path.join(self.dir, "trafficgen.log"), "w")
        self.traffic = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)

    def stop_traffic(self):
        if self.traffic is not None:
            if self.traffic.poll() is None:
                self.traffic.send_signal(signal.SIGTERM)
            try:
                self.traffic.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.traffic.kill()
            self.traffic = None

    def down(self, keep=False):
        self.stop_traffic()
        for i in range(self.instances):
            if self.image and ("flowtag" if i == 0 else "flowtag%d" % i) in self.procs:
                self.stop_flowtag(i=i)
        for name in list(self.procs):
            p = self.procs.pop(name)
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
        self.ovs.stop()
        ovslib.remove_dpdk_runtime_dir("ftb-sf-" + self.id)
        for i in range(self.instances):
            ovslib.remove_dpdk_runtime_dir("ftb-ft-%s-%d" % (self.id, i))
        subprocess.run(["ip", "link", "del", self.veth], stderr=subprocess.DEVNULL)
        subprocess.run(["ip", "netns", "del", self.netns], stderr=subprocess.DEVNULL)
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    # ---- counters ----

    def chain_counts(self):
        """{chain: {"packets": N, "flows": N}} as OVS counted them at each chain's last hop."""
        out = {}
        for i, c in enumerate(self.chains):
            num = i + 1
            rules = self.ovs.dump_flows(BRIDGE, "cookie=%#x/-1" % (
                pipeline.COOKIE_CHAIN_END + num))
            packets = sum(ovslib.flow_packets(r) for r in rules)
            out[c["name"]] = {"packets": packets, "flows": len(self.chain_flows(num))}
        return out

    def chain_flows(self, num):
        """Two-way flows OVS learnt at chain `num`'s end: {(l4, frozenset(endpoints))}."""
        flows = set()
        for line in self.ovs.dump_flows(BRIDGE, "table=%d" % (pipeline.LEARN_TABLE + num)):
            f = dict(kv.split("=", 1) for kv in line.replace(" actions=", ",").split(",")
                     if "=" in kv and kv.split("=", 1)[0] in (
                         "nw_src", "nw_dst", "ipv6_src", "ipv6_dst", "tp_src", "tp_dst",
                         "nw_proto"))
            src = f.get("nw_src") or f.get("ipv6_src")
            dst = f.get("nw_dst") or f.get("ipv6_dst")
            l4 = "tcp" if " tcp" in " " + line or "nw_proto=6" in line else "udp"
            if src and dst:
                flows.add((l4, frozenset([(src, int(f.get("tp_src", 0))),
                                          (dst, int(f.get("tp_dst", 0)))])))
        return flows

    def _add_egress(self):
        self.ovs.add_port(BRIDGE, "egress", PORT_EGRESS, "dpdk", {
            "dpdk-devargs": "net_pcap_ftb%s%d,rx_pcap=%s,tx_pcap=%s" % (
                self.id, self.egress_generation, os.path.join(self.dir, "empty.pcap"),
                self.egress_pcap)})

    def egress_packets(self):
        return self.ovs.port_stats(BRIDGE).get(PORT_EGRESS, {}).get("tx", 0)

    def close_egress(self):
        """Detach the egress port, so that net_pcap writes out what it buffered, and attach
        a fresh one writing to a new file. Returns (the closed capture, the packets OVS
        counted on the port before it went)."""
        counted = self.egress_packets()
        closed = self.egress_pcap
        self.ovs.vsctl("del-port", BRIDGE, "egress")
        self.egress_generation += 1
        self.egress_pcap = os.path.join(self.dir, "egress-%d.pcap" % self.egress_generation)
        self._add_egress()
        self.ovs.replace_flows(BRIDGE, self.flows)
        return closed, counted

    def api(self, path, i=0):
        """GET an API path of flowtag instance i (JSON), or None when it does not answer."""
        import urllib.request
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.api_port + i, path),
                                        timeout=5) as r:
                return json.loads(r.read())
        except (OSError, ValueError):
            return None

    def offload_counts(self):
        """What OVS carried for flowtag and what still reached flowtag (live, from the
        API): None without --offload or when flowtag does not answer."""
        if not self.offload:
            return None
        out = {"flows_offloaded": 0, "installed": 0, "switch_packets": 0,
               "flowtag_rx_packets": 0}
        for i in range(self.instances):
            st = self.api("/v1/stats", i)
            if not st or not st.get("offload"):
                return None
            o = st["offload"]
            out["flows_offloaded"] += o["flows_offloaded"]
            out["installed"] += o["installed"]
            out["switch_packets"] += o["switch_packets"] + o["live_packets"]
            out["flowtag_rx_packets"] += sum(p["rx_packets"] for p in st["ports"])
        out["access_packets"] = self.ovs.port_stats(BRIDGE).get(PORT_ACCESS, {}).get("rx", 0)
        out["flowtag_share"] = (out["flowtag_rx_packets"] / out["access_packets"]
                                if out["access_packets"] else 0.0)
        return out

    def app_counts(self):
        apps = collections.defaultdict(lambda: {"packets": 0, "flows": 0})
        for i in range(self.instances):
            if not os.path.exists(self.records_of(i)):
                continue
            with open(self.records_of(i)) as f:
                for line in f:
                    try:
                        r = json.loads(line)
                    except ValueError:
                        continue  # a line being written right now
                    apps[r["label"]]["packets"] += r["packets"]
                    apps[r["label"]]["flows"] += 1
        return dict(apps)

    def records_list(self, i=0):
        with open(self.records_of(i)) as f:
            return [json.loads(line) for line in f if line.strip()]


def show(tb, elapsed, final=False):
    chains, egress, apps = tb.chain_counts(), tb.egress_packets(), tb.app_counts()
    lines = ["", "flowtag testbed  %5.0f s  %s" % (elapsed, "(final)" if final else ""),
             "%-12s %10s %8s   (OVS, at each chain's last hop)" % ("chain", "packets", "flows")]
    for name, c in chains.items():
        lines.append("%-12s %10d %8d" % (name, c["packets"], c["flows"]))
    lines.append("%-12s %10d" % ("egress", egress))
    off = tb.offload_counts()
    if off is not None:
        lines.append("offload: %d flows in OVS now (%d offloaded so far), OVS carried %d "
                     "packets itself; %.1f%% of the access port's packets reached flowtag" % (
                         off["flows_offloaded"], off["installed"], off["switch_packets"],
                         100.0 * off["flowtag_share"]))
    ipfix = tb.ipfix_counts()
    if ipfix is not None:
        lines.append("ipfix: %d records to %s in %d messages, %d not exported" % (
            ipfix["records"], tb.ipfix, ipfix["messages"], ipfix["not_exported"]))
    lines.append("%-24s %10s %8s   (flowtag, finished flows)" % ("application", "packets",
                                                                  "flows"))
    for label, c in sorted(apps.items(), key=lambda kv: -kv[1]["packets"])[:16]:
        lines.append("%-24s %10d %8d" % (label, c["packets"], c["flows"]))
    if sys.stdout.isatty() and not final:
        sys.stdout.write("\033[H\033[J")
    print("\n".join(lines), flush=True)
    return chains, egress


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--flowtag", required=True)
    ap.add_argument("--config", default=os.path.join(HERE, "../config/examples/sfc-demo.yaml"))
    ap.add_argument("--duration", type=float, default=0, help="seconds (default: until Ctrl-C)")
    ap.add_argument("--summary-json", metavar="FILE")
    ap.add_argument("--rate", type=float, default=2000, help="packets per second (2000)")
    ap.add_argument("--flows", type=int, default=100, help="sessions per traffic pass (100)")
    ap.add_argument("--egress-pcap", metavar="FILE", help="keep the egress capture here")
    ap.add_argument("--keep", action="store_true", help="keep the run directory")
    ap.add_argument("--instances", type=int, default=1,
                    help="flowtag instances behind one select group (scale-out)")
    ap.add_argument("--image", help="run flowtag from this container image (podman)")
    ap.add_argument("--offload", action="store_true",
                    help="OVS carries each flow itself once flowtag decided it (OpenFlow)")
    ap.add_argument("--ipfix", metavar="URL",
                    help="also export flow records over IPFIX (udp://HOST:PORT or tcp://...)")
    ap.add_argument("--mix", choices=("realistic", "long", "short"), default="realistic",
                    help="the generator's traffic mix (long: long-lived flows)")
    ap.add_argument("--ovs-db", metavar="SOCK",
                    help="attach to this running OVS (its ovsdb socket) instead of starting one")
    ap.add_argument("--ovs-rundir", metavar="DIR", default="/var/run/openvswitch",
                    help="with --ovs-db: where its bridges' OpenFlow sockets are")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("testbed: needs root (hugepages, OVS-DPDK, network namespaces)", file=sys.stderr)
        return 1

    stop = {"now": False}
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    tb = Testbed(a.flowtag, a.config, rate=a.rate, flows_per_pass=a.flows, db_sock=a.ovs_db,
                 ovs_rundir=a.ovs_rundir if a.ovs_db else None, instances=a.instances,
                 image=a.image, offload=a.offload, ipfix=a.ipfix)
    try:
        tb.up()
        tb.start_traffic(a.duration, mix=a.mix)
        t0 = time.time()
        while not stop["now"] and (a.duration == 0 or time.time() - t0 < a.duration):
            time.sleep(min(2.0, max(0.1, a.duration - (time.time() - t0))) if a.duration
                       else 2.0)
            show(tb, time.time() - t0)
        tb.stop_traffic()
        time.sleep(1.0)  # what is in flight reaches the egress
        chains, egress = tb.chain_counts(), tb.egress_packets()
        offload = tb.offload_counts()
        rc = 0
        ipfix = tb.ipfix_counts()  # (the final records go at the stop; the log counts them)
        for i in range(tb.instances):
            rc = rc or tb.stop_flowtag(i=i)  # SIGTERM: every flow's record is written
        apps = tb.app_counts()
        show(tb, time.time() - t0, final=True)
        if a.egress_pcap:
            shutil.copy(tb.egress_pcap, a.egress_pcap)
        if a.summary_json:
            with open(a.summary_json, "w") as f:
                summary = {"chains": chains, "egress": {"packets": egress}, "apps": apps}
                if offload is not None:
                    summary["offload"] = offload
                if ipfix is not None:
                    summary["ipfix"] = ipfix
                json.dump(summary, f, indent=2, sort_keys=True)
        if rc != 0:
            print("testbed: flowtag exited %s; see its log" % rc, file=sys.stderr)
            return 1
        return 0
    except (RuntimeError, ovslib.OVSError, subprocess.CalledProcessError) as e:
        print("testbed: %s" % e, file=sys.stderr)
        return 1
    finally:
        tb.down(keep=a.keep)


if __name__ == "__main__":
    sys.exit(main())
