"""The domain: what a report is and the rules that hold whatever door it came by.

`model` (kinds, severities, parties, statuses and the one transition table, actors and
roles, domain errors), `taxonomy` (the editable category and place lists, data files in
`data/`), `privacy` (the patient-identifier guard every free text goes through) and
`periods` (ISO weeks, tertials and years in the configured time zone).

Imports nothing from the rest of Meld but `intake.i18n`; everything may import it.
"""
