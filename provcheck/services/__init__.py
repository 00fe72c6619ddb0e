"""Services: what a command or a request asks for, done with the layers below. ``scan`` (inputs ->
fingerprints in parallel -> verdicts), ``ingest`` (``db add``), ``packs`` (sharing references
without pixels: export, import, signatures, other tools' formats), ``databases`` (which databases
a command reads and writes, and the references a scan searches), ``workers`` (worker
processes)."""
