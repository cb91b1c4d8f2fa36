"""The collaboration mailbox read through Microsoft Graph: the delta query of one mail folder,
each new message's MIME, and the mark that shows the group in Outlook what Meld has taken.

    GET {graph}/v1.0/users/{mailbox}/mailFolders/{folder}/messages/delta?$select=...
        Prefer: odata.maxpagesize=50
    -> pages linked by @odata.nextLink; the last page carries @odata.deltaLink, which the
       next round starts from (only what changed since: new mail, changed categories,
       messages that left the folder as `@removed`).
    GET  .../messages/{id}/$value               the message as RFC 5322 bytes
    PATCH .../messages/{id}  {"categories": [..., "Meld"]}    (MELD_MAILBOX_MARK=category)
    POST .../messages/{id}/move {"destinationId": ...}       (MELD_MAILBOX_MARK=move:<name>)

What an answer means here (sync.py decides what happens to the round):

- 429 or 503: wait Retry-After (at most RETRY_WAIT_MAX seconds each, RETRY_TOTAL_MAX per
  round), then ask again; a longer wait gives the round up (`GraphThrottled`).
- 401: the token went stale: drop it and try once more.
- 410, or the error codes SyncStateNotFound / SyncStateInvalid / ResyncRequired on a delta
  request: the delta token expired (`DeltaExpired`): a fresh full round is safe, because a
  mail already taken is a duplicate.
- any other failure (5xx, a dropped connection, 403): `GraphSyncError` with a code; the
  round stops and the stored delta link stays, so the next round resumes from it.

Never logs an address, a subject or a body: counts and codes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from intake.delivery.graph_auth import GraphToken, GraphTokenError, graph_ssl, retry_after
from intake.settings import Settings

log = logging.getLogger("meld.mailbox.graph")

MELD_CATEGORY = "Meld"
PAGE_SIZE = 50
SELECT = "id,internetMessageId,receivedDateTime,categories,parentFolderId"
RETRY_WAIT_DEFAULT = 5.0  # a 429/503 without Retry-After
RETRY_WAIT_MAX = 60.0  # a longer Retry-After gives up this round
RETRY_TOTAL_MAX = 180.0  # waiting in one round, all told
EXPIRED_CODES = frozenset({"syncstatenotfound", "syncstateinvalid", "resyncrequired"})


class GraphSyncError(Exception):
    """A Graph call failed; `code` is safe to log and store (no address, no text)."""

    def __init__(self, code: str, *, retry_after: float | None = None) -> None:
        super().__init__(code)
        self.code = code[:200]
        self.retry_after = retry_after


class GraphThrottled(GraphSyncError):
    """Graph asked to wait longer than this round may: try again after `retry_after`."""


class DeltaExpired(GraphSyncError):
    """The delta token is no longer known to Graph: start a fresh full round."""


class SyncStopped(GraphSyncError):
    """`meld serve` is shutting down."""


@dataclass(frozen=True, slots=True)
class MailItem:
    """One message the delta round returned (not removed)."""

    id: str
    internet_message_id: str | None
    received_at: datetime | None
    categories: tuple[str, ...] | None  # None: the page did not say

    @property
    def marked(self) -> bool:
        return any(c.casefold() == MELD_CATEGORY.casefold() for c in self.categories or ())


@dataclass(frozen=True, slots=True)
class DeltaPage:
    items: tuple[MailItem, ...]
    removed: int
    next_link: str | None
    delta_link: str | None


def _received(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _error_code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else error
    return str(code)[:80] if code else ""


class GraphMailbox:
    """The Graph calls of one mailbox folder, with an app token from msal (graph_auth)."""

    def __init__(self, settings: Settings, *, tokens: GraphToken | None = None,
                 page_size: int = PAGE_SIZE) -> None:
        if not settings.graph_mailbox:
            raise ValueError("the mailbox import needs MELD_GRAPH_MAILBOX")
        self.settings = settings
        self.tokens = tokens or GraphToken(settings)
        self.page_size = page_size
        self.base = settings.graph_url.rstrip("/")
        self.user = f"{self.base}/v1.0/users/{quote(settings.graph_mailbox, safe='@')}"
        self.folder = settings.mailbox_folder
        self.stopping = threading.Event()  # set by `meld serve` on shutdown
        self.requests = 0  # every HTTP request to Graph (not the token endpoint)
        self._waited = 0.0
        self._subfolder_id: str | None = None
        self._http: httpx.Client | None = None

    # ------------------------------------------------------------ plumbing

    def __enter__(self) -> GraphMailbox:
        self._waited = 0.0
        self._http = httpx.Client(verify=graph_ssl(self.settings), trust_env=False,
                                  timeout=self.settings.mail_timeout_seconds)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def _token(self) -> str:
        try:
            return self.tokens.token_sync()
        except GraphTokenError as exc:
            raise GraphSyncError(f"graph_token_{exc}") from None

    def _wait(self, seconds: float, status: int) -> None:
        if seconds > RETRY_WAIT_MAX or self._waited + seconds > RETRY_TOTAL_MAX:
            log.warning("mailbox: Graph throttled (%s), asks %.0f s: giving this round up",
                        status, seconds)
            raise GraphThrottled(f"graph_http_{status}", retry_after=seconds)
        log.info("mailbox: Graph throttled (%s): waiting %.1f s", status, seconds)
        self._waited += seconds
        if self.stopping.wait(seconds):
            raise SyncStopped("stopped")

    def request(self, method: str, url: str, *, json: Any = None, delta: bool = False,
                headers: dict[str, str] | None = None) -> httpx.Response:
        """One Graph call with the rules above; a 2xx answer (or 404, for the caller)."""
        if not url.startswith(self.base + "/"):  # the bearer token goes to Graph only
            raise GraphSyncError("graph_foreign_link")
        if self._http is None:
            raise RuntimeError("use GraphMailbox as a context manager")
        fresh_token = False
        while True:
            if self.stopping.is_set():
                raise SyncStopped("stopped")
            sent = {"Authorization": f"Bearer {self._token()}", **(headers or {})}
            self.requests += 1
            try:
                response = self._http.request(method, url, json=json, headers=sent)
            except httpx.TimeoutException:
                raise GraphSyncError("graph_timeout") from None
            except httpx.HTTPError:
                raise GraphSyncError("graph_connection_error") from None
            status = response.status_code
            if status < 300 or status == 404:
                return response
            if status == 401 and not fresh_token:
                self.tokens.drop_token()
                fresh_token = True
                continue
            if status in (429, 503):
                wait = retry_after(response.headers)
                self._wait(RETRY_WAIT_DEFAULT if wait is None else wait, status)
                continue
            code = _error_code(response)
            if delta and (status == 410 or code.casefold() in EXPIRED_CODES):
                raise DeltaExpired(f"graph_delta_expired_{code or status}")
            raise GraphSyncError(f"graph_http_{status}" + (f"_{code}" if code else ""))

    # ------------------------------------------------------------ the delta round

    def first_delta_url(self) -> str:
        folder = quote(self.folder, safe="")
        return f"{self.user}/mailFolders/{folder}/messages/delta?$select={SELECT}"

    def page(self, url: str) -> DeltaPage:
        """One page of a delta round (the first URL, a nextLink or a deltaLink)."""
        response = self.request("GET", url, delta=True,
                                headers={"Prefer": f"odata.maxpagesize={self.page_size}"})
        if response.status_code == 404:
            raise GraphSyncError("graph_folder_not_found")
        try:
            body = response.json()
            values = body.get("value", [])
        except (ValueError, AttributeError):
            raise GraphSyncError("graph_bad_delta_page") from None
        items: list[MailItem] = []
        removed = 0
        for entry in values if isinstance(values, list) else []:
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                continue
            if "@removed" in entry:
                removed += 1
                continue
            categories = entry.get("categories")
            items.append(MailItem(
                id=entry["id"],
                internet_message_id=entry.get("internetMessageId") or None,
                received_at=_received(entry.get("receivedDateTime")),
                categories=tuple(c for c in categories if isinstance(c, str))
                if isinstance(categories, list) else None))
        next_link, delta_link = body.get("@odata.nextLink"), body.get("@odata.deltaLink")
        if not next_link and not delta_link:
            raise GraphSyncError("graph_delta_without_link")
        return DeltaPage(tuple(items), removed, next_link or None,
                         None if next_link else delta_link)

    def pages(self, start: str | None) -> Iterator[DeltaPage]:
        """The pages of one round from `start` (a stored delta link; None: a full round)."""
        url: str | None = start or self.first_delta_url()
        while url is not None:
            page = self.page(url)
            yield page
            url = page.next_link

    # ------------------------------------------------------------ one message

    def _message_url(self, message_id: str) -> str:
        return f"{self.user}/messages/{quote(message_id, safe='')}"

    def mime(self, message_id: str) -> bytes | None:
        """The message as RFC 5322 bytes; None when it is gone (deleted meanwhile)."""
        response = self.request("GET", self._message_url(message_id) + "/$value")
        return None if response.status_code == 404 else response.content

    def mark(self, item: MailItem) -> None:
        """Show in Outlook that Meld has taken the message (MELD_MAILBOX_MARK)."""
        mode = self.settings.mailbox_mark
        if mode == "category":
            categories = item.categories
            if categories is None:  # never overwrite the group's own categories unread
                found = self.request("GET", self._message_url(item.id) + "?$select=categories")
                if found.status_code == 404:
                    return
                categories = tuple(found.json().get("categories") or ())
            if not any(c.casefold() == MELD_CATEGORY.casefold() for c in categories):
                self.request("PATCH", self._message_url(item.id),
                             json={"categories": [*categories, MELD_CATEGORY]})
            return
        destination = self.subfolder_id(mode.removeprefix("move:"))
        self.request("POST", self._message_url(item.id) + "/move",
                     json={"destinationId": destination})

    def subfolder_id(self, name: str) -> str:
        """The id of the folder's child folder `name`, created once if missing."""
        if self._subfolder_id is not None:
            return self._subfolder_id
        children = f"{self.user}/mailFolders/{quote(self.folder, safe='')}/childFolders"
        escaped = name.replace("'", "''")
        for attempt in range(2):
            found = self.request("GET", f"{children}?$filter=displayName eq '{escaped}'")
            if found.status_code == 404:
                raise GraphSyncError("graph_folder_not_found")
            values = found.json().get("value", [])
            if values:
                self._subfolder_id = str(values[0]["id"])
                return self._subfolder_id
            if attempt == 0:
                try:
                    created = self.request("POST", children, json={"displayName": name})
                except GraphSyncError as exc:
                    if exc.code.startswith("graph_http_409"):
                        continue  # created by someone else meanwhile: look again
                    raise
                if created.status_code != 404:
                    self._subfolder_id = str(created.json()["id"])
                    return self._subfolder_id
        raise GraphSyncError("graph_subfolder_missing")
