"""The command line: --help, --version, flags over the configuration file,
and clear errors with exit code 2 for bad static configuration."""
import subprocess

from conftest import GANTRY_BIN, free_port, get, wait_port


def gantry(*args, timeout=10):
    return subprocess.run([GANTRY_BIN, *args], capture_output=True, timeout=timeout, text=True)


def test_help_and_version():
    r = gantry("--help")
    assert r.returncode == 0
    assert "--entryPoints.<name>.address" in r.stdout and "--configFile" in r.stdout
    r = gantry("--version")
    assert r.returncode == 0 and r.stdout.startswith("gantry ") and "libh2o 2.2.5" in r.stdout


def test_bad_flags_fail_clearly():
    r = gantry("--workers=many")
    assert r.returncode == 2 and "flag --workers: expected an integer, got 'many'" in r.stderr
    r = gantry("positional")
    assert r.returncode == 2 and "unexpected argument 'positional'" in r.stderr
    r = gantry("--configFile=/nonexistent.yaml")
    assert r.returncode == 2 and "/nonexistent.yaml" in r.stderr


def test_bad_config_file_reports_position(tmp_path):
    cfg = tmp_path / "gantry.yaml"
    cfg.write_text("entryPoints:\n  web:\n    address: [\n")
    r = gantry("--configFile=%s" % cfg)
    assert r.returncode == 2 and "gantry.yaml:4:1" in r.stderr


def test_address_in_use_is_reported():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    port = s.getsockname()[1]
    r = gantry("--entryPoints.web.address=127.0.0.1:%d" % port)
    s.close()
    assert r.returncode == 1 and "cannot listen on 127.0.0.1:%d: Address already in use" % port in r.stderr


def test_flags_win_over_file(tmp_path, procs):
    up = procs.whoami()
    dyn = tmp_path / "dyn.yaml"
    dyn.write_text("http:\n  routers:\n    r: {rule: \"Host(`cli.test`)\", service: s}\n"
                   "  services:\n    s: {loadBalancer: {servers: [{url: \"%s\"}]}}\n" % up.url)
    file_port, flag_port = free_port(), free_port()
    cfg = tmp_path / "gantry.yaml"
    cfg.write_text("entryPoints:\n  web:\n    address: \"127.0.0.1:%d\"\nproviders:\n  file:\n    filename: %s\n"
                   "unknownKey: 1\n" % (file_port, dyn))
    from conftest import Process
    p = procs.add(Process([GANTRY_BIN, "--configFile=%s" % cfg, "--entryPoints.web.address=127.0.0.1:%d" % flag_port,
                           "--admin.address=127.0.0.1:0"],
                          "gantry-cli"))
    wait_port(flag_port)
    status, _, body = get(flag_port, host="cli.test")
    assert status == 200 and b"whoami" in body
    assert "unknown static configuration key 'unknownKey'" in p.output()
