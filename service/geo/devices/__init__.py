"""Devices as GeoJSON built inside PostGIS, one module per subject.

- features: a device's Feature text (stored public Features, full ones for sync and exports)
- filter: DeviceFilter, the selection every public listing goes through
- spatial: pages in spatial order (tile_key ranges), for the REST listing and the OGC API
- sync: changes since a cursor, tombstones and withdrawals included
- proximity: devices near a point (duplicate candidates) and the moderation queue
"""
