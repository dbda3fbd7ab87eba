"""SQL builders that run inside PostGIS: GeoJSON, statistics, tiles. No Flask in here."""
