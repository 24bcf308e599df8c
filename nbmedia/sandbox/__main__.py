"""``python -m nbmedia.sandbox --port N [--speed X] [--seed S] [--no-plan-limits]``: serve the
sandbox in the foreground until Ctrl-C or SIGTERM (either stops it cleanly, exit status 0)."""

from __future__ import annotations

import argparse
import signal
import threading
from types import FrameType

from .app import start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m nbmedia.sandbox", description=__doc__)
    parser.add_argument("--port", type=int, default=8765, help="port (0: a free one)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--speed", type=float, default=1.0, help="job clock speed factor")
    parser.add_argument(
        "--seed", type=int, default=None, help="seed of the fault knobs' RNG (reproducible runs)"
    )
    parser.add_argument(
        "--no-plan-limits",
        action="store_true",
        help="do not enforce per-key rate and concurrency limits (faults.plan_limits = False)",
    )
    args = parser.parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    sandbox = start(port=args.port, speed=args.speed, host=args.host)
    try:
        if args.seed is not None:
            sandbox.faults.seed = args.seed
        if args.no_plan_limits:
            sandbox.faults.plan_limits = False
        print(
            f"nbmedia sandbox serving on {sandbox.url} (speed {sandbox.speed:g}); Ctrl-C stops it",
            flush=True,
        )
        for name in sandbox.providers:
            print(
                f"  {name:<12} {sandbox.base_url(name)}  webhook secret "
                f"{sandbox.webhook_secret(name)}"
            )
        if args.seed is not None:
            print(f"  fault seed   {args.seed}")
        if args.no_plan_limits:
            print("  plan limits  off (rate and concurrency limits are not enforced)")
        print(flush=True, end="")
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    main()
