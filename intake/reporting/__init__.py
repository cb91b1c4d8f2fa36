"""What the group and the committee read, and `spreadsheet` (the one rule for safe CSV and
XLSX cells):

- period reports (tertial, annual): `period_report` builds the `model` from the statements
  of `period_counts` (the breakdowns) and `period_figures` (feedback, trend, learning
  points); `render_html` (with `render_charts`) and `render_tables` (CSV, XLSX) render it,
  with the suppression rule and formatting of `render_common`;
- the weekly digest: `digest` (the `Digest` and `build_digest`, ISO weeks) from the SQL of
  `digest_query`; `digest_text` words it; `digest_schedule` posts it on schedule, exactly
  once per week;
- the tertial newsletter: `newsletter` (its content and shapes, built over a session with
  no `intake.services` import, so that `intake.services.newsletter` may use it without a
  circle), rendered by `newsletter_render` (HTML) and `newsletter_pdf` (fpdf2).

May import `intake.domain`, `intake.services` (the Context and audit) and `storage`; never a
door (`intake.http`, `intake.cli`, `bot`). A door posts or shows what these build.
"""
