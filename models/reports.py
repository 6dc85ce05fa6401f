"""One way to write a report page: HTML tables from polars frames and a page of sections
(heading, paragraphs, images, tables) written beside its PNGs. Every report under
``data/exports/`` (forecasts, recommendations, reports/) is built with these."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl


def html_table(frame: pl.DataFrame, digits: int = 3) -> str:
    """A frame as an HTML table; floats rounded to ``digits``, every value escaped."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{v:.{digits}f}</td>"
            if isinstance(v, float)
            else f"<td>{html.escape(str(v))}</td>"
            for v in row
        )
        + "</tr>"
        for row in frame.iter_rows()
    )
    return f"<table border=1 cellpadding=3><tr>{head}</tr>{body}</table>"


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (files only, no display), imported on first
    use so that importing a report module stays cheap."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path, dpi: float | str = "figure") -> Path:
    """Lay out ``fig``, write it to ``path`` (folders made as needed), close it; ``path``.

    ``tight_layout`` leaves a placeholder layout engine on the figure, and ``savefig`` draws a
    figure with any layout engine once more before the draw it writes (for constrained
    layout), a quarter of the chart's cost; the placeholder lays out nothing, so it is removed
    first: the same pixels, byte for byte (``tests/models/test_reports.py``)."""
    fig.tight_layout()
    fig.set_layout_engine(None)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return path


@dataclass
class Section:
    """One part of a report: a heading, paragraphs (plain text, escaped), images (file names
    relative to the page) and tables."""

    heading: str
    paragraphs: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    tables: list[pl.DataFrame] = field(default_factory=list)

    def to_html(self) -> str:
        parts = [f"<h2>{html.escape(self.heading)}</h2>"]
        parts += [f"<p>{html.escape(p)}</p>" for p in self.paragraphs]
        parts += [f'<img src="{html.escape(i)}" alt="{html.escape(i)}">' for i in self.images]
        parts += [html_table(t) if t.height else "<p>(no rows)</p>" for t in self.tables]
        return "\n".join(parts)


def write_html_report(path: Path, title: str, intro: str, sections: list[Section]) -> Path:
    """Write ``path`` (UTF-8 HTML page) and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "\n".join(s.to_html() for s in sections)
    page = (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"</head><body><h1>{html.escape(title)}</h1><p>{html.escape(intro)}</p>\n{body}\n"
        "</body></html>"
    )
    path.write_text(page, encoding="utf-8")
    return path
