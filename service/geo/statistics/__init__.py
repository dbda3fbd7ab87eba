"""Density statistics per district, computed in PostGIS and returned as ready JSON, CSV or GeoJSON.

- selection: which devices count (StatisticsFilter, `at=` replays) and which districts
- density: the figures of districts under the border rule, as JSON or GeoJSON, and credits
- csv: the same figures as CSV, written by PostgreSQL
- timeline: devices added, removed and present per period
- cache: the statements of the statistics cache

Border rule: a device counts in the district whose interior holds it; a device exactly on a
border shared by several selected districts counts once, in the one with the smallest code.
"""
