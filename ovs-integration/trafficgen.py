#!/usr/bin/python3
"""flowtag's traffic generator: realistic application sessions, both directions, as a pcap.

Each session is a real conversation at the packet level: TCP handshakes with consistent
sequence and acknowledgement numbers, the application's own messages both ways (TLS
ClientHello with SNI and the ServerHello, HTTP request and response, DNS query and answer, SSH
banners, BitTorrent handshakes, SIP INVITE and its answer followed by RTP, SMB2 negotiate,
MQTT CONNECT/CONNACK, ...), then FIN. Checksums are correct. Servers use the documentation
ranges (RFC 5737 / RFC 3849), so nDPI can only recognise the application by its payload,
never by an address list.

  trafficgen.py --out traffic.pcap [--flows 200] [--mix realistic|short|long] [--seed 1]
                [--apps tls-youtube,dns,...] [--duration 10] [--list]
  trafficgen.py --feed IFACE [--rate 2000] [--duration 30] [--flows 100] ...
                send the sessions on an interface (AF_PACKET, root), paced at --rate packets
                per second, pass after pass with fresh client addresses (new flows) until
                --duration seconds (0 = until interrupted); prints what it sent

  --mix realistic   every application, sessions of several to tens of packets
  --mix short       many short flows (DNS, NTP, short HTTP): the new-flows-per-second mix
  --mix long        long-lived: the realistic mix with heavy-tailed session lengths (video,
                    downloads, BitTorrent, calls and SSH run to thousands of packets), so most
                    packets belong to flows already classified, as on a real access link

Standard library only (fast enough for millions of packets); /usr/bin/python3.
"""

import argparse
import os
import random
import struct
import sys

LINKTYPE_ETHERNET = 1
CLIENT_MAC = bytes.fromhex("020000000001")
SERVER_MAC = bytes.fromhex("020000000002")


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def ip_bytes(addr):
    return bytes(int(x) for x in addr.split("."))


class Writer:
    """pcap writer; packets are buffered per session and sorted by time at the end."""

    def __init__(self):
        self.packets = []  # (time, frame)

    def add(self, t, frame):
        self.packets.append((t, frame))

    def write(self, path):
        self.packets.sort(key=lambda p: p[0])
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, LINKTYPE_ETHERNET))
            for t, fr in self.packets:
                sec = int(t)
                usec = int(round((t - sec) * 1e6))
                if usec >= 1000000:
                    sec, usec = sec + 1, usec - 1000000
                f.write(struct.pack("<IIII", sec, usec, len(fr), len(fr)))
                f.write(fr)
        return len(self.packets)


# The IP ID of each direction of each flow counts its packets (from 1): whoever looks at the
# traffic after it crossed the switch (tests of offload) can tell a packet's place in its flow,
# and so see any reordering, whatever tag was pushed in front of it.
_ip_ids = {}


def reset_ip_ids():
    _ip_ids.clear()


