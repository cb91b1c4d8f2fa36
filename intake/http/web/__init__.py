"""The web door's server-rendered pages: `form` (the report form and sending it), `status`
(a report's status page and "Mine meldinger"), `report_link` (the period report behind a
private link), `docs` (the offline API docs), `mail_links` (stopping notices by e-mail) and
`pages` (what they all share). The group's board: `board` (signing in with a link, the
list), `board_entra` (signing in with Entra ID), `board_report` (one report, its timeline
and forms), `board_measures`, `board_meeting` (the meeting view and the reports), and
`board_common` (the board's session, CSRF and guard). Each page module has a `router` that
`intake.app` mounts; the modules import `pages` and `board_common` (and `report_link`'s
policy for self-contained documents), never each other otherwise.
"""
