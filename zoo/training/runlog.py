"""What a training run writes as it goes: a CSV log, TensorBoard events, a progress bar.

``RUN_DIR/log.csv`` has one row per ``log_every`` training steps (means over those steps) and one
per validation pass, with the same columns: ``step, epoch, phase (train|valid), lr, beta, loss,
nelbo, nelbo_bpd, recon, kl, kl/<latent>..., grad_norm, skipped, images_per_s, wall_s``; nats per
example unless a name says otherwise; ``wall_s`` is seconds since the run started (a resumed run
continues from its last kept row's). On resume, rows after the checkpoint's step are dropped, so
the log of a resumed run reads like an uninterrupted one. TensorBoard scalars go to
``RUN_DIR/tb`` when ``torch.utils.tensorboard`` imports (it needs the ``tensorboard`` package).
"""
from __future__ import annotations

import csv
import math
import os
import time
from typing import Iterable, Optional

__all__ = ["CSVLog", "RunLog", "LOG_NAME", "read_log"]

LOG_NAME = "log.csv"
BASE_COLUMNS = ["step", "epoch", "phase", "lr", "beta", "loss", "nelbo", "nelbo_bpd", "recon", "kl"]
TAIL_COLUMNS = ["grad_norm", "skipped", "images_per_s", "wall_s"]


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return str(value)


class CSVLog:
    """Appends rows to ``log.csv``; on resume keeps only rows up to the resumed step."""

    def __init__(self, path: str, latents: Iterable[str], *, resume_step: Optional[int] = None):
        self.path = path
        self.columns = BASE_COLUMNS + [f"kl/{z}" for z in latents] + TAIL_COLUMNS
        kept: list[dict] = []
        if resume_step is not None and os.path.exists(path):
            kept = [row for row in read_log(path) if _int(row.get("step")) <= resume_step]
        walls = [_float(row.get("wall_s")) for row in kept]
        self.last_wall = max([w for w in walls if math.isfinite(w)], default=0.0)
        self._handle = open(path, "w", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._handle, fieldnames=self.columns, extrasaction="ignore")
        self._writer.writeheader()
        for row in kept:
            self._writer.writerow({k: row.get(k, "") for k in self.columns})
        self._handle.flush()

    def write(self, row: dict) -> None:
        self._writer.writerow({k: _fmt(row.get(k)) for k in self.columns})
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


def _int(value) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return -1


def _float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def read_log(path: str) -> list[dict]:
    """The rows of a ``log.csv`` as dicts of strings."""
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


class RunLog:
    """CSV + optional TensorBoard + progress (:class:`~zoo.training.progress.Progress`), on the main process only.

    Args:
        run_dir: the run folder.
        latents: latent names, for the per-layer KL columns.
        total_steps, start_step: for the progress bar.
        enabled: False on non-zero ranks (then every method does nothing).
        progress: a tqdm bar on stderr when it is a terminal; otherwise (or with False), one plain
            line every 30 seconds.
        resume_step: the step a resumed run continues from (trims the CSV).
    """

    def __init__(self, run_dir: str, latents: Iterable[str], *, total_steps: int, start_step: int = 0,
                 enabled: bool = True, progress: bool = True, resume_step: Optional[int] = None):
        self.enabled = enabled
        self.csv = self.tb = self.bar = None
        if not enabled:
            return
        self.csv = CSVLog(os.path.join(run_dir, LOG_NAME), latents, resume_step=resume_step)
        self.started = time.time() - self.csv.last_wall
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(os.path.join(run_dir, "tb"), purge_step=resume_step)
        except Exception:  # noqa: BLE001 -- tensorboard is optional; any import problem means "not installed"
            self.tb = None
        from .progress import Progress

        self.bar = Progress(total_steps, desc="train", unit="step", initial=start_step, bar=progress)

    def elapsed(self) -> float:
        """Seconds since the run started (``wall_s``)."""
        return time.time() - self.started if self.enabled else math.nan

    def train_row(self, row: dict) -> None:
        if not self.enabled:
            return
        self.csv.write(dict(row, phase="train"))
        if self.tb is not None:
            for key in ("loss", "nelbo", "nelbo_bpd", "kl", "lr", "beta", "grad_norm", "images_per_s"):
                if row.get(key) is not None:
                    self.tb.add_scalar(f"train/{key}", row[key], row["step"])
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{row['loss']:.2f}", kl=f"{row['kl']:.2f}", beta=f"{row['beta']:.3g}",
                                 img_s=f"{row['images_per_s']:.0f}")

    def valid_row(self, row: dict) -> None:
        if not self.enabled:
            return
        self.csv.write(dict(row, phase="valid"))
        if self.tb is not None:
            for key in ("nelbo", "nelbo_bpd", "kl"):
                self.tb.add_scalar(f"valid/{key}", row[key], row["step"])

    def advance(self, steps: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(steps)

    def message(self, text: str) -> None:
        """A line for the user (through the progress bar when there is one)."""
        if not self.enabled:
            return
        self.bar.write(text)

    def close(self) -> None:
        if not self.enabled:
            return
        self.bar.close()
        if self.tb is not None:
            self.tb.close()
        self.csv.close()