def frame(src_mac, dst_mac, src, dst, proto, l4):
    random.getrandbits(16)  # the random IP ID it once was: the sessions stay as they were
    direction = (src, dst, proto, l4[:4])
    ip_id = _ip_ids[direction] = (_ip_ids.get(direction, 0) + 1) & 0xffff
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), ip_id, 0x4000,
                     64, proto, 0, ip_bytes(src), ip_bytes(dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return dst_mac + src_mac + b"\x08\x00" + ip + l4


def l4_checksum(src, dst, proto, seg):
    pseudo = ip_bytes(src) + ip_bytes(dst) + struct.pack("!BBH", 0, proto, len(seg))
    return csum(pseudo + seg)


class TcpSession:
    """A TCP conversation: handshake, messages both ways (ACKed), FIN both ways."""

    def __init__(self, w, t, client, cport, server, sport, rtt=0.02):
        self.w, self.t, self.rtt = w, t, rtt
        self.c, self.cp, self.s, self.sp = client, cport, server, sport
        self.cseq, self.sseq = random.getrandbits(32), random.getrandbits(32)
        self.seg(True, 0x02, b"")
        self.cseq += 1
        self.t += rtt / 2
        self.seg(False, 0x12, b"")
        self.sseq += 1
        self.t += rtt / 2
        self.seg(True, 0x10, b"")

    def seg(self, from_client, flags, payload):
        src, dst = (self.c, self.s) if from_client else (self.s, self.c)
        sp, dp = (self.cp, self.sp) if from_client else (self.sp, self.cp)
        seq, ack = (self.cseq, self.sseq) if from_client else (self.sseq, self.cseq)
        hdr = struct.pack("!HHIIBBHHH", sp, dp, seq & 0xffffffff,
                          ack & 0xffffffff if flags & 0x10 else 0, 5 << 4, flags, 64240, 0, 0)
        seg = hdr + payload
        seg = seg[:16] + struct.pack("!H", l4_checksum(src, dst, 6, seg)) + seg[18:]
        smac, dmac = (CLIENT_MAC, SERVER_MAC) if from_client else (SERVER_MAC, CLIENT_MAC)
        self.w.add(self.t, frame(smac, dmac, src, dst, 6, seg))

    def send(self, from_client, payload, mss=1400):
        """Application data, split into MSS-sized segments, then the peer's ACK."""
        for i in range(0, len(payload), mss):
            chunk = payload[i:i + mss]
            self.t += 0.0005
            self.seg(from_client, 0x18, chunk)
            if from_client:
                self.cseq += len(chunk)
            else:
                self.sseq += len(chunk)
        self.t += self.rtt / 2
        self.seg(not from_client, 0x10, b"")

    def close(self):
        self.t += 0.001
        self.seg(True, 0x11, b"")
        self.cseq += 1
        self.t += self.rtt / 2
        self.seg(False, 0x11, b"")
        self.sseq += 1
        self.t += self.rtt / 2
        self.seg(True, 0x10, b"")


def udp_packet(w, t, from_client, c, cp, s, sp, payload):
    src, dst = (c, s) if from_client else (s, c)
    a, b = (cp, sp) if from_client else (sp, cp)
    seg = struct.pack("!HHHH", a, b, 8 + len(payload), 0) + payload
    seg = seg[:6] + struct.pack("!H", l4_checksum(src, dst, 17, seg) or 0xffff) + seg[8:]
    smac, dmac = (CLIENT_MAC, SERVER_MAC) if from_client else (SERVER_MAC, CLIENT_MAC)
    w.add(t, frame(smac, dmac, src, dst, 17, seg))


# ---- application messages ----

def tls_client_hello(sni):
    name = sni.encode()
    ext = b""
    sni_body = struct.pack("!HBH", len(name) + 3, 0, len(name)) + name
    ext += struct.pack("!HH", 0x0000, len(sni_body)) + sni_body
    groups = struct.pack("!H", 6) + struct.pack("!HHH", 0x001d, 0x0017, 0x0018)
    ext += struct.pack("!HH", 0x000a, len(groups)) + groups
    ext += struct.pack("!HHB", 0x000b, 2, 1) + b"\x00"
    sigalgs = struct.pack("!H", 8) + struct.pack("!HHHH", 0x0403, 0x0804, 0x0401, 0x0503)
    ext += struct.pack("!HH", 0x000d, len(sigalgs)) + sigalgs
    alpn_list = b"\x02h2\x08http/1.1"
    alpn = struct.pack("!H", len(alpn_list)) + alpn_list
    ext += struct.pack("!HH", 0x0010, len(alpn)) + alpn
    versions = b"\x04\x03\x04\x03\x03"
    ext += struct.pack("!HH", 0x002b, len(versions)) + versions
    key = os.urandom(32)
    ks = struct.pack("!HHH", 36, 0x001d, 32) + key
    ext += struct.pack("!HH", 0x0033, len(ks)) + ks
    suites = [0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8]
    body = b"\x03\x03" + os.urandom(32) + b"\x20" + os.urandom(32)
    body += struct.pack("!H", 2 * len(suites)) + b"".join(struct.pack("!H", s) for s in suites)
    body += b"\x01\x00" + struct.pack("!H", len(ext)) + ext
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def tls_server_hello():
    ext = struct.pack("!HHH", 0x002b, 2, 0x0304)
    ext += struct.pack("!HHHH", 0x0033, 36, 0x001d, 32) + os.urandom(32)
    body = b"\x03\x03" + os.urandom(32) + b"\x20" + os.urandom(32) + b"\x13\x01\x00"
    body += struct.pack("!H", len(ext)) + ext
    hs = b"\x02" + struct.pack("!I", len(body))[1:] + body
    rec = b"\x16\x03\x03" + struct.pack("!H", len(hs)) + hs
    rec += b"\x14\x03\x03\x00\x01\x01"  # change cipher spec (middlebox compatibility)
    return rec


def tls_app_data(n):
    return b"\x17\x03\x03" + struct.pack("!H", n) + os.urandom(n)


def dns_message(qid, name, response, addr="198.51.100.53"):
    flags = 0x8180 if response else 0x0100
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0\x00\x01\x00\x01"
    msg = struct.pack("!HHHHHH", qid, flags, 1, 1 if response else 0, 0, 0) + q
    if response:
        msg += b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04" + ip_bytes(addr)
    return msg


def sip_message(kind, call_id, client, server):
    if kind == "INVITE":
        start = "INVITE sip:bob@%s SIP/2.0" % server
    else:
        start = "SIP/2.0 200 OK"
    sdp = ("v=0\r\no=alice 2890844526 2890844526 IN IP4 %s\r\ns=call\r\nc=IN IP4 %s\r\n"
           "t=0 0\r\nm=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n" % (client, client))
    hdrs = ("%s\r\nVia: SIP/2.0/UDP %s:5060;branch=z9hG4bK%06x\r\nMax-Forwards: 70\r\n"
            "From: Alice <sip:alice@%s>;tag=1928301774\r\nTo: Bob <sip:bob@%s>\r\n"
            "Call-ID: %s@%s\r\nCSeq: 314159 INVITE\r\nContact: <sip:alice@%s>\r\n"
            "Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n"
            % (start, client, random.getrandbits(24), client, server, call_id, client, client,
               len(sdp)))
    return (hdrs + sdp).encode()


def rtp_packet(seq, ts, ssrc):
    return struct.pack("!BBHII", 0x80, 0, seq & 0xffff, ts & 0xffffffff, ssrc) + os.urandom(160)


def smb2_negotiate(response):
    hdr = b"\xfeSMB" + struct.pack("<HHIHHIIQIIQ16s", 64, 0, 0, 0, 1,
                                    1 if response else 0, 0, 0, 0, 0, 0, b"\0" * 16)
    body = struct.pack("<HHHHI16sIHH", 36, 2, 1, 0, 0x7f, os.urandom(16), 0, 0, 0) + \
        b"\x02\x02\x10\x02" if not response else struct.pack("<HHHH", 65, 1, 0x0210, 0) + \
        os.urandom(56)
    msg = hdr + body
    return struct.pack("!I", len(msg)) + msg  # NetBIOS session header


def mqtt_connect(client_id):
    cid = client_id.encode()
    var = b"\x00\x04MQTT\x04\x02\x00\x3c"
    payload = struct.pack("!H", len(cid)) + cid
    rem = var + payload
    return b"\x10" + bytes([len(rem)]) + rem


def ntp_packet(server):
    return bytes([0x1c if server else 0x23, 2 if server else 0, 6, 0xec]) + os.urandom(44)


def stun_binding(response, tid):
    if response:
        attr = struct.pack("!HHBBH4s", 0x0020, 8, 0, 1, 0x1234, b"\x5e\x12\xa4\x43")
        return struct.pack("!HHI12s", 0x0101, len(attr), 0x2112a442, tid) + attr
    return struct.pack("!HHI12s", 0x0001, 0, 0x2112a442, tid)


# ---- sessions ----

class Net:
    """Client and server addresses: clients 10.x, servers from the documentation ranges."""

    def __init__(self):
        self.next_client = 0
        self.next_port = 20000

    def client(self):
        self.next_client += 1
        n = self.next_client
        return "10.%d.%d.%d" % (10 + (n >> 16) % 200, (n >> 8) & 255, 1 + n % 250)

    def port(self):
        self.next_port = 20000 + (self.next_port - 19999) % 40000
        return self.next_port

    @staticmethod
    def server(i):
        return ("198.51.100.%d" if i % 2 else "203.0.113.%d") % (1 + i % 250)


# Every session function takes (w, t, net, scale): `scale` repeats the session's bulk part
# (records, pieces, media), so the long-lived mix can stretch a session to thousands of packets.

def tls_session(host, server_idx, records=6):
    def run(w, t, net, scale=1):
        c, s = net.client(), Net.server(server_idx)
        tcp = TcpSession(w, t, c, net.port(), s, 443)
        tcp.send(True, tls_client_hello(host))
        tcp.send(False, tls_server_hello() + tls_app_data(2400))
        for _ in range(random.randint(1, records) * scale):
            tcp.send(True, tls_app_data(random.randint(80, 600)))
            tcp.send(False, tls_app_data(random.randint(1000, 8000)))
        tcp.close()
    return run


def http_session(w, t, net, scale=1, short=False):
    c, s = net.client(), Net.server(7)
    tcp = TcpSession(w, t, c, net.port(), s, 80)
    tcp.send(True, b"GET /index.html HTTP/1.1\r\nHost: www.example.com\r\n"
                   b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) flowtag-trafficgen\r\n"
                   b"Accept: */*\r\n\r\n")
    para = b"<p>flowtag test page: service chaining by application.</p>\n"
    body = b"<!DOCTYPE html>\n<html><head><title>flowtag</title></head><body>\n" + \
        para * (3 if short else 200 * scale) + b"</body></html>\n"
    tcp.send(False, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n"
             % len(body) + body)
    tcp.close()


