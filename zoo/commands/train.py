"""Train a spec on a data set, or resume a run.

    zoo train SPEC [--data NAME] [--data-root DIR] [--recipe RECIPE.yaml] [--set NAME=VALUE]
                   [--recipe-set KEY=VALUE] [--epochs N | --steps N] [--schedule-to-steps] [--compile]
                   --out RUN_DIR
    zoo train --resume RUN_DIR [--epochs N | --steps N] [--recipe-set KEY=VALUE] [--data-root DIR]

The recipe defaults to specs/<model>.yaml beside the spec when it exists; --recipe-set edits
one key (dotted for nested keys: optimizer.lr=1e-3, kl_warmup.name=none); --set changes a spec
constant. The data set defaults to the recipe's `data:`, then to the spec's `dataset` header.
Several processes: torchrun --nproc_per_node K -m zoo.cli train ... (see docs/training.md).
"""
from __future__ import annotations

import argparse
import os
import sys

from .common import add_budget_argument

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", nargs="?", metavar="SPEC", help="a model name from `zoo list` or a .hvae file")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                        help="override a spec constant (repeatable), e.g. --set W=8")
    parser.add_argument("--json", action="store_true",
                        help="end with one JSON object on stdout (run folder, steps, checkpoint), or the "
                             "diagnostics on an error (docs/diagnostics.schema.json); progress stays on stderr")
    parser.add_argument("--data", metavar="NAME", help="data set: digits, mnist, binarized_mnist, omniglot, cifar10")
    parser.add_argument("--data-root", metavar="DIR", help="folder holding the data files (default $ZOO_DATA or "
                        "~/.cache/hvae-zoo/data)")
    parser.add_argument("--download", action="store_true", help="download missing data files (needs internet)")
    parser.add_argument("--recipe", metavar="RECIPE.yaml", help="training recipe (default: specs/<model>.yaml)")
    parser.add_argument("--recipe-set", dest="recipe_sets", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe key (repeatable), e.g. --recipe-set optimizer.lr=1e-3")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--epochs", type=int, metavar="N", help="train for N epochs (replaces the recipe's length)")
    group.add_argument("--steps", type=int, metavar="N", help="train for N updates (replaces the recipe's length)")
    parser.add_argument("--schedule-to-steps", action="store_true",
                        help="compress the recipe's schedules (KL warm-up, learning rate) into this run's length, "
                        "e.g. for a short --steps run (docs/training.md)")
    parser.add_argument("--out", metavar="RUN_DIR", help="the run folder to create")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its checkpoint")
    parser.add_argument("--device", metavar="DEVICE", help="cpu, cuda or cuda:N (default: a GPU if there is one)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_budget_argument(parser)
    parser.add_argument("--compile", action="store_true",
                        help="train through torch.compile (the recipe key compile=true; kept on --resume)")


def _check_args(args: argparse.Namespace) -> None:
    from zoo.errors import ZooError

    if args.resume:
        clashes = [flag for flag, value in (("SPEC", args.spec), ("--out", args.out), ("--set", args.overrides),
                                            ("--recipe", args.recipe), ("--data", args.data),
                                            ("--schedule-to-steps", args.schedule_to_steps)) if value]
        if clashes:
            raise ZooError(f"--resume continues a run as its checkpoint describes it; drop {', '.join(clashes)} "
                           "(use --recipe-set, --epochs or --steps to change the remaining training)")
        return
    if not args.spec:
        raise ZooError("give a SPEC to train (e.g. `zoo train vae --data digits --set W=8 --out runs/vae`) "
                       "or --resume RUN_DIR")
    if not args.out:
        raise ZooError("give --out RUN_DIR, the folder for the logs and checkpoints of this run")
    for flag in ("epochs", "steps"):
        value = getattr(args, flag)
        if value is not None and value <= 0:
            raise ZooError(f"--{flag} must be positive, got {value}")


def run(args: argparse.Namespace) -> int:
    import time

    started = time.perf_counter()
    from zoo.training.distributed import init_distributed
    from zoo.training.runs import prepare_new_run, prepare_resume
    from zoo.training.schedules import schedule_values, schedule_warnings
    from zoo.training.train import TrainingInterrupted, steps_per_epoch, train

    from .common import overrides_from

    _check_args(args)
    if args.compile:
        args.recipe_sets = [*args.recipe_sets, "compile=true"]
    ctx = init_distributed(args.device)
    try:
        if args.resume:
            setup = prepare_resume(args.resume, data_root=args.data_root, recipe_sets=args.recipe_sets,
                                   epochs=args.epochs, steps=args.steps, ctx=ctx)
        else:
            setup = prepare_new_run(args.spec, args.out, overrides=overrides_from(args), data=args.data,
                                    data_root=args.data_root, recipe=args.recipe, recipe_sets=args.recipe_sets,
                                    epochs=args.epochs, steps=args.steps, download=args.download,
                                    schedule_to_steps=args.schedule_to_steps, ctx=ctx,
                                    max_parameters=args.max_parameters)
        say = (lambda text: print(text, file=sys.stderr)) if ctx.is_main else (lambda text: None)
        for note in setup.notes:
            say(note)
        cfg = setup.config
        from dsl.describe import titled

        say(f"{'resuming' if setup.resume else 'training'} "
            f"{titled(setup.mg.name, setup.mg.spec.overrides, setup.mg.description)}\n"
            f"  {setup.model.num_parameters():,} parameters, on {cfg.data} ({len(setup.train_data):,} images), "
            + (f"{cfg.epochs} epochs" if cfg.epochs else f"{cfg.steps:,} steps")
            + f", batch {cfg.batch_size} x {ctx.world_size} process(es), {ctx.device}; run folder {setup.run_dir}")
        spe = steps_per_epoch(len(setup.train_data), cfg.batch_size, ctx.world_size)
        total = cfg.steps if cfg.steps is not None else cfg.epochs * spe  # spe = 0: train() explains
        if cfg.schedule_epochs is not None:
            say(f"schedules: the recipe's {cfg.schedule_epochs:g} epochs compressed into {total:,} steps "
                "(--schedule-to-steps)")
        cut_short = schedule_warnings(cfg, spe, total) if spe else []  # no batch at all: train() says so
        for warning in cut_short:
            say(warning)
        try:
            state = train(setup.model, setup.train_data, cfg, setup.run_dir, ctx=ctx, valid=setup.valid_data,
                          resume=setup.resume, meta=setup.meta, progress=not args.no_progress and ctx.is_main,
                          started=started)
        except TrainingInterrupted as stop:
            say(f"{stop}\ncontinue with: zoo train --resume {setup.run_dir}")
            return 128 + int(stop.signum)
        if ctx.is_main:
            _plot(setup.run_dir, ema=cfg.ema is not None)
            _, beta = schedule_values(cfg, state.step - 1, spe, total)
            unfinished = f"; KL warm-up unfinished: the last step trained with beta = {beta:.3g}" if beta < 1 else ""
            say(f"done: {state.step:,} steps ({state.skipped_total} skipped){unfinished}; checkpoint "
                f"{os.path.join(setup.run_dir, 'checkpoint.pt')}; learning curves (drawn in the background, there "
                f"in a few seconds) {os.path.join(setup.run_dir, 'learning_curves.png')}\n" + eval_hint(setup.run_dir, cfg))
            if args.json:
                from .json_output import dumps

                print(dumps({"command": "train", "model": setup.mg.name, "status": "ok", "run": setup.run_dir,
                             "steps": state.step, "checkpoint": os.path.join(setup.run_dir, "checkpoint.pt"),
                             "diagnostics": [w.to_dict() for w in setup.mg.warnings]}))
        return 0
    finally:
        ctx.close()


def eval_hint(run_dir: str, cfg) -> str:
    """The `zoo eval` commands to suggest after training: a cheap one first (minutes on a CPU), then
    the published protocol (K = the recipe's importance_samples over the whole test set)."""
    return (f"evaluate quickly with: zoo eval {run_dir} -k 100 --limit 1000\n"
            f"the published protocol (K = {cfg.importance_samples:,}, the whole test set; it prints a time "
            f"estimate first): zoo eval {run_dir}")


def _plot(run_dir: str, *, ema: bool) -> None:
    """Start drawing RUN_DIR/learning_curves.png in a detached process (a second or two later it is
    there); the command does not wait for matplotlib."""
    from zoo.analysis.plots import draw_learning_curves_detached
    from zoo.training.runlog import LOG_NAME

    log = os.path.join(run_dir, LOG_NAME)
    if os.path.exists(log):
        draw_learning_curves_detached(log, os.path.join(run_dir, "learning_curves.png"), ema=ema)
