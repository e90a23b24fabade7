"""The cluster bus: pysyncobj's transport, rebuilt around node ids and the cluster secret.

Why not pysyncobj's ``TCPTransport``:

* it identifies a peer by the address string the peer announces, and only
  the node with the larger address dials. We route every pair of nodes
  through its own fault proxy in chaos tests, so the address used to reach
  a node differs per dialer: peers are identified by **node id**, and the
  node with the smaller id dials (brokers, which are not voters, dial every
  voter);
* its read buffer grows with whatever length prefix arrives, before any
  authentication. Here every frame's length is checked before a byte of it
  is buffered (a small limit until the peer has authenticated);
* it unpickles whatever it decrypts. Here frames are msgpack only; pickle is
  never reached by bytes from the network. (pysyncobj still pickles the
  commands inside log entries; those only ever come from an authenticated
  member.)

Handshake (every message Fernet-encrypted with the key pysyncobj derives
from the cluster secret, so only holders of the secret can produce or read
one; Fernet authenticates before it decrypts)::

    dialer   -> acceptor : HELLO   {cluster, from, to, voter, nonce_d}
    acceptor -> dialer   : WELCOME {from, to, nonce_a, echo: nonce_d}
    dialer   -> acceptor : CONFIRM {echo: nonce_a}

then each frame is ``Fernet([session_tag, seq, kind, payload])`` where the
session tag binds it to this connection's nonces and ``seq`` counts frames
per direction, so a recorded frame can't be replayed or reordered.

Everything here runs on pysyncobj's tick thread, driven by its poller.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgpack
from pysyncobj.node import Node
from pysyncobj.poller import POLL_EVENT_TYPE
from pysyncobj.transport import Transport

from cluster import limits

log = logging.getLogger(__name__)

_LEN = struct.Struct(">I")
_MAX_UNAUTHENTICATED_FRAME = 4096
_MAX_PENDING_HANDSHAKES = 64
_KIND_RAFT = 0
_KIND_PING = 1


class RaftPeer(Node):
    """A Raft member or broker, identified by its node id (a decimal string)."""

    def __init__(self, node_id: int | str, address: str | None = None, voter: bool = True) -> None:
        super().__init__(str(int(node_id)))
        self.address = address
        self.voter = voter

    @property
    def node_id(self) -> int:
        return int(self.id)


@dataclass
class TransportSettings:
    node_id: int
    cluster_name: str
    # Where this node dials each peer (may be a per-pair fault proxy).
    dial_addresses: dict[int, str]
    voter_ids: frozenset[int]
    listen_socket: socket.socket | None  # bound and listening, or None for a broker
    ping_interval_s: float = 0.5
    dead_after_s: float = 3.0
    reconnect_interval_s: float = 0.25
    max_frame_bytes: int = limits.MAX_RAFT_FRAME_BYTES
    max_send_buffer_bytes: int = 256 * limits.MIB
    on_auth_failure: Callable[[str], None] | None = None
    # test hook: count of frames that failed authentication
    stats: dict[str, int] = field(default_factory=lambda: {"auth_failures": 0, "frames_in": 0})


class _State:
    CONNECTING = "connecting"
    HANDSHAKE = "handshake"
    READY = "ready"
    CLOSED = "closed"


class _Connection:
    def __init__(self, sock: socket.socket, dialer: bool, peer_id: int | None) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.dialer = dialer
        self.peer_id = peer_id
        self.peer_voter = True
        self.state = _State.CONNECTING if dialer else _State.HANDSHAKE
        self.rbuf = bytearray()
        self.wbuf = bytearray()
        self.nonce_mine = os.urandom(16)
        self.nonce_theirs = b""
        self.tag = b""
        self.send_seq = 0
        self.recv_seq = 0
        now = time.monotonic()
        self.created = now
        self.last_recv = now
        self.last_send = now


class KeystreamTransport(Transport):
    """pysyncobj ``Transport`` with id-based peers and an authenticated handshake."""

    def __init__(
        self,
        syncObj: Any,
        selfNode: RaftPeer | None,
        otherNodes: Any,
        *,
        settings: TransportSettings,
    ) -> None:
        super().__init__(syncObj, selfNode, otherNodes)
        self._sync = syncObj
        self._poller = syncObj._poller
        self._settings = settings
        self._self_id = settings.node_id
        self._is_voter = selfNode is not None
        self._peers: dict[int, RaftPeer] = {}
        for node in otherNodes:
            peer = node if isinstance(node, RaftPeer) else RaftPeer(node)
            self._peers[peer.node_id] = peer
        self._readonly: dict[int, RaftPeer] = {}
        self._by_fd: dict[int, _Connection] = {}
        self._ready_by_peer: dict[int, _Connection] = {}
        self._last_dial: dict[int, float] = {}
        self._server = settings.listen_socket
        self._destroyed = False
        if self._server is not None:
            self._server.setblocking(False)
            self._poller.subscribe(
                self._server.fileno(), self._on_server_event, POLL_EVENT_TYPE.READ | POLL_EVENT_TYPE.ERROR
            )
        syncObj.addOnTickCallback(self._on_tick)

    # --- pysyncobj Transport interface -----------------------------------------------
    @property
    def ready(self) -> bool:
        return True

    def tryGetReady(self) -> None:
        pass

    def waitReady(self) -> None:
        pass

    def addNode(self, node: Any) -> None:
        peer = node if isinstance(node, RaftPeer) else RaftPeer(node)
        self._peers[peer.node_id] = peer

    def dropNode(self, node: Any) -> None:
        peer_id = int(node.id)
        self._peers.pop(peer_id, None)
        conn = self._ready_by_peer.get(peer_id)
        if conn is not None:
            self._close(conn, "peer dropped")

    def send(self, node: Any, message: Any) -> bool:
        conn = self._ready_by_peer.get(int(node.id))
        if conn is None:
            return False
        return self._send_frame(conn, _KIND_RAFT, message)

    def destroy(self) -> None:
        self._destroyed = True
        for conn in list(self._by_fd.values()):
            self._close(conn, "transport destroyed")
        if self._server is not None:
            self._poller.unsubscribe(self._server.fileno())
            self._server.close()
            self._server = None

    # --- connection management -------------------------------------------------------------
    def _should_dial(self, peer_id: int) -> bool:
        if not self._is_voter:
            return peer_id in self._settings.voter_ids
        return peer_id in self._settings.voter_ids and self._self_id < peer_id

    def _on_tick(self) -> None:
        if self._destroyed:
            return
        now = time.monotonic()
        for conn in list(self._by_fd.values()):
            if conn.state == _State.READY:
                if now - conn.last_recv > self._settings.dead_after_s:
                    self._close(conn, f"nothing received for {self._settings.dead_after_s:.1f}s")
                elif now - conn.last_send > self._settings.ping_interval_s:
                    self._send_frame(conn, _KIND_PING, None)
            elif now - conn.created > limits.RAFT_HANDSHAKE_TIMEOUT_S:
                self._close(conn, "handshake timed out")
        for peer_id in self._peers:
            if peer_id in self._ready_by_peer or not self._should_dial(peer_id):
                continue
            if any(c.peer_id == peer_id and c.dialer for c in self._by_fd.values()):
                continue
            if now - self._last_dial.get(peer_id, 0.0) < self._settings.reconnect_interval_s:
                continue
            self._last_dial[peer_id] = now
            self._dial(peer_id)

    def _dial(self, peer_id: int) -> None:
        address = self._settings.dial_addresses.get(peer_id)
        if not address:
            return
        host, port = address.rsplit(":", 1)
        try:
            infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
        except OSError as exc:
            log.debug("raft: cannot resolve %s for node %d: %s", address, peer_id, exc)
            return
        family, _, _, _, sockaddr = infos[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        err = sock.connect_ex(sockaddr)
        if err not in (0, errno.EINPROGRESS, errno.EAGAIN):
            sock.close()
            return
        conn = _Connection(sock, dialer=True, peer_id=peer_id)
        self._by_fd[conn.fd] = conn
        self._poller.subscribe(conn.fd, self._on_conn_event, POLL_EVENT_TYPE.WRITE | POLL_EVENT_TYPE.ERROR)

    def _on_server_event(self, descr: int, event: int) -> None:
        if self._server is None:
            return
        for _ in range(64):  # bounded accept burst per poll
            try:
                sock, _addr = self._server.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("raft: accept failed: %s", exc)
                return
            pending = sum(1 for c in self._by_fd.values() if c.state != _State.READY)
            if pending >= _MAX_PENDING_HANDSHAKES:
                sock.close()
                continue
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Connection(sock, dialer=False, peer_id=None)
            self._by_fd[conn.fd] = conn
            self._poller.subscribe(conn.fd, self._on_conn_event, POLL_EVENT_TYPE.READ | POLL_EVENT_TYPE.ERROR)

    def _on_conn_event(self, descr: int, event: int) -> None:
        conn = self._by_fd.get(descr)
        if conn is None:
            self._poller.unsubscribe(descr)
            return
        if event & POLL_EVENT_TYPE.ERROR:
            self._close(conn, "socket error")
            return
        if conn.state == _State.CONNECTING and event & POLL_EVENT_TYPE.WRITE:
            if conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                self._close(conn, "connect failed")
                return
            conn.state = _State.HANDSHAKE
            self._write_control(
                conn,
                {
                    "t": "hello",
                    "cluster": self._settings.cluster_name,
                    "from": self._self_id,
                    "to": conn.peer_id,
                    "voter": self._is_voter,
                    "nonce": conn.nonce_mine,
                },
            )
        if event & POLL_EVENT_TYPE.READ:
            self._read(conn)
            if conn.state == _State.CLOSED:
                return
        if event & POLL_EVENT_TYPE.WRITE:
            self._flush(conn)
        self._resubscribe(conn)

    def _resubscribe(self, conn: _Connection) -> None:
        if conn.state == _State.CLOSED:
            return
        mask = POLL_EVENT_TYPE.READ | POLL_EVENT_TYPE.ERROR
        if conn.wbuf:
            mask |= POLL_EVENT_TYPE.WRITE
        self._poller.subscribe(conn.fd, self._on_conn_event, mask)

    def _close(self, conn: _Connection, reason: str) -> None:
        if conn.state == _State.CLOSED:
            return
        was_ready = conn.state == _State.READY
        conn.state = _State.CLOSED
        self._poller.unsubscribe(conn.fd)
        self._by_fd.pop(conn.fd, None)
        try:
            conn.sock.close()
        except OSError:
            pass
        if was_ready and conn.peer_id is not None and self._ready_by_peer.get(conn.peer_id) is conn:
            del self._ready_by_peer[conn.peer_id]
            log.info("raft: link to node %d closed: %s", conn.peer_id, reason)
            if conn.peer_voter:
                self._onNodeDisconnected(self._peers.get(conn.peer_id) or RaftPeer(conn.peer_id))
            else:
                peer = self._readonly.pop(conn.peer_id, None) or RaftPeer(conn.peer_id, voter=False)
                self._onReadonlyNodeDisconnected(peer)

    # --- bytes in and out -------------------------------------------------------------------
    def _read(self, conn: _Connection) -> None:
        for _ in range(16):  # bounded per event: fairness between connections
            try:
                chunk = conn.sock.recv(256 * 1024)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                self._close(conn, f"recv failed: {exc}")
                return
            if not chunk:
                self._close(conn, "peer closed")
                return
            conn.rbuf += chunk
            conn.last_recv = time.monotonic()
            if not self._parse(conn):
                return
            if len(chunk) < 256 * 1024:
                break

    def _parse(self, conn: _Connection) -> bool:
        limit = self._settings.max_frame_bytes if conn.state == _State.READY else _MAX_UNAUTHENTICATED_FRAME
        while len(conn.rbuf) >= _LEN.size:
            (length,) = _LEN.unpack_from(conn.rbuf, 0)
            if length > limit:
                self._auth_failed(conn, f"frame of {length} bytes exceeds the limit of {limit}")
                return False
            if len(conn.rbuf) < _LEN.size + length:
                return True
            token = bytes(conn.rbuf[_LEN.size : _LEN.size + length])
            del conn.rbuf[: _LEN.size + length]
            plain = self._decrypt(token)
            if plain is None:
                self._auth_failed(conn, "frame failed authentication")
                return False
            try:
                body = msgpack.unpackb(plain, raw=False, strict_map_key=False)
            except Exception:
                self._auth_failed(conn, "undecodable frame")
                return False
            if conn.state == _State.READY:
                if not self._on_frame(conn, body):
                    return False
            elif not self._on_handshake(conn, body):
                return False
            if conn.state == _State.CLOSED:
                return False
        return True

    def _decrypt(self, token: bytes) -> bytes | None:
        try:
            return bytes(self._sync.encryptor.decrypt(token))
        except Exception:
            return None

    def _auth_failed(self, conn: _Connection, reason: str) -> None:
        self._settings.stats["auth_failures"] += 1
        try:
            peer: Any = conn.sock.getpeername()
        except OSError:
            peer = "?"
        log.warning("raft: rejecting connection from %s: %s", peer, reason)
        if self._settings.on_auth_failure is not None:
            self._settings.on_auth_failure(reason)
        self._close(conn, reason)

    def _on_handshake(self, conn: _Connection, msg: Any) -> bool:
        if not isinstance(msg, dict):
            self._auth_failed(conn, "malformed handshake")
            return False
        kind = msg.get("t")
        if not conn.dialer and kind == "hello" and not conn.nonce_theirs:
            peer_id = msg.get("from")
            if (
                msg.get("cluster") != self._settings.cluster_name
                or msg.get("to") != self._self_id
                or not isinstance(peer_id, int)
                or not isinstance(msg.get("nonce"), bytes)
            ):
                self._auth_failed(conn, f"hello for another cluster or node: {msg.get('cluster')!r}")
                return False
            voter = bool(msg.get("voter"))
            if voter and peer_id not in self._settings.voter_ids:
                self._auth_failed(conn, f"node {peer_id} claims to be a voter but is not one")
                return False
            conn.peer_id = peer_id
            conn.peer_voter = voter
            conn.nonce_theirs = msg["nonce"]
            self._write_control(
                conn,
                {
                    "t": "welcome",
                    "from": self._self_id,
                    "to": peer_id,
                    "nonce": conn.nonce_mine,
                    "echo": conn.nonce_theirs,
                },
            )
            return True
        if conn.dialer and kind == "welcome" and not conn.nonce_theirs:
            if msg.get("echo") != conn.nonce_mine or msg.get("from") != conn.peer_id:
                self._auth_failed(conn, "welcome does not answer our hello")
                return False
            if not isinstance(msg.get("nonce"), bytes):
                self._auth_failed(conn, "malformed welcome")
                return False
            conn.nonce_theirs = msg["nonce"]
            self._write_control(conn, {"t": "confirm", "echo": conn.nonce_theirs})
            self._ready(conn)
            return True
        if not conn.dialer and kind == "confirm" and conn.nonce_theirs:
            if msg.get("echo") != conn.nonce_mine:
                self._auth_failed(conn, "confirm does not answer our welcome")
                return False
            self._ready(conn)
            return True
        self._auth_failed(conn, f"unexpected handshake message {kind!r}")
        return False

    def _ready(self, conn: _Connection) -> None:
        nonce_d, nonce_a = (
            (conn.nonce_mine, conn.nonce_theirs) if conn.dialer else (conn.nonce_theirs, conn.nonce_mine)
        )
        conn.tag = hashlib.sha256(b"keystream-raft" + nonce_d + nonce_a).digest()[:8]
        conn.state = _State.READY
        assert conn.peer_id is not None
        old = self._ready_by_peer.get(conn.peer_id)
        if old is not None:
            self._close(old, "replaced by a newer connection")
        self._ready_by_peer[conn.peer_id] = conn
        log.info("raft: link to node %d up (%s)", conn.peer_id, "dialed" if conn.dialer else "accepted")
        if conn.peer_voter:
            self._onNodeConnected(self._peers.get(conn.peer_id) or RaftPeer(conn.peer_id))
        else:
            peer = RaftPeer(conn.peer_id, voter=False)
            self._readonly[conn.peer_id] = peer
            self._onReadonlyNodeConnected(peer)

    def _on_frame(self, conn: _Connection, body: Any) -> bool:
        if not isinstance(body, list) or len(body) != 4 or body[0] != conn.tag or body[1] != conn.recv_seq:
            self._auth_failed(conn, "frame out of sequence or from another session")
            return False
        conn.recv_seq += 1
        self._settings.stats["frames_in"] += 1
        kind, payload = body[2], body[3]
        if kind == _KIND_RAFT:
            peer = self._peers.get(conn.peer_id) if conn.peer_voter else self._readonly.get(conn.peer_id)  # type: ignore[arg-type]
            if peer is None:
                peer = RaftPeer(conn.peer_id, voter=conn.peer_voter)  # type: ignore[arg-type]
            if isinstance(payload, dict):
                self._onMessageReceived(peer, payload)
        return True

    def _write_control(self, conn: _Connection, msg: dict[str, Any]) -> None:
        self._queue(conn, msgpack.packb(msg, use_bin_type=True))

    def _send_frame(self, conn: _Connection, kind: int, payload: Any) -> bool:
        try:
            plain = msgpack.packb([conn.tag, conn.send_seq, kind, payload], use_bin_type=True)
        except (TypeError, ValueError) as exc:
            log.error("raft: cannot encode message %r: %s", type(payload), exc)
            return False
        conn.send_seq += 1
        self._queue(conn, plain)
        if len(conn.wbuf) > self._settings.max_send_buffer_bytes:
            self._close(conn, "send buffer limit exceeded (peer not reading)")
            return False
        return True

    def _queue(self, conn: _Connection, plain: bytes) -> None:
        token = self._sync.encryptor.encrypt(plain)
        conn.wbuf += _LEN.pack(len(token))
        conn.wbuf += token
        conn.last_send = time.monotonic()
        self._flush(conn)
        self._resubscribe(conn)

    def _flush(self, conn: _Connection) -> None:
        while conn.wbuf and conn.state in (_State.HANDSHAKE, _State.READY):
            try:
                sent = conn.sock.send(conn.wbuf)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._close(conn, f"send failed: {exc}")
                return
            if sent <= 0:
                return
            del conn.wbuf[:sent]
