"""Exchange with OpenStreetMap: import surveillance nodes, export devices as OSM XML."""