def dns_session(w, t, net, scale=1):
    c, s = net.client(), Net.server(53)
    cp = net.port()
    name = random.choice(["www.example.com", "mail.example.org", "api.example.net",
                          "cdn.example.com"])
    qid = random.getrandbits(16)
    udp_packet(w, t, True, c, cp, s, 53, dns_message(qid, name, False))
    udp_packet(w, t + 0.015, False, c, cp, s, 53, dns_message(qid, name, True))


def ssh_session(w, t, net, scale=1):
    tcp = TcpSession(w, t, net.client(), net.port(), Net.server(22), 22)
    tcp.send(False, b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
    tcp.send(True, b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
    kex = struct.pack("!IBB", 1000, 4, 20) + os.urandom(996)
    tcp.send(True, kex)
    tcp.send(False, kex)
    for _ in range(scale - 1):  # an interactive session: short encrypted messages both ways
        tcp.send(True, os.urandom(random.choice((36, 52, 68))))
        tcp.send(False, os.urandom(random.choice((36, 52, 68, 500))))
    tcp.close()


def bittorrent_session(w, t, net, scale=1):
    tcp = TcpSession(w, t, net.client(), net.port(), Net.server(68), 6881)
    hs = b"\x13BitTorrent protocol" + b"\0" * 8 + os.urandom(20) + b"-FT0001-" + os.urandom(12)
    tcp.send(True, hs)
    tcp.send(False, hs)
    for _ in range(3 * scale):
        tcp.send(False, struct.pack("!IB", 16393, 7) + os.urandom(16392))
    tcp.close()


def sip_rtp_session(w, t, net, scale=1):
    c, s = net.client(), Net.server(60)
    call = "%08x" % random.getrandbits(32)
    udp_packet(w, t, True, c, 5060, s, 5060, sip_message("INVITE", call, c, s))
    udp_packet(w, t + 0.05, False, c, 5060, s, 5060, sip_message("OK", call, s, c))
    ssrc_a, ssrc_b = random.getrandbits(32), random.getrandbits(32)
    port = 16384 + 2 * random.randint(0, 8000)
    for i in range(50 * scale):
        udp_packet(w, t + 0.1 + i * 0.02, True, c, port, s, port + 2,
                   rtp_packet(1000 + i, 160 * i, ssrc_a))
        udp_packet(w, t + 0.11 + i * 0.02, False, c, port, s, port + 2,
                   rtp_packet(5000 + i, 160 * i, ssrc_b))


def smb_session(w, t, net, scale=1):
    tcp = TcpSession(w, t, net.client(), net.port(), Net.server(45), 445)
    tcp.send(True, smb2_negotiate(False))
    tcp.send(False, smb2_negotiate(True))
    tcp.close()


def mqtt_session(w, t, net, scale=1):
    tcp = TcpSession(w, t, net.client(), net.port(), Net.server(83), 1883)
    tcp.send(True, mqtt_connect("sensor-%d" % random.randint(1, 999)))
    tcp.send(False, b"\x20\x02\x00\x00")
    topic = b"lab/temperature"
    for _ in range(3):
        msg = struct.pack("!H", len(topic)) + topic + b"21.5"
        tcp.send(True, b"\x30" + bytes([len(msg)]) + msg)
    tcp.close()


def ntp_session(w, t, net, scale=1):
    c, s = net.client(), Net.server(123)
    udp_packet(w, t, True, c, 123, s, 123, ntp_packet(False))
    udp_packet(w, t + 0.02, False, c, 123, s, 123, ntp_packet(True))


def smtp_session(w, t, net, scale=1):
    tcp = TcpSession(w, t, net.client(), net.port(), Net.server(25), 25)
    tcp.send(False, b"220 mail.example.org ESMTP Postfix (Debian/GNU)\r\n")
    tcp.send(True, b"EHLO client.example.com\r\n")
    tcp.send(False, b"250-mail.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
                    b"250 8BITMIME\r\n")
    tcp.send(True, b"QUIT\r\n")
    tcp.send(False, b"221 2.0.0 Bye\r\n")
    tcp.close()


def stun_session(w, t, net, scale=1):
    c, s = net.client(), Net.server(34)
    cp = net.port()
    for i in range(3):
        tid = os.urandom(12)
        udp_packet(w, t + i * 0.1, True, c, cp, s, 3478, stun_binding(False, tid))
        udp_packet(w, t + i * 0.1 + 0.02, False, c, cp, s, 3478, stun_binding(True, tid))


# name -> (session function, nDPI label it should get, weight in the realistic mix)
APPS = {
    "tls-youtube": (tls_session("www.youtube.com", 1), "TLS.YouTube", 3),
    "tls-googlevideo": (tls_session("rr4---sn-4g5e6nz7.googlevideo.com", 3), "TLS.YouTube", 2),
    "tls-netflix": (tls_session("www.netflix.com", 5), "TLS.NetFlix", 2),
    "tls-facebook": (tls_session("www.facebook.com", 9), "TLS.Facebook", 2),
    "tls-google": (tls_session("www.google.com", 11), "TLS.Google", 2),
    "http": (http_session, "HTTP", 3),
    "dns": (dns_session, "DNS", 4),
    "ssh": (ssh_session, "SSH", 1),
    "bittorrent": (bittorrent_session, "BitTorrent", 2),
    "sip-rtp": (sip_rtp_session, "SIP", 1),
    "smb": (smb_session, "NetBIOS.SMBv23", 1),
    "mqtt": (mqtt_session, "MQTT", 1),
    "ntp": (ntp_session, "NTP", 1),
    "smtp": (smtp_session, "SMTP", 1),
    "stun": (stun_session, "STUN", 1),
}
SHORT_MIX = {"dns": 6, "ntp": 2, "http": 2}
MIXES = ("realistic", "short", "long")


def session_scale(mix):
    """How many times a session repeats its bulk part. The long-lived mix draws it from a
    Pareto tail (alpha 1.2, as flow sizes on access links are): most sessions stay short, a few
    elephants (video, downloads, calls) carry most packets; the cap bounds one session to a few
    thousand packets."""
    if mix != "long":
        return 1
    return min(64, int(random.paretovariate(1.2) * 4))


def generate(flows, mix, apps, duration, seed, start=1700000000.0):
    random.seed(seed)
    w, net = Writer(), Net()
    weights = SHORT_MIX if mix == "short" else {a: APPS[a][2] for a in apps}
    names = list(weights)
    chosen = random.choices(names, weights=[weights[n] for n in names], k=flows)
    # Every selected application at least once, so a small run still covers them all.
    for i, name in enumerate(names[:flows]):
        chosen[i] = name
    for i, name in enumerate(chosen):
        t = start + duration * i / max(flows, 1)
        fn = APPS[name][0]
        if name == "http" and mix == "short":
            http_session(w, t, net, short=True)
        else:
            fn(w, t, net, scale=session_scale(mix))
    return w, chosen


def flow_id_of(fr):
    """(l4, frozenset of the two (address, port) ends) of an IPv4 TCP/UDP frame, else None:
    the same key tests make of a flowtag record."""
    if len(fr) < 38 or fr[12:14] != b"\x08\x00" or fr[23] not in (6, 17):
        return None
    ihl = (fr[14] & 15) * 4
    src = ".".join(str(b) for b in fr[26:30])
    dst = ".".join(str(b) for b in fr[30:34])
    sp, dp = struct.unpack("!HH", fr[14 + ihl:18 + ihl])
    return ("tcp" if fr[23] == 6 else "udp", frozenset([(src, sp), (dst, dp)]))


def write_manifest(path, counts):
    """What was sent, per flow: [{"l4", "ends": [[addr, port], [addr, port]], "packets",
    "bytes"}] (bytes: whole frames, as OVS and flowtag count them)."""
    import json
    with open(path, "w") as f:
        json.dump([{"l4": k[0], "ends": sorted([list(e) for e in k[1]]), "packets": v[0],
                    "bytes": v[1]} for k, v in counts.items()], f)


def feed(iface, rate, duration, flows, mix, apps, seed, manifest=None):
    """Send generated sessions on `iface` at `rate` pps; returns (packets, sessions) sent.
    manifest: write what was sent per flow there (JSON) at the end."""
    import signal
    import socket
    import time

    random.seed(seed)
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((iface, 0))
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
    net, sent, sessions = Net(), 0, 0
    counts = {}
    weights = SHORT_MIX if mix == "short" else {a: APPS[a][2] for a in apps}
    names = list(weights)
    start = time.monotonic()
    while not stop["now"] and (duration == 0 or time.monotonic() - start < duration):
        w = Writer()
        reset_ip_ids()
        chosen = random.choices(names, weights=[weights[n] for n in names], k=flows)
        for i, name in enumerate(chosen):
            APPS[name][0](w, 1700000000.0 + i * 0.01, net, scale=session_scale(mix))
        w.packets.sort(key=lambda p: p[0])
        sessions += len(chosen)
        for _, fr in w.packets:
            if stop["now"] or (duration and time.monotonic() - start >= duration):
                break
            # Pace: the n-th packet leaves at start + n / rate.
            due = start + sent / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sock.send(fr)
            sent += 1
            if manifest:
                k = flow_id_of(fr)
                if k is not None:
                    c = counts.setdefault(k, [0, 0])
                    c[0] += 1
                    c[1] += len(fr)
    if manifest:
        write_manifest(manifest, counts)
    return sent, sessions


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", help="pcap to write")
    ap.add_argument("--feed", metavar="IFACE", help="send on this interface instead")
    ap.add_argument("--rate", type=float, default=2000.0, help="--feed: packets per second")
    ap.add_argument("--flows", type=int, default=200, help="sessions (default 200)")
    ap.add_argument("--mix", choices=MIXES, default="realistic")
    ap.add_argument("--apps", help="comma-separated subset (see --list)")
    ap.add_argument("--duration", type=float, default=10.0,
                    help="seconds over which sessions start (default 10)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--list", action="store_true", help="list applications and their labels")
    ap.add_argument("--manifest", metavar="FILE",
                    help="--feed: write the packets and bytes sent per TCP/UDP flow (JSON)")
    a = ap.parse_args()
    if a.list:
        for name, (_, label, weight) in APPS.items():
            print("%-16s %-14s weight %d" % (name, label, weight))
        return 0
    if not a.out and not a.feed:
        ap.error("--out FILE or --feed IFACE is required")
    apps = a.apps.split(",") if a.apps else list(APPS)
    unknown = [x for x in apps if x not in APPS]
    if unknown:
        ap.error("unknown application(s): %s (see --list)" % ", ".join(unknown))
    if a.flows < 1:
        ap.error("--flows must be at least 1")
    if a.feed:
        if a.rate <= 0:
            ap.error("--rate must be positive")
        sent, sessions = feed(a.feed, a.rate, a.duration, a.flows, a.mix, apps, a.seed,
                              a.manifest)
        print("trafficgen: %d sessions started, %d packets sent on %s" % (sessions, sent,
                                                                           a.feed),
              file=sys.stderr)
        return 0
    w, chosen = generate(a.flows, a.mix, apps, a.duration, a.seed)
    n = w.write(a.out)
    print("trafficgen: %d sessions, %d packets -> %s" % (len(chosen), n, a.out), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
