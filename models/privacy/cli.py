"""``zhongtai privacy``: erasure, access export and retention of personal data."""

from __future__ import annotations

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


@app.command()
def erase(
    identifier: list[str] = typer.Option(
        None, "--identifier", help="TYPE:VALUE, e.g. phone:+8613800138000 (repeatable)."
    ),
    requests: Path = typer.Option(
        None, "--requests", exists=True, dir_okay=False, help="A file of TYPE:VALUE lines."
    ),
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
    for item in wanted:
        r = run_erase(paths, item)
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
) -> None:
    """Purge raw clickstream older than the configured age from the lake (aggregates kept)."""
    from models.privacy.config import load
    from models.privacy.retention import purge_events

    r = purge_events(data_paths(), load(config).retention)
    console.print(
        f"cutoff {r.cutoff}: {r.purged_rows} event rows purged from {r.files} files, "
        f"{r.aggregate_rows} aggregate rows kept"
    )
