"""The identity asset alone on one new day: the full resolution against the incremental one
(models/identity/incremental.py), CPU seconds of each.

    .venv/bin/python bench/identity_day.py --data /tmp/zb/b10k2/c10000d400 --out /tmp/x \
        [--main-src DIR]

From a built brand (its ``warehouse.duckdb``): the staged identifiers of the records whose
time falls on the data's last day are taken out (and the staging ledger's rows of their lake
files: the day's run finds them new, ``models/identity/ledger.py``), the asset runs on the
rest (the previous day, which writes the state), the rows are put back, and the asset runs
again on a copy each: ``incremental=False`` (every record, as before) and ``True``.
``--main-src`` (an unpacked source tree of another commit, e.g. ``git archive 6409ccf``)
runs that code's asset too, on the same warehouse with the brand's own model store. Each run
is a child process; CPU seconds are its user + system time around the asset call (the
imports are not counted), with the load average before. Never part of `make test`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LEDGER = "staging.stg_lake__identifiers__lake_files"
CHILD = """
import json, os, resource, sys, time
import dagster as dg
from orchestration.defs.identity import IdentityConfig, customer_identifiers
kwargs = json.loads(sys.argv[1])
load = os.getloadavg()[0]
r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
result = customer_identifiers(dg.build_asset_context(), IdentityConfig(**kwargs))
r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
meta = {k: getattr(v, "value", v) for k, v in result.metadata.items()}
keep = ("identity_run", "identity_run_reason", "records_resolved", "records_resolved_share",
        "records", "customers", "splink_model", "splink_model_reason", "rows_written")
print(json.dumps({
    "cpu_s": round(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime, 1),
    "wall_s": round(t1 - t0, 1), "load_before": load,
    **{k: meta.get(k) for k in keep},
}, default=str))
"""


def asset(data: Path, src: Path, **config) -> dict:
    env = {
        **os.environ,
        "ZHONGTAI_DATA_DIR": str(data),
        "DAGSTER_HOME": str(data / "dagster_home"),
        "PYTHONPATH": str(src),
    }
    (data / "dagster_home").mkdir(exist_ok=True)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(config)],
        env=env,
        cwd=src,
        capture_output=True,
        text=True,
    )
    if out.returncode:
        sys.exit(out.stderr[-4000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def copy(src: Path, dst: Path, models: Path) -> Path:
    dst.mkdir(parents=True)
    shutil.copy2(src / "warehouse.duckdb", dst / "warehouse.duckdb")
    shutil.copytree(models, dst / "models" / "identity")
    return dst


def same_tables(x: Path, y: Path) -> dict[str, bool]:
    """Whether the two warehouses hold the same identity rows (the merges of their last run
    without its time)."""
    import duckdb

    from models.identity.incremental import OUTPUTS

    out = {}
    cons = [duckdb.connect(str(d / "warehouse.duckdb"), read_only=True) for d in (x, y)]
    sqls = {t: f"select * from identity.{t} order by all" for t in OUTPUTS}
    sqls["identity_merges"] = (
        "select * exclude (run_at) from identity.identity_merges "
        "where run_at = (select max(run_at) from identity.identity_merges) order by all"
    )
    for table, sql in sqls.items():
        a, b = (c.execute(sql).pl() for c in cons)
        out[table] = a.equals(b)
    for c in cons:
        c.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--main-src", type=Path)
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    import duckdb

    from models.identity.warehouse import RECORD_SEP, data_through, read_identifiers

    if a.out.exists():
        shutil.rmtree(a.out)
    day0 = copy(a.data, a.out / "day0", a.data / "models" / "identity")
    con = duckdb.connect(str(day0 / "warehouse.duckdb"))
    ids = read_identifiers(con)
    last = data_through(ids)
    held = ids.filter(ids["seen_at"].dt.date() == last)["record"].unique()
    con.register("held", held.to_frame().to_arrow())
    con.execute("create table main.bench_all_identifiers as from staging.stg_lake__identifiers")
    # the ledger without the held records' lake files, as before their delivery: the day's
    # run finds them new (models/identity/ledger.py)
    con.execute(f"create table main.bench_ledger as from {LEDGER}")
    con.execute(
        f"delete from {LEDGER} where source_file in (select source_file from "
        "staging.stg_lake__identifiers where channel || ? || entity || ? || record_id in "
        "(select record from held))",
        [RECORD_SEP, RECORD_SEP],
    )
    con.execute(
        "delete from staging.stg_lake__identifiers where channel || ? || entity || ? || "
        "record_id in (select record from held)",
        [RECORD_SEP, RECORD_SEP],
    )
    con.close()
    report = {"last_day": str(last), "records_held": held.len(), "day0": asset(day0, ROOT)}
    con = duckdb.connect(str(day0 / "warehouse.duckdb"))
    con.execute(
        "create or replace table staging.stg_lake__identifiers as from main.bench_all_identifiers"
    )
    con.execute("drop table main.bench_all_identifiers")
    con.execute(f"create or replace table {LEDGER} as from main.bench_ledger")
    con.execute("drop table main.bench_ledger")
    con.close()
    models = day0 / "models" / "identity"
    report["full"] = asset(copy(day0, a.out / "full", models), ROOT, incremental=False)
    report["incremental"] = asset(copy(day0, a.out / "inc", models), ROOT, incremental=True)
    report["equal_tables"] = same_tables(a.out / "full", a.out / "inc")
    if a.main_src:
        main_dir = copy(day0, a.out / "main", a.data / "models" / "identity")
        report["main"] = asset(main_dir, a.main_src)
    print(json.dumps(report, indent=1))
    (a.out / "identity_day.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
