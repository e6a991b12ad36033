"""Run by test_http_consul2.py in a subprocess whose import path holds python-consul2 (its
module is also called `consul`, so it cannot share an interpreter with py-consul). Drives a
roost server (Consul durations at 10%) with python-consul2, unmodified, and prints what it
saw as one JSON object."""

from __future__ import annotations

import base64
import json
import sys
import threading
import time

import consul
from conftest import blocking_queries

from roost.testing.wait import wait_until

port = int(sys.argv[1])
c = consul.Consul(host="127.0.0.1", port=port)
out: dict[str, object] = {"module": consul.__file__}
out["node"] = c.agent.self()["Config"]["NodeName"]

# the seed's election: the losers retry for 2 x TTL without renewing and get False
s = [c.session.create(name=f"svc{i}", ttl=10) for i in range(3)]
out["first"] = [c.kv.put("consul2/leader", f"svc{i}", acquire=s[i]) for i in range(3)]
started, answers = time.monotonic(), set()
while time.monotonic() - started < 1.8:  # 2 x TTL is 2 s here
    c.session.renew(s[0])
    answers.update(c.kv.put("consul2/leader", "me", acquire=x) for x in s[1:])
    time.sleep(0.05)  # pacing the retries over the window (the window is what is tested)
out["loser_answers"] = sorted(answers)

# txn: atomic success and a rolled-back failure
ok = c.txn.put([{"KV": {"Verb": "set", "Key": "consul2/a",
                        "Value": base64.b64encode(b"1").decode()}},
                {"KV": {"Verb": "get", "Key": "consul2/a"}}])
out["txn_ok"] = base64.b64decode(ok["Results"][1]["KV"]["Value"]).decode()
try:
    c.txn.put([{"KV": {"Verb": "set", "Key": "consul2/b", "Value": ""}},
               {"KV": {"Verb": "check-not-exists", "Key": "consul2/a"}}])
    out["txn_fail"] = "no error"
except consul.ConsulException as e:
    out["txn_fail"] = str(e)
out["txn_b"] = c.kv.get("consul2/b")[1]

# a service with a TTL check: critical, passing, critical again without updates, passing
c.agent.service.register("pay", service_id="pay-1", port=7000, check=consul.Check.ttl("10s"))
status = [c.agent.checks()["service:pay-1"]["Status"]]
c.agent.check.ttl_pass("service:pay-1")
status.append(c.agent.checks()["service:pay-1"]["Status"])
wait_until(lambda: c.agent.checks()["service:pay-1"]["Status"] == "critical", 10,
           what="the TTL check to go critical")
status.append(c.agent.checks()["service:pay-1"]["Status"])
index, _nodes = c.health.service("pay", passing=True)


def pass_once_blocked() -> None:
    """The check passes once the health query below is parked on the server."""
    wait_until(lambda: blocking_queries(port), what="the health query to block")
    consul.Consul(port=port).agent.check.ttl_pass("service:pay-1")


passer = threading.Thread(target=pass_once_blocked)
passer.start()
t0 = time.monotonic()
_i, nodes = c.health.service("pay", index=index, wait="20s", passing=True)
out["blocked_s"] = time.monotonic() - t0
passer.join(10)
out["passing_after_block"] = [n["Service"]["ID"] for n in nodes]
out["check_status"] = status

# catalog register / deregister
c.catalog.register("ext-host", "10.3.3.3", service={"Service": "ext", "ID": "ext-1"})
out["catalog_after_register"] = [e["ServiceID"] for e in c.catalog.service("ext")[1]]
c.catalog.deregister("ext-host")
out["catalog_after_deregister"] = c.catalog.service("ext")[1]
print(json.dumps(out))
