"""``zhongtai privacy``: erasure, access export and retention of personal data."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ingest.config import data_paths

app = typer.Typer(
    help="Personal data (PIPL/GDPR): erase a person, export what is held, purge old clickstream.",
    no_args_is_help=True,
)
console = Console()

WAIT = typer.Option(
    0.0,
    "--wait",
    help="Seconds to wait for a run that holds the warehouse before giving up (one writer "
    "at a time).",
)


@contextmanager
def one_writer(paths, purpose: str, wait: float):
    """Hold the warehouse lock (``ingest.locks``) for the block, as every Dagster run does
    (``orchestration.resources.one_writer_executor``); exit 3, having changed nothing, when
    another writer keeps it past ``wait`` seconds. The CLI's writing commands use it."""
    from ingest.locks import Busy, exclusive

    try:
        with exclusive(paths.warehouse_lock, purpose, wait=wait):
            yield
    except Busy as exc:
        console.print(f"[red]Another run is writing the warehouse: {exc}[/red]")
        raise typer.Exit(3) from exc


@app.command()
def erase(
    identifier: list[str] = typer.Option(
        None, "--identifier", help="TYPE:VALUE, e.g. phone:+8613800138000 (repeatable)."
    ),
    requests: Path = typer.Option(
        None, "--requests", exists=True, dir_okay=False, help="A file of TYPE:VALUE lines."
    ),
    wait: float = WAIT,
) -> None:
    """Remove or irreversibly pseudonymise a person in the lake, landing files, warehouse,
    exports and docs; write a tombstone and an audit row."""
    from models.privacy.erase import erase as run_erase
    from models.privacy.erase import read_requests_file
    from models.privacy.subject import SubjectError, parse_identifier

    wanted = list(identifier or [])
    try:
        for item in wanted:
            parse_identifier(item)
        if requests is not None:
            wanted += read_requests_file(requests)
    except (SubjectError, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    if not wanted:
        console.print("[red]give --identifier TYPE:VALUE or --requests FILE[/red]")
        raise typer.Exit(2)
    paths = data_paths()
    table = Table(title=f"Erasure ({len(wanted)} requests)")
    for col in (
        "request",
        "customers",
        "identifiers",
        "lake rows",
        "landing cuts",
        "warehouse rows",
        "export rows",
        "seconds",
    ):
        table.add_column(col, justify="right")
    with one_writer(paths, "zhongtai privacy erase", wait):
        reports = [run_erase(paths, item) for item in wanted]
    for r in reports:
        table.add_row(
            r.request_id,
            str(r.customers),
            str(r.identifiers),
            str(r.lake_rows),
            str(r.landing_cuts),
            str(r.warehouse_rows),
            str(r.export_rows),
            f"{r.seconds:.1f}",
        )
    console.print(table)
    console.print(
        f"audit: {paths.root / 'privacy' / 'requests.parquet'} (warehouse privacy.requests)"
    )


@app.command("export")
def export(
    identifier: str = typer.Option(..., "--identifier", help="TYPE:VALUE"),
    out: Path = typer.Option(None, "--out", help="JSON file (default exports/privacy/access/)."),
) -> None:
    """Write everything held about a person as JSON (access request)."""
    from models.privacy.access import export_subject
    from models.privacy.subject import SubjectError

    try:
        path = export_subject(data_paths(), identifier, out)
    except SubjectError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"wrote {path}")


@app.command()
def retention(
    config: Path = typer.Option(None, "--config", help="Default: profiles/privacy.yml."),
    wait: float = WAIT,
) -> None:
    """Purge raw clickstream older than the configured age from the lake (aggregates kept)."""
    from models.privacy.config import load
    from models.privacy.retention import purge_events

    settings = load(config).retention
    paths = data_paths()
    with one_writer(paths, "zhongtai privacy retention", wait):
        r = purge_events(paths, settings)
    console.print(
        f"cutoff {r.cutoff}: {r.purged_rows} event rows purged from {r.files} files, "
        f"{r.aggregate_rows} aggregate rows kept"
    )
