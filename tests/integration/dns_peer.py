"""A tiny authoritative DNS server over UDP on loopback, for tests: it answers
A questions for the names it is given (with a short TTL), an empty NOERROR
for their other types, NXDOMAIN for the rest, and can delay its answers.
Gantry is pointed at it with GANTRY_DNS_SERVERS=127.0.0.1:<port>."""
import socket
import struct
import threading
import time


class DnsServer:
    def __init__(self, ttl=1):
        self.ttl = ttl
        self.records = {}  # name (lower case, no trailing dot) -> IPv4 string
        self.delay = {}  # name -> seconds before answering
        self.questions = []  # (time, name, qtype)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.address = "127.0.0.1:%d" % self.port
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def set(self, name, ip):
        self.records[name.lower()] = ip

    def asked(self, name):
        return sum(1 for _, n, t in self.questions if n == name.lower() and t == 1)

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                name, qtype, qend = self._question(data)
            except (IndexError, struct.error):
                continue
            self.questions.append((time.time(), name, qtype))
            delay = self.delay.get(name, 0)
            if delay:
                threading.Timer(delay, self._answer, (data, qend, name, qtype, peer)).start()
            else:
                self._answer(data, qend, name, qtype, peer)

    @staticmethod
    def _question(data):
        labels, i = [], 12
        while data[i]:
            labels.append(data[i + 1:i + 1 + data[i]].decode().lower())
            i += 1 + data[i]
        qtype = struct.unpack("!H", data[i + 1:i + 3])[0]
        return ".".join(labels), qtype, i + 5

    def _answer(self, data, qend, name, qtype, peer):
        if self._stop:
            return
        qid, flags = struct.unpack("!HH", data[:4])
        ip = self.records.get(name)
        rcode = 0 if ip is not None else 3
        answers = b""
        if ip is not None and qtype == 1:
            answers = struct.pack("!HHHIH", 0xC00C, 1, 1, self.ttl, 4) + socket.inet_aton(ip)
        head = struct.pack("!HHHHHH", qid, 0x8400 | (flags & 0x0100) | rcode, 1, 1 if answers else 0, 0, 0)
        try:
            self.sock.sendto(head + data[12:qend] + answers, peer)
        except OSError:
            pass

    def stop(self):
        self._stop = True
        self.sock.close()
