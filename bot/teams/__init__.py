"""The Microsoft Teams door: the Bot Framework protocol implemented directly.

botbuilder-python is archived and microsoft-agents-hosting-teams needs Python >= 3.12, so:

- auth.py: inbound JWTs with PyJWT (+ cryptography) against the Bot Framework's OpenID
  metadata and JWKS, checked before the body is parsed; the single-tenant rule every
  activity must pass; outbound tokens with msal (client credentials, single tenant).
- connector.py: the few Bot Connector REST calls Meld makes (httpx), allow-listed origins.
- Activities are parsed with microsoft-agents-activity (pydantic models only, installs on
  3.11): typed fields and camelCase aliases without hand-written models.
- cards.py: Adaptive Cards built with microsoft-teams-cards (pydantic models, version 1.5,
  installs on 3.11), so element shapes are validated before anything is sent.
- door.py: activity -> one service call -> card or text; app.py: POST /api/messages;
  notifier.py: outbox channels (reporter chats, the group channel, the digest);
  package.py: `meld teams-package`.
"""
