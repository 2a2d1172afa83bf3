"""`facematch` command line: serve, migrate, export-models, keys (and the modules others add).

Each sub-command lives in its own module; registering one is one line below.
"""

from __future__ import annotations

import typer

from app.cli.evaluate import EVAL_CONTEXT, evaluate
from app.cli.export_models import export_models
from app.cli.importer import import_command
from app.cli.keys import keys_app
from app.cli.migrate import migrate
from app.cli.rotate_key import rotate_key
from app.cli.serve import serve

cli = typer.Typer(
    name="facematch",
    help="Self-hosted face matching service.",
    no_args_is_help=True,
    add_completion=False,
)
cli.command("serve")(serve)
cli.command("migrate")(migrate)
cli.command("export-models")(export_models)
cli.add_typer(keys_app, name="keys")
cli.command("import")(import_command)
cli.command("rotate-key")(rotate_key)
cli.command("eval", context_settings=EVAL_CONTEXT)(evaluate)


def main() -> None:
    cli()
