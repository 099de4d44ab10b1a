"""Toxiproxy's API from this proxy: existing Toxiproxy clients work unchanged.

- ``api``: the 13 routes, JSON shapes, statuses and error bodies of Toxiproxy 2.12;
- ``toxics``: the seven raw-TCP toxics, each the fault kind it means (``MEANING``), run by
  the per-direction chain of ``faults/wire/bytestream.py``;
- ``listeners``: each proxy a mitmproxy listener, added/removed at runtime;
- ``httpd``: the small HTTP server the API is served from.

The addon is ``faults.addons.toxiproxy`` (a child of ``FaultAddon``).
"""
