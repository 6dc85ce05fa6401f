"""One new day after a full build: wall and CPU time of the full build against the
incremental run, and where the new day's time goes, step by step.

    .venv/bin/python bench/incremental.py --customers 2000 --days 121 --out data/bench_inc

generates the demo brand with its last day held back (`zhongtai demo generate
--hold-back-days 1`), materialises the whole graph (`zhongtai materialize`), delivers the day
(`zhongtai demo deliver`) and runs `zhongtai materialize --incremental`; `--rerun full` runs
the whole graph again instead (what a new day cost before the incremental path).
`--from DIR` starts from a full build made before (a data tree with `landing_next/`, copied
into --out, the copy's full build timed from its Dagster runs) and times only the new day;
`--tree-parse` first gives the copy its own dbt partial parse (untimed), as the tree's
previous run leaves it (``DataPaths.dbt_parse``): without it the day's first `dbt build`
starts from the project's parse, made for whichever tree parsed last, and parses in full
when that was another tree (dbt's profile holds the tree's path). `--keep-built DIR` copies the
full build, before its day is delivered, to DIR: a template for later `--from` runs (of other
commits' days on the same full build).

Each `zhongtai` call runs as a child process sampled by bench/scale.py's /proc sampler: wall
seconds, CPU seconds of the whole process tree (user + system, the steadier figure on a shared
machine), the load average before, mean and max. Per Dagster step (the event log's STEP
durations, CPU from the samples across the step) the new day's steps are printed longest first.
Writes ``<out>/bench/incremental.json``. Never part of `make test`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import _env, call, measured_run  # noqa: E402


def run(args: list[str], env: dict, log: Path, interval: float = 0.5) -> dict:
    """One CLI call measured by ``scale.call``; fails loudly with its output's tail."""
    result = call(args, env, interval, log)
    if result["exit_code"]:
        sys.exit(f"zhongtai {' '.join(args)} failed:\n{log.read_text()[-4000:]}")
    return result


def materialized(root: Path, args: list[str], name: str, interval: float = 0.5) -> dict:
    """A ``zhongtai materialize`` call measured by ``scale.measured_run`` (steps with their
    CPU, stages); fails loudly with its output's tail."""
    result = measured_run(root, args, interval, name)
    log = root / "bench" / f"{name}.log"
    if result["exit_code"]:
        sys.exit(f"zhongtai {' '.join(args)} failed:\n{log.read_text()[-4000:]}")
    result["output_tail"] = log.read_text()[-1500:]
    return result


def tree_parse(root: Path, env: dict) -> None:
    """``root``'s own dbt partial parse in ``DataPaths.dbt_parse`` (`dbt parse` on the tree)."""
    from dagster_dbt.core.dbt_cli_invocation import PARTIAL_PARSE_FILE_NAME

    from ingest.config import DBT_PROJECT_DIR, DataPaths
    from orchestration.resources import dbt_executable

    with tempfile.TemporaryDirectory() as tmp:
        project = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
        cmd = [dbt_executable(), "parse", "--quiet", *project, "--target-path", tmp]
        subprocess.run(cmd, env=env, check=True)
        dest = DataPaths(root).dbt_parse
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(Path(tmp) / PARTIAL_PARSE_FILE_NAME, dest / PARTIAL_PARSE_FILE_NAME)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=2000)
    ap.add_argument("--days", type=int, default=121)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--from", dest="source", type=Path, help="a full build to start from")
    ap.add_argument("--tree-parse", action="store_true", help="the copy's own dbt parse first")
    ap.add_argument("--keep-built", type=Path, help="copy the full build here before the day")
    ap.add_argument("--rerun", choices=["incremental", "full"], default="incremental")
    ap.add_argument("--top", type=int, default=25, help="steps of the new day printed")
    a = ap.parse_args()
    root = a.out.resolve()
    env, logs = _env(root), root / "bench"
    # with --from, the scale is the copied tree's (--customers and --days are not used)
    scale = f"from {a.source}" if a.source else f"{a.customers} x {a.days}"
    report: dict = {"scale": scale, "rerun": a.rerun}
    if a.source:
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(a.source.resolve(), root, symlinks=True)
        report["full"] = {"from": str(a.source)}
    else:
        scale = ["--seed", str(a.seed), "--customers", str(a.customers), "--days", str(a.days)]
        run(["demo", "generate", *scale, "--hold-back-days", "1"], env, logs / "generate.log")
        report["full"] = materialized(root, ["materialize"], "materialize")
        if a.keep_built:
            shutil.rmtree(a.keep_built, ignore_errors=True)
            shutil.copytree(root, a.keep_built, symlinks=True)
    run(["demo", "deliver"], env, logs / "deliver.log")
    if a.tree_parse:
        tree_parse(root, env)
    again = ["materialize", "--incremental"] if a.rerun == "incremental" else ["materialize"]
    day = report["day"] = materialized(root, again, "new_day")
    (logs / "incremental.json").write_text(json.dumps(report, indent=1, default=str))

    print(day["output_tail"])
    print("| step | stage | wall s | CPU s |")
    print("| --- | --- | ---: | ---: |")
    steps = sorted(day["steps"].items(), key=lambda kv: -(kv[1]["seconds"] or 0))
    for key, st in steps[: a.top]:
        used = "–" if st["cpu_seconds"] is None else f"{st['cpu_seconds']:.1f}"
        print(f"| {key} | {st['stage']} | {st['seconds'] or 0:.1f} | {used} |")
    print("new day by stage (wall s / CPU s): " + ", ".join(
        f"{k} {v['seconds']:.1f}/{v['cpu_seconds']:.1f}"
        for k, v in sorted(day["stages"].items(), key=lambda kv: -kv[1]["seconds"]) if v["steps"]
    ))  # fmt: skip
    print(
        "| scale | full build wall s / CPU s | load | new day wall s / CPU s | load | new day / full (wall, CPU) |"
    )
    full = report["full"]
    if "wall_seconds" in full:
        print(
            f"| {a.customers} x {a.days} ({a.rerun}) | {full['wall_seconds']} / {full['cpu_seconds']} "
            f"| {full['load_start']} (mean {full['load_mean']}) "
            f"| {day['wall_seconds']} / {day['cpu_seconds']} "
            f"| {day['load_start']} (mean {day['load_mean']}) "
            f"| {100 * day['wall_seconds'] / full['wall_seconds']:.1f} % "
            f"/ {100 * day['cpu_seconds'] / full['cpu_seconds']:.1f} % |"
        )
    else:
        print(f"| {scale} ({a.rerun}) | - | - "
              f"| {day['wall_seconds']} / {day['cpu_seconds']} "
              f"| {day['load_start']} (mean {day['load_mean']}) | - |")  # fmt: skip


if __name__ == "__main__":
    main()
