"""Services: what a command or a request asks for, done with the layers below. ``scan`` (inputs ->
fingerprints in parallel -> verdicts), ``ingest`` (``db add``), ``exchange`` (exporting and
importing references without pixels), ``databases`` (which databases a command reads and writes,
and the references a scan searches), ``workers`` (worker processes)."""
