"""``cairn``: the command line. Command groups live one per module and are registered here,
explicitly (``COMMANDS``), so that ``cairn --help`` and this file list the same commands.

A command's module is imported when that command runs, not at start-up: ``cairn artifact
put`` does not load the server, demo or admin code (bench/startup.py measures it)."""

from __future__ import annotations

import gc
import importlib

import click

from . import output
from .errors import Root


# Each top-level command: name -> "module:attribute" in this package; and the commands
# that other modules add to a group, added when the group is loaded.
COMMANDS: dict[str, str] = {
    "admin": "admin_cmds:admin",
    "artifact": "artifact_cmds:artifact",
    "demo": "demo:demo",
    "gc": "lifecycle_cmds:gc",
    "login": "server_cmds:login",
    "project": "lifecycle_cmds:project",
    "retention": "lifecycle_cmds:retention",
    "run": "run_cmds:run_group",
    "server": "server_cmds:server",
    "sync": "sync_cmd:sync_cmd",
    "verify": "verify_cmd:verify_cmd",
}
SUBCOMMANDS: dict[str, tuple[str, ...]] = {
    "admin": ("verify_cmd:admin_verify", "lifecycle_cmds:admin_gc"),
    "artifact": ("alias_cmds:alias", "tag_cmds:tag", "cache_cmds:cache", "lifecycle_cmds:rm"),
    "project": ("lifecycle_cmds:project_rm",),
    "retention": ("lifecycle_cmds:retention_set", "lifecycle_cmds:retention_show", "lifecycle_cmds:retention_clear"),
}


def _load(target: str) -> click.Command:
    module, _, attribute = target.partition(":")
    command = getattr(importlib.import_module(f".{module}", __package__), attribute)
    assert isinstance(command, click.Command), target
    return command


class Commands(Root):
    """The root group, whose commands (``COMMANDS``) are imported on first use. Listing
    them (``cairn --help``) loads them all, since their help texts live with them."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            command = _load(COMMANDS[cmd_name])
            subcommands = SUBCOMMANDS.get(cmd_name, ())
            if subcommands:
                assert isinstance(command, click.Group), cmd_name
                for target in subcommands:
                    command.add_command(_load(target))
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cairn-artifacts", prog_name="cairn")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars or summaries (also CAIRN_SILENT=1).")
@click.option(
    "--verbose", "-v", count=True, help="Show cairn's log: -v for info, -vv for debug (also CAIRN_LOG_LEVEL)."
)
@click.option("--debug", is_flag=True, help="Show the full traceback of an error.")
@click.pass_context
def main(ctx: click.Context, quiet: bool, verbose: int, debug: bool) -> None:
    """cairn: version the files ML runs produce and consume.

    Works on the embedded store in CAIRN_DIR with no set-up; set CAIRN_BASE_URL (and
    log in) to work against a cairn server instead.

    \b
    Examples:
      cairn artifact put data/ --name mnist/images --alias best
      cairn artifact show mnist/images:best
      cairn artifact diff mnist/images:v0 mnist/images:v1 --stat
      cairn artifact get mnist/images:best --root ./images
      cairn run ls mnist --json
    """
    from ..client.settings import silent_from_env
    from ..core import progress
    from ..sdk.terminal import terminal_reporter
    from .logs import setup_logging

    setup_logging(verbose)
    output.drop_notes()
    # Progress of long work goes to stderr: bars on a terminal, one line per phase otherwise.
    reporter = terminal_reporter(quiet=quiet or silent_from_env(), summary=output.later)
    ctx.with_resource(progress.reporting(reporter))


def run() -> None:
    """The ``cairn`` executable: ``main`` in a process of its own.

    A command builds many long-lived objects (an entry per file) and few cycles, so the
    process collects rarely and never rescans what the imports made. Interleaved runs on
    "small" (50,000 files): log again 1.30 -> 1.22 s, fetch into a matching folder 0.87 ->
    0.80 s. Only the executable does this: the SDK leaves its host program's collector alone.
    """
    gc.freeze()
    gc.set_threshold(100_000, 50, 50)
    main()
