"""Helpers shared by the harness tests: running one subcommand in-process, synthetic benchmark JSON."""

from __future__ import annotations


def run_subcommand(module_name: str, argv: list[str]) -> int:
    """Parse ``argv`` with only one subcommand module registered and run its handler.

    Subcommands that the top-level parser does not list yet are tested through this.
    """
    import argparse
    from importlib import import_module

    parser = argparse.ArgumentParser(prog="ptycho-harness")
    subparsers = parser.add_subparsers(dest="command", required=True)
    import_module(f"harness.commands.{module_name}").register(subparsers)
    args = parser.parse_args(argv)
    return int(args.handler(args))


def benchmark_document(
    medians_s: dict[str, float],
    *,
    rounds: int = 10,
    spread: float = 0.01,
    seed: int = 0,
    extra: dict[str, dict] | None = None,
) -> dict:
    """A pytest-benchmark JSON document with per-round times around the given medians."""
    import random
    import statistics

    rng = random.Random(seed)
    benchmarks = []
    for name, median_s in medians_s.items():
        times = [median_s * (1 + rng.gauss(0, spread)) for _ in range(rounds)]
        benchmarks.append(
            {
                "name": name.split("::")[-1],
                "fullname": name,
                "stats": {
                    "mean": statistics.fmean(times),
                    "stddev": statistics.stdev(times),
                    "median": statistics.median(times),
                    "rounds": rounds,
                    "data": times,
                },
                "options": {"timer": "process_time"},
                "extra_info": (extra or {}).get(name, {}),
            }
        )
    return {"machine_info": {"cpu": {"brand_raw": "Example CPU", "count": 2}}, "benchmarks": benchmarks}
