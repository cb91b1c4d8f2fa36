"""The weekly digest in Teams: one Adaptive Card, posted to the group's channel
(bot.teams.notifier.TeamsDigestPoster).

The content comes from `intake.reporting.digest.Digest` (door-neutral) and its shared
wording (`intake.reporting.digest_text`); here it only gets its card. The group's learning
points and measures are plain text runs (`cards.plain`), never read as Markdown; long
lists end with "… and N more".
"""

from __future__ import annotations

from typing import Any

from microsoft_teams.cards import AdaptiveCard, CardElement, Fact, FactSet, TextBlock

from bot.teams.cards import dump, plain
from intake.i18n import Translator
from intake.reporting import digest_text as d
from intake.reporting.digest import Digest

LIST_MAX = 15  # lines per list in the digest card; the rest as "… and N more"


def _list(heading: str, lines: list[str], total: int, tr: Translator) -> list[CardElement]:
    shown = lines[:LIST_MAX]
    text = "\n".join(f"- {line}" for line in shown)
    if total > len(shown):
        text += "\n\n" + d.more_line(total - len(shown), tr)
    return [TextBlock(text=heading, weight="Bolder", wrap=True, separator=True),
            TextBlock(text=text or tr("None."), wrap=True)]


def digest_card(digest: Digest, tr: Translator) -> dict[str, Any]:
    """The weekly digest (content from intake.reporting.digest) as one Adaptive Card."""
    g = digest
    body: list[CardElement] = [
        TextBlock(text=d.title(g, tr), size="Large", weight="Bolder", wrap=True),
        TextBlock(text=d.period_line(g, tr), is_subtle=True, wrap=True, spacing="None"),
        TextBlock(text=d.summary_line(g, tr), weight="Bolder", wrap=True),
    ]
    if not g.is_empty or g.previous_weeks_total:
        body.append(TextBlock(text=d.trend_line(g, tr), wrap=True))
    if not g.is_empty:
        for heading, rows in d.breakdowns(g, tr):
            body += [TextBlock(text=heading, weight="Bolder", wrap=True),
                     FactSet(facts=[Fact(title=name, value=str(count))
                                    for name, count in rows[:LIST_MAX]])]
    body += _list(d.waiting_heading(g, tr), [d.waiting_line(w, tr) for w in g.waiting],
                  g.waiting_total, tr)
    if g.overdue:
        body += _list(d.overdue_heading(g, tr), [d.overdue_line(o, tr) for o in g.overdue],
                      g.overdue_total, tr)
    if g.needs_info:
        body += _list(tr("Waiting for more information from the reporter"),
                      [d.needs_info_line(n, tr) for n in g.needs_info], g.needs_info_total,
                      tr)
    if g.unread:
        body += _list(d.unread_heading(g, tr), [d.unread_line(u, tr) for u in g.unread],
                      g.unread_total, tr)
    if g.learned:
        body.append(TextBlock(text=tr("This we have learned (closed this week)"),
                              weight="Bolder", wrap=True, separator=True))
        for item in g.learned[:LIST_MAX]:
            body += [plain(f"{item.reference} · {item.category}", weight="Bolder"),
                     plain(f"{tr('Learning point')}: {item.learning_point[:1200]}"),
                     plain(f"{tr('Measure')}: {item.measure[:1200]}")]
        if g.learned_total > min(len(g.learned), LIST_MAX):
            body.append(TextBlock(text=d.more_line(
                g.learned_total - min(len(g.learned), LIST_MAX), tr), wrap=True))
    if g.top_suggestions:
        body += _list(tr("Most supported suggestions"),
                      [d.suggestion_line(s, tr) for s in g.top_suggestions],
                      len(g.top_suggestions), tr)
    return dump(AdaptiveCard(body=body))
