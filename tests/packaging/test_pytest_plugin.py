"""The pytest plugin roost ships (entry point ``pytest11``), run in inner pytest sessions."""

from __future__ import annotations

import re

import pytest

pytest_plugins = ["pytester"]

FIXTURES = ["roost_server", "roost_server_module", "roost_server_session", "roost_ensemble",
            "roost_client", "roost_path"]


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # a subprocess: the inner session loads the plugin from the installed entry point, as a
    # user's would, and its servers and threads end with it
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", *args, timeout=240)


def test_fixtures_are_listed_with_their_docstrings(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing(): pass\n")
    result = run(pytester, "--fixtures")
    assert result.ret == 0
    text = result.stdout.str()
    for name in FIXTURES:
        assert re.search(rf"^{name}( \[\w+ scope\])? -- ", text, re.M), name
    assert "roost_server_module [module scope] -- " in text
    assert "roost_server_session [session scope] -- " in text
    # the first line of each docstring is shown under the name
    for line in ["A fresh standalone roost server for one test",
                 "One standalone roost server shared by the tests of a module",
                 "One standalone roost server for the whole test session",
                 "A fresh roost ensemble for one test",
                 "A connected `roost.client.SyncClient`",
                 "A znode path unique to this test"]:
        assert line in text, line
    assert "no docstring available" not in text.split("roost_server")[1]
    markers = run(pytester, "--markers").stdout.str()
    assert "@pytest.mark.roost_server(" in markers and "@pytest.mark.roost_ensemble(" in markers


SHARED = '''
import pytest
from roost.testing.server import four_letter

PORTS = {}

def test_a(roost_server_session, roost_server_module, roost_server, roost_path):
    PORTS["a"] = (roost_server_session.port, roost_server_module.port, roost_server.port)
    assert four_letter(roost_server.host, roost_server.port, "ruok") == "imok"
    assert roost_path.startswith("/test_a-")

def test_b(roost_server_session, roost_server_module, roost_server):
    session, module, fresh = PORTS["a"]
    assert roost_server_session.port == session      # one server for the session
    assert roost_server_module.port == module        # one per module
    assert roost_server.port != fresh                # one per test
    assert len({session, module, roost_server.port}) == 3

def test_record(roost_server_session, roost_server_module):
    with open("ports-NAME.txt", "w") as f:
        f.write(f"{roost_server_session.port} {roost_server_module.port}")
'''


def test_scopes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_one=SHARED.replace("NAME", "one"),
                        test_two=SHARED.replace("NAME", "two"))
    result = run(pytester)
    result.assert_outcomes(passed=6)
    one = (pytester.path / "ports-one.txt").read_text().split()
    two = (pytester.path / "ports-two.txt").read_text().split()
    assert one[0] == two[0]  # the session server is shared across modules
    assert one[1] != two[1]  # each module has its own


def test_client_marker_and_ensemble(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
import pytest
@pytest.mark.roost_server(tick_ms=500)
def test_settings_and_client(roost_server, roost_client):
    assert roost_server.server.config.tick_ms == 500
    roost_client.create("/t", b"x")
    assert sorted(roost_client.get_children("/")) == ["t", "zookeeper"]

def test_default_settings(roost_server):
    assert roost_server.server.config.tick_ms == 2000

@pytest.mark.roost_ensemble(voters=3, observers=1)
def test_ensemble(roost_ensemble):
    assert len(roost_ensemble) == 4 and len(roost_ensemble.hosts.split(",")) == 4
    leader = roost_ensemble.leader()
    modes = [roost_ensemble.mode(i) for i in range(4)]
    assert modes[leader] == "leader" and modes.count("follower") == 2
    assert modes[3] == "observer"
''')
    run(pytester).assert_outcomes(passed=3)


def test_a_failing_test_still_stops_its_server(pytester: pytest.Pytester) -> None:
    pytester.makepyfile('''
from roost.testing.server import four_letter
import socket, pytest

SEEN = []

def test_fails(roost_server):
    SEEN.append(roost_server.port)
    assert False, "planted failure"

def test_port_closed_after():
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", SEEN[0]), timeout=1).close()
''')
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*planted failure*"])
