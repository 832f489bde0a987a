"""The README's command synopses and the parser agree: every flag the README shows exists,
every flag of a documented command is shown, and every default the README states is the one
``--help`` states (or the parser's own default)."""

import argparse
import re
from pathlib import Path

import pytest

from keras_t2i import cli

README = Path(__file__).resolve().parents[1] / "README.md"
# Flags every command has, described once in the README rather than in each synopsis.
COMMON = {"-h", "--help", "--verbose"}
COMMANDS = ("pretrain damsm", "pretrain captioner", "train", "generate", "export", "serve",
            "evaluate")


def synopses() -> dict:
    """{command: synopsis text} of the README's code blocks that start with ``keras-t2i``."""
    found = {}
    for block in code_blocks(README.read_text()):
        for entry in re.split(r"\n(?=keras-t2i )", block.strip()):
            if not entry.startswith("keras-t2i "):
                continue
            command = next((c for c in sorted(COMMANDS, key=len, reverse=True)
                            if entry.startswith(f"keras-t2i {c} ")), None)
            if command is None:  # not a synopsis (e.g. a message the command prints)
                continue
            assert command not in found, f"two synopses of {command}"
            found[command] = entry
    return found


def code_blocks(text, info="") -> list[str]:
    """The fenced code blocks of a Markdown text with this info string ("" for the plain
    blocks the synopses are in, not the ```bash examples), without their fences."""
    blocks, current, kind = [], None, None
    for line in text.splitlines():
        if line.startswith("```"):
            if current is None:
                current, kind = [], line[3:].strip()
            else:
                if kind == info:
                    blocks.append("\n".join(current))
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def subparser(command) -> argparse.ArgumentParser:
    parser = cli.build_parser()
    for word in command.split():
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[word]
    return parser


def options(parser) -> dict:
    return {flag: action for action in parser._actions for flag in action.option_strings}


def test_the_readme_documents_every_command():
    assert set(synopses()) == set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_synopsis_flags_are_the_parsers(command):
    text = synopses()[command]
    shown = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", text))
    known = set(options(subparser(command)))
    assert shown - known == set(), f"README shows flags {command} does not have"
    assert known - COMMON - shown == set(), f"README's {command} synopsis leaves these out"


@pytest.mark.parametrize("command", COMMANDS)
def test_synopsis_defaults_are_those_of_help(command):
    text = synopses()[command]
    flags = options(subparser(command))
    checked = 0
    # [--flag value]: a default (values with an upper-case placeholder, like NAME, are not).
    for flag, value in re.findall(r"\[(--[a-z0-9-]+) ([^\]\[|\s]+)\]", text):
        if re.search(r"[A-Z]{2,}|^[A-Z][A-Z0-9_]*$", value):
            continue
        action = flags[flag]
        helped = re.search(rf"default:? {re.escape(value)}(?![\w.])", action.help or "")
        assert helped or str(action.default) == value, (
            f"README: {flag} {value}; --help: {action.help!r} (default {action.default!r})")
        checked += 1
    # [--flag a|b|c]: the choices.
    for flag, value in re.findall(r"\[(--[a-z0-9-]+) ([a-z0-9_.-]+(?:\|[a-z0-9_.-]+)+)\]", text):
        action = flags[flag]
        choices = set(action.choices or re.findall(r"[a-z0-9_]+", action.help))
        assert set(value.split("|")) <= choices, (flag, value, action.choices)
        checked += 1
    assert checked or command == "export"


def test_help_states_every_default():
    """Each option with a value says its default in --help (or that it has none)."""
    for command in COMMANDS:
        for flag, action in options(subparser(command)).items():
            if flag in COMMON or action.nargs == 0 or not flag.startswith("--"):
                continue
            text = action.help or ""
            assert "default" in text or action.required or flag in NO_DEFAULT, (command, flag)


# Options whose absence is the default and whose help says what they are for.
NO_DEFAULT = {"--data-dir", "--backbone-weights", "--model-name", "--model-base-path",
              "--model-config", "--base-path-map", "--run", "--model", "--server",
              "--inception-weights", "--version", "--log-dir", "--text-encoder"}
