"""The HTTP doors and the composition root.

`app` builds the one FastAPI app from Settings: it is the composition root, the one place
that knows every door (the Slack and Teams doors from `bot/` are mounted here) and wires
the notifiers to the outbox worker. `api` (the JSON API), `stats_api` (period statistics),
`web` (the form, the receipt and status pages, "Mine meldinger", offline API docs),
`ratelimit` (submission limits) and `deps` (request helpers shared by the routers).

Routers translate a request into ONE call into `intake.services` and render the answer.
Only `app` may import `bot/`; nothing in `intake` outside this package imports it.
"""
