"""Test certificates made with the real openssl CLI: a CA and leaf
certificates for given names."""
import os
import subprocess


def make_ca(d):
    key, crt = os.path.join(d, "ca.key"), os.path.join(d, "ca.crt")
    if not os.path.exists(crt):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-subj", "/CN=gantry test CA", "-days", "2", "-keyout", key, "-out", crt,
                        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"],
                       check=True, capture_output=True)
    return key, crt


def make_cert(d, name, sans=None, ips=(), uris=()):
    """Returns (cert, key) paths for <name> (and IP addresses <ips>, URI
    SANs <uris>), signed by the test CA."""
    ca_key, ca_crt = make_ca(d)
    key, csr, crt = (os.path.join(d, "%s.%s" % (name, ext)) for ext in ("key", "csr", "crt"))
    sans = sans or [name]
    ext = os.path.join(d, "%s.ext" % name)
    with open(ext, "w") as f:
        f.write("subjectAltName=" + ",".join(["DNS:" + s for s in sans] + ["IP:" + i for i in ips]
                                             + ["URI:" + u for u in uris]) + "\n")
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=" + name, "-keyout", key, "-out", csr], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
                    "-days", "2", "-extfile", ext, "-out", crt], check=True, capture_output=True)
    return crt, key


def make_client_cert(d, name):
    """A client certificate (extendedKeyUsage clientAuth) signed by the test CA."""
    ca_key, ca_crt = make_ca(d)
    key, csr, crt = (os.path.join(d, "%s.%s" % (name, ext)) for ext in ("key", "csr", "crt"))
    ext = os.path.join(d, "%s.ext" % name)
    with open(ext, "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=" + name, "-keyout", key, "-out", csr], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
                    "-days", "2", "-extfile", ext, "-out", crt], check=True, capture_output=True)
    return crt, key


def make_ip_cert(d, name, ip):
    """A server certificate for an IP address (subjectAltName IP)."""
    ca_key, ca_crt = make_ca(d)
    key, csr, crt = (os.path.join(d, "%s.%s" % (name, ext)) for ext in ("key", "csr", "crt"))
    ext = os.path.join(d, "%s.ext" % name)
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:%s\nextendedKeyUsage=serverAuth\n" % ip)
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=" + name, "-keyout", key, "-out", csr], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
                    "-days", "2", "-extfile", ext, "-out", crt], check=True, capture_output=True)
    return crt, key
