"""What the two chat doors share: `parsing` splits the working group's chat commands
(`/triage ...` in Slack, the same words to the bot in Teams, mention syntax included) and
`commands` makes ONE call into `intake.services` for each, returning a door-neutral answer
each door renders its own way. Imports `intake`; never `bot.slack` or `bot.teams`.
"""
