"""Serve the emulator: `python -m webflow_emulator --port N [--seed NAME] ...`."""

from __future__ import annotations

import argparse
import json
import sys
import time

from . import EmulatorServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="webflow_emulator", description=__doc__)
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--seed", help="seed name (webflow_emulator.seeds.<name>)")
    parser.add_argument("--rate-limit", type=int, help="requests per minute per token")
    parser.add_argument("--time-scale", type=float, help="emulated seconds per real second")
    parser.add_argument("--validate", action="store_true", help="check exchanges against the spec")
    args = parser.parse_args(argv)
    server = EmulatorServer(port=args.port, host=args.host, validate=args.validate).start()
    config: dict[str, object] = {}
    if args.rate_limit:
        config["rateLimit"] = args.rate_limit
    if args.time_scale:
        config["timeScale"] = args.time_scale
    if config:
        server.admin.configure(**config)
    print(f"webflow emulator serving {server.base_url}", flush=True)
    if args.seed:
        print(json.dumps(server.admin.seed(args.seed), indent=2), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
