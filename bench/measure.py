"""One measurement in a fresh process: `python -m bench.measure SYSTEM WORKLOAD 'JSON params'`.

Prints the figures as one JSON line on stdout (the last line), so the orchestrator can run a
system under any interpreter (a peer in its own virtual environment) and stay isolated from it.
"""

from __future__ import annotations

import importlib
import json
import sys


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python -m bench.measure SYSTEM WORKLOAD 'JSON params'", file=sys.stderr)
        return 2
    system, workload, params = argv
    module = importlib.import_module(f"bench.systems.{system}")
    figures = getattr(module, workload)(**json.loads(params))
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
