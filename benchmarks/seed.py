"""Fill an MLflow server with N registered models and report how long it took.

Benchmarks of the ingestion need a registry of a known size; this reuses the
test helper so benchmark and test data have the same shape.

    python benchmarks/seed.py --tracking-uri http://127.0.0.1:5000 --count 500
    python benchmarks/seed.py --tracking-uri http://127.0.0.1:5000 --count 50 --with-signature
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.mlflow_server import seed_bulk_models  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", required=True, help="e.g. http://127.0.0.1:5000")
    parser.add_argument("--count", type=int, required=True, help="number of registered models")
    parser.add_argument(
        "--with-signature", action="store_true",
        help="log a real pyfunc model with a signature per model (much slower)",
    )
    parser.add_argument(
        "--prefix", default=None,
        help="model name prefix (default: unique per invocation, so reruns do not collide)",
    )
    parser.add_argument("--threads", type=int, default=8, help="client threads (default 8)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    prefix = args.prefix or f"bench-{time.strftime('%Y%m%d-%H%M%S')}-"
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # before mlflow is imported
    import mlflow  # noqa: F401  -- import outside the timed section (~1 s on its own)

    started = time.perf_counter()
    names = seed_bulk_models(
        args.tracking_uri, args.count,
        prefix=prefix, with_signature=args.with_signature, threads=args.threads,
    )
    elapsed = time.perf_counter() - started
    kind = "with signature" if args.with_signature else "plain"
    print(
        f"seeded {len(names)} {kind} models ({prefix}*) into {args.tracking_uri} "
        f"in {elapsed:.2f} s ({len(names) / elapsed:.1f} models/s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
