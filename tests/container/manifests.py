#!/usr/bin/python3
"""Offline validation of docker/compose.yaml and docker/k8s/*.yaml (no cluster, no engine):
every document parses, has its kind's required fields, the Deployment's selector matches its
pods, hugepages requests equal limits, only IPC_LOCK and SYS_NICE are added, the Multus
annotation names the NetworkAttachmentDefinition, whose CNI config is valid JSON for the
userspace CNI; the ConfigMap's flowtag.yaml passes `flowtag check` and carries the demo's
policy; compose services use the documented capabilities and mounts."""

import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from testlib import check, finish  # noqa: E402

import yaml



def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flowtag", required=True)
    ap.add_argument("--source-root", required=True)
    ap.add_argument("--k8s", help="the Kubernetes files to check (default: docker/k8s; the "
                    "NFV package's Files/kubernetes too) -- then compose is not checked")
    a = ap.parse_args()
    k8s = a.k8s or os.path.join(a.source_root, "docker", "k8s")
    docs = []
    for name in sorted(os.listdir(k8s)):
        with open(os.path.join(k8s, name)) as f:
            docs += [d for d in yaml.safe_load_all(f) if d]
    check(all({"apiVersion", "kind", "metadata"} <= set(d) for d in docs),
          "every Kubernetes document has apiVersion, kind, metadata (%d documents)" % len(docs))
    by_kind = {d["kind"]: d for d in docs}
    nad, dep, cm = (by_kind.get(k) for k in ("NetworkAttachmentDefinition", "Deployment",
                                              "ConfigMap"))
    check(nad is not None and dep is not None and cm is not None and "Namespace" in by_kind,
          "Namespace, NetworkAttachmentDefinition, ConfigMap and Deployment are there")
    cni = json.loads(nad["spec"]["config"])
    check(cni["type"] == "userspace" and cni["host"]["engine"] == "ovs-dpdk" and
          cni["host"]["vhost"]["mode"] == "client" and cni["container"]["vhost"]["mode"] == "server",
          "the CNI config: userspace CNI, OVS-DPDK as vhost-user client, flowtag as server")
    spec = dep["spec"]
    tmpl = spec["template"]
    check(spec["selector"]["matchLabels"].items() <= tmpl["metadata"]["labels"].items() and
          spec["replicas"] >= 2, "the Deployment's selector matches its pods; %d replicas"
          % spec["replicas"])
    check(tmpl["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"] ==
          nad["metadata"]["name"], "the pods attach the NetworkAttachmentDefinition")
    c = tmpl["spec"]["containers"][0]
    res = c["resources"]
    check(res["requests"]["hugepages-2Mi"] == res["limits"]["hugepages-2Mi"] and
          res["requests"]["memory"] == res["limits"]["memory"],
          "hugepages and memory: requests equal limits (as Kubernetes requires for hugepages)")
    caps = c["securityContext"]["capabilities"]
    check(caps["drop"] == ["ALL"] and sorted(caps["add"]) == ["IPC_LOCK", "SYS_NICE"] and
          tmpl["spec"]["securityContext"]["runAsUser"] == 10001,
          "runs as uid 10001 with IPC_LOCK and SYS_NICE only")
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    vols = {v["name"]: v for v in tmpl["spec"]["volumes"]}
    check(set(mounts) <= set(vols) and vols["hugepages"]["emptyDir"]["medium"] == "HugePages"
          and mounts["vhost-sockets"] == "/run/flowtag" and
          vols["config"]["configMap"]["name"] == cm["metadata"]["name"],
          "volumes: hugepages, the vhost-user socket directory, the config from the ConfigMap")
    env = {e["name"]: e.get("value") for e in c["env"]}
    check(env["FLOWTAG_SOCKET"].startswith(mounts["vhost-sockets"] + "/"),
          "the socket lives in the shared socket directory")
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        f.write(cm["data"]["flowtag.yaml"])
        f.flush()
        r = subprocess.run([a.flowtag, "check", "-c", f.name], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    with open(os.path.join(a.source_root, "config/examples/sfc-demo.yaml")) as f:
        demo = f.read()
    check(r.returncode == 0 and "5 chains, 6 rules" in r.stdout and
          cm["data"]["flowtag.yaml"].startswith(demo),
          "the ConfigMap's flowtag.yaml is the demo policy and passes flowtag check")
    if a.k8s:
        return finish()

    with open(os.path.join(a.source_root, "docker", "compose.yaml")) as f:
        comp = yaml.safe_load(f)
    svc = comp["services"]
    check(set(svc) >= {"flowtag", "sf", "trafficgen"}, "compose: flowtag, sf, trafficgen")
    check(sorted(svc["flowtag"]["cap_add"]) == ["IPC_LOCK", "SYS_NICE"] and
          any(v.startswith("/run/flowtag:") for v in svc["flowtag"]["volumes"]) and
          any(v.startswith("/run/flowtag:") for v in svc["sf"]["volumes"]),
          "compose: the documented capabilities, the shared socket directory")
    with open(os.path.join(a.source_root, "docker", "sf.yaml")) as f:
        sf_text = f.read()
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        f.write(sf_text)
        f.flush()
        r = subprocess.run([a.flowtag, "check", "-c", f.name], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    check(r.returncode == 0 and "6 ports" in r.stdout, "compose: sf.yaml passes flowtag check")
    return finish()


if __name__ == "__main__":
    sys.exit(main())
