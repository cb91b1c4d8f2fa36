"""What the group and the committee read: period reports (tertial, annual; `period_report`
aggregates in SQL into `model`, `render` turns that into HTML, CSV and XLSX), the weekly
`digest`, and `spreadsheet` (the one rule for safe CSV and XLSX cells).

May import `intake.domain`, `intake.services` (the Context and audit) and `storage`; never a
door (`intake.http`, `intake.cli`, `bot`). A door posts or shows what these build.
"""
