"""`python -m bench [name ...]` runs benchmarks: `polling` (list vs GET), `chaos` (faults and a
kill, see bench/chaos.py for its flags: `python -m bench chaos --n 1000`)."""

from __future__ import annotations

import sys

from . import bench_polling, chaos


def main(argv: list[str]) -> int:
    if argv and argv[0] == "chaos":
        return chaos.main(argv[1:])
    if not argv or argv[0] == "polling":
        bench_polling.main()
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
