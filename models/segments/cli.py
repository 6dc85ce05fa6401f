"""``zhongtai segments``: list, validate, size, preview and export the marketer's segments."""

from __future__ import annotations

import datetime as dt

import typer
from rich.console import Console
from rich.table import Table

from ingest.config import connect, data_paths

app = typer.Typer(
    help="Tags and segments defined in profiles/ (validate, size, preview, export).",
    no_args_is_help=True,
)
console = Console()


def _warehouse(read_only: bool = True):
    path = data_paths().warehouse
    if not path.exists():
        console.print(
            f"[red]no warehouse at {path}: run `make demo` or `zhongtai materialize`[/red]"
        )
        raise typer.Exit(2)
    return connect(path, read_only=read_only)


def _profiles():
    from models.segments.registry import load_all

    return load_all()


def _segment(name: str):
    profiles = _profiles()
    try:
        item = profiles.segment(name)
    except KeyError as exc:
        console.print(f"[red]{exc.args[0]}[/red]")
        raise typer.Exit(2) from exc
    if item.error is not None:
        console.print(f"[red]{item.error}[/red]")
        raise typer.Exit(1)
    return item


@app.command("list")
def list_definitions() -> None:
    """Every tag file and segment, whether it is valid, and each segment's current size."""
    from models.segments.store import has_table

    profiles = _profiles()
    sizes: dict[str, int] = {}
    if data_paths().warehouse.exists():
        con = _warehouse()
        try:
            if has_table(con, "segments", "segment_members"):
                sizes = dict(
                    con.execute(
                        "SELECT segment, count(*) FROM segments.segment_members "
                        "WHERE valid_to IS NULL GROUP BY 1"
                    ).fetchall()
                )
        finally:
            con.close()
    tags = Table(title="Tag files (profiles/tags/)")
    for col in ("file", "tags", "status"):
        tags.add_column(col)
    for f in profiles.tag_files:
        names = ", ".join(t.name for t in f.definition.tags) if f.ok else ""
        status = "[green]valid[/green]" if f.ok else f"[red]{len(f.error.issues)} error(s)[/red]"
        tags.add_row(f.path.name, names, status)
    console.print(tags)
    segs = Table(title="Segments (profiles/segments/)")
    for col in ("segment", "owner", "purpose", "destinations", "members", "status"):
        segs.add_column(col, justify="right" if col == "members" else "left")
    for s in profiles.segments:
        d = s.definition
        segs.add_row(
            s.name,
            d.owner if d else "",
            d.purpose if d else "",
            ", ".join(x.type + (f":{x.app}" if x.app else "") for x in d.destination_list())
            if d
            else "",
            str(sizes.get(s.name, "-")),
            "[green]valid[/green]" if s.ok else f"[red]{len(s.error.issues)} error(s)[/red]",
        )
    console.print(segs)


@app.command()
def validate() -> None:
    """Check every definition file: each error names the file, the line, what is wrong and
    the nearest valid name. Exit code 1 when any file is invalid."""
    profiles = _profiles()
    bad = [f for f in profiles.all() if not f.ok]
    for f in profiles.all():
        if f.ok:
            console.print(f"[green]ok[/green]   {f.path.parent.name}/{f.path.name}")
    for f in bad:
        console.print(f"[red]FAIL[/red] {f.path.parent.name}/{f.path.name}")
        for issue in f.error.issues:
            console.print(f"     {issue}", markup=False, highlight=False)
    total = len(profiles.all())
    console.print(f"{total - len(bad)} of {total} definition files valid")
    if bad:
        raise typer.Exit(1)


