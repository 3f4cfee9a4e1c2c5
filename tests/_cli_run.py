"""In-process runs of the command line for tests: (exit status, stdout, stderr), and the one-error-line check."""

from __future__ import annotations

import io
import re
import sys

from decepticons.cli import EXIT_USER_ERROR, main
from decepticons.runtime.progress import set_quiet


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    old = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    finally:
        sys.stdout, sys.stderr = old
        set_quiet(False)
    return code, out.getvalue(), err.getvalue()


def assert_user_error(result: tuple[int, str, str], pattern: str) -> None:
    code, out, err = result
    assert code == EXIT_USER_ERROR, (code, out, err)
    assert "Traceback" not in err + out
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and re.search(pattern, errors[0]), err
