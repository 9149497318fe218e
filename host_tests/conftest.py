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
        shutil.rmtree(os.path.join(ROOT, "build", "storage"), ignore_errors=True)


def record_figure(name, text):
    """Keep one line of figures for the end-of-run summary (build/storage/<name>.txt)."""
    d = os.path.join(ROOT, "build", "storage")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name + ".txt"), "w") as f:
        f.write(text)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    import accuracy

    lines = accuracy.table_lines()
    if lines:
        terminalreporter.section("accuracy table (errors in %, firmware on MicroPython)")
        for ln in lines:
            terminalreporter.write_line(ln)
    d = os.path.join(ROOT, "build", "storage")
    if os.path.isdir(d):
        terminalreporter.section("record store figures")
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name)) as f:
                terminalreporter.write_line(f.read().rstrip())