@app.command()
def size(
    name: str = typer.Argument(..., help="Segment name (its file name in profiles/segments/)."),
    days: int = typer.Option(7, help="Also list who joined in the last N days."),
) -> None:
    """The segment's size at each evaluation, and who joined recently (from its history)."""
    from models.segments.store import has_table, joined_since, runs

    _segment(name)
    con = _warehouse()
    try:
        if not has_table(con, "segments", "segment_runs"):
            console.print(
                f"[yellow]{name} was never evaluated: zhongtai materialize --select "
                f"'key:segment_members/{name}'[/yellow]"
            )
            raise typer.Exit(1)
        history = runs(con, name)
        since = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=days)
        joined = joined_since(con, name, since)
    finally:
        con.close()
    table = Table(title=f"Segment {name}: size over time")
    for col in ("run at (UTC)", "as of", "members", "joined", "left"):
        table.add_column(col, justify="right")
    for r in history.iter_rows(named=True):
        table.add_row(
            f"{r['run_at']:%Y-%m-%d %H:%M:%S}",
            str(r["as_of"]),
            str(r["members"]),
            str(r["joined"]),
            str(r["left"]),
        )
    console.print(table)
    current = history["members"][-1] if history.height else 0
    console.print(f"{name}: {current} members now; {len(joined)} joined in the last {days} days")


@app.command()
def preview(
    name: str = typer.Argument(..., help="Segment name."),
    limit: int = typer.Option(20, "--limit", min=1, help="Rows to show."),
) -> None:
    """Evaluate the segment now and show some members with masked phone and e-mail (read from
    the marketers' views, marts_masked.dim_customers: nothing unmasked leaves the warehouse)."""
    from models.segments.run import segment_members
    from models.segments.store import as_of_date, has_table

    item = _segment(name)
    con = _warehouse()
    try:
        if not has_table(con, "segments", "customer_tags"):
            console.print("[red]no tags yet: run `zhongtai materialize` first[/red]")
            raise typer.Exit(1)
        as_of = as_of_date(con)
        members = segment_members(con, item.definition, as_of)
        shown = members[:limit]
        rows = con.execute(
            "SELECT customer_id, phone, email, (SELECT string_agg(tag || '=' || value, ', ' "
            "ORDER BY tag) FROM segments.customer_tags t WHERE t.customer_id = c.customer_id "
            "AND t.tag IN ('lifecycle', 'value_tier', 'preferred_channel', 'rfm_group')) "
            "FROM marts_masked.dim_customers AS c WHERE list_contains($ids, customer_id) "
            "ORDER BY customer_id",
            {"ids": shown},
        ).fetchall()
    finally:
        con.close()
    table = Table(title=f"{name}: {len(members)} members (as of {as_of}), first {len(rows)}")
    for col in ("customer_id", "phone", "email", "tags"):
        table.add_column(col)
    for cid, phone, email, tags in rows:
        table.add_row(cid, phone or "", email or "", tags or "")
    console.print(table)


@app.command()
def export(
    name: str = typer.Argument(..., help="Segment name."),
    destination: list[str] = typer.Option(
        None, "--destination", "-d", help="Only this destination (repeatable); default: all."
    ),
) -> None:
    """Export the segment's current members (as last materialised) to its destinations,
    consent applied now: snapshot, delta, manifest and an audit-log row per destination."""
    from models.segments.exports import ExportRun, export_segment
    from models.segments.store import as_of_date, current_members, has_table, now
    from models.segments.yamlfile import display_path

    item = _segment(name)
    con = _warehouse()
    try:
        if (
            not has_table(con, "segments", "segment_runs")
            or not con.execute(
                "SELECT count(*) FROM segments.segment_runs WHERE segment = $s", {"s": name}
            ).fetchone()[0]
        ):
            console.print(
                f"[red]{name} was never evaluated: zhongtai materialize --select "
                f"'key:segment_members/{name}'[/red]"
            )
            raise typer.Exit(1)
        members = current_members(con, name)
        try:
            run = ExportRun(
                item.definition,
                members,
                data_paths().exports / "segments",
                now(),
                as_of_date(con),
                item.sha256,
                display_path(item.path),
            )
            results = export_segment(con, run, destinations=destination or None)
        except ValueError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from exc
    finally:
        con.close()
    table = Table(title=f"Exported {name} ({len(members)} members)")
    for col in (
        "destination",
        "rows",
        "added",
        "removed",
        "no consent",
        "revoked",
        "no id",
        "folder",
    ):
        table.add_column(col, justify="left" if col in ("destination", "folder") else "right")
    for r in results:
        table.add_row(
            r.destination,
            str(r.rows),
            str(r.added),
            str(r.removed),
            str(r.excluded["no_consent"]),
            str(r.excluded["consent_revoked"]),
            str(r.excluded["no_identifier"]),
            str(r.path),
        )
    console.print(table)
