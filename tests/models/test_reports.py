import polars as pl

from models.reports import Section, html_table, write_html_report


def test_html_table_escapes_values_and_rounds_floats():
    out = html_table(pl.DataFrame({"name": ["<b>x</b>"], "v": [0.12345]}), digits=2)
    assert "&lt;b&gt;x&lt;/b&gt;" in out and "<b>x</b>" not in out
    assert "<td>0.12</td>" in out


def test_write_html_report_writes_every_section(tmp_path):
    path = write_html_report(
        tmp_path / "r" / "report.html",
        "Title & co",
        "intro",
        [
            Section("One", paragraphs=["a < b"], images=["one.png"]),
            Section("Two", tables=[pl.DataFrame({"a": [1]}), pl.DataFrame({"a": []})]),
        ],
    )
    page = path.read_text(encoding="utf-8")
    assert "<title>Title &amp; co</title>" in page
    assert "<h2>One</h2>" in page and "<h2>Two</h2>" in page
    assert "a &lt; b" in page and 'src="one.png"' in page
    assert "<td>1</td>" in page and "(no rows)" in page


def test_save_figure_writes_the_png_into_new_folders_and_closes_the_figure(tmp_path):
    from models.reports import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    path = save_figure(fig, tmp_path / "a" / "b" / "plot.png", dpi=50)
    assert path.read_bytes().startswith(b"\x89PNG")
    assert not plt.fignum_exists(fig.number)


def _small_multiple(plt):
    """A figure like the reports' (models/ops/pnl_report.py:waterfall_png): subplots, bars,
    rotated tick labels, titles, a suptitle, an empty panel."""
    fig, axes = plt.subplots(2, 3, figsize=(10.4, 7.2), squeeze=False)
    for i, ax in enumerate(axes.flat[:5]):
        ax.bar(range(6), [5.0 + i, -1.5, 2.25, -0.5, 3.0, 1.0 * i], color="#4c72b0")
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_xticks(range(6), [f"step {k}" for k in range(6)], rotation=60, ha="right")
        ax.set_title(f"channel {i}: contribution {i / 7:.0%} of gross", fontsize=9)
    axes.flat[5].axis("off")
    fig.suptitle("Channel P&L waterfall (CNY, whole window)", fontsize=11)
    return fig


def test_save_figure_writes_the_same_bytes_as_tight_layout_then_savefig(tmp_path):
    """save_figure drops tight_layout's placeholder layout engine before saving, so savefig
    draws once instead of twice: the PNG must still be the one the plain calls write."""
    from models.reports import pyplot, save_figure

    plt = pyplot()
    for dpi in (110, "figure"):
        fig = _small_multiple(plt)
        fig.tight_layout()
        fig.savefig(tmp_path / "plain.png", dpi=dpi)
        plt.close(fig)
        save_figure(_small_multiple(plt), tmp_path / "saved.png", dpi=dpi)
        assert (tmp_path / "saved.png").read_bytes() == (tmp_path / "plain.png").read_bytes()


def test_save_figure_draws_the_figure_once(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from models.reports import pyplot, save_figure

    plt = pyplot()
    draws = []
    real = Figure.draw
    monkeypatch.setattr(
        Figure, "draw", lambda self, renderer: draws.append(1) or real(self, renderer)
    )
    save_figure(_small_multiple(plt), tmp_path / "p.png", dpi=50)
    assert len(draws) == 1
