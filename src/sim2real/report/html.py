"""One self-contained HTML report: sections of text, tables and figures (embedded PNG).

A :class:`Report` collects blocks in order and writes a single HTML file with its style inline and
every figure as a base64 ``data:`` URI, so the file can be mailed, attached to an issue or opened
offline.  Figures are matplotlib :class:`~matplotlib.figure.Figure` objects; they are rendered
when added and closed.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sim2real.errors import Sim2RealError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["Report", "format_value"]

log = logging.getLogger(__name__)

_DPI = 110
"""Resolution of embedded figures [dots per inch]."""

_STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1.5em;color:#1d232b;line-height:1.45}
h1{margin-bottom:.1em}.subtitle{color:#5a6572;margin-top:0}.meta{color:#8a949e;font-size:.85em}
h2{border-bottom:2px solid #dfe3e8;padding-bottom:.2em;margin-top:2em}
nav{background:#f5f7f9;border:1px solid #e3e7eb;border-radius:6px;padding:.5em 1em;font-size:.92em}
nav ol{margin:.3em 0;padding-left:1.4em}nav a{color:#1f5fa8;text-decoration:none}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}
th,td{border:1px solid #d5dbe1;padding:.3em .7em;text-align:right}
th{background:#eef1f4}td:first-child,th:first-child{text-align:left}
tr:nth-child(even) td{background:#fafbfc}
caption{caption-side:bottom;color:#5a6572;font-size:.88em;padding-top:.3em;text-align:left}
figure{margin:1.2em 0}figure img{max-width:100%;height:auto;border:1px solid #eef0f2}
figcaption{color:#5a6572;font-size:.9em;margin-top:.2em}
""".strip()


def format_value(value: object) -> str:
    """A table cell as text: floats with 4 significant digits, None and NaN as an en dash."""
    if value is None:
        return "–"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        x = float(value)
        if math.isnan(x):
            return "–"
        if math.isinf(x):
            return "∞" if x > 0 else "−∞"
        if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
            return f"{x:.3e}"
        return f"{x:.4g}"
    if isinstance(value, Sequence) and not isinstance(value, str):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


@dataclass
class _Section:
    heading: str
    anchor: str
    blocks: list[str] = field(default_factory=list)


class Report:
    """An HTML report built block by block (see the module docstring).

    Args:
        title: The report's title (``<h1>`` and ``<title>``).
        subtitle: One line under the title, e.g. the robot and the inputs.
    """

    def __init__(self, title: str, subtitle: str | None = None) -> None:
        self.title = title
        self.subtitle = subtitle
        self._preamble: list[str] = []
        self._sections: list[_Section] = []
        self.n_figures = 0
        """Figures added so far."""
        self.n_tables = 0
        """Tables added so far."""

    def _blocks(self) -> list[str]:
        return self._sections[-1].blocks if self._sections else self._preamble

    def section(self, heading: str, text: str | None = None) -> None:
        """Start a new section (``<h2>``); following blocks go into it.

        Args:
            heading: The section heading (also listed in the contents).
            text: An optional first paragraph.
        """
        self._sections.append(_Section(heading, f"s{len(self._sections) + 1}"))
        if text:
            self.text(text)

    def text(self, paragraph: str) -> None:
        """Add a paragraph of plain text (HTML-escaped)."""
        self._blocks().append(f"<p>{html.escape(paragraph)}</p>")

    def table(self, rows: Sequence[Mapping[str, object]], caption: str | None = None) -> None:
        """Add a table: one row per mapping, columns the union of their keys in first-seen order.

        Missing cells are empty; floats are shown with 4 significant digits (:func:`format_value`).
        """
        rows = list(rows)
        if not rows:
            self.text("(no rows)")
            return
        columns: list[str] = []
        for row in rows:
            columns.extend(k for k in row if k not in columns)
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
        body = "".join(
            "<tr>"
            + "".join(f"<td>{html.escape(format_value(row[c])) if c in row else ''}</td>" for c in columns)
            + "</tr>"
            for row in rows
        )
        cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
        self._blocks().append(f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        self.n_tables += 1

    def figure(self, fig: Figure, caption: str | None = None) -> None:
        """Add a matplotlib figure, rendered now as an embedded PNG; the figure is closed.

        Args:
            fig: The figure (made with :mod:`sim2real.report.figures` or pyplot).
            caption: Text under the figure.
        """
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight", facecolor="white")
        _close(fig)
        data = base64.b64encode(buf.getvalue()).decode("ascii")
        alt = html.escape(caption or "figure", quote=True)
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self._blocks().append(f'<figure><img alt="{alt}" src="data:image/png;base64,{data}">{cap}</figure>')
        self.n_figures += 1

    def html(self) -> str:
        """The whole document as one string."""
        esc = html.escape
        now = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
        parts = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{esc(self.title)}</title><style>{_STYLE}</style></head><body>",
            f"<h1>{esc(self.title)}</h1>",
        ]
        if self.subtitle:
            parts.append(f'<p class="subtitle">{esc(self.subtitle)}</p>')
        parts.append(f'<p class="meta">sim2real {_version()} · {esc(now)}</p>')
        parts.extend(self._preamble)
        if len(self._sections) > 1:
            items = "".join(f'<li><a href="#{s.anchor}">{esc(s.heading)}</a></li>' for s in self._sections)
            parts.append(f"<nav><b>Contents</b><ol>{items}</ol></nav>")
        for s in self._sections:
            parts.append(f'<section id="{s.anchor}"><h2>{esc(s.heading)}</h2>')
            parts.extend(s.blocks)
            parts.append("</section>")
        parts.append("</body></html>")
        return "\n".join(parts)

    def write(self, path: str | Path) -> Path:
        """Write the report as one self-contained HTML file (parent folders created).

        Returns:
            The path written.
        """
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(self.html(), encoding="utf-8")
        except OSError as exc:
            raise Sim2RealError(f"cannot write report {path}: {exc.strerror or exc}") from exc
        log.info("report written to %s (%d figures, %d tables)", path, self.n_figures, self.n_tables)
        return path


def _close(fig: Figure) -> None:
    """Release a figure: through pyplot if pyplot manages it, else nothing to do."""
    import sys

    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close(fig)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sim2real")
    except PackageNotFoundError:
        return "dev"
