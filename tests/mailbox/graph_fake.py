"""A fake Microsoft Graph mailbox (and Entra authority) over HTTPS on loopback, for the
mailbox sync: one shared mailbox with an inbox of MIME messages.

Delta semantics as Graph has them: every change (a new message, changed categories, a
move) gets a sequence number; a delta token is the sequence number at the end of a round,
and a round from it returns what changed since (current state), moved-out messages as
`@removed`. A round's pages are a snapshot, linked by @odata.nextLink, the last page
carrying @odata.deltaLink. Every request is recorded with its kind and monotonic time;
`script` makes the next request of a kind answer with a status and headers.

    with FakeMailbox(tmp_path) as fake:
        fake.deliver(raw_bytes, received="2026-03-02T09:00:00Z")
"""

from __future__ import annotations

import itertools
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import trustme

from tests.mail.fakes import CLIENT_ID, CLIENT_SECRET, MAILBOX, TENANT_ID, _QuietServer

INBOX_ID = "AAMkAGInbox0001="


@dataclass
class FakeMessage:
    id: str
    internet_message_id: str
    received: str
    raw: bytes
    folder: str = INBOX_ID
    categories: list[str] = field(default_factory=list)
    changed: int = 0  # the sequence number of its last change


@dataclass
class Seen:
    method: str
    kind: str  # token, delta, next, value, patch, move, folders, create_folder
    path: str
    at: float
    prefer: str | None = None


@dataclass
class Script:
    kind: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    code: str = "Scripted"


