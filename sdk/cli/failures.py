"""How the command line fails: one line on stderr and an exit code that says whose fault it was.

The rule: 2 for bad input, whoever catches it (click, an input file, the SDK or the server:
InvalidInputException), 1 for the server failing or refusing otherwise, 3 for a server that
cannot be reached, 130 for an interruption. A job run waited for (`jobs run --wait`, `submit
--wait`) that did not succeed: 4 FAILED or ERROR, 5 TIMEOUT, 6 STOPPED; 7 when the wait gave
up (--wait-timeout) and the run goes on.
"""

from __future__ import annotations

from collections.abc import Callable

import click

from sluice.sdk.errors import InvalidInput, SluiceError, Unavailable

EXIT_OK = 0
EXIT_SERVER_ERROR = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_RUN_FAILED = 4
EXIT_RUN_TIMEOUT = 5
EXIT_RUN_STOPPED = 6
EXIT_WAIT_GAVE_UP = 7
EXIT_INTERRUPTED = 130


class InputFileError(click.ClickException):
    """An input file that cannot be read or does not describe what the command needs."""

    exit_code = EXIT_USAGE


class CommandFailed(click.ClickException):
    """The server did part of the work and reported the rest as failed."""

    exit_code = EXIT_SERVER_ERROR


class RunNotSucceeded(click.ClickException):
    """A job run waited for ended otherwise than SUCCEEDED; the exit code says how."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def one_line(text: str) -> str:
    """`text` with its line breaks and runs of blanks folded into single spaces."""
    return " ".join(text.split())


def report(message: str) -> None:
    """Writes the error line."""
    click.echo(f"error: {one_line(message)}", err=True)


def run_reporting_errors(run: Callable[[], object]) -> int:
    """Runs a click command in non-standalone mode and turns every failure into an exit code.

    Args:
        run: Calls the command's `main(..., standalone_mode=False)`.

    Returns:
        The exit code of the process.
    """
    try:
        result = run()
    except Unavailable as exc:
        report(f"{exc.reason}: {exc.message}")
        return EXIT_UNREACHABLE
    except InvalidInput as exc:
        report(f"{exc.reason}: {exc.message}")
        return EXIT_USAGE
    except SluiceError as exc:
        report(f"{exc.reason}: {exc.message}")
        return EXIT_SERVER_ERROR
    except click.exceptions.NoArgsIsHelpError as exc:
        # A group without a command: its help as click prints it, not folded into one line.
        click.echo(exc.ctx.get_help() if exc.ctx is not None else exc.format_message(), err=True)
        return exc.exit_code
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        report(exc.format_message() + hint)
        return exc.exit_code
    except click.ClickException as exc:
        report(exc.format_message())
        return exc.exit_code
    except (click.Abort, KeyboardInterrupt):
        report("interrupted")
        return EXIT_INTERRUPTED
    except OSError as exc:
        report(str(exc))
        return EXIT_SERVER_ERROR
    except Exception as exc:
        # A command line user gets one line even for a bug of ours, never a traceback.
        report(f"unexpected {type(exc).__name__}: {exc}")
        return EXIT_SERVER_ERROR
    return result if isinstance(result, int) else EXIT_OK
