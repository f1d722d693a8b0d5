"""A small DNS server for the DNS-01 authoritative checks (challtestsrv
answers no SOA or NS): it serves one zone's SOA and NS records and the
nameservers' A records from a table, and relays TXT questions to
pebble-challtestsrv (where the exec script writes the record), or answers
them with no record at all (an authority the record never reaches). It
listens on UDP and TCP and records every question it gets."""
import socket
import socketserver
import struct
import threading

T_A, T_NS, T_CNAME, T_SOA, T_TXT, T_AAAA = 1, 2, 5, 6, 16, 28


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def parse_question(msg):
    """(name with its final dot, type, offset past the question)."""
    o, labels = 12, []
    while msg[o]:
        labels.append(msg[o + 1:o + 1 + msg[o]].decode())
        o += 1 + msg[o]
    qtype = struct.unpack("!H", msg[o + 1:o + 3])[0]
    return ".".join(labels).lower() + ".", qtype, o + 5


def rr(name, rtype, rdata, ttl=60):
    return encode_name(name) + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata


class Zone:
    """<zone> (e.g. "ans.test.") with nameservers {name: (ip, glue: its A record in the NS answer too)};
    <txt>: "relay" to challtestsrv at <cts_dns>, or "none"."""

    def __init__(self, host, port, zone, nameservers, cts_dns, txt="relay"):
        self.zone, self.nameservers, self.cts_dns, self.txt = zone, nameservers, cts_dns, txt
        self.questions = []  # (name, type, recursion desired)
        outer = self

        class UDP(socketserver.BaseRequestHandler):
            def handle(self):
                data, sock = self.request
                reply = outer.answer(data)
                if reply:
                    sock.sendto(reply, self.client_address)

        class TCP(socketserver.StreamRequestHandler):
            def handle(self):
                n = struct.unpack("!H", self.rfile.read(2))[0]
                reply = outer.answer(self.rfile.read(n))
                if reply:
                    self.wfile.write(struct.pack("!H", len(reply)) + reply)

        family = socket.AF_INET6 if ":" in host else socket.AF_INET

        class UDPServer(socketserver.ThreadingUDPServer):
            address_family = family
            allow_reuse_address = True

        class TCPServer(socketserver.ThreadingTCPServer):
            address_family = family
            allow_reuse_address = True

        self.udp = UDPServer((host, port), UDP)
        self.tcp = TCPServer((host, self.udp.server_address[1]), TCP)
        self.port = self.udp.server_address[1]
        for s in (self.udp, self.tcp):
            threading.Thread(target=s.serve_forever, daemon=True).start()

    def asked(self, qtype=T_TXT):
        return [q for q in self.questions if q[1] == qtype]

    def relay(self, data):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(2)
            s.sendto(data, ("127.0.0.1", self.cts_dns))
            return s.recv(65535)

    def answer(self, data):
        name, qtype, end = parse_question(data)
        rd = bool(data[2] & 1)
        self.questions.append((name, qtype, rd))
        if qtype == T_TXT and self.txt == "relay":
            return self.relay(data)
        answers, additional, rcode = [], [], 0
        in_zone = name == self.zone or name.endswith("." + self.zone)
        ns_names = {n.lower(): ip for n, ip in self.nameservers.items()}
        if qtype == T_SOA and name == self.zone:
            first = next(iter(ns_names))
            answers.append(rr(name, T_SOA, encode_name(first) + encode_name("hostmaster." + self.zone) +
                              struct.pack("!IIIII", 1, 60, 60, 60, 60)))
        elif qtype == T_NS and name == self.zone:
            for ns, (ip, glue) in ns_names.items():
                answers.append(rr(name, T_NS, encode_name(ns)))
                if glue:
                    additional.append(rr(ns, T_A, socket.inet_aton(ip)))
        elif qtype == T_A and name in ns_names:
            answers.append(rr(name, T_A, socket.inet_aton(ns_names[name][0])))
        elif not in_zone:
            rcode = 3  # NXDOMAIN: the parents of the zone are nobody's here
        flags = 0x8400 | (0x0100 if rd else 0) | rcode  # QR, AA
        head = struct.pack("!HHHHHH", struct.unpack("!H", data[:2])[0], flags, 1, len(answers), 0, len(additional))
        return head + data[12:end] + b"".join(answers) + b"".join(additional)

    def stop(self, **kw):
        for s in (self.udp, self.tcp):
            s.shutdown()
            s.server_close()
        return 0
