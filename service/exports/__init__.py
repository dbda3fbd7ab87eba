"""Files of the public data for download and reuse: `flask export geopackage PATH`."""
