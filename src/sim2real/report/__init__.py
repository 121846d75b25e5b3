"""Reports: one self-contained HTML file per command (figures embedded as PNG).

:class:`Report` builds the page; :mod:`sim2real.report.sections` adds the sections of analysis
results (reality gap, identification, transfer envelope); :mod:`sim2real.report.figures` holds the
matplotlib figures.

================  ==================================================================================
module            owns
================  ==================================================================================
html              :class:`Report`: one self-contained page of sections, tables and figures
sections          the sections of analysis results (gap, failures, identification, envelope)
figures           the matplotlib figures, pure functions of arrays
================  ==================================================================================
"""

from sim2real.report.html import Report
from sim2real.report.sections import add_envelope, add_failures, add_gap, add_identification

__all__ = ["Report", "add_envelope", "add_failures", "add_gap", "add_identification"]
