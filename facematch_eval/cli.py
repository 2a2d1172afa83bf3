"""`facematch eval`, added to the service's command line through the `facematch.commands` entry
point (see pyproject.toml), so `app` never imports this package."""

from __future__ import annotations

import typer

# facematch_eval.eval owns its argument parser (it also runs as `python -m facematch_eval.eval`);
# typer passes every argument through unchanged.
_PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


def evaluate(ctx: typer.Context) -> None:
    """LFW-style verification accuracy, ROC and FAR calibration on a pairs file (LFW format)."""
    from facematch_eval.eval import main

    raise typer.Exit(main(list(ctx.args)))


def register(cli: typer.Typer) -> None:
    cli.command("eval", context_settings=_PASS_THROUGH)(evaluate)
