"""Show a pull's progress (the JSON lines of `python -m minipod.image.pull`) to
a person: one bar per layer on a terminal, plain lines otherwise.

    renderer = Progress(sys.stderr)       # tty or not: decided here
    for line in lines: renderer.feed(line)   # a JSON line, or an event dict
    renderer.close()

On a terminal, each event redraws the block of layer lines in place
(cursor up, erase line: ANSI/VT100), at most every 0.1 s, each line:

    0a567beed5a8  [#########.........]   4.1 MiB / 9.5 MiB   12.3 MiB/s

Elsewhere (a log, a pipe) it prints one line when a layer starts
downloading, one when it is done or found present, and the errors.

Stdlib only and cheap to import: the CLI loads it on every pull.

    python -m minipod.cli.progress < LINES     renders lines from stdin
"""

import json
import sys
import time

BAR = 20
REDRAW_EVERY = 0.1


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


class _Layer:
    def __init__(self, digest: str, total: int):
        self.digest, self.total, self.done = digest, total, 0
        self.status: str | None = "waiting"
        self.started: float | None = None
        self.finished: float | None = None

    def rate(self, now: float) -> float:
        if self.started is None:
            return 0.0
        return self.done / max((self.finished or now) - self.started, 1e-3)

    def line(self, now: float, bar: bool = True) -> str:
        """The layer's line: with a bar (terminal) or a plain one (logs)."""
        short = self.digest.split(":")[-1][:12]
        if self.status == "present":
            return f"{short}  already present"
        if self.status == "waiting":
            return f"{short}  waiting for another pull of it"
        if not bar and self.status == "downloading":
            return f"{short}  downloading {human(self.total)}"
        if not bar and self.status == "done":
            return f"{short}  {human(self.total)}  done  {human(self.rate(now))}/s"
        frac = self.done / self.total if self.total else 1.0
        filled = int(frac * BAR)
        text = (
            f"{short}  [{'#' * filled}{'.' * (BAR - filled)}]  {human(self.done):>10} / {human(self.total)}"
        )
        if self.status == "downloading" or self.status == "done":
            text += f"  {human(self.rate(now))}/s"
        if self.status == "done":
            text += "  done"
        return text


class Progress:
    def __init__(self, out=None, tty: bool | None = None):
        self.out = out or sys.stderr
        self.tty = self.out.isatty() if tty is None else tty
        self.layers: dict[str, _Layer] = {}
        self.drawn = 0  # lines of the block on screen
        self.last_draw = 0.0
        self.ended = False  # the pull's last word was said

    def feed(self, item) -> dict | None:
        """Take one JSON line (str or bytes) or event dict; return the event."""
        try:
            event = json.loads(item) if isinstance(item, (str, bytes)) else item
        except ValueError:
            return None
        if not isinstance(event, dict):
            return None
        now = time.monotonic()
        kind = event.get("event")
        if kind == "manifest":
            for layer in event.get("layers") or []:
                self.layers.setdefault(layer["digest"], _Layer(layer["digest"], layer["size"]))
        elif kind == "layer":
            self._layer_event(event, now)
        elif kind == "done":
            self._draw(now, force=True)
            self.ended = True
            self._say(
                f"{event.get('ref')}: {'pulled' if event.get('pulled') else 'present'}"
                f" ({event.get('digest')})"
            )
        elif kind == "error":
            self._draw(now, force=True)
            self.ended = True
            self._say(f"error: {event.get('message')}")
        return event

    def _layer_event(self, event: dict, now: float) -> None:
        layer = self.layers.setdefault(event["digest"], _Layer(event["digest"], event.get("total") or 0))
        status, before = event.get("status"), layer.status
        layer.total = event.get("total") or layer.total
        layer.done = event.get("done") or 0
        layer.status = status
        if status == "downloading" and layer.started is None:
            layer.started = now
        if status == "done":
            layer.started = layer.started or now
            layer.finished = now
        if self.tty:
            self._draw(now, force=status != "downloading")
        elif status != before and status in ("waiting", "downloading", "done", "present"):
            self._say(layer.line(now, bar=False))

    def _draw(self, now: float, force: bool = False) -> None:
        if (
            not self.tty
            or not self.layers
            or self.ended
            or (not force and now - self.last_draw < REDRAW_EVERY)
        ):
            return
        self.last_draw = now
        up = f"\x1b[{self.drawn}F" if self.drawn else ""
        lines = [f"\x1b[2K{layer.line(now)}" for layer in self.layers.values()]
        self.out.write(up + "\n".join(lines) + "\n")
        self.out.flush()
        self.drawn = len(lines)

    def _say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()
        self.drawn = 0  # the block is above: start a new one below

    def close(self) -> None:
        self._draw(time.monotonic(), force=True)


def main() -> int:
    renderer, failed = Progress(sys.stderr), False
    for line in sys.stdin:
        event = renderer.feed(line)
        failed = failed or bool(event and event.get("event") == "error")
    renderer.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
