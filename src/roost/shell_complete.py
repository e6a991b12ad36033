"""Tab completion for `roost shell`: command names, their options, and znode paths read from
the server (the children of the path typed so far)."""

from __future__ import annotations

from collections.abc import Iterable

import click
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from roost.cmd.env import Env

#: how long a completion may wait for the server
LOOKUP_TIMEOUT = 2.0


def path_candidates(env: Env, word: str) -> list[str]:
    """Full paths of the children of ``word``'s parent whose names start as ``word`` ends."""
    zk = env.connected_client
    if zk is None or not word.startswith("/"):
        return []
    parent, _, prefix = word.rpartition("/")
    parent = parent or "/"
    try:
        kids = zk.submit(zk.aio.children(parent)).result(LOOKUP_TIMEOUT)
    except Exception:  # no completion is better than an error in the middle of typing
        return []
    base = parent.rstrip("/")
    return [f"{base}/{k}" for k in sorted(kids) if k.startswith(prefix)]


class ShellCompleter(Completer):
    def __init__(self, env: Env, group: click.Group) -> None:
        self.env = env
        self.group = group

    def get_completions(self, document: Document,
                        complete_event: CompleteEvent) -> Iterable[Completion]:
        text = document.text_before_cursor
        words = text.split()
        word = "" if not words or text[-1:].isspace() else words[-1]
        if len(words) <= 1 and word == (words[0] if words else ""):
            for name in sorted(self.group.commands, key=str.lower):
                if name.lower().startswith(word.lower()):
                    yield Completion(name, -len(word))
            return
        cmd = self.group.commands.get(words[0])
        if word.startswith("-") and cmd is not None:
            opts = sorted({o for p in cmd.params if isinstance(p, click.Option)
                           for o in p.opts if o.startswith(word)})
            for o in opts:
                yield Completion(o, -len(word))
            return
        if word.startswith("/"):
            for path in path_candidates(self.env, word):
                yield Completion(path, -len(word), display=path.rsplit("/", 1)[-1] or "/")
