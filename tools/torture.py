"""`make torture`: the full power-cut run (10,000 writes, every byte of every program
and of every erase), too long for `make test`."""

import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "host_tests", "compat"), os.path.join(ROOT, "host_tests")]

import micropython  # noqa: E402,F401
import storage_torture  # noqa: E402

if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    t = time.time()
    writes, cuts = storage_torture.run(n, erase_stride=1)
    print("storage torture: %d writes, %d power cuts (every byte), all invariants held, %.0f s"
          % (writes, cuts, time.time() - t))
