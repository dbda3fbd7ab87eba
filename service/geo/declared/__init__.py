"""Declared lists of surveillance sites versus the devices observed on the ground.

imports.py stores a version of a list and matches its sites; matching.py says which devices
count as observed and what a site's status is; features.py serves sites as GeoJSON;
figures.py counts them per district. See docs/declared.md.
"""
