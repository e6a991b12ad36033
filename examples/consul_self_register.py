"""A service that registers itself the way Consul client libraries do: it asks the local
agent (any roost member with the HTTP API on) for its node's name with /v1/agent/self,
registers itself in the catalog on that node with a passing check, and deregisters when
it is told to stop (SIGTERM or SIGINT). Uses py-consul, unmodified.

    python examples/consul_self_register.py 127.0.0.1:8500 --name web --port 8080
"""

from __future__ import annotations

import argparse
import os
import signal
import threading

import consul


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("agent", help="host:port of the HTTP API")
    p.add_argument("--name", default="web")
    p.add_argument("--port", type=int, default=8080)
    args = p.parse_args()
    # the handlers go in before anything is registered: a stop that arrives while we
    # register must still deregister (it would otherwise kill the process on the spot)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    host, _, port = args.agent.rpartition(":")
    c = consul.Consul(host=host, port=int(port))
    me = c.agent.self()
    node = me["Config"]["NodeName"]
    address = me["Member"]["Addr"]
    service_id = f"{args.name}-{os.getpid()}"
    print(f"node {node} at {address}", flush=True)
    c.catalog.register(node, address,
                       service={"Service": args.name, "ID": service_id, "Port": args.port},
                       check={"CheckID": f"{service_id}-alive", "Name": "process alive",
                              "Status": "passing", "ServiceID": service_id})
    print(f"registered {service_id} on {node}", flush=True)
    while not stop.wait(0.2):
        pass
    c.catalog.deregister(node, service_id=service_id)
    print(f"deregistered {service_id}", flush=True)


if __name__ == "__main__":
    main()
