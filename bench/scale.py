"""Scale benchmark: the demo brand at several scales, the whole graph materialised, wall time,
CPU time and peak RSS per stage, each stage beside its peer measured in the same run.

    .venv/bin/python bench/scale.py --customers 2500,5000,10000 --days 400 --out /tmp/zt-bench-scale

For each scale (a data directory ``<out>/c<customers>d<days>``):
  1. generate: ``zhongtai demo generate --seed S --customers N --days D --hold-back-days 1``
     (the last day is held back for step 4; skip with --skip-generate: the landing files
     already there are used);
  2. materialize: lake, warehouse, exports, Dagster home and the model store are removed, then
     ``zhongtai materialize`` (the whole graph, in-process executor) runs as a child process.
     A sampler thread in this process reads /proc every --interval seconds: the resident set
     (VmRSS) and CPU time of the child and all its descendants (dbt, ingest workers), summed,
     and the load average. Per step, the Dagster run's event log gives the start time and the
     STEP_SUCCESS duration; steps are grouped into stages by the asset keys they materialise
     (``stage_of``). A stage's wall time is the sum of its steps' durations, its CPU time the
     growth of the tree's CPU time across its steps, its peak RSS the largest sample taken
     while one of its steps ran (a peak shorter than the interval can be missed; the whole
     run's largest single process, ru_maxrss, is printed too);
  3. peers, each in its own process so its peak RSS is its own, sized from this scale's run:
     the raw polars read of the same landing files (bench_ingest.raw_read), scipy connected
     components of an identity-shaped graph with as many edges as this scale's identity
     graph (bench/identity.py), AutoETS on synthetic series as many and as long as this
     scale's demand frame (bench/forecast.py), implicit ALS on synthetic interactions as many
     as this scale's recommender saw (bench/recs.py);
  4. the new day: ``zhongtai demo deliver`` drops the held-back day into landing/, then
     ``zhongtai materialize --incremental`` (its ingest run and its downstream run) is
     measured like step 2; the table puts its wall s, CPU s and peak RSS per stage beside the
     full build's, with its share of the full build (phase ``newday``; skipped when nothing
     is held back).
Writes ``<out>/c<N>d<D>/bench/scale.json`` per scale and ``<out>/scale.md`` (the table).
Linux only (/proc). Not a test: run on demand (make bench), figures go to bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent

STAGES = ("ingest", "dbt", "identity", "360", "tags/segments", "forecast", "recs", "rest")
# first component of an asset key -> stage
PREFIX_STAGE = {
    "lake": "ingest",
    "reference": "dbt",
    "staging": "dbt",
    "intermediate": "dbt",
    "marts": "dbt",
    "identity": "identity",
    "history": "360",
    "customer_tags": "tags/segments",
    "segment_members": "tags/segments",
    "segment_exports": "tags/segments",
    "forecast": "forecast",
    "recs": "recs",
}
PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- steps and stages (pure)


@dataclass
class Step:
    key: str
    start: float | None = None
    end: float | None = None
    seconds: float | None = None
    status: str = "started"
    materialized: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)


def stage_of(step: Step) -> str:
    """The stage of a step: the most common stage among the asset keys it materialised, else
    among the assets it checked, else from the step key's first component; 'rest' if none
    maps. Ties go to the earlier stage in STAGES."""
    for keys in (step.materialized, step.checked, [step.key.split("__")[0]]):
        votes = Counter(PREFIX_STAGE.get(k.split("/")[0], "rest") for k in keys)
        if votes:
            best = max(votes.values())
            return next(s for s in STAGES if votes.get(s) == best)
    return "rest"


def steps_from_events(events: list[dict]) -> dict[str, Step]:
    """Steps from event-log records: dicts with step_key, type (STEP_START, STEP_SUCCESS,
    STEP_FAILURE, ASSET_MATERIALIZATION, ASSET_CHECK_EVALUATION), timestamp, and
    duration_ms or asset_key where the type has one."""
    steps: dict[str, Step] = {}
    for ev in sorted(events, key=lambda e: e["timestamp"]):
        if not ev.get("step_key"):
            continue
        s = steps.setdefault(ev["step_key"], Step(ev["step_key"]))
        kind = ev["type"]
        if kind == "STEP_START":
            s.start = ev["timestamp"]
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            s.end = ev["timestamp"]
            s.status = "success" if kind == "STEP_SUCCESS" else "failure"
            if ev.get("duration_ms") is not None:
                s.seconds = ev["duration_ms"] / 1000
            elif s.start is not None:
                s.seconds = s.end - s.start
        elif kind == "ASSET_MATERIALIZATION":
            s.materialized.append(ev["asset_key"])
        elif kind == "ASSET_CHECK_EVALUATION":
            s.checked.append(ev["asset_key"])
    return steps


def _interp(ts: list[float], values: list[float], t: float) -> float:
    """Linear interpolation of a sampled, non-decreasing series at time t (clamped)."""
    if not ts:
        return 0.0
    if t <= ts[0]:
        return values[0]
    if t >= ts[-1]:
        return values[-1]
    lo, hi = 0, len(ts) - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ts[mid] <= t:
            lo = mid
        else:
            hi = mid
    w = (t - ts[lo]) / (ts[hi] - ts[lo]) if ts[hi] > ts[lo] else 0.0
    return values[lo] + w * (values[hi] - values[lo])


def step_cpu(step: Step, samples: list[dict]) -> float | None:
    """CPU seconds of the sampled process tree across one step (None without its times or
    without samples)."""
    if not samples or step.start is None or step.end is None:
        return None
    ts = [s["t"] for s in samples]
    cpu = [s["cpu"] for s in samples]
    return max(0.0, _interp(ts, cpu, step.end) - _interp(ts, cpu, step.start))


def stage_summary(steps: dict[str, Step], samples: list[dict]) -> dict[str, dict]:
    """Per stage: wall seconds (sum of step durations), CPU seconds (tree CPU growth across
    its steps), peak RSS MiB (largest sample inside its steps), the number of steps, and its
    three longest steps. Samples: dicts with t, rss (bytes), cpu (seconds)."""
    out = {st: {"seconds": 0.0, "cpu_seconds": 0.0, "peak_rss_mib": 0.0, "steps": 0, "top": []}
           for st in STAGES}  # fmt: skip
    for step in steps.values():
        if step.seconds is None:
            continue
        row = out[stage_of(step)]
        row["seconds"] += step.seconds
        row["steps"] += 1
        row["top"].append((step.key, round(step.seconds, 1)))
        used = step_cpu(step, samples)
        if used is not None:
            row["cpu_seconds"] += used
            inside = [s["rss"] for s in samples if step.start <= s["t"] <= step.end]
            if inside:
                row["peak_rss_mib"] = max(row["peak_rss_mib"], max(inside) / 2**20)
    for row in out.values():
        row["top"] = sorted(row["top"], key=lambda kv: -kv[1])[:3]
        row["seconds"] = round(row["seconds"], 1)
        row["cpu_seconds"] = round(row["cpu_seconds"], 1)
        row["peak_rss_mib"] = round(row["peak_rss_mib"])
    return out


# ---------------------------------------------------------------- sampling /proc


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except OSError:
            continue
    return out


def _proc_usage(pid: int) -> tuple[int, float]:
    """(resident bytes, CPU seconds of the process and its waited-for children)."""
    try:
        with open(f"/proc/{pid}/statm") as fh:
            rss = int(fh.read().split()[1]) * PAGE
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        # after the command: state is field 3, utime..cstime are fields 14-17
        cpu = sum(int(x) for x in fields[11:15]) / TICK
        return rss, cpu
    except (OSError, IndexError, ValueError):
        return 0, 0.0


class Sampler(threading.Thread):
    """Samples the RSS and CPU time of a process tree every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.samples: list[dict] = []
        self.stop = threading.Event()
        self._cpu_floor = 0.0

    def run(self) -> None:
        while not self.stop.is_set():
            rss = 0
            cpu = 0.0
            for p in _descendants(self.pid):
                r, c = _proc_usage(p)
                rss += r
                cpu += c
            # a child that ended before its parent waited for it drops out of the sum: keep
            # the series non-decreasing
            self._cpu_floor = max(self._cpu_floor, cpu)
            self.samples.append(
                {"t": time.time(), "rss": rss, "cpu": self._cpu_floor, "load": os.getloadavg()[0]}
            )
            self.stop.wait(self.interval)


