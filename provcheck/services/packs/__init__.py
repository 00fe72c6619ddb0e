"""Reference packs: sharing references between databases and desks without pixels.

``records`` (a pack's lines as values, parsed and written in one place), ``formats`` (what an
input is, told from its content, and the readers of each), ``streams`` (files, standard input and
URLs read once with their digest; gzip and zstd), ``export`` and ``publish`` (writing packs and
the interoperable formats), ``importing`` (``db import``: all or nothing, checked, updates) and
``signing`` (Ed25519 keys and detached signatures). The format is specified in docs/packs.md.
"""
