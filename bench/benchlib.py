"""Small helpers shared by the Python benchmarks."""
import socket


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status(port, host):
    """Status of one GET / to 127.0.0.1:<port> for <host>; 0 when none came."""
    try:
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET / HTTP/1.1\r\nHost: " + host.encode() + b"\r\nConnection: close\r\n\r\n")
        data = s.recv(64)
        s.close()
        return int(data.split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
