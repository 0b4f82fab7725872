"""The CLI reference (docs/cli.md), generated from the commands' own ``--help``.

``render()`` walks the Click tree behind the Typer app and writes one section per command with
its usage line, help text and options; a test keeps docs/cli.md equal to it.
"""

from __future__ import annotations

from typing import Any

import typer


def _is_group(cmd: Any) -> bool:
    return hasattr(cmd, "commands")


def _is_option(p: Any) -> bool:
    return bool(getattr(p, "opts", None)) and getattr(p, "param_type_name", "") == "option"


def _walk(cmd: Any, path: list[str]) -> list[tuple[list[str], Any]]:
    out = [(path, cmd)]
    if _is_group(cmd):
        for name in sorted(cmd.commands):
            out.extend(_walk(cmd.commands[name], [*path, name]))
    return out


def _param_line(p: Any) -> str:
    if _is_option(p):
        names = ", ".join(f"`{o}`" for o in p.opts + p.secondary_opts)
        help_text = (p.help or "").replace("\n", " ")
        return f"- {names}: {help_text}".rstrip(": ")
    return f"- `{p.name.upper() if p.name else ''}` (argument)"


def render(app: typer.Typer) -> str:
    root = typer.main.get_command(app)
    lines = [
        "# medlake command reference",
        "",
        "Generated from the commands' own help (`python -m medlake.cli.reference > docs/cli.md`); do not edit by hand.",
        "",
    ]
    for path, cmd in _walk(root, []):
        if not path:
            continue
        title = "medlake " + " ".join(path)
        lines += [f"## `{title}`", ""]
        doc = (cmd.help or "").strip()
        if doc:
            lines += [doc, ""]
        if _is_group(cmd):
            lines += ["Subcommands: " + ", ".join(f"`{n}`" for n in sorted(cmd.commands)), ""]
            continue
        params = [p for p in cmd.params if not (_is_option(p) and "--help" in p.opts)]
        if params:
            lines += [_param_line(p) for p in params] + [""]
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    from medlake.cli import get_app

    print(render(get_app()), end="")


if __name__ == "__main__":
    main()
