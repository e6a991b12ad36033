"""The dashboard in headless Chromium on a standalone server: a URL per znode (shared
links, the back button), breadcrumbs and the tree, the editor filled with the current
value and a diff before set, readable times and hex zxids, the leader, live charts from
/metrics, sessions with their ephemerals and watches (the HTTP API's own left out).

Screenshots are kept in build/screenshots/ (printed); look at them after a change."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Served, start_served
from kazoo.client import KazooClient

SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
CONFIG = {"db": "postgres://db1", "pool": 8}


@pytest.fixture(scope="module")
def standalone() -> Iterator[Served]:
    yield from start_served()


@pytest.fixture(scope="module")
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots in {SHOTS}")
    return SHOTS


def test_dashboard_in_a_browser(standalone: Served, shots: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    zk = KazooClient(hosts=standalone.server.hosts)
    zk.start(timeout=15)
    try:
        zk.ensure_path("/dash/app/config")
        zk.set("/dash/app/config", json.dumps(CONFIG, indent=1).encode())
        for name in ("alpha", "beta", "gamma"):
            zk.create(f"/dash/app/{name}", name.encode())
        eph = zk.create("/dash/app/worker-", b"", ephemeral=True, sequence=True)
        zk.get("/dash/app/config", watch=lambda ev: None)
        zk.get_children("/dash/app", watch=lambda ev: None)
        sid = f"0x{zk.client_id[0] & 0xFFFFFFFFFFFFFFFF:x}"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 1100})
                page.on("dialog", lambda d: d.accept())
                # a shared link opens that znode, its ancestors expanded in the tree
                page.goto(f"{standalone.url}/ui#/dash/app/config")
                expect(page.locator("#znode-path")).to_have_text("/dash/app/config")
                assert json.loads(page.locator("#znode-data").inner_text()) == CONFIG
                expect(page.locator("#edit-data")).to_have_value(
                    json.dumps(CONFIG, indent=1))
                expect(page.locator("#crumbs a")).to_have_text(["/", "dash", "app", "config"])
                expect(page.locator("#tree .name.selected")).to_have_text("config")
                # leaves, ephemerals and child counts are marked in the tree
                worker = eph.rsplit("/", 1)[1]
                expect(page.get_by_role("treeitem", name=f"· {worker} ephemeral", exact=True)
                       ).to_have_count(1)
                expect(page.get_by_role("treeitem", name="▸ zookeeper 2", exact=True)
                       ).to_have_count(1)
                expect(page.get_by_role("treeitem", name="· config", exact=True)
                       ).to_have_count(1)
                # the leader of a standalone server is the server itself
                expect(page.locator("#leader")).to_have_text(re.compile(
                    r"^this server \(standalone, 127\.0\.0\.1:\d+\)$"))
                stat = page.locator("#znode-stat").inner_text()
                assert re.search(r"modified\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(\d+ s ago\)",
                                 stat), stat
                mzxid = zk.exists("/dash/app/config").mzxid
                assert re.search(rf"mzxid\s+0x{mzxid:x}\b", stat), stat
                assert "ephemeral owner\t— (persistent)" in stat
                # sessions with their ephemerals and watches; the API's own watches left out
                row = page.locator("#sessions tbody tr", has_text=sid)
                expect(row).to_contain_text(eph)
                expect(row).to_contain_text("data: /dash/app/config")
                expect(row).to_contain_text("children: /dash/app")
                watched = page.locator("#watches tbody td:first-child").all_inner_texts()
                assert "/dash/app/config" in watched and "/dash/app" in watched
                assert "/" not in watched and "/kv" not in watched, watched
                # live charts from /metrics while a client works (a few seconds of it)
                deadline = time.monotonic() + 6
                for i in range(3000):
                    zk.set("/dash/app/alpha", str(i).encode())
                    zk.get("/dash/app/alpha")
                    if time.monotonic() > deadline:
                        break
                page.wait_for_function(
                    "document.querySelectorAll('#chart-ops path').length > 0"
                    " && document.querySelectorAll('#chart-latency path').length > 0"
                    " && document.querySelectorAll('#chart-sessions path').length > 0",
                    timeout=15000)
                expect(page.locator("#chart-lag")).to_contain_text("standalone: no followers")
                page.screenshot(path=str(shots / "standalone-1-config.png"), full_page=True)
                # breadcrumbs and the back button
                page.locator("#crumbs a", has_text="app").click()
                expect(page.locator("#znode-path")).to_have_text("/dash/app")
                assert page.evaluate("location.hash") == "#/dash/app"
                page.go_back()
                expect(page.locator("#znode-path")).to_have_text("/dash/app/config")
                # edit: a diff first, then the write (checked against the version read)
                new = json.dumps({**CONFIG, "pool": 16}, indent=1)
                page.fill("#edit-data", new)
                page.click("#set-btn")
                expect(page.locator("#diff-panel")).to_be_visible()
                expect(page.locator("#diff .del")).to_have_text(['-  "pool": 8'])
                expect(page.locator("#diff .add")).to_have_text(['+  "pool": 16'])
                page.screenshot(path=str(shots / "standalone-2-diff.png"), full_page=True)
                assert zk.get("/dash/app/config")[0] != new.encode()  # nothing written yet
                page.click("#confirm-set")
                expect(page.locator("#op-result")).to_have_text("saved (was version 1)")
                assert zk.get("/dash/app/config")[0] == new.encode()
                expect(page.locator("#edit-data")).to_have_value(new)
                # the set fired the client's one-shot data watch: gone from the lists
                expect(row).not_to_contain_text("data: /dash/app/config", timeout=10000)
                expect(row).to_contain_text("children: /dash/app")
                # a write in between: the set is refused and the typed text kept
                page.fill("#edit-data", "mine")
                zk.set("/dash/app/config", b"theirs")
                page.click("#set-btn")
                page.click("#confirm-set")
                expect(page.locator("#op-result")).to_contain_text("changed since version 2")
                expect(page.locator("#edit-data")).to_have_value("mine")
                assert zk.get("/dash/app/config")[0] == b"theirs"
                # an unreadable-as-text znode shows hex
                zk.create("/dash/bin", bytes([0, 255, 1, 254]))
                page.goto(f"{standalone.url}/ui#/dash/bin")
                expect(page.locator("#znode-data")).to_have_text("00 ff 01 fe")
                page.goto(f"{standalone.url}/ui#/dash/app")
                expect(page.locator("#znode-path")).to_have_text("/dash/app")
                page.wait_for_function(
                    "document.querySelectorAll('#chart-ops path').length > 0", timeout=15000)
                page.screenshot(path=str(shots / "standalone-3-app.png"), full_page=True)
            finally:
                browser.close()
    finally:
        zk.stop()
        zk.close()
    for name in ("standalone-1-config.png", "standalone-2-diff.png", "standalone-3-app.png"):
        assert (shots / name).stat().st_size > 10_000
