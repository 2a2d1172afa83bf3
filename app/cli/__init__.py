"""`facematch` command line: serve, migrate, keys, import, rotate-key; export-models and eval
come from the offline packages when they are installed.

Each sub-command lives in its own module; registering one is one line below.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib.metadata import entry_points

import typer

from app.cli.importer import import_command
from app.cli.keys import keys_app
from app.cli.migrate import migrate
from app.cli.rotate_key import rotate_key
from app.cli.serve import serve

# Offline tools (the model exporter, evaluation) add their commands through this entry-point group,
# so the service's package never imports them and runs without their dependencies.
COMMANDS_GROUP = "facematch.commands"
_OFFLINE_COMMANDS = {
    "export-models": "the model exporter (model_export) with the export extra: "
    "pip install -e '.[export]' in a checkout",
    "eval": "the offline evaluation package (facematch_eval) with the export and dev extras: "
    "pip install -e '.[export,dev]' in a checkout",
}


def _unavailable(name: str, needs: str, why: str) -> Callable[[typer.Context], None]:
    def command(ctx: typer.Context) -> None:
        del ctx
        print(f"facematch {name} is not installed here ({why}); it needs {needs}", file=sys.stderr)
        raise typer.Exit(2)

    command.__doc__ = f"(not installed: needs {needs})"
    return command


def _add_offline_commands(app: typer.Typer) -> None:
    why = {name: "no such command registered" for name in _OFFLINE_COMMANDS}
    for entry in entry_points(group=COMMANDS_GROUP):
        try:
            register = entry.load()
        except ImportError as exc:  # its package is absent from this install (the runtime image)
            why[entry.name] = str(exc)
            continue
        register(app)
        why.pop(entry.name, None)
    for name, reason in why.items():
        app.command(
            name,
            context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        )(_unavailable(name, _OFFLINE_COMMANDS[name], reason))


cli = typer.Typer(
    name="facematch",
    help="Self-hosted face matching service.",
    no_args_is_help=True,
    add_completion=False,
)
cli.command("serve")(serve)
cli.command("migrate")(migrate)
cli.add_typer(keys_app, name="keys")
cli.command("import")(import_command)
cli.command("rotate-key")(rotate_key)
_add_offline_commands(cli)


def main() -> None:
    cli()
