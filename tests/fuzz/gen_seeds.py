#!/usr/bin/python3
"""Write the fuzz seed corpus (frames built here, not taken from anyone's capture)."""
import os
import struct

here = os.path.dirname(os.path.abspath(__file__))


def eth(t, payload, tags=()):
    hdr = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01"
    for tpid, vid in tags:
        hdr += struct.pack("!HH", tpid, vid)
    return hdr + struct.pack("!H", t) + payload


def ip4(proto, payload, src=b"\x0a\x00\x00\x01", dst=b"\x0a\x00\x00\x02", opts=b""):
    ihl = (20 + len(opts)) // 4
    return struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 20 + len(opts) + len(payload), 1, 0,
                       64, proto, 0, src, dst) + opts + payload


def ip6(nh, payload):
    return struct.pack("!IHBB", 0x60000000, len(payload), nh, 64) + \
        b"\x20\x01\x0d\xb8" + b"\x00" * 11 + b"\x01" + b"\x20\x01\x0d\xb8" + b"\x00" * 11 + b"\x02" + \
        payload


def tcp(sp, dp, flags, payload=b""):
    return struct.pack("!HHIIBBHHH", sp, dp, 1, 0, 5 << 4, flags, 65535, 0, 0) + payload


def udp(sp, dp, payload):
    return struct.pack("!HHHH", sp, dp, 8 + len(payload), 0) + payload


dns = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03org\x00\x00\x01\x00\x01"
http = b"GET / HTTP/1.1\r\nHost: flowtag.example\r\n\r\n"
frames = {
    "dns": eth(0x0800, ip4(17, udp(33333, 53, dns))),
    "http": eth(0x0800, ip4(6, tcp(51000, 80, 0x18, http))),
    "syn_opts": eth(0x0800, ip4(6, tcp(1, 2, 0x02), opts=b"\x01\x01\x01\x00")),
    "qinq": eth(0x0800, ip4(17, udp(1, 2, b"x")), tags=((0x88a8, 10), (0x8100, 20))),
    "ipv6_ext": eth(0x86dd, ip6(0, b"\x2c\x00\x01\x04\x00\x00\x00\x00" +
                                b"\x11\x00\x00\x01\x00\x00\x00\x07" + udp(546, 547, b""))),
    "6in4": eth(0x0800, ip4(41, ip6(17, udp(5000, 53, dns)))),
    "icmp": eth(0x0800, ip4(1, b"\x08\x00\x00\x00\x00\x01\x00\x01")),
    "frag": eth(0x0800, ip4(17, udp(53, 5353, b"y" * 40))[:6] + b"\x20\x00" +
                ip4(17, udp(53, 5353, b"y" * 40))[8:]),
    # UDP tunnels (datapath.tunnels): the inner DNS query inside each.
    "gtpu": eth(0x0800, ip4(17, udp(2152, 2152, b"\x34\xff\x00\x00\x00\x00\x00\x01"
                                             b"\x00\x00\x00\x85\x01\x00\x09\x00" +
                                             ip4(17, udp(33333, 53, dns))))),
    "vxlan": eth(0x0800, ip4(17, udp(50000, 4789, b"\x08\x00\x00\x00\x00\x13\x89\x00" +
                                      eth(0x0800, ip4(17, udp(33333, 53, dns)))))),
    "geneve": eth(0x0800, ip4(17, udp(50000, 6081, b"\x00\x00\x08\x00\x00\x13\x8a\x00" +
                                       ip4(17, udp(33333, 53, dns))))),
    "capwap": eth(0x0800, ip4(17, udp(5247, 5247, b"\x00\x10\x03\x00\x00\x00\x00\x00"
                                       b"\x08\x01\x00\x00" + b"\x02" * 20 +
                                       b"\xaa\xaa\x03\x00\x00\x00\x08\x00" +
                                       ip4(17, udp(33333, 53, dns))))),
}


def write(sub, name, data):
    os.makedirs(os.path.join(here, "corpus", sub), exist_ok=True)
    with open(os.path.join(here, "corpus", sub, name), "wb") as f:
        f.write(data)


for name, fr in frames.items():
    write("parse", name, fr)
    write("capture", name + "_eth", b"\x01" + fr)
    write("capture", name + "_raw", b"\x04" + fr[14:])
    write("worker", name, struct.pack("!H", len(fr)) + fr)
# A conversation for the worker: request and response in one input.
resp = eth(0x0800, ip4(6, tcp(80, 51000, 0x18, b"HTTP/1.1 200 OK\r\n\r\n"),
                       src=b"\x0a\x00\x00\x02", dst=b"\x0a\x00\x00\x01"))
write("worker", "http_both", struct.pack("!H", len(frames["http"])) + frames["http"] +
      struct.pack("!H", len(resp)) + resp)
with open(os.path.join(here, "../../config/flowtag.yaml"), "rb") as f:
    write("config", "flowtag.yaml", f.read())
write("config", "flow_style.yaml", b"flows: {capacity: 1000, timeouts: {tcp: 5}}\nports: [{vdev: net_null0}]\n")
for kind in range(4):
    for name in ("dns", "http", "qinq", "ipv6_ext"):
        write("tag", "%s_%d" % (name, kind), bytes([kind, 0x0a, 0x1e, 0xff]) + frames[name])
with open(os.path.join(here, "../../config/examples/sfc-demo.yaml"), "rb") as f:
    write("config", "sfc-demo.yaml", f.read())
with open(os.path.join(here, "../../config/examples/user-apps.yaml"), "rb") as f:
    write("config", "user-apps.yaml", f.read())
