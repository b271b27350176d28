#!/usr/bin/python3
"""The ETSI NFV package, built as a user builds it and checked as Tacker checks one at
onboarding (../shared/tosca/validate-csar: tosca-parser on the CSAR and its VNFD, every
artifact's SHA-256):

- from a clean checkout (git archive HEAD), `meson setup -Dsol001_types=...` and
  `ninja nfv-package` write build/docker/flowtag-VERSION.csar;
- validate-csar accepts it with its flavour (default); a copy with one artifact changed and a
  copy whose VNFD names an unknown type are refused (the check can fail);
- the VNFD says flowtag's version, its VDU is the Deployment of the Kubernetes files inside
  (same name), the scaling goes from 1 to N replicas with the manifest's replicas as the
  default level, the external connection point names the Multus network;
- the Kubernetes files inside pass the manifest checks (tests/container/manifests.py), their
  config passes `flowtag check`, and they are docker/k8s byte for byte.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from testlib import check, finish, unavailable  # noqa: E402

import yaml


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def rezip(src, dst, change):
    """A copy of the CSAR with change(name, data) -> data applied to every entry."""
    with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zo:
        for info in zi.infolist():
            zo.writestr(info, change(info.filename, zi.read(info.filename)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flowtag", required=True)
    ap.add_argument("--source-root", required=True)
    a = ap.parse_args()
    root = os.path.abspath(a.source_root)
    shared = os.path.join(root, "..", "shared", "tosca")
    validate = os.path.join(shared, "validate-csar")
    sol001 = os.path.join(shared, "sol001", "2.6.1")
    if not os.path.exists(validate) or not os.path.isdir(sol001):
        return unavailable("../shared/tosca (validate-csar, sol001/2.6.1)",
                           "no ../shared/tosca beside the repository (validate-csar, SOL 001 "
                           "types)")
    tmp = tempfile.mkdtemp(prefix="flowtag-nfv-")
    try:
        # A clean checkout: what is committed, nothing of this working tree's builds.
        src = os.path.join(tmp, "src")
        os.makedirs(src)
        if os.path.isdir(os.path.join(root, ".git")):
            arch = subprocess.run(["git", "-C", root, "archive", "HEAD"], stdout=subprocess.PIPE,
                                  check=True).stdout
            subprocess.run(["tar", "-x", "-C", src], input=arch, check=True)
        else:  # already an archive (the fresh-machine tier)
            shutil.copytree(root, src, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("build*", ".git"))
        build = os.path.join(src, "build")
        r = run(["meson", "setup", build, src, "-Dtests=disabled", "-Dsol001_types=" + sol001])
        ok = r.returncode == 0
        if ok:
            r = run(["ninja", "-C", build, "nfv-package"])
            ok = r.returncode == 0
        version = re.search(r"version\s*:\s*'([^']+)'", open(os.path.join(src, "meson.build")).read()).group(1)
        csar = os.path.join(build, "docker", "flowtag-%s.csar" % version)
        if not check(ok and os.path.isfile(csar),
                     "a clean checkout builds %s" % os.path.relpath(csar, tmp)):
            print(r.stdout[-3000:])
            return finish()
        r = run([validate, csar, "default"])
        check(r.returncode == 0 and "ok:" in r.stdout,
              "validate-csar accepts it with its flavour: %s" % r.stdout.strip().splitlines()[-1])

        changed = os.path.join(tmp, "changed.csar")
        rezip(csar, changed, lambda n, d: d.replace(b"replicas: 2", b"replicas: 3")
              if n == "Files/kubernetes/deployment.yaml" else d)
        r = run([validate, changed, "default"])
        check(r.returncode != 0 and "SHA-256 does not match" in r.stdout,
              "a copy with one changed artifact is refused: %s" % r.stdout.strip()[:120])
        unknown = os.path.join(tmp, "unknown.csar")
        rezip(csar, unknown, lambda n, d: d.replace(b"type: flowtag.nodes.VNF",
                                                    b"type: flowtag.nodes.NoSuchVNF")
              if n == "Definitions/flowtag_top.vnfd.yaml" else d)
        r = run([validate, unknown, "default"])
        check(r.returncode != 0 and "NoSuchVNF" in r.stdout,
              "a copy whose VNFD names an unknown type is refused: %s" % r.stdout.strip()[:120])

        # What the VNFD says, against the sources.
        z = zipfile.ZipFile(csar)
        top = yaml.safe_load(z.read("Definitions/flowtag_top.vnfd.yaml"))
        df = yaml.safe_load(z.read("Definitions/flowtag_df_default.yaml"))
        vnf = top["topology_template"]["node_templates"]["VNF"]["properties"]
        r = run([a.flowtag, "version"])
        check(vnf["software_version"] == version and version in r.stdout,
              "software_version is flowtag's (%s; `flowtag version`: %s)"
              % (vnf["software_version"], r.stdout.strip()))
        k8s_docs = [d for n in z.namelist() if n.startswith("Files/kubernetes/")
                    for d in yaml.safe_load_all(z.read(n)) if d]
        dep = next(d for d in k8s_docs if d["kind"] == "Deployment")
        nad = next(d for d in k8s_docs if d["kind"] == "NetworkAttachmentDefinition")
        nodes = df["topology_template"]["node_templates"]
        vdu = nodes["VDU1"]["properties"]
        check(nodes["VDU1"]["type"] == "tosca.nodes.nfv.Vdu.Compute" and
              vdu["name"] == dep["metadata"]["name"],
              "the VDU is the Deployment (%s)" % vdu["name"])
        pol = {list(p)[0]: list(p.values())[0] for p in df["topology_template"]["policies"]}
        levels = pol["vdu1_instantiation_levels"]["properties"]["levels"]
        default = pol["instantiation_levels"]["properties"]["default_level"]
        aspect = pol["scaling_aspects"]["properties"]["aspects"]["flowtag_aspect"]
        check(vdu["vdu_profile"]["min_number_of_instances"] == 1 and
              vdu["vdu_profile"]["max_number_of_instances"] == aspect["max_scale_level"] + 1 and
              levels[default]["number_of_instances"] == dep["spec"]["replicas"],
              "scaling 1..%d, the default level is the manifest's %d replicas"
              % (vdu["vdu_profile"]["max_number_of_instances"], dep["spec"]["replicas"]))
        cp = nodes["VHOST_USER_CP"]
        check(cp["type"] == "tosca.nodes.nfv.VnfExtCp" and
              nad["metadata"]["name"] in cp["properties"]["description"] and
              df["topology_template"]["substitution_mappings"]["requirements"]
              ["virtual_link_external"][0] == "VHOST_USER_CP",
              "the external connection point is the vhost-user attachment (%s)"
              % nad["metadata"]["name"])
        meta = z.read("TOSCA-Metadata/TOSCA.meta").decode()
        arts = sorted(n for n in z.namelist() if n.startswith("Files/"))
        check(arts and all(("Name: " + n) in meta for n in arts) and
              "Entry-Definitions: Definitions/flowtag_top.vnfd.yaml" in meta,
              "TOSCA.meta lists every artifact with its SHA-256 (%d)" % len(arts))

        files = os.path.join(tmp, "files")
        z.extractall(files, [n for n in z.namelist() if n.startswith("Files/kubernetes/")])
        kdir = os.path.join(files, "Files", "kubernetes")
        same = all(open(os.path.join(kdir, n), "rb").read() ==
                   open(os.path.join(root, "docker", "k8s", n), "rb").read()
                   for n in os.listdir(kdir))
        check(same and sorted(os.listdir(kdir)) == sorted(os.listdir(os.path.join(root, "docker", "k8s"))),
              "the package's Kubernetes files are docker/k8s byte for byte")
        r = run([sys.executable, os.path.join(HERE, "manifests.py"), "--flowtag", a.flowtag,
                 "--source-root", root, "--k8s", kdir])
        check(r.returncode == 0, "they pass the manifest checks, their config `flowtag check` (%s)"
              % r.stdout.strip().splitlines()[-1])
        if r.returncode != 0:
            print(r.stdout)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
