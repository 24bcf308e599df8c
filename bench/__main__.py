"""`python -m bench [name ...]` runs benchmarks: `tracking` (the default: many open jobs followed
against the sandbox in its own process, see bench/tracking/: `python -m bench tracking --n
1000`), `chaos` (faults and a kill, see bench/chaos.py: `python -m bench chaos --n 1000`),
`jobs-table` (a big ledger read as a table, see bench/jobs_table.py: `python -m bench jobs-table
--n 100000`)."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if argv and argv[0] == "chaos":
        from . import chaos

        return chaos.main(argv[1:])
    if argv and argv[0] == "jobs-table":
        from . import jobs_table

        return jobs_table.main(argv[1:])
    if not argv or argv[0] == "tracking" or argv[0].startswith("-"):
        from . import tracking

        return tracking.main(argv[1:] if argv and argv[0] == "tracking" else argv)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
