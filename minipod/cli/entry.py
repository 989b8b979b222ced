"""The `minipod` command's entry point.

1. the fast path (fast_path.py): `get pods`, `version`, `run`, `apply`,
   `delete pod` and `logs` without importing click;
2. else click parses and runs the command (commands.py);
3. either way an error is one or two lines (report()), never a
   traceback: `error: ...` and a `hint: ...`, exit code 1.
"""

import os
import sys

from minipod.errors import MinipodError, NotFound


def main() -> None:
    from minipod.cli import fast_path

    plan = fast_path.parse(sys.argv[1:])
    if plan is None:
        from minipod.cli.commands import main as click_main

        click_main()  # step 2
        return
    try:
        fast_path.run(plan)  # step 1
    except BaseException as e:  # noqa: BLE001 - report() decides, as for click's commands
        sys.exit(report(e))


def report(e: BaseException) -> int:
    """Step 3: print what went wrong; the exit code."""
    if isinstance(e, SystemExit):
        raise e
    if isinstance(e, KeyboardInterrupt):
        return 130
    if isinstance(e, NotFound):
        print(f"Error from server (NotFound): {e}", file=sys.stderr)
        return 1
    if isinstance(e, MinipodError):
        print(f"error: {e}", file=sys.stderr)
        if e.hint:
            print(f"hint: {e.hint}", file=sys.stderr)
        return 1
    from minipod.cli.client import lost_daemon

    lost = lost_daemon(e)
    if lost:
        print(f"error: {lost}", file=sys.stderr)
        print(
            f"hint: check with minipod get pods; the daemon's log may say why: {_daemon_log()}",
            file=sys.stderr,
        )
        return 1
    if os.environ.get("MINIPOD_DEBUG"):
        raise e
    print(f"error: internal error in the minipod command: {type(e).__name__}: {e}", file=sys.stderr)
    print("hint: run again with MINIPOD_DEBUG=1 for the details, and report it", file=sys.stderr)
    return 1


def _daemon_log() -> str:
    from minipod.cli.context import Ctx
    from minipod.paths import instance

    return (Ctx.current.inst if Ctx.current else instance()).daemon_log
