"""Run the benchmarks: ``make bench`` or ``python bench/run.py [name ...]``.

Each ``bench/bench_*.py`` module has ``run() -> list[Result]``. Every figure is printed
as a ratio against a reference measured in the same run, with its target, so a noisy
shared machine slows both sides alike. Exit status 1 if any target is missed.
"""

from __future__ import annotations

import importlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@dataclass
class Result:
    name: str
    figure: str  # what was measured, with units
    reference: str  # what it was compared with, with units
    ratio: float  # figure / reference
    target: str  # e.g. ">= 0.5" or "<= 2.0"
    ok: bool | None  # None: could not run here (the note says why)
    note: str = ""


def main(argv: list[str]) -> int:
    modules = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    wanted = [m for m in modules if not argv or any(a in m for a in argv)]
    results: list[Result] = []
    for name in wanted:
        started = time.perf_counter()
        print(f"== {name}", flush=True)
        module = importlib.import_module(name)
        for result in module.run():
            results.append(result)
            status = {True: "ok", False: "MISSED", None: "skipped"}[result.ok]
            print(
                f"  {result.name}: {result.figure} vs {result.reference} -> "
                f"ratio {result.ratio:.3f} (target {result.target}) [{status}]"
                + (f"  {result.note}" if result.note else ""),
                flush=True,
            )
        print(f"   ({time.perf_counter() - started:.0f} s)", flush=True)
    missed = [r for r in results if r.ok is False]
    print(
        f"\n{len(results)} figures, {len(missed)} missed target, "
        f"{sum(r.ok is None for r in results)} skipped"
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    raise SystemExit(main(sys.argv[1:]))
