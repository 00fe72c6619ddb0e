"""The bundled reference pack (``pack.sqlite``), installed as ``provcheck.bundled``.

``build_pack.py`` beside this file rebuilds it from ../shared/devset; ``sources.json`` holds the
provenance of each source, curated by hand.
"""
