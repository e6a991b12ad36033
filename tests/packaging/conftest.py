"""Starts the compiled builds of test_compiled.py ahead of their tests (see its docstring)."""

from __future__ import annotations

import pytest


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    for item in session.items:  # what runs, after -k/-m/deselection
        builds = getattr(getattr(item, "module", None), "BUILDS", None)
        if builds is not None:
            builds.start(item.name)


def pytest_sessionfinish(session: pytest.Session) -> None:
    for item in session.items:
        builds = getattr(getattr(item, "module", None), "BUILDS", None)
        if builds is not None:
            builds.close()
