"""KPIs and digests: aggregates, trends, charts, the CSV export."""
