"""Backups: a member's tree as a file (`roost snapshot save`), and a new data directory
seeded from one (`roost snapshot restore`).

A backup file has the layout of a snapshot file (storage/snapshots.py) with magic b"RBAK":
a versioned, checksummed header whose index is the zxid of the image, then a msgpack map:
``tree`` the tree image (tree/snapshot.py, itself versioned: nodes, ACLs, sessions) and
``ensemble`` the fingerprint of the backed-up ensemble's peer secret (None for a standalone
server). The membership and raft state are not in it: a restore takes them from the new
member's configuration, and refuses the old ensemble's peer secret, so that a restored
ensemble (a new history from the backup's zxid) can never exchange messages with the old
one's members.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

import msgpack

from roost.raft import ConfState
from roost.replica.membership import write_config
from roost.replica.state import Dedupe, encode_image
from roost.server.config import ServerConfig
from roost.server.raftstore import encode_snapshot_payload
from roost.server.standalone import TERM
from roost.storage import DataDir, HardState, StorageError
from roost.storage.snapshots import BACKUP_MAGIC, decode_snapshot_view, encode_snapshot
from roost.tree import DataTree, TreeConfig
from roost.tree.snapshot import SnapshotError

#: the raft term a restored ensemble starts from (its first election makes it 2)
RESTORED_TERM = 1


class BackupError(Exception):
    """A backup file that cannot be used, or a data directory it cannot be restored into."""


@dataclass(frozen=True)
class Backup:
    zxid: int
    tree: DataTree
    image: bytes
    #: fingerprint of the backed-up ensemble's peer secret (None: a standalone server)
    ensemble: str | None


def ensemble_fingerprint(peer_secret: str) -> str:
    """Names an ensemble by its peer secret without revealing it."""
    return hmac.new(peer_secret.encode(), b"roost ensemble identity", hashlib.sha256).hexdigest()


def encode_backup(tree: DataTree, peer_secret: str | None = None) -> bytes:
    """A backup of `tree` as it is now (call on the event loop: a consistent image)."""
    ensemble = ensemble_fingerprint(peer_secret) if peer_secret else None
    payload = msgpack.packb({"tree": tree.to_bytes(), "ensemble": ensemble}, use_bin_type=True)
    return encode_snapshot(tree.last_zxid, 0, payload, BACKUP_MAGIC)


def read_backup(blob: bytes, path: Path, config: TreeConfig | None = None) -> Backup:
    """Verify a backup's header, checksum and tree image; raises BackupError."""
    try:
        meta, payload = decode_snapshot_view(blob, path, BACKUP_MAGIC, "backup")
        content = msgpack.unpackb(payload, raw=False)
        image, ensemble = content["tree"], content["ensemble"]
        if type(image) is not bytes or not (ensemble is None or type(ensemble) is str):
            raise BackupError(f"{path}: malformed backup content")
        tree = DataTree.from_bytes(image, config) if config else DataTree.from_bytes(image)
    except (StorageError, SnapshotError) as e:
        raise BackupError(str(e)) from None
    except (ValueError, TypeError, KeyError, msgpack.UnpackException):
        raise BackupError(f"{path}: malformed backup content") from None
    if tree.last_zxid != meta.index:
        raise BackupError(f"{path}: header zxid 0x{meta.index:x}, image 0x{tree.last_zxid:x}")
    return Backup(meta.index, tree, image, ensemble)


def restore(path: Path, config: ServerConfig) -> Backup:
    """Seed `config.data_dir` (new or empty) from the backup at `path`: a standalone server,
    or, when `config` lists members, one member of a new ensemble (restore every member
    from the same file). Raises BackupError."""
    try:
        blob = path.read_bytes()
    except OSError as e:
        raise BackupError(f"{path}: {e.strerror}") from None
    backup = read_backup(blob, path)
    if backup.zxid == 0:
        raise BackupError(f"{path}: a backup of an empty server (zxid 0): nothing to restore")
    if config.members:
        _check_new_ensemble(config, backup)
    target = Path(config.data_dir)
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target}: not empty; restore into a new data directory")
    try:
        datadir = DataDir.open(target)
    except StorageError as e:
        raise BackupError(str(e)) from None
    try:
        if config.members:
            members = {m.id: m for m in config.members}
            conf = ConfState(
                frozenset(m.id for m in config.members if m.voter),
                frozenset(m.id for m in config.members if not m.voter),
            )
            write_config(backup.tree, members)  # /zookeeper/config: the new ensemble's
            image = encode_image(backup.tree, Dedupe(), members)
            datadir.snapshots.save(
                backup.zxid, RESTORED_TERM, encode_snapshot_payload(conf, image)
            )
            datadir.wal.reset(backup.zxid, RESTORED_TERM)
            datadir.hardstate.save(HardState(RESTORED_TERM, 0, backup.zxid))
        else:
            datadir.snapshots.save(backup.zxid, TERM, backup.image)
            datadir.wal.reset(backup.zxid, TERM)
    except StorageError as e:
        raise BackupError(str(e)) from None
    finally:
        datadir.close()
    return backup


def _check_new_ensemble(config: ServerConfig, backup: Backup) -> None:
    """A restored member founds a new ensemble: not by joining, and not with the old
    ensemble's peer secret."""
    if config.join:
        raise BackupError(
            "join: a restored member founds a new ensemble; it cannot join a running one "
            "(add a new member with `roost member add` instead)"
        )
    secret = config.peer_secret or ""
    if backup.ensemble and hmac.compare_digest(ensemble_fingerprint(secret), backup.ensemble):
        raise BackupError(
            "peer_secret: this is the backed-up ensemble's; a restored ensemble starts a new "
            "history and needs a peer secret of its own (so that its members and the old ones "
            "can never talk)"
        )
