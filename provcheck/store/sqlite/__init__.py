"""The SQLite backend of the reference store: one file per database, WAL mode, a versioned schema
(``schema``), opened and upgraded by ``opening``, read by ``reads``, its packed search arrays kept
by ``packing``, written by ``writes``; ``store.SqliteStore`` is all of them together."""
