"""The README's set-up commands are the whole set-up, and CI runs the test command verbatim."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def readme_setup_commands() -> list[str]:
    """The indented command lines among the README's first lines (before the first heading)."""
    lines = (REPO / "README.md").read_text().splitlines()
    head: list[str] = []
    for line in lines[1:]:
        if line.startswith("#"):
            break
        head.append(line)
    return [line.strip() for line in head if line.startswith("    ") and line.strip()]


def test_readme_opens_with_a_run_and_a_test_command() -> None:
    commands = readme_setup_commands()
    assert len(commands) == 2, commands
    run, test = commands
    assert "pip install" in run and run.endswith("roost serve")
    assert "pip install -e '.[dev]'" in test and test.endswith("python3 -m pytest")


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    _, test = readme_setup_commands()
    ci_lines = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    assert test in ci_lines, f".ci/run does not run the README's test command: {test!r}"


def test_dev_extra_installs_what_the_tests_import() -> None:
    """Optional packages the tests import are in the `dev` extra (uvloop was missing once)."""
    pyproject = (REPO / "pyproject.toml").read_text()
    dev = pyproject[pyproject.index("dev = [") : pyproject.index("]", pyproject.index("dev = ["))]
    for package in ("kazoo", "py-consul", "hypothesis", "uvloop", "playwright", "cryptography",
                    "pexpect"):
        assert f'"{package}' in dev, package
