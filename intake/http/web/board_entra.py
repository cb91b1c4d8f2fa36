"""Signing in to the group's board with Entra ID: OpenID Connect's authorization code flow
with PKCE, through msal's ConfidentialClientApplication (single tenant,
`{MELD_ENTRA_AUTHORITY_URL}/{MELD_ENTRA_TENANT_ID}`).

    GET /gruppe/entra/start   msal starts the flow (state, nonce, PKCE verifier); the flow
                              goes into a short-lived, HMAC-signed, HttpOnly cookie scoped
                              to /gruppe/entra (any replica can finish it), and the browser
                              to Entra's sign-in page
    GET /gruppe/entra/svar    Entra sends the browser back with a code: msal checks the
                              state, redeems the code with the verifier and the client
                              secret and checks the nonce; Meld checks the ID token's
                              signature against the authority's keys, its issuer,
                              audience and lifetime; the tenant must be ours; the app
                              role (Meld.Triage or Meld.Read) decides the board role;
                              nobody else gets in

Every refusal is audited (`board_login_refused` with a reason code). Only `intake.app`
imports this (for its router). msal, PyJWT (with cryptography) and requests are imported
when a sign-in uses them: some 15 MB that a Meld without Entra ID never loads.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import ssl
import warnings
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from intake import services
from intake.domain.model import PermissionDenied
from intake.http.web.board_common import safe_next, set_board_cookie
from intake.http.web.pages import ctx_of, in_thread, render_page, translator
from intake.settings import Settings

if TYPE_CHECKING:
    import jwt
    import msal
    import requests

log = logging.getLogger("meld.board.entra")

router = APIRouter(include_in_schema=False)

FLOW_COOKIE = "meld_entra_flow"
FLOW_PATH = "/gruppe/entra"
FLOW_SECONDS = 600  # time to sign in at Entra
CALLBACK = "/gruppe/entra/svar"


def _app(settings: Settings) -> msal.ConfidentialClientApplication:
    import msal

    session = _session(settings)
    assert settings.entra_client_secret is not None
    return msal.ConfidentialClientApplication(
        settings.entra_client_id,
        client_credential=settings.entra_client_secret.get_secret_value(),
        authority=f"{settings.entra_authority_url.rstrip('/')}/{settings.entra_tenant_id}",
        http_client=session, instance_discovery=False, timeout=10)


def _initiate(settings: Settings, redirect_uri: str) -> dict[str, Any]:
    """msal's flow with the answer in the query. msal recommends form_post (RFC 9700), but
    a cross-site POST does not carry the SameSite=Lax cookie that holds the flow; the code
    in the URL is single-use and bound to the PKCE verifier, and every page of Meld sends
    Referrer-Policy: no-referrer, so the query cannot leak it onwards."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="response_mode='form_post' is recommended")
        return _app(settings).initiate_auth_code_flow(scopes=[], redirect_uri=redirect_uri)


_JWKS: dict[str, jwt.PyJWKClient] = {}


def _session(settings: Settings) -> requests.Session:
    import requests

    from intake.delivery.graph_auth import CaBundleSession

    if settings.entra_ca_bundle is None:
        return requests.Session()
    session = CaBundleSession()
    session.verify = str(settings.entra_ca_bundle)
    return session


def _checked_claims(settings: Settings, id_token: str) -> dict[str, Any]:
    """The ID token's claims once its signature (the authority's published keys), issuer,
    audience and lifetime are checked: msal no longer validates ID tokens itself."""
    import jwt

    authority = f"{settings.entra_authority_url.rstrip('/')}/{settings.entra_tenant_id}"
    with _session(settings) as session:
        config = session.get(f"{authority}/v2.0/.well-known/openid-configuration",
                             timeout=10).json()
    jwks_uri, issuer = str(config["jwks_uri"]), str(config["issuer"])
    client = _JWKS.get(jwks_uri)
    if client is None:
        context = (ssl.create_default_context(cafile=str(settings.entra_ca_bundle))
                   if settings.entra_ca_bundle else None)
        client = _JWKS[jwks_uri] = jwt.PyJWKClient(jwks_uri, lifespan=3600, timeout=10,
                                                   ssl_context=context)
    key = client.get_signing_key_from_jwt(id_token)
    return dict(jwt.decode(id_token, key.key, algorithms=["RS256"],
                           audience=settings.entra_client_id, issuer=issuer, leeway=120,
                           options={"require": ["exp", "iat", "iss", "aud"]}))


def _sign(key: bytes, payload: bytes) -> str:
    return hmac.new(key, b"entra-flow:" + payload, hashlib.sha256).hexdigest()


def _pack(key: bytes, flow: dict[str, Any]) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(flow).encode())
    return f"{payload.decode()}.{_sign(key, payload)}"


