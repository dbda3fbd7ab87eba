"""Density statistics per district, computed in PostGIS and returned as ready JSON, CSV or GeoJSON.

- selection: which devices count (StatisticsFilter, `at=` replays) and which districts
- density: the figures of districts under the border rule, and credits
- kept: the same figures read from the lines and objects kept per district at write time
- documents: the figures as JSON or GeoJSON
- csv: the figures as CSV, written by PostgreSQL
- timeline: devices added, removed and present per period
- cache: the statements of the statistics cache

Border rule: a device counts in the district whose interior holds it; a device exactly on a
border shared by several selected districts of one level counts once, in the one with the
smallest code.
"""
