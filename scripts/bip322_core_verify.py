#!/usr/bin/env python3
"""Run PyPI's bip322-core verifier (an independent BIP-322 implementation) on proofs.

Reads JSON lines from standard input, one proof each:
    {"address": "...", "message": "...", "signature": "..."}
and writes one JSON line per proof to standard output:
    {"state": "valid" | "invalid" | "inconclusive", "reason": "...", "variant": "..."}

With `--count` it prints only a summary line (for benchmarks) and the elapsed time of
verification alone, without the reading of the input.

Used by tests/bip322_interop.rs and scripts/bench-bip322-core; the virtual environment
that holds bip322-core is made by scripts/setup (`.venv-bip322/`).
"""
import json
import sys
import time

from bip322core import verify_message


def main() -> int:
    count_only = "--count" in sys.argv[1:]
    proofs = [json.loads(line) for line in sys.stdin if line.strip()]
    start = time.perf_counter()
    results = []
    for p in proofs:
        r = verify_message(p["address"], p["signature"], p["message"].encode("utf-8"))
        results.append({"state": r.state.value, "reason": r.reason, "variant": r.variant})
    elapsed = time.perf_counter() - start
    if count_only:
        valid = sum(1 for r in results if r["state"] == "valid")
        print(json.dumps({"proofs": len(results), "valid": valid, "seconds": elapsed}))
    else:
        for r in results:
            print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
