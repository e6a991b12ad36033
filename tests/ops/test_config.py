"""Configuration: unknown tables and keys are errors with a suggestion; the environment and
secret files; the client and HTTP listen addresses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from roost.server.config import ConfigError, ServerConfig
from roost.server.configload import env_settings, load
from roost.server.zoocfg import load_zoo_cfg

MEMBERS = """
[[members]]
id = 1
host = "10.0.0.1"
client_port = 2181
peer_port = 2888

[[members]]
id = 2
host = "10.0.0.2"
client_port = 2181
peer_port = 2888
"""


def toml(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "roost.toml"
    p.write_text(text)
    return p


def test_misspelt_members_table_is_an_error_not_a_standalone_server(tmp_path: Path) -> None:
    cfg = toml(tmp_path, '[server]\nserver_id = 1\npeer_secret = "s"\n'
               + MEMBERS.replace("[[members]]", "[[membrs]]"))
    with pytest.raises(ConfigError,
                       match=r"\[membrs\]: unknown table \(did you mean 'members'\?\)"):
        load(cfg, environ={})


def test_http_table_is_read_and_checked(tmp_path: Path) -> None:
    cfg = load(toml(tmp_path, '[server]\nport = 2999\n\n[http]\nport = 8501\nhost = "0.0.0.0"\n'
                    'read_only = true\n'), environ={})
    assert (cfg.http_port, cfg.http_host, cfg.http_read_only) == (8501, "0.0.0.0", True)
    with pytest.raises(ConfigError, match=r"http.prot: unknown key \(did you mean 'port'\?\)"):
        load(toml(tmp_path, "[http]\nprot = 8501\n"), environ={})
    with pytest.raises(ConfigError, match="also set as http_port"):
        load(toml(tmp_path, "[server]\nhttp_port = 1\n[http]\nport = 2\n"), environ={})


def test_unknown_keys_suggest_the_right_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"peer_secert: .*did you mean 'peer_secret'"):
        load(toml(tmp_path, '[server]\npeer_secert = "x"\n'), environ={})
    with pytest.raises(ConfigError,
                       match=r"members\[0\].client_prot: .*did you mean 'client_port'"):
        load(toml(tmp_path, '[server]\nserver_id = 1\npeer_secret = "s"\n[[members]]\nid = 1\n'
                  'client_prot = 1\npeer_port = 2\n'), environ={})
    zoo = tmp_path / "zoo.cfg"
    zoo.write_text("tickTme=2000\n")
    with pytest.raises(ConfigError, match=r"did you mean 'tickTime'"):
        load_zoo_cfg(zoo)


def test_environment_sets_every_key_and_wins_over_the_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    env = {
        "ROOST_PORT": "3000",
        "ROOST_SERVER_ID": "2",
        "ROOST_PEER_SECRET_FILE": str(secret),
        "ROOST_MEMBERS": '[{id=1, host="10.0.0.1", client_port=2181, peer_port=2888},'
                         ' {id=2, host="10.0.0.2", client_port=2181, peer_port=2888}]',
        "ROOST_LINEARIZABLE_READS": "true",
        "ROOST_SERVER": "h:2181",  # the client commands' variable: not a server setting
        "ROOST_TEST_FSYNC_DELAY_MS": "0",
        "PATH": "/bin",
    }
    cfg = load(toml(tmp_path, "[server]\nport = 2999\n"), environ=env)
    assert (cfg.port, cfg.server_id, cfg.peer_secret, cfg.linearizable_reads) == (
        3000, 2, "from-a-file", True)
    assert [m.host for m in cfg.members] == ["10.0.0.1", "10.0.0.2"]
    assert cfg.listen_host == "10.0.0.2"  # this member's own address
    # flags win over the environment
    assert load(environ=env, overrides={"port": 4000}).port == 4000
    with pytest.raises(ConfigError, match=r"ROOST_PROT: .*did you mean 'port'"):
        env_settings({"ROOST_PROT": "1"})
    with pytest.raises(ConfigError, match="ROOST_MEMBERS: not a TOML array"):
        env_settings({"ROOST_MEMBERS": "1=h:2:3"})


def test_one_file_for_every_member_with_the_id_from_the_environment(tmp_path: Path) -> None:
    """The file alone is incomplete (no server_id): checked only once everything is read."""
    cfg = toml(tmp_path, '[server]\npeer_secret = "s"\n' + MEMBERS)
    assert load(cfg, environ={"ROOST_SERVER_ID": "2"}).listen_host == "10.0.0.2"
    with pytest.raises(ConfigError, match="server_id: 0 is not among the members"):
        load(cfg, environ={})


def test_secrets_from_files(tmp_path: Path) -> None:
    (tmp_path / "peer").write_text("peer-secret\n")
    (tmp_path / "digest").write_text("super:abc=\n")
    cfg = load(toml(tmp_path, f'[server]\nserver_id = 1\npeer_secret_file = "{tmp_path}/peer"\n'
                    f'super_digest_file = "{tmp_path}/digest"\n' + MEMBERS), environ={})
    assert (cfg.peer_secret, cfg.super_digest) == ("peer-secret", "super:abc=")
    with pytest.raises(ConfigError, match="peer_secret_file: cannot read"):
        load(toml(tmp_path, f'[server]\npeer_secret_file = "{tmp_path}/nope"\n'), environ={})
    with pytest.raises(ConfigError, match="give peer_secret or peer_secret_file, not both"):
        load(toml(tmp_path, f'[server]\npeer_secret = "a"\npeer_secret_file = "{tmp_path}/peer"\n'),
             environ={})


def test_listen_addresses() -> None:
    assert (ServerConfig().listen_host, ServerConfig().listen_port) == ("127.0.0.1", 2181)
    assert ServerConfig().http_listen_host == "127.0.0.1"
    cfg = ServerConfig(http_host="0.0.0.0")
    assert cfg.http_listen_host == "0.0.0.0"


def test_zoo_cfg_without_client_port_address_listens_everywhere(tmp_path: Path) -> None:
    zoo = tmp_path / "zoo.cfg"
    zoo.write_text(f"dataDir={tmp_path}/d\nclientPort=2999\n")
    assert load_zoo_cfg(zoo).listen_host == "*"
    zoo.write_text(f"dataDir={tmp_path}/d\nclientPort=2999\nclientPortAddress=10.1.1.1\n")
    assert load_zoo_cfg(zoo).listen_host == "10.1.1.1"
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "myid").write_text("2\n")
    zoo.write_text(f"dataDir={tmp_path}/d\nroost.peerSecret=s\n"
                   "server.1=10.0.0.1:2888:3888;2181\nserver.2=10.0.0.2:2888:3888;10.9.9.9:2182\n")
    cfg = load_zoo_cfg(zoo)
    assert (cfg.listen_host, cfg.listen_port) == ("10.9.9.9", 2182)


def test_cli_reports_the_misspelt_table_in_one_line(tmp_path: Path) -> None:
    cfg = toml(tmp_path, '[server]\nserver_id = 1\npeer_secret = "s"\n'
               + MEMBERS.replace("[[members]]", "[[membrs]]"))
    proc = subprocess.run([sys.executable, "-m", "roost.cli", "serve", "--config", str(cfg)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "roost: bad configuration: [membrs]: unknown table (did you mean 'members'?)")
