#!/usr/bin/env python3
"""Build flowtag's ETSI NFV VNF package: a SOL004 CSAR whose VNFD (SOL001 v2.6.1 TOSCA) describes
the Kubernetes Deployment of docker/k8s/, which goes in as the package's artifacts. Everything
that could drift is read from the sources: the version (meson), the Deployment's name and
replicas and the Multus network's name (docker/k8s/), the config (the ConfigMap there).

  build_csar.py --version V --sol001 DIR --src docker/ --out flowtag-V.csar

DIR holds ETSI's etsi_nfv_sol001_common_types.yaml and etsi_nfv_sol001_vnfd_types.yaml (v2.6.1;
ETSI publishes them at https://forge.etsi.org/rep/nfv/SOL001, tag v2.6.1); they are copied into
the package, never into the repository. The zip is reproducible: sorted entries, fixed times.
"""

import argparse
import hashlib
import os
import sys
import zipfile

import yaml

# flowtag's VNFD: one id for every version of it (descriptor_version tells them apart).
DESCRIPTOR_ID = "7ebacbf7-3450-4c80-9234-6be0be89f949"
MAX_INSTANCES = 8
SOL001 = ("etsi_nfv_sol001_common_types.yaml", "etsi_nfv_sol001_vnfd_types.yaml")
DEFINITIONS = ("flowtag_top.vnfd.yaml", "flowtag_types.yaml", "flowtag_df_default.yaml")
ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def fail(msg):
    print("nfv-package: " + msg, file=sys.stderr)
    sys.exit(1)


def k8s_facts(k8s_dir):
    facts = {}
    for name in sorted(os.listdir(k8s_dir)):
        with open(os.path.join(k8s_dir, name)) as f:
            for d in yaml.safe_load_all(f):
                if not d:
                    continue
                if d.get("kind") == "Deployment":
                    facts["DEPLOYMENT"] = d["metadata"]["name"]
                    facts["REPLICAS"] = int(d["spec"].get("replicas", 1))
                elif d.get("kind") == "NetworkAttachmentDefinition":
                    facts["NETWORK"] = d["metadata"]["name"]
    for k in ("DEPLOYMENT", "REPLICAS", "NETWORK"):
        if k not in facts:
            fail("%s: no %s found" % (k8s_dir, "Deployment" if k != "NETWORK"
                                       else "NetworkAttachmentDefinition"))
    if not 1 <= facts["REPLICAS"] <= MAX_INSTANCES:
        fail("the Deployment's replicas (%d) must be 1 to %d" % (facts["REPLICAS"], MAX_INSTANCES))
    return facts


def add(z, name, data):
    info = zipfile.ZipInfo(name, ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    z.writestr(info, data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--version", required=True)
    ap.add_argument("--sol001", default="")
    ap.add_argument("--src", required=True, help="the repository's docker/ directory")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    if not a.sol001:
        fail("the SOL 001 type definitions are not in the repository: give meson their "
             "directory, e.g. meson configure build -Dsol001_types=DIR (ETSI publishes "
             "etsi_nfv_sol001_common_types.yaml and etsi_nfv_sol001_vnfd_types.yaml v2.6.1 at "
             "https://forge.etsi.org/rep/nfv/SOL001)")
    for n in SOL001:
        if not os.path.isfile(os.path.join(a.sol001, n)):
            fail("%s: %s is missing (sol001_types must name the directory holding ETSI's "
                 "SOL 001 v2.6.1 type files)" % (a.sol001, n))
    k8s = os.path.join(a.src, "k8s")
    facts = k8s_facts(k8s)
    facts.update(VERSION=a.version, DESCRIPTOR_ID=DESCRIPTOR_ID, MAX_INSTANCES=MAX_INSTANCES,
                 MAX_SCALE_LEVEL=MAX_INSTANCES - 1, INITIAL_SCALE_LEVEL=facts["REPLICAS"] - 1)

    entries = {}
    for n in DEFINITIONS:
        with open(os.path.join(a.src, "nfv", n)) as f:
            text = f.read()
        for k, v in facts.items():
            text = text.replace("@%s@" % k, str(v))
        if "@" in text.replace("@{", ""):
            left = [w for w in text.split() if w.startswith("@") and w.endswith("@")]
            if left:
                fail("%s: placeholders left: %s" % (n, left))
        entries["Definitions/" + n] = text.encode()
    for n in SOL001:
        with open(os.path.join(a.sol001, n), "rb") as f:
            entries["Definitions/" + n] = f.read()
    artifacts = []
    for n in sorted(os.listdir(k8s)):
        with open(os.path.join(k8s, n), "rb") as f:
            entries["Files/kubernetes/" + n] = f.read()
        artifacts.append("Files/kubernetes/" + n)
    meta = ["TOSCA-Meta-File-Version: 1.0", "CSAR-Version: 1.1", "Created-by: flowtag",
            "Entry-Definitions: Definitions/flowtag_top.vnfd.yaml", ""]
    for art in artifacts:
        meta += ["Name: " + art, "Content-Type: application/yaml", "Algorithm: SHA-256",
                 "Hash: " + hashlib.sha256(entries[art]).hexdigest(), ""]
    entries["TOSCA-Metadata/TOSCA.meta"] = "\n".join(meta).encode()

    tmp = a.out + ".tmp"
    with zipfile.ZipFile(tmp, "w") as z:
        for name in ["TOSCA-Metadata/TOSCA.meta"] + sorted(n for n in entries
                                                           if n != "TOSCA-Metadata/TOSCA.meta"):
            add(z, name, entries[name])
    os.replace(tmp, a.out)
    print("nfv-package: %s (VNFD %s, flowtag %s, %d artifacts)" % (a.out, DESCRIPTOR_ID,
                                                                  a.version, len(artifacts)))


if __name__ == "__main__":
    main()
