"""``python -m nbmedia.sandbox --port N [--speed X]``: serve the sandbox in the foreground."""

from __future__ import annotations

import argparse
import threading

from .server import start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m nbmedia.sandbox", description=__doc__)
    parser.add_argument("--port", type=int, default=8765, help="port (0: a free one)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--speed", type=float, default=1.0, help="job clock speed factor")
    args = parser.parse_args(argv)
    sandbox = start(port=args.port, speed=args.speed, host=args.host)
    print(
        f"nbmedia sandbox serving on {sandbox.url} (speed {sandbox.speed:g}); Ctrl-C stops it",
        flush=True,
    )
    for name in sandbox.providers:
        print(
            f"  {name:<12} {sandbox.base_url(name)}  webhook secret {sandbox.webhook_secret(name)}"
        )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()


if __name__ == "__main__":
    main()
