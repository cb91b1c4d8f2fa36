"""`python -m bench.bare_teams --port P --metadata-url U --ca-bundle F --service-origin O`.

The Teams phase's baseline: a bare FastAPI endpoint on the same uvicorn that does what any
correct Bot Framework endpoint must do before its own work: parse the activity and validate
its JWT in full (Meld's BotAuthenticator: JWKS from the OpenID metadata, RS256, issuer,
audience, expiry, serviceurl, endorsement). It then answers a fixed card. What is left of
Meld's time beyond this is Meld's own work (reading the form, storing the report with its
audit and outbox rows, rendering the answer).
"""

from __future__ import annotations

import argparse
import ssl

import httpx
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from bot.teams.app import parse_activity
from bot.teams.auth import AuthError, BotAuthenticator, OpenIdKeys

ANSWER = {"statusCode": 200, "type": "application/vnd.microsoft.card.adaptive",
          "value": {"type": "AdaptiveCard", "version": "1.5",
                    "body": [{"type": "TextBlock", "text": "Sendt: MELD-0000-0000."}]}}


def build(app_id: str, metadata_url: str, ca_bundle: str, origin: str) -> FastAPI:
    tls = ssl.create_default_context(cafile=ca_bundle)
    keys = OpenIdKeys(metadata_url, client=lambda: httpx.AsyncClient(verify=tls))
    auth = BotAuthenticator(app_id=app_id, keys=keys, allowed_origins=frozenset([origin]))
    api = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @api.post("/api/messages")
    async def messages(request: Request) -> Response:
        activity = parse_activity(await request.body())
        if activity is None:
            return JSONResponse({"code": "invalid_activity"}, status_code=400)
        try:
            await auth.validate(request.headers.get("authorization"),
                                service_url=activity.service_url,
                                channel_id=activity.channel_id)
        except AuthError as err:
            return JSONResponse({"code": err.code}, status_code=err.status)
        return JSONResponse(ANSWER)

    @api.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ok"}

    return api


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.bare_teams", description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--app-id", required=True)
    p.add_argument("--metadata-url", required=True)
    p.add_argument("--ca-bundle", required=True)
    p.add_argument("--service-origin", required=True)
    args = p.parse_args(argv)
    uvicorn.run(build(args.app_id, args.metadata_url, args.ca_bundle, args.service_origin),
                host="127.0.0.1", port=args.port, log_level="warning", access_log=False,
                proxy_headers=False, server_header=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
