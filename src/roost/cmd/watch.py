"""`roost watch PATH [-r]`: print every change until Ctrl-C (as `etcdctl watch`)."""

from __future__ import annotations

import queue
from typing import Any

import click

from roost.client import ClientState, EventType, NoNodeError, StateChange, WatchedEvent
from roost.cmd.env import Env, client_command, path_value
from roost.cmd.format import data_json, event_json, event_type_name, format_data, to_json
from roost.cmd.signals import stop_on_signals

_WITH_DATA = (EventType.NODE_CREATED, EventType.NODE_DATA_CHANGED)


@client_command("watch")
@click.option("-r", "--recursive", is_flag=True, help="also every node below PATH")
@click.option("-d", "--data", "with_data", is_flag=True,
              help="add the node's current data to created/changed events")
@click.argument("path", callback=path_value)
def watch(env: Env, path: str, recursive: bool, with_data: bool, fmt: str) -> None:
    """Print each change to PATH as it happens, one line per event
    (`NodeDataChanged /a`, or a JSON object with -o json), until Ctrl-C or SIGTERM.

    Without -r: PATH's creation, deletion, data changes and child list changes.
    With -r: creations, deletions and data changes of PATH and every node below it.
    The watch survives reconnections; if the session expires, events in between are
    lost (a line on stderr says so) and the watch is set again."""
    zk = env.client()
    events: queue.Queue[WatchedEvent | StateChange] = queue.Queue()
    zk.add_listener(events.put)
    zk.add_watch(path, events.put, recursive=recursive)
    where = f"{path} and below" if recursive else path
    click.echo(f"watching {where}; Ctrl-C stops", err=True)
    rewatch = False
    with stop_on_signals() as stop:
        while not stop:
            try:
                item = events.get(timeout=0.2)
            except queue.Empty:
                continue
            if isinstance(item, StateChange):
                if item.state is ClientState.LOST:
                    click.echo("roost watch: session expired; changes meanwhile are not "
                               "reported", err=True)
                    rewatch = True
                elif item.state is ClientState.SUSPENDED:
                    click.echo("roost watch: connection lost, reconnecting", err=True)
                elif item.state.is_writable and rewatch:
                    zk.add_watch(path, events.put, recursive=recursive)
                    rewatch = False
                continue
            if item.type == EventType.PERSISTENT_WATCH_REMOVED:
                continue
            _print_event(env, item, with_data, fmt)


def _print_event(env: Env, ev: WatchedEvent, with_data: bool, fmt: str) -> None:
    obj: dict[str, Any] = event_json(ev)
    text = f"{event_type_name(ev.type)} {ev.path}"
    if with_data and ev.type in _WITH_DATA:
        try:
            data, _ = env.client().get(ev.path)
        except NoNodeError:
            pass  # gone again already
        else:
            obj.update(data_json(data))
            text = f"{text} {format_data(data)}"
    click.echo(to_json(obj) if fmt == "json" else text)
