"""The bundled reference pack (``pack.sqlite``), installed as ``provcheck.bundled``.

``recipe/build_pack.py`` below this folder rebuilds it from ../shared/devset (it is kept out of
the package: a developer's tool, useless without the devset); ``sources.json`` holds the
provenance of each source, curated by hand.
"""
