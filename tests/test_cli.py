import argparse
import inspect
import re
import shlex
import subprocess
import sys

import numpy as np

from ganprint.cli import STAGES, USER_COMMANDS, build_parser, command_help, command_name


def ganprint(*arguments):
    return subprocess.run([sys.executable, "-m", "ganprint", *map(str, arguments)], capture_output=True, text=True)


def assert_clear_error(result, status, *phrases):
    """The command failed with `status` (1: bad input, 2: bad usage) and said so in `phrases`,
    without a traceback."""
    assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert all(phrase in result.stderr for phrase in phrases), result.stderr


def test_bad_input_is_a_clear_error_with_nothing_written(tmp_path):
    (tmp_path / "empty").mkdir()
    result = ganprint("prepare-real", "--source", "folder", "--path", tmp_path / "empty", "--size", 16,
                      "--count", 4, "--output", tmp_path / "out.npy")
    assert_clear_error(result, 1, "empty holds no images")
    assert not list(tmp_path.glob("*out*"))


def test_negative_counts_and_unknown_gans_are_rejected(tmp_path):
    result = ganprint("prepare-real", "--source", "embedded", "--size", 16, "--count", -3, "--output", tmp_path / "o.npy")
    assert_clear_error(result, 2, "--count", "positive")
    np.save(tmp_path / "real.npy", np.zeros((8, 8, 8, 3), np.uint8))
    result = ganprint("train-gan", "--arch", "biggan", "--images", tmp_path / "real.npy", "--seed", 1, "--output", tmp_path / "g.pt")
    assert_clear_error(result, 1, "unknown GAN architecture 'biggan'")


def test_missing_or_malformed_arrays_are_named(tmp_path):
    np.save(tmp_path / "grey.npy", np.zeros((8, 8, 8), np.uint8))
    result = ganprint("split-real", "--images", tmp_path / "grey.npy", "--n-train", 2, "--n-test", 2, "--n-val", 2,
                      "--train-output", tmp_path / "a.npy", "--test-output", tmp_path / "b.npy",
                      "--val-output", tmp_path / "c.npy")
    assert_clear_error(result, 1, "grey.npy holds uint8 (8, 8, 8)")
    result = ganprint("sample-gan", "--checkpoint", tmp_path / "none.pt", "--n-train", 2, "--n-test", 2, "--n-val", 2,
                      "--seed", 0, "--train-output", tmp_path / "a.npy", "--test-output", tmp_path / "b.npy",
                      "--val-output", tmp_path / "c.npy")
    assert_clear_error(result, 1, "checkpoint not found", "none.pt")


def command_parsers() -> dict[str, argparse.ArgumentParser]:
    [commands] = [action for action in build_parser()._actions if isinstance(action, argparse._SubParsersAction)]
    return commands.choices


def option_help(parser: argparse.ArgumentParser) -> dict[str, str]:
    return {action.dest: action.help for action in parser._actions if not isinstance(action, argparse._HelpAction)}


def test_help_lists_the_user_commands_then_the_stages_each_under_its_heading():
    result = ganprint("--help")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    user, stages = text.index("user commands"), text.index("workflow stages")
    listed = re.findall(r"^  ([a-z][a-z-]+) ", text, re.M)
    assert listed == [command_name(c) for c in USER_COMMANDS + STAGES] and set(listed) == set(command_parsers())
    assert user < text.index("\n  attribute ") < text.index("\n  visualise ") < stages < text.index("\n  prepare-real ")


def test_every_option_of_every_command_says_what_it_means_and_no_default_is_none():
    for name, parser in command_parsers().items():
        without_help = [dest for dest, text in option_help(parser).items() if not text]
        assert not without_help, (name, without_help)
        assert "default: None" not in parser.format_help(), name
    for command in USER_COMMANDS + STAGES:  # no description of a parameter the command lacks
        assert set(command_help(command).parameters) <= set(inspect.signature(command).parameters), command.__name__
    assert "standard output when absent" in option_help(command_parsers()["attribute"])["output"]


def test_a_commands_help_describes_its_own_use_of_a_shared_option():
    """A parameter that several commands have is described for each (`--calibration` of
    evaluate once said what attribute does with it, `--snapshot` of sample-gan what train-gan
    does)."""
    names = [command_name(c) for c in USER_COMMANDS + STAGES]
    checked = [name for name in names if "-" in name] + ["attribute", "evaluate", "visualise"]
    for name, parser in command_parsers().items():
        text = "\n".join(option_help(parser).values())
        mentioned = [other for other in checked if other != name and re.search(rf"(?<![\w-]){other}(?![\w-])", text)]
        assert not mentioned, (name, mentioned)
    assert "image files" not in option_help(command_parsers()["figure-samples"])["images"]


def example_commands(command) -> list[list[str]]:
    """The command lines of a command's examples, continuation lines joined."""
    lines = command_help(command).examples.replace("\\\n", " ").splitlines()
    return [shlex.split(line)[1:] for line in lines if line.strip().startswith("ganprint ")]


def test_each_user_command_shows_examples_that_parse():
    for command in USER_COMMANDS:
        help_text = command_parsers()[command_name(command)].format_help()
        assert "examples:" in help_text and f"ganprint {command_name(command)} --" in help_text
        assert len(example_commands(command)) >= 2, command_name(command)
        for arguments in example_commands(command):
            assert build_parser().parse_args(arguments).run is command
