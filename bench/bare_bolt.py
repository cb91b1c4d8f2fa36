"""`python -m bench.bare_bolt --port P --secret S --api-url U`: Bolt's bare dispatch.

The Slack phase's baseline: an AsyncApp with a `/meld` command listener and a `meld_report`
view listener that only `await ack()`, behind the same FastAPI adapter
(AsyncSlackRequestHandler) and uvicorn as Meld's POST /slack/events. What is left of a
Meld ack beyond this is Meld's own work (header guard, middleware, the store).
"""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI, Request, Response
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

TOKEN = "xoxb-bench"


def build(secret: str, api_url: str) -> FastAPI:
    # with a client (token) and no authorize=, Bolt calls auth.test once, on the first
    # request, as Meld's app does; the fake Web API answers it
    bolt = AsyncApp(signing_secret=secret, client=AsyncWebClient(token=TOKEN, base_url=api_url))

    @bolt.command("/meld")
    async def meld_command(ack: AsyncAck) -> None:
        await ack()

    @bolt.view("meld_report")
    async def report_submitted(ack: AsyncAck) -> None:
        await ack()

    handler = AsyncSlackRequestHandler(bolt)
    api = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

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
    args = p.parse_args(argv)
    # uvicorn as `meld serve` runs it (one process, no proxy headers), without access logs
    uvicorn.run(build(args.secret, args.api_url), host="127.0.0.1", port=args.port,
                log_level="warning", access_log=False, proxy_headers=False,
                server_header=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
