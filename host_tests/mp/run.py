"""MicroPython test runner: runs every host_tests/mp/test_*.py with micropython-lib unittest.

Same file on the unix port (CI: `make mptest`) and on a board:
    mpremote mip install unittest
    mpremote mount . run host_tests/mp/run.py
Optional argv: module names to run (default: all). Exit code: failures + errors.
"""

import os
import sys

HERE = "host_tests/mp"
for _p in ("", HERE, ".venv/mplib"):
    if _p not in sys.path:
        sys.path.append(_p)

import unittest  # noqa: E402


def discover(names):
    if names:
        return names
    found = [f[:-3] for f in os.listdir(HERE) if f.startswith("test_") and f.endswith(".py")]
    found.sort()
    return found


def cases(mod):
    for name in dir(mod):
        obj = getattr(mod, name)
        if (isinstance(obj, type) and issubclass(obj, unittest.TestCase)
                and obj is not unittest.TestCase):
            yield obj


def main(argv):
    """Run module by module, dropping each before the next: the suite must fit the
    192 KB heap of an RP2040-sized unix port (and a real board)."""
    import gc

    names = discover(argv)
    ran = bad = skipped = 0
    for n in names:
        gc.collect()
        try:
            mod = __import__(n)
        except Exception as e:  # an import error is a failure, not a crash of the runner
            print("ERROR importing", n)
            sys.print_exception(e)
            bad += 1
            continue
        suite = unittest.TestSuite()
        for c in cases(mod):
            suite.addTest(c)
        try:
            result = unittest.TestRunner().run(suite)
        except Exception as e:  # e.g. MemoryError outside a test method
            print("ERROR running", n)
            sys.print_exception(e)
            bad += 1
            continue
        for exc in result.exceptions:
            print("-" * 70)
            print(exc)
        ran += result.testsRun
        bad += result.failuresNum + result.errorsNum
        skipped += result.skippedNum
        del suite, result, mod
        sys.modules.pop(n, None)
    print("== MicroPython: %d passed, %d failed, %d skipped in %d modules =="
          % (ran - bad - skipped if ran >= bad + skipped else 0, bad, skipped, len(names)))
    return bad


if __name__ == "__main__":
    sys.exit(min(main(sys.argv[1:]), 255))
