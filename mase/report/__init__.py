"""Reports: the per-layer format table, report.json and rich terminal tables, progress bars."""
