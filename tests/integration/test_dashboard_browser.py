"""The dashboard in a real browser: headless Chromium (Debian's) driven by
playwright-core from npm. A router created while the page is open appears
without a reload; the test saves a screenshot."""
import os
import shutil
import subprocess

import pytest

from conftest import ROOT, SLOW, service_yaml

BROWSER_DIR = os.path.join(ROOT, "tests", "browser")
ARTIFACTS = os.path.join(ROOT, "tests", "browser", "artifacts")


def browser_available():
    return (shutil.which("node") and os.path.exists("/usr/bin/chromium")
            and os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")))


def test_router_appears_live_in_the_dashboard(tmp_path, procs):
    if not browser_available():
        msg = "needs node, Debian's chromium and `npm ci` in tests/browser"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    up = procs.whoami()
    base = ("http:\n  routers:\n    app:\n      rule: \"Host(`app.test`)\"\n      service: app\n"
            "  services:\n" + service_yaml("app", [up.url]))
    g = procs.gantry(tmp_path, base)
    os.makedirs(ARTIFACTS, exist_ok=True)
    shot = os.path.join(ARTIFACTS, "dashboard.png")
    if os.path.exists(shot):
        os.unlink(shot)
    p = subprocess.Popen(["node", "dashboard.mjs", "http://127.0.0.1:%d/dashboard/" % g.admin_port, "live@file", shot],
                         cwd=BROWSER_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = []
    for line in p.stdout:
        out.append(line.rstrip())
        if line.strip() == "loaded":  # the page is up: change the configuration under it
            g.write(base.replace("  services:", "    live:\n      rule: \"Host(`live.test`) && PathPrefix(`/v2`)\"\n"
                                                "      service: app\n  services:"))
    rc = p.wait(timeout=60 * SLOW)
    text = "\n".join(out)
    assert rc == 0, text
    assert "row: enabled live@file Host(`live.test`) && PathPrefix(`/v2`) app@file" in text, text
    assert "navigations: 1" in text, text  # no reload happened
    assert os.path.getsize(shot) > 10000
