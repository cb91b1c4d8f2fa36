"""Meld intake: the service every door (Slack, Teams, web, API, CLI) calls."""
