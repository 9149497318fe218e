"""pytest set-up: firmware imports as `mpmeter`, and `micropython` resolves to the compat shim."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for p in (ROOT, os.path.join(ROOT, "host_tests", "compat")):
    if p not in sys.path:
        sys.path.insert(0, p)

import micropython  # noqa: E402,F401  (installs the viper annotation names)

# host_tests/mp holds the on-MicroPython unittest suite (run by test_toolchain.py)
collect_ignore = ["mp"]


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):  # controller (or no xdist): fresh table
        import shutil

        shutil.rmtree(os.path.join(ROOT, "build", "accuracy"), ignore_errors=True)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    import accuracy

    lines = accuracy.table_lines()
    if lines:
        terminalreporter.section("accuracy table (errors in %, firmware on MicroPython)")
        for ln in lines:
            terminalreporter.write_line(ln)
