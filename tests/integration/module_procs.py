"""The conftest `procs` fixture for module-scoped environments: a set of
processes (gantry, peers) shared by a test file's tests, stopped at its end,
gantry checked the same way (exit status, sanitizer reports)."""
from conftest import Gantry


class ModuleProcs:
    def __init__(self):
        self.started = []

    def gantry(self, tmpdir, *a, **kw):
        g = Gantry(tmpdir, *a, **kw)
        self.started.append(g)
        return g.wait_ready()

    def add(self, p):
        self.started.append(p)
        return p

    def stop_all(self):
        errors = []
        for p in reversed(self.started):
            try:
                p.stop()
            except AssertionError as e:
                errors.append(str(e))
        if errors:
            raise AssertionError("\n".join(errors))
