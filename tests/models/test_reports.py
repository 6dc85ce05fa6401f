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
