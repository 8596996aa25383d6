"""Compare commits with bench/cmp_load.py on a machine whose speed changes.

    .venv/bin/python bench/cmp_compare.py REV [REV ...] [--rounds 3] [-- cmp_load options]

    .venv/bin/python bench/cmp_compare.py c6384a0 HEAD --rounds 3 -- --database-url "$DATABASE_URL"

Runs ``cmp_load.py --commit REV`` for each REV in turn, ``--rounds`` times
(REV1, REV2, REV1, REV2, ...), so that a slower minute of a shared machine falls
on every commit alike, and prints each run and the medians: enrollments/s, p99,
server CPU per enrollment (and the database's part), OpenSSL's mock in the same
run and the ratio of the two. Options after ``--`` go to every cmp_load run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(rev: str, extra: list[str], out: Path) -> dict:
    command = [sys.executable, str(HERE / "cmp_load.py"), "--commit", rev, "--json", str(out)]
    done = subprocess.run(
        [*command, *extra],
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    if not out.exists():
        sys.exit(f"cmp_load.py failed for {rev}:\n{done.stderr[-2000:]}")
    phases = json.loads(out.read_text())["enrollments"]
    fresh = next(p for p in phases if p["label"] == "fac-ca fresh")
    mock = next((p for p in phases if p["label"] == "openssl mock"), None)
    return {
        "rate": fresh["rate"],
        "p99": fresh["p99"],
        "cpu": fresh["total_ms"],
        "db": fresh["database_ms"],
        "mock": mock["total_ms"] if mock else None,
    }


def show(rev: str, row: dict) -> str:
    db = f" ({row['db']:.2f})" if row["db"] is not None else ""
    mock = row["mock"]
    ratio = f"  mock {mock:.2f} ms, {row['cpu'] / mock:.1f}x" if mock else ""
    return (
        f"{rev:>12}  {row['rate']:7.1f}/s  p99 {row['p99']:6.1f} ms  "
        f"{row['cpu']:6.2f} ms{db}{ratio}"
    )


def main() -> None:
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    own = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revs", nargs="+")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(own)
    results: dict[str, list[dict]] = {rev: [] for rev in args.revs}
    with tempfile.TemporaryDirectory(prefix="fac-cmp-compare.") as tmp:
        for round_ in range(args.rounds):
            for rev in args.revs:
                row = run(rev, extra, Path(tmp) / f"{round_}-{len(results[rev])}.json")
                results[rev].append(row)
                print(show(rev, row), flush=True)
    print("medians:")
    for rev, rows in results.items():
        median = {
            key: statistics.median(r[key] for r in rows) if rows[0][key] is not None else None
            for key in rows[0]
        }
        print(show(rev, median))


if __name__ == "__main__":
    main()
