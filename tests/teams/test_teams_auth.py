"""Inbound JWTs: every check fails on its own; outbound tokens come from msal, cached."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest

from bot.teams.auth import AuthError, BotAuthenticator, BotTokens, OpenIdKeys, TokenError
from bot.teams.connector import Connector, ConnectorError
from tests.teams.conftest import TeamsHarness, teams_settings
from tests.teams_fake import APP_ID, ISSUER, FakeMicrosoft


def _authenticator(ms: FakeMicrosoft, **kw: Any) -> BotAuthenticator:
    settings = teams_settings("sqlite://", ms)
    import ssl

    tls = ssl.create_default_context(cafile=str(ms.cert))
    keys = OpenIdKeys(ms.metadata_url, client=lambda: httpx.AsyncClient(verify=tls), **kw)
    return BotAuthenticator(app_id=APP_ID, keys=keys,
                            allowed_origins=settings.teams_service_origins)


def _validate(auth: BotAuthenticator, token: str | None, *, service_url: str,
              channel: str = "msteams", scheme: str = "Bearer") -> dict[str, Any]:
    header = None if token is None else f"{scheme} {token}"
    return asyncio.run(auth.validate(header, service_url=service_url, channel_id=channel))


def test_a_valid_token_passes_and_keys_are_fetched_once(ms: FakeMicrosoft) -> None:
    auth = _authenticator(ms)
    before = ms.metadata_fetches
    for _ in range(3):
        claims = _validate(auth, ms.jwt(), service_url=ms.service_url)
    assert claims["aud"] == APP_ID and claims["iss"] == ISSUER
    assert ms.metadata_fetches == before + 1  # cached


def test_expiry_allows_five_minutes_of_skew(ms: FakeMicrosoft) -> None:
    auth = _authenticator(ms)
    _validate(auth, ms.jwt(expires_in=-240), service_url=ms.service_url)  # 4 min late: ok
    with pytest.raises(AuthError) as err:
        _validate(auth, ms.jwt(expires_in=-360), service_url=ms.service_url)
    assert (err.value.code, err.value.status) == ("expired", 401)


CASES = [
    # (what is wrong, token factory, expected code, expected status)
    ("no header", lambda ms: None, "missing_token", 401),
    ("not bearer", lambda ms: ("Basic", ms.jwt()), "missing_token", 401),
    ("garbage", lambda ms: "not.a.jwt", "malformed_token", 401),
    ("HS256", lambda ms: ms.jwt(algorithm="HS256"), "bad_algorithm", 401),
    ("unknown kid", lambda ms: ms.jwt(kid="someone-else"), "unknown_key", 401),
    ("signed by another key", lambda ms: ms.jwt(key=ms.other_key), "bad_signature", 401),
    ("wrong issuer", lambda ms: ms.jwt(issuer="https://evil.example"), "bad_issuer", 401),
    ("wrong audience", lambda ms: ms.jwt(audience="another-bot"), "bad_audience", 401),
    ("expired", lambda ms: ms.jwt(expires_in=-3600), "expired", 401),
    ("not yet valid", lambda ms: ms.jwt(not_before=9_999_999_999), "not_yet_valid", 401),
    ("no exp", lambda ms: ms.jwt(drop=("exp",)), "invalid_token", 401),
    ("serviceurl claim differs",
     lambda ms: ms.jwt(service_url="https://127.0.0.1:1/teams/"), "serviceurl_mismatch", 403),
]


@pytest.mark.parametrize(("case", "make", "code", "status"), CASES,
                         ids=[c[0] for c in CASES])
def test_each_check_fails_on_its_own(ms: FakeMicrosoft, case: str, make: Any, code: str,
                                     status: int) -> None:
    auth = _authenticator(ms)
    made = make(ms)
    scheme = "Bearer"
    if isinstance(made, tuple):
        scheme, made = made
    with pytest.raises(AuthError) as err:
        _validate(auth, made, service_url=ms.service_url, scheme=scheme)
    assert (err.value.code, err.value.status) == (code, status)


def test_a_key_not_endorsed_for_teams_is_refused(ms: FakeMicrosoft) -> None:
    ms.endorsements = ["skype"]
    with pytest.raises(AuthError) as err:
        _validate(_authenticator(ms), ms.jwt(), service_url=ms.service_url)
    assert (err.value.code, err.value.status) == ("key_not_endorsed", 403)
    # the same key is fine for the channel it is endorsed for
    _validate(_authenticator(ms), ms.jwt(), service_url=ms.service_url, channel="skype")


def test_a_service_url_off_the_allow_list_is_refused(ms: FakeMicrosoft) -> None:
    elsewhere = f"https://localhost:{ms.port}/teams/"  # same server, another origin
    with pytest.raises(AuthError) as err:
        _validate(_authenticator(ms), ms.jwt(service_url=elsewhere), service_url=elsewhere)
    assert (err.value.code, err.value.status) == ("serviceurl_not_allowed", 403)


def test_an_unknown_kid_refetches_at_most_every_five_minutes(ms: FakeMicrosoft) -> None:
    now = [1000.0]
    auth = _authenticator(ms, clock=lambda: now[0])
    _validate(auth, ms.jwt(), service_url=ms.service_url)
    fetches = ms.metadata_fetches
    for _ in range(3):
        with pytest.raises(AuthError):
            _validate(auth, ms.jwt(kid="rotated"), service_url=ms.service_url)
    assert ms.metadata_fetches == fetches  # no refetch storm
    now[0] += 301
    with pytest.raises(AuthError):
        _validate(auth, ms.jwt(kid="rotated"), service_url=ms.service_url)
    assert ms.metadata_fetches == fetches + 1


def test_unreachable_keys_refuse_with_503(ms: FakeMicrosoft) -> None:
    keys = OpenIdKeys("https://127.0.0.1:1/nothing", client=lambda: httpx.AsyncClient())
    auth = BotAuthenticator(app_id=APP_ID, keys=keys, allowed_origins=frozenset([ms.url]))
    with pytest.raises(AuthError) as err:
        _validate(auth, ms.jwt(), service_url=ms.service_url)
    assert err.value.status == 503


def test_refused_requests_are_401_or_403_logged_and_store_nothing(
        teams: TeamsHarness, caplog: pytest.LogCaptureFixture) -> None:
    activity = teams.activity("message", text="meld")
    with caplog.at_level(logging.WARNING, logger="meld.teams"):
        r = teams.post(activity, token=teams.ms.jwt(audience="another-bot"))
        assert (r.status_code, r.json()["code"]) == (401, "bad_audience")
        r = teams.http.post("/api/messages", json=activity)
        assert (r.status_code, r.json()["code"]) == (401, "missing_token")
        other = dict(activity, serviceUrl="https://127.0.0.1:1/teams/")
        r = teams.post(other)  # token for the real serviceUrl, activity names another
        assert (r.status_code, r.json()["code"]) == (403, "serviceurl_mismatch")
    assert "bad_audience" in caplog.text and "serviceurl_mismatch" in caplog.text
    assert teams.door.stored_nothing()
    assert teams.ms.sent == []


def test_bad_bodies_are_400_not_500(teams: TeamsHarness) -> None:
    for body in (b"{", b"[]", b'{"type": "message"}', b'{"type": 5, "serviceUrl": 1}'):
        r = teams.http.post("/api/messages", content=body,
                            headers={"Authorization": f"Bearer {teams.ms.jwt()}",
                                     "Content-Type": "application/json"})
        assert r.status_code == 400, body


def test_msal_token_is_fetched_once_and_cached(ms: FakeMicrosoft) -> None:
    tokens = BotTokens(teams_settings("sqlite://", ms))
    first = tokens.token_sync()
    assert tokens.token_sync() == first
    assert len(ms.token_requests) == 1
    form = ms.token_requests[0]
    assert form["grant_type"] == ["client_credentials"]
    assert form["scope"] == ["https://api.botframework.com/.default"]
    assert form["client_id"] == [APP_ID]


def test_a_wrong_secret_gives_no_token(ms: FakeMicrosoft) -> None:
    tokens = BotTokens(teams_settings("sqlite://", ms, teams_app_password="wrong"))
    with pytest.raises(TokenError, match="invalid_client"):
        tokens.token_sync()


def test_the_token_goes_only_to_allowed_service_urls(ms: FakeMicrosoft) -> None:
    settings = teams_settings("sqlite://", ms)
    import ssl

    tls = ssl.create_default_context(cafile=str(ms.cert))
    connector = Connector(BotTokens(settings), allowed_origins=settings.teams_service_origins,
                          client=lambda: httpx.AsyncClient(verify=tls))
    with pytest.raises(ConnectorError) as err:
        asyncio.run(connector.send("https://evil.example/", "a:1", {"type": "message"}))
    assert err.value.code == "serviceurl_not_allowed" and err.value.permanent
    assert ms.token_requests == [] and ms.sent == []
    asyncio.run(connector.send(ms.service_url, "a:1", {"type": "message", "text": "x"}))
    sent = ms.wait_sent(1)[0]
    assert sent.path == "/v3/conversations/a%3A1/activities"
    assert sent.token and sent.token.startswith("bot-token-")


def test_an_unreachable_token_endpoint_is_a_token_error(ms: FakeMicrosoft) -> None:
    tokens = BotTokens(teams_settings("sqlite://", ms, teams_authority_url="https://127.0.0.1:1"))
    with pytest.raises(TokenError, match="unreachable"):
        tokens.token_sync()


def test_only_the_teams_channel_is_served(teams: TeamsHarness) -> None:
    teams.ms.endorsements = ["msteams", "webchat"]
    activity = dict(teams.activity("message", text="meld"), channelId="webchat")
    r = teams.post(activity)
    assert (r.status_code, r.json()["code"]) == (403, "channel_not_supported")
    assert teams.ms.sent == []


def test_slack_and_teams_together_share_the_group_channel(sqlite_url: str,
                                                          ms: FakeMicrosoft) -> None:
    from bot.teams.notifier import FanOutNotifier, TeamsGroupNotifier
    from intake.app import create_app

    settings = teams_settings(sqlite_url, ms, slack_bot_token="xoxb-test",
                              slack_signing_secret="s" * 32, slack_triage_channel="CTRIAGE")
    app = create_app(settings)
    try:
        group = app.state.worker.notifiers["group"]
        assert isinstance(group, FanOutNotifier)
        assert [type(n).__name__ for n in group.notifiers] == ["SlackGroupNotifier",
                                                               TeamsGroupNotifier.__name__]
        assert {"slack", "teams", "web"} <= set(app.state.worker.notifiers)
    finally:
        app.state.ctx.db.dispose()


def _connector(ms: FakeMicrosoft) -> Connector:
    import ssl

    settings = teams_settings("sqlite://", ms)
    tls = ssl.create_default_context(cafile=str(ms.cert))
    return Connector(BotTokens(settings), allowed_origins=settings.teams_service_origins,
                     client=lambda: httpx.AsyncClient(verify=tls))


def test_card_updates_replace_the_activity(ms: FakeMicrosoft) -> None:
    connector = _connector(ms)
    asyncio.run(connector.update(ms.service_url, "a:1", "activity-9",
                                 {"type": "message", "text": "oppdatert"}))
    [sent] = ms.wait_sent(1)
    assert (sent.method, sent.path) == ("PUT", "/v3/conversations/a%3A1/activities/activity-9")


@pytest.mark.parametrize(("status", "permanent", "retry_after"), [
    (429, False, 7.0), (502, False, None), (503, False, None), (403, True, None),
    (404, True, None),
])
def test_connector_failures_say_whether_to_retry(ms: FakeMicrosoft, status: int,
                                                 permanent: bool,
                                                 retry_after: float | None) -> None:
    from bot.teams.notifier import delivery_error

    ms.fail_next = [status]
    with pytest.raises(ConnectorError) as err:
        asyncio.run(_connector(ms).send(ms.service_url, "a:1", {"type": "message"}))
    delivery = delivery_error(err.value)
    assert delivery.code == f"teams_http_{status}"
    assert (delivery.permanent, delivery.retry_after) == (permanent, retry_after)


def test_a_pooled_connector_reuses_its_client_on_its_loop(ms: FakeMicrosoft) -> None:
    connector = _connector(ms)
    made = []
    factory = connector.client

    def counting() -> httpx.AsyncClient:
        made.append(1)
        return factory()

    connector.client = counting

    async def run() -> None:
        connector.start()
        for _ in range(3):
            await connector.send(ms.service_url, "a:1", {"type": "message"})
        await connector.aclose()

    asyncio.run(run())
    assert len(made) == 1 and len(ms.wait_sent(3)) == 3


def test_msal_uses_the_http_client_it_is_given(ms: FakeMicrosoft) -> None:
    from bot.teams.auth import CaBundleSession

    session = CaBundleSession()
    session.verify = str(ms.cert)
    seen: list[str] = []
    session.hooks["response"].append(lambda r, *a, **k: seen.append(r.request.url))
    tokens = BotTokens(teams_settings("sqlite://", ms), http_client=session)
    assert tokens.token_sync().startswith("bot-token-")
    assert any(url.endswith("/oauth2/v2.0/token") for url in seen)
    assert all(url.startswith(ms.url) for url in seen)  # no instance discovery elsewhere


def test_any_key_source_can_stand_in(ms: FakeMicrosoft) -> None:
    from bot.teams.auth import SigningKey

    class Fixed:
        issuer = ISSUER

        async def get(self, kid: str) -> SigningKey | None:
            return SigningKey(ms.signing_key.public_key(), frozenset({"msteams"}))

    auth = BotAuthenticator(app_id=APP_ID, keys=Fixed(), allowed_origins=frozenset([ms.url]))
    assert _validate(auth, ms.jwt(), service_url=ms.service_url)["aud"] == APP_ID
