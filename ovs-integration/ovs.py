#!/usr/bin/python3
"""Open vSwitch for flowtag: a private OVS-DPDK instance in a run directory, or an existing one.

Private: ovsdb-server and ovs-vswitchd-dpdk (userspace datapath, no kernel module) with their
database, sockets, logs and pid files all under the run directory, DPDK with --no-pci,
--in-memory and a unique file prefix, PMD threads on the given cores with an idle sleep so a
lab laptop is not burned. stop() leaves nothing behind.

Existing: given its database socket (and run directory, for the bridges' OpenFlow sockets),
only bridges and flows are managed; the processes are the user's.
"""

import os
import shutil
import signal
import subprocess
import time

VSWITCHD = "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk"
SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
VHOST_MTU = 1700


class OVSError(RuntimeError):
    pass


def _run(cmd, env=None, check=True):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if check and r.returncode != 0:
        raise OVSError("%s: %s" % (" ".join(cmd), r.stderr.strip() or r.stdout.strip()))
    return r.stdout


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


class OVS:
    def __init__(self, rundir, prefix, pmd_mask="0x1", lcore_mask="0x1", socket_mem=512,
                 db_sock=None, pmd_maxsleep_us=500):
        self.rundir = os.path.abspath(rundir)
        self.prefix = prefix
        self.private = db_sock is None
        self.db = "unix:" + (db_sock or os.path.join(self.rundir, "db.sock"))
        self.pmd_mask, self.lcore_mask = pmd_mask, lcore_mask
        self.socket_mem = socket_mem
        self.pmd_maxsleep_us = pmd_maxsleep_us
        self.made_bridges = []
        self.env = dict(os.environ, OVS_RUNDIR=self.rundir, OVS_LOGDIR=self.rundir,
                        OVS_DBDIR=self.rundir, OVS_SYSCONFDIR=self.rundir)

    # ---- processes ----

    def start(self):
        if not self.private:
            return
        os.makedirs(self.rundir, exist_ok=True)
        conf = os.path.join(self.rundir, "conf.db")
        if not os.path.exists(conf):
            _run(["ovsdb-tool", "create", conf, SCHEMA], self.env)
        _run(["ovsdb-server", conf, "--remote=p" + self.db, "--pidfile=" + self._pidfile(
            "ovsdb-server"), "--log-file=" + os.path.join(self.rundir, "ovsdb-server.log"),
              "--detach"], self.env)
        self.vsctl("--no-wait", "init")
        self.vsctl("--no-wait", "set", "Open_vSwitch", ".",
                   "other_config:dpdk-init=true",
                   'other_config:dpdk-extra="--no-pci --in-memory --file-prefix=%s"'
                   % self.prefix,
                   "other_config:dpdk-socket-mem=%d" % self.socket_mem,
                   "other_config:dpdk-socket-limit=%d" % (2 * self.socket_mem),
                   "other_config:dpdk-lcore-mask=%s" % self.lcore_mask,
                   "other_config:pmd-cpu-mask=%s" % self.pmd_mask,
                   "other_config:pmd-maxsleep=%d" % self.pmd_maxsleep_us)
        self.start_vswitchd()

    def start_vswitchd(self):
        _run([VSWITCHD, self.db, "--pidfile=" + self._pidfile("ovs-vswitchd"),
              "--log-file=" + os.path.join(self.rundir, "ovs-vswitchd.log"), "--detach"],
             self.env)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.vsctl("get", "Open_vSwitch", ".", "dpdk_initialized",
                          check=False).strip() == "true":
                return
            time.sleep(0.2)
        raise OVSError("ovs-vswitchd did not initialise DPDK within 60 s; see %s"
                       % os.path.join(self.rundir, "ovs-vswitchd.log"))

    def _pidfile(self, name):
        return os.path.join(self.rundir, name + ".pid")

    def pid(self, name):
        try:
            with open(self._pidfile(name)) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def _kill(self, name, timeout=20):
        pid = self.pid(name)
        if pid is None or not _pid_alive(pid):
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + timeout
        while _pid_alive(pid) and time.time() < deadline:
            time.sleep(0.1)
        if _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)

    def stop_vswitchd(self):
        self._kill("ovs-vswitchd")

    def restart_vswitchd(self):
        self.stop_vswitchd()
        self.start_vswitchd()

    def stop(self):
        """Processes ended, run directory removed (private instance); attached: the bridge
        flowtag's testbed made is removed, the user's OVS keeps running."""
        if not self.private:
            for bridge in self.made_bridges:
                self.vsctl("--if-exists", "del-br", bridge, check=False)
            return
        self._kill("ovs-vswitchd")
        self._kill("ovsdb-server")
        shutil.rmtree(self.rundir, ignore_errors=True)
        remove_dpdk_runtime_dir(self.prefix)

    # ---- commands ----

    def vsctl(self, *args, check=True):
        return _run(["ovs-vsctl", "--db=" + self.db, "--timeout=30"] + list(args), self.env,
                    check)

    def ofctl(self, bridge, *args, check=True):
        return _run(["ovs-ofctl", "-O", "OpenFlow13"] + [args[0], self.mgmt(bridge)] +
                    list(args[1:]), self.env, check)

    def mgmt(self, bridge):
        return "unix:" + os.path.join(self.rundir, bridge + ".mgmt")

    # ---- bridge ----

    def add_bridge(self, bridge):
        self.made_bridges.append(bridge)
        self.vsctl("--may-exist", "add-br", bridge, "--", "set", "bridge", bridge,
                   "datapath_type=netdev", "fail-mode=secure",
                   "protocols=OpenFlow10,OpenFlow13")

    def add_port(self, bridge, name, ofport, iface_type=None, options=None):
        args = ["--may-exist", "add-port", bridge, name, "--", "set", "Interface", name,
                "ofport_request=%d" % ofport]
        if iface_type:
            args.append("type=%s" % iface_type)
        for k, v in (options or {}).items():
            args.append('options:%s="%s"' % (k, v))
        self.vsctl(*args)
        err = self.vsctl("get", "Interface", name, "error", check=False).strip()
        if err and err != "[]":
            raise OVSError("port %s: %s" % (name, err))

    def add_vhost_client(self, bridge, name, ofport, socket_path):
        self.add_port(bridge, name, ofport, "dpdkvhostuserclient",
                      {"vhost-server-path": socket_path})
        # Room for a full 1500-byte packet plus NSH MD type 2 with a host name (<= 160 bytes).
        self.vsctl("set", "Interface", name, "mtu_request=%d" % VHOST_MTU)

    def replace_groups(self, bridge, group_list):
        self.ofctl(bridge, "del-groups", check=False)
        for g in group_list:
            self.ofctl(bridge, "add-group", g)

    def replace_flows(self, bridge, flow_list):
        path = os.path.join(self.rundir, bridge + ".flows")
        with open(path, "w") as f:
            f.write("\n".join(flow_list) + "\n")
        self.ofctl(bridge, "replace-flows", path)

    def dump_flows(self, bridge, spec=None):
        out = self.ofctl(bridge, "dump-flows", *([spec] if spec else []))
        return [line.strip() for line in out.splitlines() if "actions=" in line]

    def port_stats(self, bridge):
        """{ofport: {"rx": packets, "tx": packets, "tx_drop": n}} from dump-ports."""
        out = self.ofctl(bridge, "dump-ports")
        stats, cur = {}, None
        for line in out.splitlines():
            line = line.strip()
            if line.startswith("port"):
                num = line.split(":")[0].split()[1]
                cur = int(num) if num.isdigit() else None
                if cur is not None:
                    stats[cur] = {"rx": _field(line, "pkts")}
            elif cur is not None and line.startswith("tx"):
                stats[cur]["tx"] = _field(line, "pkts")
                stats[cur]["tx_drop"] = _field(line, "drop")
        return stats


def remove_dpdk_runtime_dir(prefix):
    """DPDK leaves /var/run/dpdk/<file-prefix> behind; the prefix is unique to us."""
    if prefix and "/" not in prefix:
        shutil.rmtree(os.path.join("/var/run/dpdk", prefix), ignore_errors=True)


def _field(line, name):
    for part in line.replace(",", " ").split():
        if part.startswith(name + "="):
            v = part.split("=", 1)[1]
            return int(v) if v.isdigit() else 0
    return 0


def flow_packets(flow_line):
    return _field(flow_line, "n_packets")
