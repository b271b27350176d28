#!/usr/bin/python3
"""Hostile captures for flowtag's adversarial tier, built with the traffic generator's own
primitives (real TCP conversations, valid checksums), each aimed at one defect class:

  long_hosts       HTTP Host and TLS SNI names from 40 to 250 bytes, in standard frames and in
                   jumbo frames (multi-segment mbufs): the NSH MD type 2 host TLV must fit
  hostile_names    Host/SNI with invalid UTF-8, terminal escape sequences, quotes, backslashes
  crc_collisions   UDP flows that all share one value of the old, unkeyed CRC32C flow hash
  random_flows     as many UDP flows with random addresses (the baseline for the above)
  new_flow_flood   one-packet flows, far more than the flow table holds

  craft.py KIND OUT.pcap [--flows N]
"""

import argparse
import os
import random
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../ovs-integration"))
import trafficgen as tg  # noqa: E402

LONG_HOST_LENGTHS = (40, 60, 69, 75, 79, 120, 250)


def host_of_length(n, i):
    """A plausible DNS-style name of exactly n bytes."""
    base = "h%d-" % i
    labels, left = [], n - len(".example.com") - len(base)
    while left > 0:
        k = min(left, 63)
        labels.append("a" * k)
        left -= k + 1
    name = base + ".".join(labels)
    name = name[:n - len(".example.com")].rstrip(".")
    name += ".example.com"
    return name.ljust(n, "x")[:n]


def http_get(w, t, net, host_bytes, body_mss=1400, body=20000):
    c, s = net.client(), tg.Net.server(7)
    tcp = tg.TcpSession(w, t, c, net.port(), s, 80)
    tcp.send(True, b"GET / HTTP/1.1\r\nHost: " + host_bytes + b"\r\nAccept: */*\r\n\r\n")
    payload = b"x" * body
    tcp.send(False, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(payload) + payload,
             mss=body_mss)
    tcp.close()


def tls_hello(w, t, net, sni):
    c, s = net.client(), tg.Net.server(1)
    tcp = tg.TcpSession(w, t, c, net.port(), s, 443)
    tcp.send(True, tg.tls_client_hello(sni))
    tcp.send(False, tg.tls_server_hello() + tg.tls_app_data(2400))
    for _ in range(3):
        tcp.send(True, tg.tls_app_data(300))
        tcp.send(False, tg.tls_app_data(4000))
    tcp.close()


def long_hosts(w, flows):
    net, t, i = tg.Net(), 1700000000.0, 0
    for n in LONG_HOST_LENGTHS:
        host = host_of_length(n, i).encode()
        http_get(w, t, net, host)  # standard frames
        http_get(w, t + 0.5, net, host, body_mss=3000, body=12000)  # jumbo frames
        tls_hello(w, t + 1.0, net, host_of_length(n, i + 1))
        t += 2.0
        i += 2


HOSTILE_HOSTS = [
    b"\xff\xfe\xfd.invalid-utf8.example",
    b"caf\xc3.truncated-utf8.example",
    b"\xed\xa0\x80.surrogate.example",
    b"\xc0\xaf.overlong.example",
    b"\x1b[31mred\x1b[0m.escape.example",
    b"\x1b]0;pwned\x07.title.example",
    b'quote".and\\backslash.example',
    b"tab\there.example",
    b"\xe2\x80\xae.rtl-override.example",
    b"ok.\xf0\x9f\x98\x80.emoji.example",
]


def hostile_names(w, flows):
    net, t = tg.Net(), 1700000000.0
    for i, h in enumerate(HOSTILE_HOSTS):
        http_get(w, t + i, net, h, body=3000)
    # A long quiet flow after them, so that in a looping replay each of the flows above stays
    # live for most of a pass (the API test lists live flows).
    for k in range(300):
        udp_flow(w, t + len(HOSTILE_HOSTS) + k * 0.01, "10.99.0.1", 40000, "192.0.2.99", 9)


