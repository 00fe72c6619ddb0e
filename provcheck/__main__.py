"""Allow ``python -m provcheck`` where the console script is not on PATH."""

from provcheck.cli import main

main()
