"""The console script and ``python -m schemagm``: a Ctrl-C during start-up is a quiet exit.

Before typer, rich or torch load, SIGINT is made a quiet exit with status 130: a
``KeyboardInterrupt`` raised in the middle of an import prints a traceback, and inside torch's C++
start-up it aborts the process.  Every file schemagm writes is written atomically, so stopping at
once loses nothing written.  Training installs its own handler (finish the step, save, stop) and
puts this one back afterwards.  Importing :mod:`schemagm.cli` as a library changes no signal handling.

When the command is done, every object still alive is frozen out of the garbage collector
(:func:`gc.freeze`): all of it lives until the process ends, and the interpreter's last
collections then skip it rather than walk all of torch's objects once more.  That is 0.2 to 0.3 s
of every command that loaded torch (docs/benchmarks.md).  Nothing is lost by it: files are closed
by the commands themselves, atexit handlers and the flushing of stdout and stderr still run, and
finalizers at exit were never promised (the Python reference, ``object.__del__``).
"""

from __future__ import annotations

import gc
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

    try:
        run()
    finally:
        gc.freeze()
