"""`make torture`: the full power-cut run on the record store: 10,000 writes, the power cut
at every byte of every operation of every one of them (host_tests/storage_torture.py).

The writes are split into chunks run on all cores; chunk c replays writes 1..start
without cuts, then cuts through its own. Usage: tools/torture.py [WRITES] [CHUNK]
"""

import multiprocessing
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "host_tests", "compat"), os.path.join(ROOT, "host_tests")]

import micropython  # noqa: E402,F401
import storage_torture  # noqa: E402


def chunk(span):
    a, b = span
    t = time.time()
    writes, cuts = storage_torture.run(b, cut_from=a)
    return a, b, writes, cuts, time.time() - t


def main(argv):
    n = int(argv[1]) if len(argv) > 1 else 10000
    size = int(argv[2]) if len(argv) > 2 else 250
    spans = [(a, min(n, a + size)) for a in range(0, n, size)]
    t = time.time()
    total = 0
    with multiprocessing.Pool(os.cpu_count() or 2) as pool:
        for a, b, _w, cuts, sec in pool.imap_unordered(chunk, spans):
            total += cuts
            print("writes %5d..%5d: %7d power cuts, invariants held (%.0f s)"
                  % (a + 1, b, cuts, sec), flush=True)
    print("storage torture: %d writes, %d power cuts (every byte of every operation), "
          "all invariants held, %.0f s" % (n, total, time.time() - t))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
