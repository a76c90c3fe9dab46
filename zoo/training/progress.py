"""Progress of long work: a tqdm bar on a terminal, plain lines in a log.

On a terminal, :class:`Progress` is a tqdm bar (rate and ETA included). When the stream is not a
terminal (output redirected to a file, a batch job) or the bar is turned off (``--no-progress``),
it prints one plain line at most every ``every_s`` seconds and at the end, so a redirected log
reads as a few dozen lines instead of thousands of ``\\r`` updates, and a long pass does not look
hung. Each line has the count, the rate, the elapsed time and an ETA.
"""
from __future__ import annotations

import sys
import time
from typing import Optional, TextIO

__all__ = ["Progress", "format_duration"]


def format_duration(seconds: float) -> str:
    """``3725`` -> ``"1h02m"``, ``125`` -> ``"2m05s"``, ``7.4`` -> ``"7.4s"``."""
    if seconds != seconds or seconds == float("inf"):
        return "?"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class Progress:
    """Counts ``unit``s towards ``total`` on ``file`` (stderr by default).

    Args:
        total: the count at the end.
        desc: what is counted, e.g. ``"train"`` or ``"eval K=100"``.
        unit: ``"step"``, ``"img"``...
        initial: the count already done (a resumed run).
        bar: a tqdm bar when the stream is a terminal (False: plain lines always).
        every_s: seconds between plain lines.
        file: the stream.
    """

    def __init__(self, total: int, *, desc: str, unit: str, initial: int = 0, bar: bool = True,
                 every_s: float = 30.0, file: Optional[TextIO] = None):
        self.total, self.desc, self.unit, self.every_s = total, desc, unit, every_s
        self.file = file or sys.stderr
        self.n = self.start_n = initial
        self.started = self.last_line = time.perf_counter()
        self.postfix = ""
        self.tqdm = None
        if bar and _is_terminal(self.file):
            from tqdm import tqdm

            self.tqdm = tqdm(total=total, initial=initial, unit=unit, desc=desc, dynamic_ncols=True,
                             file=self.file, leave=True)

    def set_postfix(self, **values) -> None:
        """Values shown after the count (``loss=...``); formatted by the caller."""
        self.postfix = ", ".join(f"{k} {v}" for k, v in values.items())
        if self.tqdm is not None:
            self.tqdm.set_postfix(values, refresh=False)

    def update(self, count: int = 1) -> None:
        self.n += count
        if self.tqdm is not None:
            self.tqdm.update(count)
            return
        now = time.perf_counter()
        if now - self.last_line >= self.every_s and self.n < self.total:
            self.last_line = now
            print(self.line(now), file=self.file, flush=True)

    def line(self, now: Optional[float] = None) -> str:
        """``desc: 1,200/5,000 step (24%), 85.3 step/s, elapsed 14.1s, ETA 44.6s; postfix``."""
        now = time.perf_counter() if now is None else now
        elapsed = now - self.started
        rate = (self.n - self.start_n) / elapsed if elapsed > 0 else float("nan")
        eta = (self.total - self.n) / rate if rate and rate == rate and rate > 0 else float("nan")
        pct = 100.0 * self.n / self.total if self.total else 100.0
        text = (f"{self.desc}: {self.n:,}/{self.total:,} {self.unit} ({pct:.0f}%), {rate:.3g} {self.unit}/s, "
                f"elapsed {format_duration(elapsed)}, ETA {format_duration(eta)}")
        return f"{text}; {self.postfix}" if self.postfix else text

    def write(self, text: str) -> None:
        """A message that does not break the bar."""
        if self.tqdm is not None:
            self.tqdm.write(text, file=self.file)
        else:
            print(text, file=self.file, flush=True)

    def close(self) -> None:
        if self.tqdm is not None:
            self.tqdm.close()
        elif self.n > self.start_n:
            print(self.line(), file=self.file, flush=True)


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
