"""roost: a coordination service that speaks the ZooKeeper wire protocol."""

__version__ = "0.1.0"
