"""Backups: one archive holding a dump of the database and every photo file its rows name.

`database.py` drives pg_dump and pg_restore, `archive.py` writes and checks the archive and its
manifest, `backup.py` puts them together (no Flask), `cli.py` is `flask backup create|restore`.
"""
