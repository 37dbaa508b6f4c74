"""Is a container's command something the image can run? Checked in this process, without starting it:
a ``manage.py`` command must exist and accept its arguments, a module or WSGI app must import, inline
Python must compile, and a shell script may only call those and a few shell utilities.
"""

from __future__ import annotations

import importlib
import shlex
from unittest import mock

from django.core.management import get_commands, load_command_class

# What a shell script of ours may call besides Python (all in the python:3.11-slim base image).
SHELL_UTILITIES = {"rm", "echo", "sleep", "mkdir"}
_SHELL_WORDS = {"until", "while", "do", "done", "if", "then", "else", "fi", "exec"}
_SEPARATORS = {"&&", "||", ";", "|"}


class NotRunnable(AssertionError):
    pass


def check(argv: list[str]) -> None:
    """Raise ``NotRunnable`` naming what is wrong with ``argv``."""
    program, args = argv[0], argv[1:]
    if program == "sh":
        if args[:1] != ["-c"] or len(args) != 2:
            raise NotRunnable(f"a shell command must be sh -c SCRIPT: {argv}")
        for command in _simple_commands(args[1]):
            check(command)
    elif program == "python":
        _check_python(args)
    elif program == "gunicorn":
        _check_gunicorn(args)
    elif program not in SHELL_UTILITIES:
        raise NotRunnable(f"{program} is not a program the image provides: {argv}")


def _simple_commands(script: str) -> list[list[str]]:
    lexer = shlex.shlex(script, posix=True, punctuation_chars=";&|>")
    lexer.whitespace_split = True
    commands, current, skip_next = [], [], False
    for token in lexer:
        if skip_next:
            skip_next = False
        elif token in _SEPARATORS:
            commands.append(current)
            current = []
        elif token.startswith(">"):
            skip_next = token in (">", ">>")  # the redirection's target follows
        elif not current and token in _SHELL_WORDS:
            continue
        else:
            current.append(token)
    return [command for command in [*commands, current] if command]


def _check_python(args: list[str]) -> None:
    if args[:1] == ["manage.py"]:
        _check_manage(args[1], args[2:])
    elif args[:1] == ["-m"]:
        _check_module(args[1], args[2:])
    elif args[:1] == ["-c"]:
        compile(args[1], "<python -c>", "exec")
    else:
        raise NotRunnable(f"python {args}: expected manage.py, -m or -c")


def _check_manage(name: str, args: list[str]) -> None:
    app = get_commands().get(name)
    if app is None:
        raise NotRunnable(f"manage.py has no command {name!r}")
    parser = load_command_class(app, name).create_parser("manage.py", name)
    try:
        parser.parse_args(args)
    except Exception as exc:  # CommandError for a bad option
        raise NotRunnable(f"manage.py {name} {shlex.join(args)}: {exc}") from exc


class _Started(Exception):
    pass


def _check_module(module: str, args: list[str]) -> None:
    """``python -m sandbox ...``: parse the arguments with the module's own ``main`` and stop before it serves."""
    main = importlib.import_module(f"{module}.__main__")
    with mock.patch.object(main, "make_server", side_effect=_Started):
        try:
            main.main(args)
        except _Started:
            return
        except SystemExit as exc:
            raise NotRunnable(f"python -m {module} {shlex.join(args)}: exit {exc.code}") from exc
    raise NotRunnable(f"python -m {module} returned without starting a server")


def _check_gunicorn(args: list[str]) -> None:
    from gunicorn.config import Config

    config = Config()
    try:
        parsed = config.parser().parse_args(args)
    except SystemExit as exc:
        raise NotRunnable(f"gunicorn {shlex.join(args)}: bad arguments") from exc
    if parsed.config and parsed.config.startswith("python:"):
        importlib.import_module(parsed.config.removeprefix("python:"))
    for app in parsed.args:
        module, _, attribute = app.partition(":")
        if not callable(getattr(importlib.import_module(module), attribute or "application", None)):
            raise NotRunnable(f"gunicorn: {app} is not a WSGI callable")
