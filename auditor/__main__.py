"""The `auditor` command.

An unchanged `check` is answered from the last run's recorded output before click, the
checker or libcst is imported (auditor/speed/fast_replay.py); anything else runs the
command line (auditor/cli.py).
"""

import sys


def main() -> None:
    from auditor.speed import replay_or_continue, run_check_command

    argv = sys.argv[1:]
    replay_or_continue(argv)  # exits the process when it replayed

    if argv[:1] == ["check"]:
        run_check_command(_command_line)  # never returns
    _command_line()()


def _command_line():
    """The CLI's entry, imported on demand (inside the check's speed settings for `check`)."""
    from auditor.cli import main as cli_main

    return cli_main


if __name__ == "__main__":
    main()
