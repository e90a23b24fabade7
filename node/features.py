"""Feature modules plug their services and handlers into a Node here.

Keeping the list in one place shows what a node runs; each feature owns its
own module and registers native ops, HTTP routes, controller deciders and
services through the Node's small registration API.
"""

from __future__ import annotations

from node.server import Node


def install_features(node: Node) -> None:
    """Install every feature into ``node`` (called before ``node.start()``)."""
    from node.dashboard import install_dashboard
    from node.log_service import LogService
    from node.metrics import install_metrics

    install_metrics(node)
    install_dashboard(node)

    node.features["log"] = LogService(node)
    from node.keyspace_service import KeyspaceService

    node.features["keyspace"] = KeyspaceService(node)
    from node.groups.service import GroupService

    node.features["groups"] = GroupService(node)
    from node.push_service import PushService

    node.features["push"] = PushService(node)
    from node.resp_service import RespService

    node.features["resp"] = RespService(node)
