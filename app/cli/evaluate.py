"""`facematch eval`: LFW-style verification accuracy, ROC and FAR calibration (app/eval.py)."""

from __future__ import annotations

import typer

from app import eval as evaluation


def evaluate(ctx: typer.Context) -> None:
    """Accuracy on a pairs file (LFW format); all options are those of `python -m app.eval`."""
    # app.eval owns its argument parser (it also runs as `python -m app.eval`); typer only forwards.
    raise typer.Exit(evaluation.main(list(ctx.args)))


EVAL_CONTEXT = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}
