#!/usr/bin/python3
"""Shared by flowtag's Python tests: named checks with a closing line the CI reads
("N passed, N failed"), a free loopback port, and the two-way key of a flow record."""

import ipaddress
import socket

_passed = 0
_failures = []


def check(cond, what):
    """Record one named check and print it; returns cond."""
    global _passed
    if cond:
        _passed += 1
        print("ok   " + what, flush=True)
    else:
        _failures.append(what)
        print("FAIL " + what, flush=True)
    return cond


def finish():
    """Print the closing line; the process exit code (0 when nothing failed)."""
    print("%d passed, %d failed" % (_passed, len(_failures)))
    return 1 if _failures else 0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def record_key(r):
    """(l4, {(addr, port), (addr, port)}) of a flow record: the same for both directions, with
    addresses in their canonical spelling (RFC 5952 for IPv6)."""
    return (r["l4"], frozenset([(str(ipaddress.ip_address(r["src_ip"])), r["src_port"]),
                                (str(ipaddress.ip_address(r["dst_ip"])), r["dst_port"])]))


def leaked_dpdk_dirs(pattern="/var/run/dpdk/flowtag-*"):
    """DPDK runtime directories left by flowtag processes that have exited. A directory whose
    process (the pid at the end of its name) still runs is in use, not leaked; that keeps the
    check right when other flowtag instances run on the same machine."""
    import glob
    import os
    import re

    leaked = []
    for d in glob.glob(pattern):
        m = re.search(r"-(\d+)$", d)
        if m and os.path.exists("/proc/" + m.group(1)):
            continue
        leaked.append(d)
    return leaked
