"""Getting notices out: the outbox worker (`outbox`: claim, deliver, retry with backoff,
park unknown outcomes for a person) and the `Notifier` protocol every channel implements.

The use cases write outbox rows in their own transaction; this package delivers them after
the commit. Channels (Slack, Teams, the web status page, later e-mail) implement
`Notifier` in their own door and are handed to the worker by the composition root
(`intake.app`). Imports `storage` and `intake.domain`; never a door.
"""
