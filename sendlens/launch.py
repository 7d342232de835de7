"""The `sendlens` console script.

Loading the command line takes about half a second (Typer, pandas, scikit-learn's
helpers). A Ctrl-C in that time reached Python's default handler and printed the import
traceback; here it ends the run quietly, as the commands do, with the shell's code 130.
"""

from __future__ import annotations

import signal
import sys
import threading

INTERRUPTED_EXIT = 130  # as a shell reports a command stopped by Ctrl-C


def _term(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # a TERM while loading ends as a Ctrl-C does, with 130


def main() -> None:
    try:
        # Before the half second of loading: a TERM then killed the program (143).
        signal.signal(signal.SIGTERM, _term)
        from sendlens.cli import main as run

        run()
    except KeyboardInterrupt:
        # Only an interrupt before cli.main installs its handlers gets here: the
        # commands end their own interrupts with a summary and exit code.
        sys.exit(INTERRUPTED_EXIT)
    finally:
        # The command is over. A run that ended by itself keeps its exit code through a
        # Ctrl-C or TERM while Python winds down (`tag` printed "tagged 6,749 passages" and exited
        # 130); after an interrupt, another Ctrl-C then ends it at once, where Python's
        # handler raised "Exception ignored in threading".
        cli = sys.modules.get("sendlens.cli")
        # Not while another thread keeps Python waiting (a retrain the app started as it
        # stopped): a Ctrl-C must still end that wait.
        waiting = any(not t.daemon and t is not threading.main_thread()
                      for t in threading.enumerate())
        done = bool(cli and cli._done and not cli._interrupted and not waiting)
        # A TERM too (a job scheduler's): it killed a complete `tag` with 143.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN if done else signal.SIG_DFL)


if __name__ == "__main__":
    main()
