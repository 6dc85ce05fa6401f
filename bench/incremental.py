"""One new day after a full build: wall and CPU time of the full build against the
incremental run, and where the new day's time goes, step by step.

    .venv/bin/python bench/incremental.py --customers 2000 --days 121 --out data/bench_inc

generates the demo brand with its last day held back (`zhongtai demo generate
--hold-back-days 1`), materialises the whole graph (`zhongtai materialize`), delivers the day
(`zhongtai demo deliver`) and runs `zhongtai materialize --incremental`; `--rerun full` runs
the whole graph again instead (what a new day cost before the incremental path).
`--from DIR` starts from a full build made before (a data tree with `landing_next/`, copied
into --out, the copy's full build timed from its Dagster runs) and times only the new day.

Each `zhongtai` call runs as a child process sampled by bench/scale.py's /proc sampler: wall
seconds, CPU seconds of the whole process tree (user + system, the steadier figure on a shared
machine), the load average before, mean and max. Per Dagster step (the event log's STEP
durations, CPU from the samples across the step) the new day's steps are printed longest first.
Writes ``<out>/bench/incremental.json``. Never part of `make test`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import Sampler, _interp, stage_of, steps_from_events  # noqa: E402

BIN = Path(sys.executable).parent


def run(args: list[str], env: dict, interval: float = 0.5) -> dict:
    """One CLI call as a sampled child process: wall, CPU (tree), load; fails loudly."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load0 = os.getloadavg()[0]
    t0 = time.time()
    proc = subprocess.Popen(
        [str(BIN / "zhongtai"), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    sampler = Sampler(proc.pid, interval)
    sampler.start()
    out = proc.communicate()[0].decode(errors="replace")
    wall = time.time() - t0
    sampler.stop.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"zhongtai {' '.join(args)} failed:\n{out[-4000:]}")
    loads = [s["load"] for s in sampler.samples] or [load0]
    return {
        "args": args,
        "t0": t0,
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(
            (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime), 1
        ),
        "load_start": round(load0, 1),
        "load_mean": round(sum(loads) / len(loads), 1),
        "load_max": round(max(loads), 1),
        "samples": sampler.samples,
        "output_tail": out[-1500:],
    }


def runs_since(home: Path, t0: float) -> list[tuple[str, list[dict]]]:
    """(run id, event records for ``steps_from_events``) of every run started after t0."""
    import dagster as dg

    instance = dg.DagsterInstance.from_ref(dg._core.instance.InstanceRef.from_dir(str(home)))
    out = []
    for rec in reversed(instance.get_run_records(limit=50)):
        if rec.create_timestamp.timestamp() < t0 - 1:
            continue
        events = []
        for entry in instance.all_logs(rec.dagster_run.run_id):
            ev = entry.dagster_event
            if ev is None or not entry.step_key:
                continue
            row = {"step_key": entry.step_key, "type": ev.event_type_value,
                   "timestamp": entry.timestamp}  # fmt: skip
            if ev.event_type_value == "STEP_SUCCESS":
                row["duration_ms"] = ev.event_specific_data.duration_ms
            elif ev.event_type_value == "ASSET_MATERIALIZATION":
                row["asset_key"] = ev.event_specific_data.materialization.asset_key.to_user_string()
            elif ev.event_type_value == "ASSET_CHECK_EVALUATION":
                row["asset_key"] = ev.event_specific_data.asset_key.to_user_string()
            events.append(row)
        out.append((rec.dagster_run.run_id, events))
    return out


def step_table(home: Path, call: dict) -> list[dict]:
    """Every step of the Dagster runs of one call: key, stage, wall s, CPU s (tree, sampled),
    assets materialised and checks evaluated."""
    ts = [s["t"] for s in call["samples"]]
    cpu = [s["cpu"] for s in call["samples"]]
    rows = []
    for run_id, events in runs_since(home, call["t0"]):
        for step in steps_from_events(events).values():
            if step.seconds is None:
                continue
            used = None
            if ts and step.start is not None and step.end is not None:
                used = round(max(0.0, _interp(ts, cpu, step.end) - _interp(ts, cpu, step.start)), 1)
            rows.append(
                asdict(step)
                | {
                    "run": run_id[:8],
                    "stage": stage_of(step),
                    "cpu_seconds": used,
                    "seconds": round(step.seconds, 1),
                }  # fmt: skip
            )
    return sorted(rows, key=lambda r: -r["seconds"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=2000)
    ap.add_argument("--days", type=int, default=121)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--from", dest="source", type=Path, help="a full build to start from")
    ap.add_argument("--rerun", choices=["incremental", "full"], default="incremental")
    ap.add_argument("--top", type=int, default=25, help="steps of the new day printed")
    a = ap.parse_args()
    root = a.out.resolve()
    env = {**os.environ, "ZHONGTAI_DATA_DIR": str(root), "DAGSTER_HOME": str(root / "dagster_home")}
    report: dict = {"scale": f"{a.customers} x {a.days}", "rerun": a.rerun}
    if a.source:
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(a.source.resolve(), root, symlinks=True)
        report["full"] = {"from": str(a.source)}
    else:
        scale = ["--seed", str(a.seed), "--customers", str(a.customers), "--days", str(a.days)]
        run(["demo", "generate", *scale, "--hold-back-days", "1"], env)
        report["full"] = run(["materialize"], env)
        report["full"]["steps"] = step_table(root / "dagster_home", report["full"])
    run(["demo", "deliver"], env)
    again = ["materialize", "--incremental"] if a.rerun == "incremental" else ["materialize"]
    day = report["day"] = run(again, env)
    day["steps"] = step_table(root / "dagster_home", day)
    (root / "bench").mkdir(exist_ok=True)
    slim = {k: {kk: vv for kk, vv in v.items() if kk != "samples"} for k, v in report.items()
            if isinstance(v, dict)}  # fmt: skip
    (root / "bench" / "incremental.json").write_text(json.dumps(slim, indent=1, default=str))

    print(day["output_tail"])
    print("| step | stage | wall s | CPU s |")
    print("| --- | --- | ---: | ---: |")
    for r in day["steps"][: a.top]:
        print(f"| {r['key']} | {r['stage']} | {r['seconds']} | {r['cpu_seconds']} |")
    by_stage: dict[str, list[float]] = {}
    for r in day["steps"]:
        acc = by_stage.setdefault(r["stage"], [0.0, 0.0])
        acc[0] += r["seconds"]
        acc[1] += r["cpu_seconds"] or 0.0
    print("new day by stage (wall s / CPU s): " + ", ".join(
        f"{k} {v[0]:.1f}/{v[1]:.1f}" for k, v in sorted(by_stage.items(), key=lambda kv: -kv[1][0])
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
        print(f"| {a.customers} x {a.days} ({a.rerun}) from {a.source} | - | - "
              f"| {day['wall_seconds']} / {day['cpu_seconds']} "
              f"| {day['load_start']} (mean {day['load_mean']}) | - |")  # fmt: skip


if __name__ == "__main__":
    main()
