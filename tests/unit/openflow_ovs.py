#!/usr/bin/python3
"""flowtag's OpenFlow messages against Open vSwitch's own encoder and decoder.

openflow_vectors prints each message flowtag builds with the ovs-ofctl text it stands for:
  FLOW: `ovs-ofctl -O OpenFlow13 -mmmmm parse-flow TEXT` must encode the very same bytes (the
        transaction id aside): OVS's encoding of the flow, byte for byte;
  PRINT: `ovs-ofctl ofp-print HEX` must print the expected text: OVS decodes our bytes into
        what we meant, without an error.
Needs ovs-ofctl (openvswitch-common): exit 77 (skip) without it, a failure in CI.

  openflow_ovs.py BUILD/tests/unit/openflow_vectors
"""

import os
import re
import shutil
import subprocess
import sys


def ovs_hex(text):
    """The bytes ovs-ofctl encodes for an ADD of `text` (its -mmmmm hex dump)."""
    out = subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "-mmmmm", "parse-flow", text],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError("ovs-ofctl parse-flow refused %r: %s" % (text, out.stderr.strip()))
    data = ""
    for line in out.stdout.splitlines():
        m = re.match(r"^[0-9a-f]{8}  ((?:[0-9a-f]{2}[ -]){1,16})", line)
        if m:
            data += m.group(1).replace(" ", "").replace("-", "")
    return data


def ofp_print(hexstr):
    out = subprocess.run(["ovs-ofctl", "ofp-print", hexstr], capture_output=True, text=True)
    return (out.stdout + out.stderr).rstrip("\n")


def without_xid(h):
    return h[:8] + "xxxxxxxx" + h[16:]


def main():
    if shutil.which("ovs-ofctl") is None:
        if os.environ.get("CI") == "true":
            print("FAIL: ovs-ofctl (openvswitch-common) is missing, and CI has it")
            return 1
        print("SKIP: ovs-ofctl (openvswitch-common) not installed")
        return 77
    lines = subprocess.run([sys.argv[1]], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    bad = 0
    for line in lines:
        kind, rest = line.split(" ", 1)
        name, text, mine = rest.split("\t")
        if kind == "FLOW":
            theirs = ovs_hex(text)
            if without_xid(theirs) != without_xid(mine):
                bad += 1
                print("FAIL %s: %d bytes from flowtag, %d from ovs-ofctl" % (
                    name, len(mine) // 2, len(theirs) // 2))
                for i in range(0, max(len(mine), len(theirs)), 32):
                    a, b = mine[i:i + 32], theirs[i:i + 32]
                    print("  %04x %-32s %s %s" % (i // 2, a, "  " if a == b else "!=", b))
                continue
            print("ok   %-24s %4d bytes, identical to ovs-ofctl's" % (name, len(mine) // 2))
        else:
            want = text.replace("\\n", "\n")
            got = ofp_print(mine)
            if got != want:
                bad += 1
                print("FAIL %s: ovs-ofctl ofp-print says\n%s\n  expected\n%s" % (name, got, want))
                continue
            print("ok   %-24s ovs-ofctl ofp-print: %s" % (name, got.splitlines()[0]))
    print("%d messages, %d differ from Open vSwitch" % (len(lines), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
