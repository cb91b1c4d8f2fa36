"""Bot Framework authentication: inbound JWTs checked in full, outbound tokens from msal.

Inbound (`BotAuthenticator.validate`): the `Authorization: Bearer` JWT of every request to
/api/messages must be RS256-signed by a key from the JWKS named in the Bot Framework's
OpenID metadata, with that metadata's issuer, audience = our app id, `exp`/`nbf` within
5 minutes of skew, a `serviceurl` claim equal to the activity's serviceUrl, and a key whose
`endorsements` include the activity's channel ("msteams"). The serviceUrl must also be on
our allow-list, since replies carry our own token there. Anything else raises AuthError
(401 for a token we cannot trust, 403 for a trusted token that does not fit the request).
The token is checked before the body is parsed (`authenticate`), the fit after
(`check_fit`), so nobody without a token gets the parser to work.

Tenant (`check_tenant`): Meld is a single-tenant bot. Every activity, whatever its type,
must name MELD_TEAMS_TENANT_ID and no other tenant; the door refuses the rest with 403.

Outbound (`BotTokens`): msal's ConfidentialClientApplication, single-tenant authority,
client credentials for `https://api.botframework.com/.default`; msal caches the token.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import jwt
import msal
import requests
from microsoft_agents.activity import Activity

from intake.settings import Settings

log = logging.getLogger("meld.teams.auth")

BOT_SCOPE = "https://api.botframework.com/.default"
BOT_ISSUER = "https://api.botframework.com"
SKEW_SECONDS = 300
KEYS_TTL = 24 * 3600.0  # the Bot Framework rotates keys rarely; refetch daily
REFRESH_MIN_INTERVAL = 300.0  # an unknown kid refetches at most this often


class AuthError(Exception):
    """A refused request: status 401 (untrusted token) or 403 (token does not fit)."""

    def __init__(self, code: str, status: int = 401) -> None:
        super().__init__(code)
        self.code = code
        self.status = status


@dataclass(frozen=True, slots=True)
class SigningKey:
    key: Any  # a cryptography public key
    endorsements: frozenset[str]


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """What outgoing Teams calls verify TLS against: the system store or a given bundle."""
    if settings.teams_ca_bundle is None:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=str(settings.teams_ca_bundle))


ClientFactory = Callable[[], httpx.AsyncClient]


class KeySource(Protocol):
    """Where signing keys come from (OpenIdKeys in production; anything alike in tests)."""

    issuer: str

    async def get(self, kid: str) -> SigningKey | None: ...


class OpenIdKeys:
    """Signing keys from OpenID metadata -> jwks_uri, cached; an unknown kid refetches."""

    def __init__(self, metadata_url: str, *, client: ClientFactory,
                 ttl: float = KEYS_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.metadata_url = metadata_url
        self.client = client
        self.ttl = ttl
        self.clock = clock
        self.issuer = BOT_ISSUER
        self._keys: dict[str, SigningKey] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    async def _fetch(self) -> None:
        # a client per fetch: the keys may be fetched from any event loop (server, tests)
        async with self.client() as client:
            meta = (await client.get(self.metadata_url)).raise_for_status().json()
            jwks = (await client.get(meta["jwks_uri"])).raise_for_status().json()
        keys: dict[str, SigningKey] = {}
        for entry in jwks.get("keys", []):
            if entry.get("kty") != "RSA" or not entry.get("kid"):
                continue
            try:
                key = jwt.PyJWK(entry, algorithm="RS256").key
            except jwt.PyJWKError:
                continue
            keys[entry["kid"]] = SigningKey(key, frozenset(entry.get("endorsements") or ()))
        self._keys = keys
        self.issuer = meta.get("issuer") or BOT_ISSUER
        self._fetched_at = self.clock()
        log.info("teams: %s signing keys loaded", len(keys))

    async def get(self, kid: str) -> SigningKey | None:
        now = self.clock()
        fresh = self._fetched_at is not None and now - self._fetched_at < self.ttl
        if fresh and kid in self._keys:
            return self._keys[kid]
        async with self._lock:
            now = self.clock()
            stale = self._fetched_at is None or now - self._fetched_at >= self.ttl
            may_refresh = self._fetched_at is None or now - self._fetched_at >= \
                REFRESH_MIN_INTERVAL
            if stale or (kid not in self._keys and may_refresh):
                try:
                    await self._fetch()
                except (httpx.HTTPError, ValueError, KeyError) as exc:
                    log.warning("teams: signing keys unavailable (%s)", type(exc).__name__)
                    if not self._keys:
                        raise AuthError("keys_unavailable", 503) from None
        return self._keys.get(kid)


def origin(url: str) -> str:
    """'https://Host:443/path/' -> 'https://host:443'; '' for anything without a host."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    return f"{parts.scheme}://{parts.netloc}".lower()


@dataclass(frozen=True, slots=True)
class TrustedToken:
    """A Bot Framework token whose signature, audience, issuer and dates were checked."""

    claims: dict[str, Any]
    endorsements: frozenset[str]


