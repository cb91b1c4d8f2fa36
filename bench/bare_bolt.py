"""`python -m bench.bare_bolt --port P --secret S --api-url U [--open-modal] [--store-url
URL]`: Bolt's bare dispatch.

The Slack phase's baseline: an AsyncApp with a `/meld` command listener and a `meld_report`
view listener that only `await ack()`, behind the same FastAPI adapter
(AsyncSlackRequestHandler) and uvicorn as Meld's POST /slack/events. What is left of a
Meld ack beyond this is Meld's own work (header guard, middleware, the store).

With --open-modal, `/meld` also does what no implementation of the door can leave out: after
the ack it opens Meld's report form (the same blank modal, ~13 kB) with views.open, through
a client made as Meld's listeners' is (bot.slack.app.listener_client, on one aiohttp session
shared while the app runs). Meld over this is the door's own cost (its checks, the defaults
read, the prefill), apart from the cost of opening a modal at all.

With --store-url, `meld_report` also does what no implementation may leave out before its
ack: it reads the submitted form (Meld's reader, bot.slack.views.read_report_state) and
stores it as the stack floor stores a submit (bench.floor.row_writer: one row, one durable
transaction, in a worker thread as FastAPI runs the floor's plain def). Meld over this is
the rest of a submission's work: the guard, the reference, the audit and outbox rows, the
idempotency of Slack's retries.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import aiohttp
import anyio.to_thread
import uvicorn
from fastapi import FastAPI, Request, Response
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bench.floor import row_writer
from bot.slack.app import listener_client
from bot.slack.views import new_report_modal, read_report_state
from intake.domain.taxonomy import load_taxonomy
from intake.i18n import Translator

TOKEN = "xoxb-bench"


def build(secret: str, api_url: str, *, open_modal: bool = False,
          store_url: str | None = None) -> FastAPI:
    # with a client (token) and no authorize=, Bolt calls auth.test once, on the first
    # request, as Meld's app does; the fake Web API answers it
    client = (listener_client(TOKEN, base_url=api_url, timeout=10.0) if open_modal
              else AsyncWebClient(token=TOKEN, base_url=api_url))
    bolt = AsyncApp(signing_secret=secret, client=client)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if not open_modal:
            yield
            return
        async with aiohttp.ClientSession() as session:  # as Slack.open_session
            bolt.client.session = session
            yield

    tr, taxonomy = Translator("nb"), load_taxonomy()
    write = row_writer(store_url)[1] if store_url else None

    def store(view: dict[str, Any]) -> None:
        assert write is not None
        values = read_report_state(view)
        write(values, date.fromisoformat(values["occurred_on"]) if values["occurred_on"]
              else None)

    @bolt.command("/meld")
    async def meld_command(ack: AsyncAck, command: dict[str, str],
                           client: AsyncWebClient) -> None:
        await ack()
        if open_modal:
            view = new_report_modal(tr, taxonomy, today=date.today())
            await client.views_open(trigger_id=command["trigger_id"], view=view)

    @bolt.view("meld_report")
    async def report_submitted(ack: AsyncAck, view: dict[str, Any]) -> None:
        if write is not None:
            await anyio.to_thread.run_sync(store, view)
        await ack()

    handler = AsyncSlackRequestHandler(bolt)
    api = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, lifespan=lifespan)

    @api.post("/slack/events")
    async def slack_events(request: Request) -> Response:
        return await handler.handle(request)

    @api.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ok"}

    return api


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.bare_bolt", description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--secret", required=True, help="Slack signing secret")
    p.add_argument("--api-url", required=True, help="Slack Web API base URL (the fake)")
    p.add_argument("--open-modal", action="store_true",
                   help="/meld opens Meld's blank report form after the ack (views.open)")
    p.add_argument("--store-url", default=None,
                   help="meld_report stores the form's row in this database (SQLAlchemy URL, "
                        "migrated by Meld) before the ack, as the stack floor does")
    args = p.parse_args(argv)
    # uvicorn as `meld serve` runs it (one process, no proxy headers), without access logs
    app = build(args.secret, args.api_url, open_modal=args.open_modal, store_url=args.store_url)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False,
                proxy_headers=False, server_header=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
