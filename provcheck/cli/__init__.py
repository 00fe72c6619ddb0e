"""The ``provcheck`` command: parse options, call one service, render. No logic lives here.

``group`` holds the click group and the error-to-exit-code mapping, ``options`` the options the
commands share, ``config`` the settings file; one module per command (``scan_command``,
``db_commands``, ``db_add`` and ``pack_commands``, ``serve_command``), each registering itself on
the group.
"""

from provcheck.cli import db_add, db_commands, pack_commands, scan_command, serve_command
from provcheck.cli.group import cli, main

__all__ = [
    "cli",
    "db_add",
    "db_commands",
    "main",
    "pack_commands",
    "scan_command",
    "serve_command",
]
