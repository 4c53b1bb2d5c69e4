"""The console script and ``python -m schemagm``: a Ctrl-C during start-up is a quiet exit.

Before typer, rich or torch load, SIGINT is made a quiet exit with status 130 instead of a
traceback from the middle of an import; :func:`schemagm.cli.app.main` puts Python's own handler
back before a command runs, so commands see ``KeyboardInterrupt`` as usual.  Importing
:mod:`schemagm.cli` as a library changes no signal handling.
"""

from __future__ import annotations

import os
import signal
import threading


def quiet_exit(signum: int, frame: object) -> None:
    os.write(2, b"interrupted\n")
    os._exit(130)


def main() -> None:
    main_thread = threading.current_thread() is threading.main_thread()
    if main_thread and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, quiet_exit)  # an inherited "ignore" (a background job) is left alone
    from .app import main as run

    run()