class BotAuthenticator:
    """Validates the JWT of one inbound request, then whether it fits the activity it carries.
    """

    def __init__(self, *, app_id: str, keys: KeySource, allowed_origins: frozenset[str],
                 clock: Callable[[], float] = time.time) -> None:
        self.app_id = app_id
        self.keys = keys
        self.allowed_origins = allowed_origins
        self.clock = clock

    async def authenticate(self, authorization: str | None) -> TrustedToken:
        """The token alone, before anything reads the body: signed by a Bot Framework key,
        our audience, their issuer, in date. 401 (503 without keys) otherwise."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("missing_token")
        token = token.strip()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise AuthError("malformed_token") from None
        if header.get("alg") != "RS256":
            raise AuthError("bad_algorithm")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError("unknown_key")
        signing = await self.keys.get(kid)
        if signing is None:
            raise AuthError("unknown_key")
        try:
            claims = jwt.decode(
                token, signing.key, algorithms=["RS256"], audience=self.app_id,
                issuer=self.keys.issuer, leeway=SKEW_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthError("not_yet_valid") from None
        except jwt.InvalidAudienceError:
            raise AuthError("bad_audience") from None
        except jwt.InvalidIssuerError:
            raise AuthError("bad_issuer") from None
        except jwt.InvalidSignatureError:
            raise AuthError("bad_signature") from None
        except jwt.InvalidTokenError:
            raise AuthError("invalid_token") from None
        return TrustedToken(claims=claims, endorsements=signing.endorsements)

    def check_fit(self, trusted: TrustedToken, *, service_url: str, channel_id: str) -> None:
        """A trusted token that does not fit the activity it came with: 403."""
        if channel_id not in trusted.endorsements:
            raise AuthError("key_not_endorsed", 403)
        if str(trusted.claims.get("serviceurl") or "").rstrip("/") != service_url.rstrip("/"):
            raise AuthError("serviceurl_mismatch", 403)
        if origin(service_url) not in self.allowed_origins:
            raise AuthError("serviceurl_not_allowed", 403)

    async def validate(self, authorization: str | None, *, service_url: str,
                       channel_id: str) -> dict[str, Any]:
        """authenticate, then check_fit: the claims of a token fit for this activity."""
        trusted = await self.authenticate(authorization)
        self.check_fit(trusted, service_url=service_url, channel_id=channel_id)
        return trusted.claims


_MALFORMED = object()  # a tenant named in a shape Teams does not send: never ours


def _tenants(activity: Activity) -> list[object]:
    """What every place in an activity names as its Entra tenant (places naming none, or
    null, left out): channelData.tenant.id, conversation.tenantId, from.tenantId."""
    named: list[object] = []
    channel_data = activity.channel_data
    if isinstance(channel_data, dict):
        tenant = channel_data.get("tenant")
        if isinstance(tenant, dict):
            if tenant.get("id") is not None:
                named.append(tenant["id"])
        elif tenant is not None:
            named.append(_MALFORMED)
    elif channel_data is not None:
        named.append(_MALFORMED)
    for account in (activity.conversation, activity.from_property):
        if account is not None and account.tenant_id is not None:
            named.append(account.tenant_id)
    return named


def check_tenant(activity: Activity, tenant_id: str | None) -> None:
    """Meld serves one Entra tenant: an activity must name it, and name no other.

    The tenant is read from channelData.tenant.id, conversation.tenantId and from.tenantId;
    at least one must be there, and every one that is there must be ours (ids compare
    without regard to case). AuthError 403 otherwise, whatever the activity's type."""
    named = _tenants(activity)
    if not named:
        raise AuthError("tenant_missing", 403)
    ours = (tenant_id or "").lower()
    if not ours or any(not isinstance(t, str) or t.lower() != ours for t in named):
        raise AuthError("tenant_not_allowed", 403)


class CaBundleSession(requests.Session):
    """A Session whose own `verify` wins over REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE (requests
    lets those variables override a Session's bundle)."""

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any,
                                   cert: Any) -> dict[str, Any]:
        merged = super().merge_environment_settings(url, proxies, stream, verify, cert)
        merged["verify"] = self.verify
        return merged


class BotTokens:
    """Outbound bearer tokens from msal (client credentials, single tenant), cached by msal."""

    def __init__(self, settings: Settings, *, http_client: requests.Session | None = None,
                 ) -> None:
        if not (settings.teams_app_id and settings.teams_app_password
                and settings.teams_tenant_id):
            raise ValueError("Teams needs MELD_TEAMS_APP_ID, _APP_PASSWORD and _TENANT_ID")
        self.settings = settings
        if http_client is None:
            http_client = CaBundleSession() if settings.teams_ca_bundle else requests.Session()
            if settings.teams_ca_bundle is not None:
                http_client.verify = str(settings.teams_ca_bundle)
        self.http_client = http_client
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()

    def _client(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            s = self.settings
            assert s.teams_app_password is not None
            self._app = msal.ConfidentialClientApplication(
                s.teams_app_id,
                client_credential=s.teams_app_password.get_secret_value(),
                authority=f"{s.teams_authority_url.rstrip('/')}/{s.teams_tenant_id}",
                http_client=self.http_client,
                instance_discovery=False,  # a single-tenant authority we name ourselves
                timeout=s.teams_timeout_seconds,
            )
        return self._app

    def token_sync(self) -> str:
        try:
            with self._lock:  # one acquisition at a time; later callers hit msal's cache
                result = self._client().acquire_token_for_client(scopes=[BOT_SCOPE])
        except (requests.RequestException, ValueError) as exc:
            # msal raises these when the authority cannot be reached or read
            log.warning("teams: token endpoint unavailable (%s)", type(exc).__name__)
            raise TokenError("unreachable") from None
        token = result.get("access_token") if isinstance(result, dict) else None
        if not token:
            code = (result or {}).get("error", "no_token") if isinstance(result, dict) \
                else "no_token"
            log.warning("teams: no bot token from msal (%s)", code)
            raise TokenError(str(code)[:80])
        return str(token)

    async def token(self) -> str:
        return await asyncio.to_thread(self.token_sync)


class TokenError(Exception):
    """msal gave no token (wrong secret, tenant, network)."""