def udp_flow(w, t, src, sport, dst, dport, payload=b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00"
             b"\x00\x00\x07example\x03com\x00\x00\x01\x00\x01"):
    tg.udp_packet(w, t, True, src, sport, dst, dport, payload)


def crc32c(c, data):
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ 0x82f63b78 if c & 1 else c >> 1
    return c


def crc_colliding_tuples(n):
    """(src, sport, dst, dport) of n UDP flows whose canonical flow keys (10.x < 192.168.x.x)
    all share one CRC32C value from 0xffffffff, i.e. one value of flowtag's old flow hash: a
    coset of the CRC's kernel over the bits the sender chooses."""
    def key(lo, hi, lport, hport):
        return bytes(lo) + bytes(12) + bytes(hi) + bytes(12) + struct.pack("<HHHBB", lport, hport, 0, 17, 4)
    base = key([10, 0, 0, 0], [192, 168, 0, 0], 0, 53)
    free = [(byte, bit) for byte in (1, 2, 3, 32, 33, 18, 19) for bit in range(8)]
    cols = []
    for byte, bit in free:
        e = bytearray(40)
        e[byte] = 1 << bit
        cols.append(crc32c(0, e))
    # Gaussian elimination over GF(2): rows are CRC bits, columns the free bits.
    rows = [sum(((cols[i] >> j) & 1) << i for i in range(len(free))) for j in range(32)]
    pivots, r = [], 0
    for i in range(len(free)):
        p = next((j for j in range(r, 32) if rows[j] >> i & 1), None)
        if p is None:
            continue
        rows[p], rows[r] = rows[r], rows[p]
        for j in range(32):
            if j != r and rows[j] >> i & 1:
                rows[j] ^= rows[r]
        pivots.append(i)
        r += 1
    basis = []
    for i in range(len(free)):
        if i in pivots:
            continue
        v = 1 << i
        for j, pc in enumerate(pivots):
            if rows[j] >> i & 1:
                v |= 1 << pc
        delta = bytearray(40)
        for k, (byte, bit) in enumerate(free):
            if v >> k & 1:
                delta[byte] ^= 1 << bit
        basis.append(bytes(delta))
    want = crc32c(0xffffffff, base)
    out = []
    for c in range(n):
        k = bytearray(base)
        for j, d in enumerate(basis):
            if c >> j & 1:
                k = bytearray(a ^ b for a, b in zip(k, d))
        assert crc32c(0xffffffff, k) == want
        lo = "%d.%d.%d.%d" % tuple(k[0:4])
        hi = "%d.%d.%d.%d" % tuple(k[16:20])
        lport, hport = struct.unpack("<HH", k[32:36])
        out.append((lo, lport, hi, hport))
    return out


def crc_collisions(w, flows):
    t = 1700000000.0
    for i, (src, sp, dst, dp) in enumerate(crc_colliding_tuples(flows)):
        udp_flow(w, t + i * 1e-5, src, sp, dst, dp)


def random_flows(w, flows):
    rnd, t = random.Random(5), 1700000000.0
    for i in range(flows):
        src = "10.%d.%d.%d" % (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
        dst = "192.168.%d.%d" % (rnd.randrange(256), rnd.randrange(256))
        udp_flow(w, t + i * 1e-5, src, rnd.randrange(65536), dst, 53)


def new_flow_flood(w, flows):
    t = 1700000000.0
    for i in range(flows):
        udp_flow(w, t + i * 1e-6, "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255),
                 1024 + i % 60000, "192.0.2.1", 53)


KINDS = {"long_hosts": long_hosts, "hostile_names": hostile_names,
         "crc_collisions": crc_collisions, "random_flows": random_flows,
         "new_flow_flood": new_flow_flood}


def craft(kind, path, flows=60000, seed=1):
    random.seed(seed)
    w = tg.Writer()
    KINDS[kind](w, flows)
    return w.write(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=sorted(KINDS))
    ap.add_argument("out")
    ap.add_argument("--flows", type=int, default=60000)
    a = ap.parse_args()
    print("%s: %d packets -> %s" % (a.kind, craft(a.kind, a.out, a.flows), a.out))


if __name__ == "__main__":
    main()
