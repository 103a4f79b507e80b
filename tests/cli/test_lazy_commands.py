"""The ``cairn`` command imports a command's module only when that command runs (``COMMANDS``
in cli/main.py), so that ``cairn artifact put`` does not pay for the server, demo or admin
code at start-up. Each check runs in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

import click

from cairn.cli import main as cli

COMMAND_MODULES = {f"cairn.cli.{target.partition(':')[0]}" for target in cli.COMMANDS.values()}


def _loaded_after(code: str) -> set[str]:
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_the_entry_point_loads_no_command_module() -> None:
    loaded = _loaded_after("import cairn.cli.main")
    assert sorted(loaded & COMMAND_MODULES) == []
    assert "cairn.sdk.run" not in loaded and "cairn.sdk.media" not in loaded


def test_a_command_loads_its_own_modules_only() -> None:
    code = (
        "from click.testing import CliRunner\nfrom cairn.cli.main import main\n"
        "r = CliRunner().invoke(main, ['artifact', 'put', '--help'])\nassert r.exit_code == 0, r.output"
    )
    loaded = _loaded_after(code)
    assert "cairn.cli.artifact_cmds" in loaded
    for module in ("demo", "server_cmds", "admin_cmds", "run_cmds", "sync_cmd", "verify_cmd"):
        assert f"cairn.cli.{module}" not in loaded, module


def test_each_name_is_its_commands_own_and_subcommands_are_attached() -> None:
    ctx = click.Context(cli.main)
    assert cli.main.list_commands(ctx) == sorted(cli.COMMANDS)
    for name in cli.COMMANDS:
        command = cli.main.get_command(ctx, name)
        assert command is not None and command.name == name, name
    for group, targets in cli.SUBCOMMANDS.items():
        loaded = cli.main.get_command(ctx, group)
        assert isinstance(loaded, click.Group), group
        for target in targets:
            sub = getattr(__import__(f"cairn.cli.{target.partition(':')[0]}", fromlist=["_"]), target.partition(":")[2])
            assert loaded.commands[sub.name] is sub, target
    assert cli.main.get_command(ctx, "no-such-command") is None


def test_listing_the_commands_leaves_the_demo_data_and_sockets_unloaded() -> None:
    # ``cairn --help`` imports every command module; their heavy imports wait for the command.
    loaded = _loaded_after("import cairn.cli.demo, cairn.cli.server_cmds")
    for module in ("cairn.cli.demo_files", "wave", "socket", "cairn.sdk.run"):
        assert module not in loaded, module