class FakeMailbox:
    def __init__(self, folder: Path, *, page_size: int | None = None) -> None:
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        self.ca_path = folder / "graph-mailbox-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_path))
        self.lock = threading.Lock()
        self.messages: dict[str, FakeMessage] = {}
        self.folders: dict[str, tuple[str, str]] = {}  # id -> (parent id, display name)
        self.seen: list[Seen] = []
        self.script: list[Script] = []
        self.expired: set[str] = set()  # delta tokens Graph no longer knows
        self.issued: list[str] = []
        self.revoked: set[str] = set()
        self.page_size = page_size  # a smaller page than Prefer asks, to make several
        self.delay = 0.0  # seconds before answering a delta request (a slow Graph)
        self._seq = 0
        self._ids = itertools.count(1)
        self._rounds: dict[str, list[dict[str, Any]]] = {}
        self._round_seq: dict[str, int] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def answer(self, status: int, body: Any = None,
                       headers: dict[str, str] | None = None, raw: bytes | None = None) -> None:
                data = raw if raw is not None else (
                    json.dumps(body).encode() if body is not None else b"")
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                if data:
                    self.send_header("Content-Type", "message/rfc822" if raw is not None
                                     else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_GET(self) -> None:
                fake._route(self, "GET")

            def do_POST(self) -> None:
                fake._route(self, "POST")

            def do_PATCH(self) -> None:
                fake._route(self, "PATCH")

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(context)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # ------------------------------------------------------------ the test's side

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeMailbox:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def _change(self) -> int:
        self._seq += 1
        return self._seq

    def deliver(self, raw: bytes, *, internet_message_id: str,
                received: str = "2026-03-02T09:00:00Z") -> FakeMessage:
        with self.lock:
            msg = FakeMessage(f"AAMkAGMsg{next(self._ids):04d}=", internet_message_id,
                              received, raw, changed=self._change())
            self.messages[msg.id] = msg
            return msg

    def set_categories(self, message_id: str, categories: list[str]) -> None:
        with self.lock:
            msg = self.messages[message_id]
            msg.categories = list(categories)
            msg.changed = self._change()

    def kinds(self, *kinds: str) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if s.kind in kinds]

    def in_folder(self, folder: str = INBOX_ID) -> list[FakeMessage]:
        with self.lock:
            return [msg for msg in self.messages.values() if msg.folder == folder]

    def folder_named(self, name: str) -> str | None:
        with self.lock:
            return next((fid for fid, (_, n) in self.folders.items() if n == name), None)

    # ------------------------------------------------------------ the server's side

    def _record(self, handler: Any, method: str, kind: str) -> Script | None:
        with self.lock:
            self.seen.append(Seen(method, kind, handler.path, time.monotonic(),
                                  handler.headers.get("Prefer")))
            for i, script in enumerate(self.script):
                if script.kind == kind:
                    return self.script.pop(i)
        return None

    def _authorized(self, handler: Any) -> bool:
        token = (handler.headers.get("Authorization") or "").removeprefix("Bearer ")
        with self.lock:
            return token in self.issued and token not in self.revoked

    def _route(self, handler: Any, method: str) -> None:
        parts = urlsplit(handler.path)
        path, query = unquote(parts.path), parse_qs(parts.query)
        if path.startswith(f"/{TENANT_ID}/"):
            self._authority(handler, method, path)
            return
        prefix = f"/v1.0/users/{MAILBOX}/"
        if not path.startswith(prefix):
            handler.answer(404, {"error": {"code": "ErrorInvalidUser"}})
            return
        rest = path[len(prefix):].split("/")
        body = handler.body() if method in ("POST", "PATCH") else b""
        if rest[0] == "mailFolders" and len(rest) == 4 and rest[2:] == ["messages", "delta"]:
            kind = "next" if "$skiptoken" in query else "delta"
        elif rest[0] == "mailFolders" and len(rest) == 3 and rest[2] == "childFolders":
            kind = "folders" if method == "GET" else "create_folder"
        elif rest[0] == "messages" and len(rest) == 3 and rest[2] == "$value":
            kind = "value"
        elif rest[0] == "messages" and len(rest) == 3 and rest[2] == "move":
            kind = "move"
        elif rest[0] == "messages" and len(rest) == 2 and method == "PATCH":
            kind = "patch"
        else:
            handler.answer(404, {"error": {"code": "ErrorNotFound"}})
            return
        if not self._authorized(handler):
            with self.lock:
                self.seen.append(Seen(method, "unauthorized", handler.path, time.monotonic()))
            handler.answer(401, {"error": {"code": "InvalidAuthenticationToken"}})
            return
        script = self._record(handler, method, kind)
        if script is not None:
            handler.answer(script.status, {"error": {"code": script.code}}, script.headers)
            return
        if kind in ("delta", "next"):
            if self.delay:
                time.sleep(self.delay)
            self._delta(handler, rest[1], query)
        elif kind == "folders":
            self._folders(handler, rest[1], query)
        elif kind == "create_folder":
            self._create_folder(handler, rest[1], json.loads(body))
        else:
            self._message(handler, kind, rest[1], json.loads(body) if body else None)

    def _authority(self, handler: Any, method: str, path: str) -> None:
        base = f"{self.url}/{TENANT_ID}"
        if method == "GET" and path == f"/{TENANT_ID}/v2.0/.well-known/openid-configuration":
            handler.answer(200, {
                "issuer": f"{base}/v2.0", "token_endpoint": f"{base}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode"})
            return
        if method == "POST" and path == f"/{TENANT_ID}/oauth2/v2.0/token":
            form = parse_qs(handler.body().decode())
            with self.lock:
                self.seen.append(Seen(method, "token", path, time.monotonic()))
            if form.get("client_secret") != [CLIENT_SECRET] or \
                    form.get("client_id") != [CLIENT_ID] or \
                    form.get("grant_type") != ["client_credentials"]:
                handler.answer(401, {"error": "invalid_client"})
                return
            token = f"mailbox-token-{next(self._ids)}"
            with self.lock:
                self.issued.append(token)
            handler.answer(200, {"token_type": "Bearer", "expires_in": 3599,
                                 "access_token": token})
            return
        handler.answer(404, {"error": "not_found"})

    def _folder_id(self, name: str) -> str | None:
        if name.lower() == "inbox" or name == INBOX_ID:
            return INBOX_ID
        return name if name in self.folders else None

    def _delta(self, handler: Any, folder_name: str, query: dict[str, list[str]]) -> None:
        select = query.get("$select", [""])[0].split(",")
        prefer = handler.headers.get("Prefer") or ""
        size = 10
        if prefer.startswith("odata.maxpagesize="):
            size = int(prefer.split("=", 1)[1])
        if self.page_size:
            size = min(size, self.page_size)
        link = f"{self.url}/v1.0/users/{MAILBOX}/mailFolders/{quote(folder_name)}/messages/delta"
        with self.lock:
            folder = self._folder_id(folder_name)
            if folder is None:
                handler.answer(404, {"error": {"code": "ErrorFolderNotFound"}})
                return
            if "$skiptoken" in query:
                round_id, offset = query["$skiptoken"][0].split(":")
                items, start = self._rounds[round_id], int(offset)
            else:
                token = query.get("$deltatoken", [None])[0]
                if token is not None and token in self.expired:
                    handler.answer(410, {"error": {"code": "SyncStateNotFound"}})
                    return
                since = int(token) if token is not None else 0
                items = []
                for msg in sorted(self.messages.values(), key=lambda x: x.changed):
                    if msg.changed <= since:
                        continue
                    if msg.folder == folder:
                        entry = {"id": msg.id, "internetMessageId": msg.internet_message_id,
                                 "receivedDateTime": msg.received,
                                 "categories": list(msg.categories), "parentFolderId": folder}
                        items.append({k: v for k, v in entry.items()
                                      if k == "id" or k in select})
                    elif token is not None:
                        items.append({"id": msg.id, "@removed": {"reason": "deleted"}})
                round_id = str(next(self._ids))
                self._rounds[round_id] = items
                self._round_seq[round_id] = self._seq
                start = 0
            page = items[start:start + size]
            out: dict[str, Any] = {"value": page}
            if start + size < len(items):
                out["@odata.nextLink"] = (f"{link}?$skiptoken={round_id}:{start + size}"
                                          f"&$select={','.join(select)}")
            else:  # the state as it was when the round began
                # Graph keeps the round's $select in its opaque token; here, in the link
                out["@odata.deltaLink"] = (f"{link}?$deltatoken={self._round_seq[round_id]}"
                                           f"&$select={','.join(select)}")
        handler.answer(200, out)

    def _message(self, handler: Any, kind: str, message_id: str, body: Any) -> None:
        with self.lock:
            msg = self.messages.get(message_id)
            if msg is None:
                handler.answer(404, {"error": {"code": "ErrorItemNotFound"}})
                return
            if kind == "value":
                raw = msg.raw
            elif kind == "patch":
                msg.categories = list(body["categories"])
                msg.changed = self._change()
            else:  # move: a new id in the destination, as Graph does
                destination = body["destinationId"]
                if destination not in self.folders:
                    handler.answer(400, {"error": {"code": "ErrorInvalidIdMalformed"}})
                    return
                moved = FakeMessage(f"AAMkAGMoved{next(self._ids):04d}=",
                                    msg.internet_message_id, msg.received, msg.raw,
                                    destination, list(msg.categories), self._change())
                msg.folder, msg.changed = "deleteditems-of-move", self._change()
                self.messages[moved.id] = moved
        if kind == "value":
            handler.answer(200, raw=raw)
        elif kind == "patch":
            handler.answer(200, {"id": message_id, "categories": body["categories"]})
        else:
            handler.answer(201, {"id": moved.id})

    def _folders(self, handler: Any, parent_name: str, query: dict[str, list[str]]) -> None:
        wanted = query.get("$filter", [""])[0]
        with self.lock:
            parent = self._folder_id(parent_name)
            found = [{"id": fid, "displayName": name}
                     for fid, (p, name) in self.folders.items()
                     if p == parent and wanted == "displayName eq '{}'".format(
                         name.replace("'", "''"))]
        handler.answer(200, {"value": found})

    def _create_folder(self, handler: Any, parent_name: str, body: Any) -> None:
        with self.lock:
            parent = self._folder_id(parent_name)
            fid = f"AAMkAGFolder{next(self._ids):04d}="
            self.folders[fid] = (parent or INBOX_ID, body["displayName"])
        handler.answer(201, {"id": fid, "displayName": body["displayName"]})
