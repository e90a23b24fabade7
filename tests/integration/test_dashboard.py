"""The web dashboard: its page is served, and its script, run by Node.js against a real
cluster (with a minimal DOM), renders the nodes, topics and keyspace shards."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from client import Keystream
from client.local_cluster import LocalCluster

# A DOM with just what the page's script uses; fetch() goes to the node's HTTP listener.
_HARNESS = """
const base = process.argv[2];
const elements = {};
globalThis.document = {getElementById: (id) => (elements[id] ||= {textContent: "", innerHTML: ""})};
const realFetch = globalThis.fetch;
globalThis.fetch = (path, options) => realFetch(base + path, options);
globalThis.setInterval = () => {};
const script = require("fs").readFileSync(process.argv[3], "utf8");
(async () => {
  eval(script.replace("refresh();", "globalThis.done = refresh();"));
  await globalThis.done;
  console.log(JSON.stringify(elements));
})();
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is needed to run the dashboard's script")
async def test_dashboard_renders_the_cluster(cluster_factory: Callable[..., LocalCluster], tmp_path: Path) -> None:
    cluster = cluster_factory(3)
    cluster.start_all()
    await cluster.wait_ready(30)
    async with Keystream(cluster.bootstrap()) as ks:
        await ks.admin.create_topic("orders", partitions=3, replication_factor=3)
        producer = await ks.producer(acks="all").start()
        for i in range(10):
            await producer.send_and_wait("orders", f"order-{i}".encode(), key=b"k")
        await producer.close()
    base = f"http://{cluster.address(2, 'http')}"
    async with aiohttp.ClientSession() as session:
        async with session.get(base + "/", allow_redirects=False) as response:
            assert response.status == 302 and response.headers["Location"] == "/ui"
        async with session.get(base + "/ui") as response:
            assert response.status == 200 and response.content_type == "text/html"
            page = await response.text()
    script = re.search(r"<script>(.*)</script>", page, re.S)
    assert script is not None
    (tmp_path / "page.js").write_text(script.group(1))
    (tmp_path / "harness.js").write_text(_HARNESS)
    node = await asyncio.create_subprocess_exec(
        "node", str(tmp_path / "harness.js"), base, str(tmp_path / "page.js"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(60):
        stdout, stderr = await node.communicate()
    assert node.returncode == 0, stderr.decode()
    rendered = json.loads(stdout)
    assert rendered["error"]["textContent"] == ""
    assert "answered by node 2" in rendered["meta"]["textContent"]
    nodes = rendered["nodes"]["innerHTML"]
    assert nodes.count("<tr") == 4 and nodes.count(">live<") == 3  # a header row and three live nodes
    topics = rendered["topics"]["innerHTML"]
    assert "orders · 3 partitions · 0 under-replicated · 0 offline · 10 records below the HW" in topics
    assert "__keyspace (internal)" in topics
    shards = rendered["shards"]["innerHTML"]
    assert "0-" in shards and "-16383" in shards  # every slot is listed under some shard