def _unpack(key: bytes, value: str | None) -> dict[str, Any] | None:
    if not value or len(value) > 8000 or "." not in value:
        return None
    payload, _, signature = value.rpartition(".")
    if not hmac.compare_digest(_sign(key, payload.encode()), signature):
        return None
    try:
        flow = json.loads(base64.urlsafe_b64decode(payload.encode()))
    except ValueError:
        return None
    return flow if isinstance(flow, dict) else None


def _refused(request: Request, status_code: int = 403) -> HTMLResponse:
    tr = translator(request)
    return render_page(request, "error.html", status_code=status_code,
                       title=tr("You could not be signed in"),
                       text=tr("Entra ID did not let you in to the board, or you do not have "
                               "a role in Meld (Meld.Triage or Meld.Read). Ask the person who "
                               "runs Meld."))


@router.get(f"{FLOW_PATH}/start")
async def start(request: Request) -> Response:
    ctx = ctx_of(request)
    settings = ctx.settings
    if not settings.entra_enabled:
        return RedirectResponse("/gruppe/logg-inn", status_code=303)
    import requests

    redirect_uri = settings.base_url.rstrip("/") + CALLBACK
    try:
        flow = await in_thread(_initiate, settings=settings, redirect_uri=redirect_uri)
    except (requests.RequestException, ValueError) as exc:  # the authority is unreachable
        log.warning("entra: cannot start the sign-in (%s)", type(exc).__name__)
        await in_thread(services.refuse_sign_in, ctx=ctx, reason="authority_unreachable")
        return _refused(request, 503)
    flow["neste"] = safe_next(request.query_params.get("neste"))
    response = RedirectResponse(flow["auth_uri"], status_code=303)
    secure = request.url.scheme == "https" or settings.base_url.startswith("https://")
    response.set_cookie(FLOW_COOKIE, _pack(ctx.secret_key, flow), max_age=FLOW_SECONDS,
                        httponly=True, samesite="lax", secure=secure, path=FLOW_PATH)
    return response


@router.get(CALLBACK)
async def callback(request: Request) -> Response:
    ctx = ctx_of(request)
    settings = ctx.settings
    if not settings.entra_enabled:
        return RedirectResponse("/gruppe/logg-inn", status_code=303)
    import jwt
    import requests

    flow = _unpack(ctx.secret_key, request.cookies.get(FLOW_COOKIE))
    answer = {k: v[:4000] for k, v in request.query_params.items()}
    if flow is None:
        await in_thread(services.refuse_sign_in, ctx=ctx, reason="no_flow")
        return _refused(request, 400)
    neste = safe_next(flow.pop("neste", None))
    try:
        result = await in_thread(_app(settings).acquire_token_by_auth_code_flow,
                                 auth_code_flow=flow, auth_response=answer)
    except (requests.RequestException, ValueError, RuntimeError) as exc:
        # msal: a state mismatch (ValueError), a bad ID token (audience, issuer, nonce,
        # expiry: msal's IdTokenError is a RuntimeError), the authority unreachable
        await in_thread(services.refuse_sign_in, ctx=ctx,
                        reason=f"invalid_answer:{type(exc).__name__}")
        return _clear(_refused(request, 400))
    id_token = result.get("id_token") if isinstance(result, dict) else None
    if not id_token:
        code = str(result.get("error", "no_token"))[:40] if isinstance(result, dict) else ""
        await in_thread(services.refuse_sign_in, ctx=ctx, reason=f"entra:{code}")
        return _clear(_refused(request))
    try:
        claims = await in_thread(_checked_claims, settings=settings, id_token=str(id_token))
    except (jwt.PyJWTError, requests.RequestException, ValueError, KeyError) as exc:
        await in_thread(services.refuse_sign_in, ctx=ctx,
                        reason=f"invalid_id_token:{type(exc).__name__}")
        return _clear(_refused(request, 400))
    if claims.get("tid") != settings.entra_tenant_id or not claims.get("oid"):
        await in_thread(services.refuse_sign_in, ctx=ctx, reason="other_tenant")
        return _clear(_refused(request))
    roles = claims.get("roles") if isinstance(claims.get("roles"), list) else []
    try:
        secret, _actor = await in_thread(
            services.sign_in_with_entra, ctx=ctx, object_id=str(claims["oid"]),
            name=str(claims.get("name") or claims.get("preferred_username") or ""),
            app_roles=[str(r) for r in roles])
    except PermissionDenied:
        return _clear(_refused(request))
    response = _clear(RedirectResponse(neste, status_code=303))
    set_board_cookie(request, response, secret)
    return response


def _clear(response: Response) -> Response:
    response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
    return response