# ---------------------------------------------------------------- one scale


def scale_dir(out: Path, customers: int, days: int) -> Path:
    return out / f"c{customers}d{days}"


def _env(root: Path) -> dict:
    return {
        **os.environ,
        "ZHONGTAI_DATA_DIR": str(root),
        "DAGSTER_HOME": str(root / "dagster_home"),
    }


def _zhongtai() -> str:
    return str(Path(sys.executable).parent / "zhongtai")


def generate(root: Path, customers: int, days: int, seed: int, hold_back: int = 1) -> float:
    """The demo brand's landing files, its last ``hold_back`` days held back for
    ``zhongtai demo deliver`` (the new day); wall seconds."""
    t0 = time.perf_counter()
    subprocess.run(
        [_zhongtai(), "demo", "generate", "--seed", str(seed), "--customers", str(customers),
         "--days", str(days), "--hold-back-days", str(hold_back), "--out", str(root)],
        check=True, env=_env(root), stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - t0


def dagster_runs(home: Path, since: float = 0.0) -> list[dict]:
    """The Dagster runs of a home started at or after ``since`` (epoch s), oldest first: run
    id, success, event records for ``steps_from_events`` and the materialisation metadata per
    asset key."""
    import dagster as dg

    instance = dg.DagsterInstance.from_ref(dg._core.instance.InstanceRef.from_dir(str(home)))
    out = []
    for rec in reversed(instance.get_run_records(limit=50)):
        if rec.create_timestamp.timestamp() < since - 1:
            continue
        run = rec.dagster_run
        events, meta = [], {}
        for entry in instance.all_logs(run.run_id):
            ev = entry.dagster_event
            if ev is None:
                continue
            row = {"step_key": entry.step_key, "type": ev.event_type_value,
                   "timestamp": entry.timestamp}  # fmt: skip
            if ev.event_type_value == "STEP_SUCCESS":
                row["duration_ms"] = ev.event_specific_data.duration_ms
            elif ev.event_type_value == "ASSET_MATERIALIZATION":
                mat = ev.event_specific_data.materialization
                row["asset_key"] = mat.asset_key.to_user_string()
                meta[row["asset_key"]] = {
                    k: v.value
                    for k, v in mat.metadata.items()
                    if isinstance(v.value, int | float | dict)
                    or (isinstance(v.value, str) and len(v.value) < 200)
                }
            elif ev.event_type_value == "ASSET_CHECK_EVALUATION":
                row["asset_key"] = ev.event_specific_data.asset_key.to_user_string()
            events.append(row)
        out.append({"run_id": run.run_id, "success": run.status.value == "SUCCESS",
                    "events": events, "metadata": meta})  # fmt: skip
    return out


def merged_steps(runs: list[dict]) -> dict[str, Step]:
    """The steps of several runs of one call in one mapping; a step key met again in a later
    run gets that run's id appended, so no step's time is lost."""
    out: dict[str, Step] = {}
    for run in runs:
        for key, step in steps_from_events(run["events"]).items():
            out[key if key not in out else f"{key}@{run['run_id'][:8]}"] = step
    return out


def call(args: list[str], env: dict, interval: float, log: Path) -> dict:
    """One ``zhongtai`` call as a child process, its output to ``log``, sampled by ``Sampler``:
    exit code, wall seconds, CPU seconds of the process tree (user + system of the waited-for
    children, the steadier figure on a shared machine), peak RSS of the tree, the largest
    single process (ru_maxrss, the largest of all children so far), load average (start, mean,
    max) and the samples."""
    log.parent.mkdir(parents=True, exist_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_start = os.getloadavg()[0]
    t0 = time.time()
    with open(log, "w") as fh:
        proc = subprocess.Popen([_zhongtai(), *args], env=env, stdout=fh, stderr=fh)
        sampler = Sampler(proc.pid, interval)
        sampler.start()
        code = proc.wait()
    wall = time.time() - t0
    sampler.stop.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    samples = sampler.samples
    loads = [s["load"] for s in samples] or [load_start]
    return {
        "args": args,
        "t0": t0,
        "exit_code": code,
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(
            (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime), 1
        ),
        "peak_rss_mib_tree": round(max((s["rss"] for s in samples), default=0) / 2**20),
        "max_rss_mib_one_process": round(after.ru_maxrss / 1024),
        "load_start": round(load_start, 2),
        "load_mean": round(sum(loads) / len(loads), 2),
        "load_max": round(max(loads), 2),
        "samples": samples,
    }


def measured_run(root: Path, args: list[str], interval: float, name: str) -> dict:
    """A ``zhongtai materialize`` call (``args``) measured: ``call``'s figures, then its
    Dagster runs' steps grouped into stages (``stage_summary``); the samples are written to
    ``<root>/bench/<name>.samples.json``, the output to ``<name>.log``."""
    bench = root / "bench"
    result = call(args, _env(root), interval, bench / f"{name}.log")
    samples = result.pop("samples")
    (bench / f"{name}.samples.json").write_text(json.dumps(samples))
    runs = dagster_runs(root / "dagster_home", result["t0"])
    steps = merged_steps(runs)
    return result | {
        "run_ids": [r["run_id"] for r in runs],
        "run_succeeded": bool(runs) and all(r["success"] for r in runs),
        "steps": {
            k: asdict(s) | {"stage": stage_of(s), "cpu_seconds": step_cpu(s, samples)}
            for k, s in steps.items()
        },  # fmt: skip
        "stages": stage_summary(steps, samples),
        "metadata": {k: v for r in runs for k, v in r["metadata"].items()},
        "samples": len(samples),
    }


def materialize(root: Path, interval: float) -> dict:
    """The whole graph from an empty lake, warehouse, Dagster home and model store (the
    stored identity, recs and forecast fits), measured."""
    for name in ("lake", "exports", "dagster_home", "models"):
        shutil.rmtree(root / name, ignore_errors=True)
    for f in root.glob("warehouse.duckdb*"):
        f.unlink()
    return measured_run(root, ["materialize"], interval, "materialize")


def new_day(root: Path, interval: float) -> dict:
    """The held-back day (``zhongtai demo deliver``) then ``zhongtai materialize
    --incremental`` (its ingest run and its downstream run), measured like the full build."""
    deliver = call(["demo", "deliver"], _env(root), interval, root / "bench" / "deliver.log")
    if deliver["exit_code"]:
        sys.exit(f"zhongtai demo deliver failed in {root}: {root / 'bench' / 'deliver.log'}")
    return measured_run(root, ["materialize", "--incremental"], interval, "new_day")


def counts(root: Path) -> dict:
    """Order lines (the generator's truth) and landing files and bytes of a data directory."""
    import polars as pl

    files = [f for f in (root / "landing").rglob("*") if f.is_file()]
    return {
        "order_lines": pl.scan_parquet(root / "truth" / "sales_lines.parquet").select(pl.len())
        .collect().item(),
        "landing_files": len(files),
        "landing_mb": round(sum(f.stat().st_size for f in files) / 2**20),
    }  # fmt: skip


def lake_rows(root: Path, entity: str) -> int:
    import polars as pl

    files = list((root / "lake" / "raw" / entity).rglob("*.parquet"))
    return pl.scan_parquet(files).select(pl.len()).collect().item() if files else 0


# ---------------------------------------------------------------- peers


def _child(fn_name: str, kwargs: dict, queue) -> None:
    sys.path.insert(0, str(BENCH))  # the other benches, imported by the peers
    t0 = time.perf_counter()
    result = globals()[fn_name](**kwargs)
    seconds = time.perf_counter() - t0
    seconds = result.pop("seconds", seconds)
    queue.put(
        {
            **result,
            "wall_seconds": round(seconds, 1),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }
    )


def in_child(fn_name: str, **kwargs) -> dict:
    """Run one peer function of this module in a fresh process; its result plus wall seconds
    (the function's own ``seconds`` if it returns one) and the process's peak RSS."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn_name, kwargs, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def peer_raw_read(root: str) -> dict:
    """The raw polars read of this scale's landing files (bench_ingest.raw_read)."""
    from bench_ingest import raw_read

    from ingest.config import DataPaths
    from ingest.spec import load_specs

    rows, nbytes, seconds = raw_read(DataPaths(Path(root)), load_specs())
    return {"what": "polars raw read of the landing files", "rows": rows, "mb": round(nbytes / 2**20),
            "seconds": seconds}  # fmt: skip


def peer_components(warehouse: str) -> dict:
    """scipy connected components (bench/identity.run_scipy) of this scale's own identity
    graph: the staged identifiers read and built into nodes and edges as the identity asset
    does (untimed), then only the components timed."""
    from identity import run_scipy

    from ingest.config import connect
    from models.identity.graph import build_graph
    from models.identity.rules import load_rules
    from models.identity.warehouse import read_identifiers

    with connect(Path(warehouse), read_only=True) as con:
        ids = read_identifiers(con)
    graph = build_graph(ids, load_rules())
    u, v = graph.edges["u"].to_numpy(), graph.edges["v"].to_numpy()
    t0 = time.perf_counter()
    run_scipy(graph.n_nodes, u, v)
    return {"what": "scipy csgraph connected components", "nodes": graph.n_nodes,
            "edges": len(u), "seconds": time.perf_counter() - t0}  # fmt: skip


def peer_autoets(series: int, days: int, horizon: int, sample: int) -> dict:
    """statsforecast AutoETS (bench/forecast.run) on synthetic daily series, as many and as
    long as this scale's demand frame: ``sample`` series fitted, the time extrapolated
    linearly to all series."""
    import queue as q

    from forecast import run

    box = q.Queue()
    # the forecast stage runs the 4-fold backtest: AutoETS at the same 4 cutoffs (run warms
    # statsforecast's numba kernels up untimed first)
    args = {"series": series, "days": days, "horizon": horizon, "ets_sample": sample,
            "folds": 4, "mode": "backtest"}  # fmt: skip
    run("autoets", args, box)
    res = box.get()
    return {"what": "statsforecast AutoETS", "series": series, "days": days,
            "series_fitted": res["series_fitted"], "extrapolated": res["extrapolated"],
            "seconds": res["seconds_for_all_series"]}  # fmt: skip


def peer_als(interactions: int, users: int, items: int) -> dict:
    """implicit ALS fit + top 20 for every user (bench/recs.run) on synthetic interactions as
    many as this scale's recommender reads, over as many users and items."""
    import queue as q

    from recs import run

    box = q.Queue()
    args = argparse.Namespace(interactions=interactions, users=users, items=items)
    run("implicit_als", args, box)
    _, _fit, total, rows, _data_rss, _peak = box.get()
    return {"what": "implicit ALS fit + recommend-all", "interactions": interactions,
            "users": users, "items": items, "seconds": total}  # fmt: skip


def interaction_counts(warehouse: Path) -> dict:
    """Interactions, users and items the recommender reads at this scale."""
    from ingest.config import connect
    from models.recs.warehouse import read_interactions

    with connect(warehouse, read_only=True) as con:
        frame = read_interactions(con)
    return {"interactions": frame.height, "users": frame["user"].n_unique(),
            "items": frame["item"].n_unique()}  # fmt: skip


def run_peers(root: Path, result: dict, ets_sample: int) -> dict:
    """Each stage's peer, sized from this scale's run (its materialisation metadata)."""
    meta = result["metadata"]
    frame = meta.get("forecast/demand_frame", {})
    backtest = meta.get("forecast/backtest", {})
    peers = {
        "ingest": in_child("peer_raw_read", root=str(root)),
        "identity": in_child("peer_components", warehouse=str(root / "warehouse.duckdb")),
        "forecast": in_child(
            "peer_autoets",
            series=int(frame.get("series", 0)),
            days=int(frame.get("days", 0)),
            horizon=int(backtest.get("horizon", 28)),
            sample=ets_sample,
        ),  # fmt: skip
        "recs": in_child("peer_als", **interaction_counts(root / "warehouse.duckdb")),
    }
    return peers


# ---------------------------------------------------------------- the table


def _cells(values: list, fmt: str = "{:,.0f}") -> str:
    return " / ".join("–" if v is None else fmt.format(v) for v in values)


def _ratios(values: list) -> str:
    out = []
    for a, b in zip(values, values[1:], strict=False):
        out.append("–" if not a or b is None else f"{b / a:.2f}")
    return " / ".join(out)


def _bold(text: str) -> str:
    return f"**{text}**" if text else ""


def _pct(parts: list, wholes: list) -> str:
    return " / ".join(
        "–" if p is None or not w else f"{100 * p / w:.0f}"
        for p, w in zip(parts, wholes, strict=True)
    )


def _outside(run: dict, what: str) -> float:
    """A call's wall or CPU seconds outside its Dagster steps (process start, loading the
    definitions, run bookkeeping): the call's figure less its stages' sum."""
    inner = sum(run["stages"][s][what] for s in STAGES)
    return run["wall_seconds" if what == "seconds" else "cpu_seconds"] - inner


def report(results: list[dict]) -> str:
    """One markdown table: per stage the wall seconds, CPU seconds and peak RSS at each scale,
    the growth ratio between consecutive scales, the stage's peer in the same run, and where
    a scale has one the new day after the full build (``new_day``: deliver the held-back day,
    ``materialize --incremental``): its wall s, CPU s, peak RSS and share of the full build's
    same stage (wall, CPU)."""
    scales = " / ".join(f"{r['customers']:,}" for r in results)
    days = [r.get("new_day") for r in results]
    with_day = any(days)
    head = ("| stage | wall s | CPU s | time ratio per 2× | CPU ratio per 2× | peak RSS MiB | "
            "peer in the same run | peer wall s |")  # fmt: skip
    if with_day:
        head += (" new day wall s | new day CPU s | new day peak RSS MiB | "
                 "new day % of full wall | new day % of full CPU |")  # fmt: skip
    lines = [
        f"Scales (customers × {results[0]['days']} days): {scales}; order lines "
        f"{_cells([r['order_lines'] for r in results])} (ratios {_ratios([r['order_lines'] for r in results])}); "
        f"events {_cells([r.get('events') for r in results])}; landing MB "
        f"{_cells([r['landing_mb'] for r in results])}.",
        "Load average (1 min, 2 cores) over each materialisation, mean (max): "
        + " / ".join(f"{r['load_mean']} ({r['load_max']})" for r in results) + ".",
        "",
        head,
        "|" + " --- |" * (head.count("|") - 1),
    ]  # fmt: skip
    if with_day:
        lines.insert(2, "New day (the generator's last day, held back from the full build, then "
                     "`zhongtai materialize --incremental`): load mean (max) "
                     + " / ".join("–" if d is None else f"{d['load_mean']} ({d['load_max']})"
                                  for d in days) + ".")  # fmt: skip

    def day_cells(full: list, part: list, rss: list) -> str:
        """The new-day columns of one row: part = (wall, CPU) per scale, full likewise."""
        if not with_day:
            return ""
        wall, cpu = [p and p[0] for p in part], [p and p[1] for p in part]
        return (f" {_cells(wall, '{:,.1f}')} | {_cells(cpu, '{:,.1f}')} | {_cells(rss)} | "
                f"{_pct(wall, [f[0] for f in full])} | {_pct(cpu, [f[1] for f in full])} |")  # fmt: skip

    for stage in STAGES:
        rows = [r["stages"][stage] for r in results]
        wall = [x["seconds"] for x in rows]
        cpu = [x["cpu_seconds"] for x in rows]
        peers = [r.get("peers", {}).get(stage) for r in results]
        what = next((p["what"] for p in peers if p), "")
        part = [d and (d["stages"][stage]["seconds"], d["stages"][stage]["cpu_seconds"])
                for d in days]  # fmt: skip
        lines.append(
            f"| {stage} | {_cells(wall)} | {_cells(cpu)} | {_ratios(wall)} | {_ratios(cpu)} | "
            f"{_cells([x['peak_rss_mib'] for x in rows])} | {what} | "
            f"{_cells([p and p['wall_seconds'] for p in peers], '{:,.1f}')} |"
            + day_cells(list(zip(wall, cpu, strict=True)), part,
                        [d and d["stages"][stage]["peak_rss_mib"] for d in days])
        )  # fmt: skip
    overhead = [_outside(r, "seconds") for r in results]
    overhead_cpu = [_outside(r, "cpu_seconds") for r in results]
    lines.append(
        f"| outside steps (start-up, definitions, run bookkeeping) | {_cells(overhead)} | "
        f"{_cells(overhead_cpu)} | {_ratios(overhead)} | {_ratios(overhead_cpu)} | | | |"
        + day_cells(list(zip(overhead, overhead_cpu, strict=True)),
                    [d and (_outside(d, "seconds"), _outside(d, "cpu_seconds")) for d in days],
                    [None for _ in days])
    )  # fmt: skip
    wall = [r["wall_seconds"] for r in results]
    cpu = [r["cpu_seconds"] for r in results]
    lines.append(
        f"| **whole graph** | **{_cells(wall)}** | {_cells(cpu)} | {_bold(_ratios(wall))} | "
        f"{_ratios(cpu)} | {_cells([r['peak_rss_mib_tree'] for r in results])} "
        f"(largest process {_cells([r['max_rss_mib_one_process'] for r in results])}) | | |"
        + day_cells(list(zip(wall, cpu, strict=True)),
                    [d and (d["wall_seconds"], d["cpu_seconds"]) for d in days],
                    [d and d["peak_rss_mib_tree"] for d in days])
    )  # fmt: skip
    lines += ["", *extrapolation(results)]
    return "\n".join(lines) + "\n"


def linear_fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares a, b of y = a + b x."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0
    return my - b * mx, b


def extrapolation(results: list[dict], target_lines: int = 10_000_000) -> list[str]:
    """A labelled extrapolation: per stage, CPU seconds and peak RSS fitted as a + b × order
    lines over the measured scales, evaluated at ``target_lines``. Linear by construction: a
    stage that grows faster than linearly is underestimated (its ratio column says so)."""
    if len(results) < 2:
        return []
    xs = [float(r["order_lines"]) for r in results]
    out = [
        f"Extrapolation (not a measurement): CPU seconds and peak RSS per stage fitted as "
        f"a + b × order lines over the {len(results)} scales above, evaluated at "
        f"{target_lines:,} order lines.",
        "",
        "| stage | CPU s fixed (a) | CPU s per 1k lines (b) | CPU s at target | "
        "peak RSS MiB at target |",
        "| --- | --- | --- | --- | --- |",
    ]
    total_cpu = 0.0
    for stage in STAGES:
        a, b = linear_fit(xs, [r["stages"][stage]["cpu_seconds"] for r in results])
        ra, rb = linear_fit(xs, [r["stages"][stage]["peak_rss_mib"] for r in results])
        cpu = a + b * target_lines
        total_cpu += cpu
        out.append(
            f"| {stage} | {a:,.1f} | {b * 1000:,.2f} | {cpu:,.0f} | {ra + rb * target_lines:,.0f} |"
        )
    a, b = linear_fit(xs, [r["cpu_seconds"] for r in results])
    ra, rb = linear_fit(xs, [r["peak_rss_mib_tree"] for r in results])
    out.append(
        f"| **whole graph** | {a:,.1f} | {b * 1000:,.2f} | **{a + b * target_lines:,.0f}** | "
        f"**{ra + rb * target_lines:,.0f}** |"
    )
    return out


# ---------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--customers", default="2500,5000,10000", help="comma-separated scales")
    ap.add_argument("--days", type=int, default=400)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=Path("/tmp/zt-bench-scale"))
    ap.add_argument("--skip-generate", action="store_true", help="use the landing files there")
    ap.add_argument(
        "--phases", default="materialize,peers,newday,report",
        help="materialize (generate unless --skip-generate, then the whole graph), peers, "
        "newday (deliver the held-back day, then materialize --incremental), report; a later "
        "phase reads the scale.json an earlier invocation wrote",
    )  # fmt: skip
    ap.add_argument("--ets-sample", type=int, default=100, help="AutoETS series fitted")
    ap.add_argument("--interval", type=float, default=0.25, help="RSS/CPU sampling period, s")
    args = ap.parse_args()
    phases = set(args.phases.split(","))
    scales = [int(c) for c in args.customers.split(",")]
    out = args.out.resolve()
    for customers in scales:
        root = scale_dir(out, customers, args.days)
        result_path = root / "bench" / "scale.json"
        if "materialize" in phases:
            root.mkdir(parents=True, exist_ok=True)
            gen = None
            if not args.skip_generate:
                gen = round(generate(root, customers, args.days, args.seed), 1)
            result = {"customers": customers, "days": args.days, "seed": args.seed,
                      "generate_seconds": gen, **counts(root)}  # fmt: skip
            print(f"[{customers} x {args.days}] materialize …", flush=True)
            result |= materialize(root, args.interval)
            result["events"] = lake_rows(root, "events")
            result_path.write_text(json.dumps(result, indent=1, default=str))
            print(f"[{customers} x {args.days}] {result['wall_seconds']} s, "
                  f"load {result['load_mean']}", flush=True)  # fmt: skip
        if "peers" in phases:
            result = json.loads(result_path.read_text())
            result["peers"] = run_peers(root, result, args.ets_sample)
            result_path.write_text(json.dumps(result, indent=1, default=str))
            print(f"[{customers} x {args.days}] peers: {json.dumps(result['peers'])}", flush=True)
        if "newday" in phases:
            result = json.loads(result_path.read_text())
            if not any((root / "landing_next").rglob("*")):
                print(f"[{customers} x {args.days}] no new day: {root / 'landing_next'} holds "
                      "no held-back day (generate again, without --skip-generate)")  # fmt: skip
                continue
            print(f"[{customers} x {args.days}] new day …", flush=True)
            result["new_day"] = new_day(root, args.interval)
            result_path.write_text(json.dumps(result, indent=1, default=str))
            day = result["new_day"]
            print(f"[{customers} x {args.days}] new day {day['wall_seconds']} s, "
                  f"{day['cpu_seconds']} CPU s, load {day['load_mean']}", flush=True)  # fmt: skip
    if "report" in phases:
        results = [
            json.loads((scale_dir(out, c, args.days) / "bench" / "scale.json").read_text())
            for c in scales
        ]
        table = report(results)
        (out / "scale.md").write_text(table)
        print(table)


if __name__ == "__main__":
    main()
