"""Reports: the per-layer format table, report.json and rich terminal tables, progress bars."""

from .report import REQUIRED_KEYS, build_report, collect_reports, write_json
from .tables import condense, layer_table, layer_table_text, report_table, report_text

__all__ = ["REQUIRED_KEYS", "build_report", "collect_reports", "condense", "layer_table", "layer_table_text", "report_table",
           "report_text", "write_json"]
