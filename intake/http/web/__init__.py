"""The web door's server-rendered pages: `form` (the report form and sending it), `status`
(a report's status page and "Mine meldinger"), `report_link` (the period report behind a
private link), `docs` (the offline API docs) and `pages` (what they all share). Each page
module has a `router` that `intake.app` mounts; the modules import `pages`, never each other.
"""
