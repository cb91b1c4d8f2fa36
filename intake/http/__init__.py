"""The HTTP doors: `api` (the JSON API), `stats_api` (period statistics),
`web` (the form, the receipt and status pages, "Mine meldinger", offline API docs),
`ratelimit` (submission limits) and `deps` (request helpers shared by the routers).

Routers translate a request into ONE call into `intake.services` and render the answer.
The composition root `intake.app` mounts these routers beside the chat doors; nothing
here imports `bot/` or `intake.cli`.
"""
