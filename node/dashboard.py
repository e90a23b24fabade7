"""A read-only web dashboard on every HTTP listener: ``GET /ui`` (and ``/``).

One static page; its script polls the REST API this same listener serves
(``/v1/cluster/status``, ``/v1/cluster``, ``/v1/topics``, ``/v1/topics/NAME``),
so it shows exactly what an API client with the viewer's credentials would
see, and needs no authorization of its own (with users defined, the browser
asks for HTTP Basic credentials on the first API call).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from node.server import Node

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Keystream</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #222; background: #fafafa; }
  h1 { font-size: 1.4rem; margin: 0 0 .2rem; } h2 { font-size: 1.1rem; margin: 1.4rem 0 .4rem; }
  .meta { color: #555; } .err { color: #b00020; } .bad { background: #fde7e9; } .ok { color: #137333; }
  table { border-collapse: collapse; background: #fff; box-shadow: 0 0 0 1px #ddd; }
  th, td { padding: .25rem .7rem; text-align: left; border-bottom: 1px solid #eee; white-space: nowrap; }
  th { background: #f1f3f4; font-weight: 600; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
  details { margin: .2rem 0; } summary { cursor: pointer; }
</style>
</head>
<body>
<h1>Keystream</h1>
<div class="meta" id="meta">loading...</div>
<div class="err" id="error"></div>
<h2>Nodes</h2><div id="nodes"></div>
<h2>Topics</h2><div id="topics"></div>
<h2>Keyspace shards</h2><div id="shards"></div>
<script>
"use strict";
const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;",
  '"': "&quot;", "'": "&#39;"}[c]));
function table(head, rows, numeric = [], bad = () => false) {
  const th = head.map((h) => `<th>${esc(h)}</th>`).join("");
  const body = rows.map((r) => `<tr class="${bad(r) ? "bad" : ""}">` +
    r.map((c, i) => `<td class="${numeric.includes(i) ? "num" : ""}">${esc(c)}</td>`).join("") + "</tr>").join("");
  return `<table><tr>${th}</tr>${body}</table>`;
}
async function get(path) {
  const response = await fetch(path, {credentials: "same-origin"});
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${await response.text()}`);
  return response.json();
}
const listeners = (n) => Object.entries(n.listeners || {}).map(([name, svc]) =>
  Object.entries(svc).map(([s, a]) => `${name}.${s}=${a}`).join(" ")).join(" ");
async function refresh() {
  try {
    const [status, map, topics] = await Promise.all([get("/v1/cluster/status"), get("/v1/cluster"),
                                                    get("/v1/topics")]);
    document.getElementById("meta").textContent = `cluster ${status.cluster_id} · controller ${status.controller}` +
      ` · map epoch ${status.map_epoch} · answered by node ${status.answered_by} · ${new Date().toLocaleTimeString()}`;
    document.getElementById("nodes").innerHTML = table(["node", "state", "controller", "voter", "rack", "listeners"],
      status.nodes.map((n) => [n.id, n.state, n.controller ? "yes" : "", n.voter ? "yes" : "", n.rack ?? "",
                               listeners(n)]), [0], (r) => r[1] !== "live");
    const described = await Promise.all(topics.topics.map((t) => get(`/v1/topics/${encodeURIComponent(t)}`)));
    document.getElementById("topics").innerHTML = described.length ? described.map((t) => {
      const parts = t.partitions;
      const under = parts.filter((p) => p.isr.length < p.replicas.length).length;
      const offline = parts.filter((p) => p.leader < 0).length;
      const hw = parts.reduce((sum, p) => sum + (p.high_watermark ?? 0), 0);
      const summary = `${esc(t.name)}${t.internal ? " (internal)" : ""} · ${parts.length} partitions · ` +
        `${under} under-replicated · ${offline} offline · ${hw.toLocaleString()} records below the HW`;
      return `<details><summary class="${under || offline ? "err" : ""}">${summary}</summary>` +
        table(["partition", "leader", "epoch", "replicas", "ISR", "log start", "high watermark"],
          parts.map((p) => [p.partition, p.leader, p.leader_epoch, p.replicas.join(","), p.isr.join(","),
                            p.log_start_offset ?? "?", p.high_watermark ?? "?"]), [0, 1, 2, 5, 6],
          (r) => r[1] < 0 || r[4].split(",").length < r[3].split(",").length) + "</details>";
    }).join("") : "no topics";
    const slots = {};
    for (const [start, end, shard] of map.slots || []) (slots[shard] ||= []).push(`${start}-${end}`);
    document.getElementById("shards").innerHTML = (map.shards || []).length ? table(
      ["shard", "leader", "epoch", "replicas", "slots"],
      map.shards.map((s) => [s.shard, s.leader, s.leader_epoch, s.replicas.join(","),
                             (slots[s.shard] || []).join(" ")]),
      [0, 1, 2], (r) => r[1] < 0) : "the keyspace is not initialized yet";
    document.getElementById("error").textContent = "";
  } catch (e) {
    document.getElementById("error").textContent = String(e);
  }
}
refresh();
setInterval(refresh, 3000);
</script>
</body>
</html>
"""


def install_dashboard(node: Node) -> None:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text=_PAGE, content_type="text/html", headers={"Cache-Control": "no-cache"})

    async def root(request: web.Request) -> web.Response:
        raise web.HTTPFound("/ui")

    def routes(app: web.Application) -> None:
        app.router.add_get("/ui", page)
        app.router.add_get("/", root)

    node.http.add_routes(routes)
