"""`python -m bench` runs every benchmark in this folder."""

from __future__ import annotations

from . import bench_polling

if __name__ == "__main__":
    bench_polling.main()
