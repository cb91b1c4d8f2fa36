"""`meld seed-demo`: realistic synthetic reports with triage history, for trying Meld out.

The generator first makes a *plan*: every report and every later step of the working group
and the reporter (assess, ask, answer, reply, redirect, mark duplicate, close, +1), each with
its moment in time. The plan is a pure function of (count, seed, now, taxonomy), so a seed
gives the same data every time. The plan is then played in time order through the real
services (`intake.services`), with the context's clock set to each step's moment, so
references, audit events, notifications and feedback times are exactly what Meld would have
written. Steps that would lie after "now" are left out: recent reports are still waiting.

Every text is made from templates (demo_data/texts.toml, read by `intake.ops.demo_texts`):
no names, no identity numbers, no phone numbers or e-mail addresses. Each one is checked
with `intake.domain.privacy.find_identifiers` before use. The reporters are synthetic
(`slack:UDEMO0001`, `teams:demo-0001`, `web:demo0001`), and the notifications the seeding
queued are marked as delivered, so nobody is messaged.
"""

from __future__ import annotations

import dataclasses
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from intake import services
from intake.domain import privacy
from intake.domain.model import Actor, Role
from intake.domain.taxonomy import Taxonomy
from intake.ops.demo_texts import TEXTS, Theme
from storage import models as m

MAX_REPORTS = 100_000
SPAN_DAYS = 730  # two years back from today

# ---------------------------------------------------------------- vocabulary
# The texts (sentences, places, learning points...) are in demo_data/texts.toml; the numbers
# (how often, how long) are here. The themes and closing texts, by name for the benchmark too:
DEVIATIONS = TEXTS.deviations
SUGGESTIONS = TEXTS.suggestions
INPUTS = TEXTS.inputs
AGREEMENTS = TEXTS.agreements
LEARNING_POINTS = TEXTS.learning_points
MEASURES = TEXTS.measures

# how often each hospital place turns up (the big clinics discharge the most patients)
HOSPITAL_WEIGHTS = {
    "stolav_medisinsk": 25, "stolav_kirurgisk": 15, "stolav_hjerte_lunge": 10,
    "stolav_ortopedi": 10, "stolav_akutt": 8, "stolav_nevro": 7, "stolav_kreft": 7,
    "stolav_psykisk_helse_rus": 6, "stolav_orkdal": 6, "stolav_kvinne_barn": 5,
    "stolav_ohn_kjeve_oye": 3, "stolav_roros": 2,
}
LAB_CATEGORIES = frozenset({"follow_up", "e_messaging"})
REDIRECT_PREFIX = {"eqs": "EQS", "compilo": "Compilo", "tqm": "TQM", "melde_no": "melde.no",
                   "other": "Sak"}

SEVERITY_WEIGHTS = {"none": 30, "minor": 36, "moderate": 14, "significant": 4, "severe": 1,
                    "unknown": 15}
SEVERITY_ORDER = ("none", "minor", "moderate", "significant", "severe")
CHANNELS = (("slack", 50), ("teams", 30), ("web", 20))
PARTY_POOLS = {"gp": 45, "municipality": 45, "hospital": 30, "out_of_hours": 10}


class DemoRefused(Exception):
    """The database already holds reports (and --force was not given)."""

    def __init__(self, count: int) -> None:
        super().__init__(f"{count} reports already")
        self.count = count


class UnsafeDemoText(RuntimeError):
    """A generated text tripped the identifier guard: a bug in the templates."""


def checked(text: str) -> str:
    """A generated text, refused loudly if it looks like it identifies anyone."""
    if privacy.find_identifiers(text):
        raise UnsafeDemoText(f"demo template produced an identifier-like text: {text!r}")
    return text


# ---------------------------------------------------------------- the plan


@dataclass(frozen=True, slots=True)
class Reporter:
    identity: str
    party: str


@dataclass(slots=True)
class Step:
    """One operation at one moment; `report` is the index of the report in the plan."""

    at: datetime
    report: int
    op: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Plan:
    steps: list[Step]
    count: int
    first_day: date
    last_day: date


def _reporters(rng: random.Random) -> dict[str, list[Reporter]]:
    pools: dict[str, list[Reporter]] = {}
    numbers = Counter[str]()
    for party, size in PARTY_POOLS.items():
        pool = []
        for _ in range(size):
            channel = rng.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0]
            numbers[channel] += 1
            n = numbers[channel]
            identity = {"slack": f"slack:UDEMO{n:04d}", "teams": f"teams:demo-{n:04d}",
                        "web": f"web:demo{n:04d}"}[channel]
            pool.append(Reporter(identity, party))
        pools[party] = pool
    pools["other"] = pools["municipality"]
    return pools


GROUP = tuple(Actor(f"slack:UDEMOG{n:02d}", Role.TRIAGER) for n in range(1, 5))


def _day_weights(days: Sequence[date]) -> list[float]:
    """More on weekdays, a summer and Christmas dip, and slowly more as Meld is adopted."""
    out = []
    for i, day in enumerate(days):
        w = 1.0 if day.weekday() < 5 else 0.3
        if day.month == 7 or (day.month == 12 and day.day > 20):
            w *= 0.55
        out.append(w * (0.7 + 0.6 * i / max(len(days) - 1, 1)))
    return out


def _fill(rng: random.Random, text: str, place: str | None) -> str:
    unit = TEXTS.hospital_units.get(place or "", "sykehuset")
    return text.format(
        unit=unit, days=rng.randint(2, 21), weekday=rng.choice(TEXTS.weekdays),
        service=rng.choice(TEXTS.services), drug=rng.choice(TEXTS.drugs),
        test=rng.choice(TEXTS.tests), time_of_day=rng.choice(TEXTS.time_of_day),
    )


_SENTENCE_START = re.compile(r"(^|[.!?] )([a-zæøå])")


def _capitalise(text: str) -> str:
    """Capital letter at the start of every sentence (slots may begin one)."""
    return _SENTENCE_START.sub(lambda mt: mt.group(1) + mt.group(2).upper(), text)


def _usable(themes: Sequence[Theme], taxonomy: Taxonomy) -> list[Theme]:
    """The themes whose category the (editable) taxonomy still offers; a generic one if none."""
    out = []
    for theme in themes:
        category = taxonomy.category(theme.category)
        if category is None or not category.active:
            continue
        if theme.subcategory is not None:
            sub = category.subcategory(theme.subcategory)
            if sub is None or not sub.active:
                theme = dataclasses.replace(theme, subcategory=None)
        out.append(theme)
    if not out:
        first = taxonomy.active_categories()[0]
        out.append(Theme(first.id, None, 1, TEXTS.generic_parties, TEXTS.generic_texts))
    return out


def _hospital_place(rng: random.Random, places: list[str], category: str) -> str | None:
    if not places:
        return None
    weights = [HOSPITAL_WEIGHTS.get(p, 4 if category in LAB_CATEGORIES else 0) for p in places]
    if not any(weights):
        weights = [1] * len(places)
    return rng.choices(places, weights)[0]


def _place(rng: random.Random, party: str, category: str, hospital_places: list[str],
           municipalities: list[str]) -> tuple[str | None, str | None]:
    if party == "hospital":
        return _hospital_place(rng, hospital_places, category), None
    if party in ("municipality", "gp", "out_of_hours"):
        return (rng.choice(municipalities) if municipalities else None), None
    return None, rng.choice(TEXTS.other_places)


def _shifted_severity(rng: random.Random, reported: str) -> str:
    """The group's assessment: mostly the same, sometimes a step up or down."""
    if reported == "unknown":
        return rng.choices(("none", "minor", "moderate"), (3, 5, 2))[0]
    i = SEVERITY_ORDER.index(reported)
    roll = rng.random()
    if roll < 0.18 and i > 0:
        return SEVERITY_ORDER[i - 1]
    if roll > 0.9 and i < len(SEVERITY_ORDER) - 1:
        return SEVERITY_ORDER[i + 1]
    return reported


def _work_time(rng: random.Random, day: date, tz: ZoneInfo) -> datetime:
    """A moment on `day` in working hours (sometimes the evening), as UTC."""
    if rng.random() < 0.85:
        minutes = rng.randint(7 * 60 + 30, 16 * 60 + 30)
    else:
        minutes = rng.randint(17 * 60, 22 * 60 + 30)
    local = datetime.combine(day, dtime(minutes // 60, minutes % 60, rng.randint(0, 59)),
                             tzinfo=tz)
    return local.astimezone(UTC)


def _later(rng: random.Random, after: datetime, tz: ZoneInfo, median_days: float) -> datetime:
    """A working-hours moment some (log-normally many) days after `after`."""
    days = max(0.0, rng.lognormvariate(0, 0.8) * median_days)
    day = (after + timedelta(days=days)).astimezone(tz).date()
    moment = _work_time(rng, day, tz)
    if moment <= after:
        moment = after + timedelta(minutes=rng.randint(20, 240))
    return moment


def plan_demo(*, count: int, seed: int, now: datetime, taxonomy: Taxonomy,
              timezone: str = "Europe/Oslo") -> Plan:
    """Every report and every later step, in time order; the same for the same arguments."""
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not a secret
    tz = ZoneInfo(timezone)
    today = now.astimezone(tz).date()
    days = [today - timedelta(days=SPAN_DAYS - 1 - i) for i in range(SPAN_DAYS)]
    active = {c.id for c in taxonomy.active_categories()}
    hospital_places = [p.id for p in taxonomy.active_places() if p.kind == "hospital"]
    municipalities = [p.id for p in taxonomy.active_places() if p.kind == "municipality"]
    pools = _reporters(rng)
    themes = {kind: _usable(group, taxonomy)
              for kind, group in (("deviation", DEVIATIONS), ("suggestion", SUGGESTIONS),
                                  ("input", INPUTS))}

    occurred = sorted(rng.choices(days, _day_weights(days), k=count))
    steps: list[Step] = []
    submitted: list[tuple[datetime, str, int]] = []  # (when, category, index) for duplicates
    for index, occurred_on in enumerate(occurred):
        kind = rng.choices(("deviation", "suggestion", "input"), (78, 13, 9))[0]
        theme = rng.choices(themes[kind], [t.weight for t in themes[kind]])[0]
        reporter_party, concerned, _w = rng.choices(theme.parties,
                                                    [p[2] for p in theme.parties])[0]
        reporter = rng.choice(pools[reporter_party])
        place, place_text = _place(rng, concerned, theme.category, hospital_places,
                                   municipalities)
        if concerned != "hospital" and rng.random() < 0.5 and reporter_party == "hospital":
            place = _hospital_place(rng, hospital_places, theme.category)  # where it was noticed
        severity = (rng.choices(list(SEVERITY_WEIGHTS), list(SEVERITY_WEIGHTS.values()))[0]
                    if kind == "deviation" else rng.choices(("none", "unknown"), (4, 1))[0])
        text = _capitalise(_fill(rng, rng.choice(theme.texts), place))
        if kind == "deviation" and rng.random() < 0.7:
            text += " " + rng.choice(TEXTS.consequences[severity])
        lag = min(rng.choices((0, 1, 2, 3, 5, 8, 14), (30, 25, 15, 10, 10, 6, 4))[0],
                  (today - occurred_on).days)
        reported_at = _work_time(rng, occurred_on + timedelta(days=lag), tz)
        earlier_today = now - timedelta(minutes=rng.randint(5, 600))  # drawn every time, so
        if reported_at >= now:  # the time of day of the run changes nothing else
            reported_at = earlier_today
            occurred_on = min(occurred_on, reported_at.astimezone(tz).date())
        steps.append(Step(reported_at, index, "submit", {
            "actor": reporter.identity,
            "draft": services.ReportDraft(
                kind=kind, category=theme.category, subcategory=theme.subcategory,
                description=checked(text), occurred_on=occurred_on, severity=severity,
                no_patient_identifiers=True, reporter_party=reporter_party,
                concerned_party=concerned, place=place,
                place_text=checked(place_text) if place_text else None, locale="nb"),
        }))
        steps += _history(rng, index, reported_at, kind, severity, theme, reporter, tz,
                          submitted, pools, active)
        submitted.append((reported_at, theme.category, index))

    cutoff = now - timedelta(minutes=1)
    kept = [s for s in steps if s.at <= cutoff]
    kept.sort(key=lambda s: (s.at, s.report))
    return Plan(kept, count, occurred[0] if occurred else today, today)


def _history(rng: random.Random, index: int, t0: datetime, kind: str, severity: str,
             theme: Theme, reporter: Reporter, tz: ZoneInfo,
             earlier: list[tuple[datetime, str, int]],
             pools: dict[str, list[Reporter]], active: set[str]) -> list[Step]:
    """What happened to one report after it came in (future steps are cut by the caller)."""
    steps: list[Step] = []
    member = rng.choice(GROUP)
    serious = severity in ("significant", "severe")

    def add(at: datetime, op: str, **args: Any) -> datetime:
        steps.append(Step(at, index, op, {"actor": member.identity, **args}))
        return at

    # +1s from colleagues, over the weeks after the report
    backers = 0
    if kind == "suggestion" and rng.random() < 0.6:
        backers = rng.randint(1, 7)
    elif kind == "deviation" and rng.random() < 0.08:
        backers = rng.randint(1, 3)
    others = sorted({r.identity for pool in pools.values() for r in pool} - {reporter.identity})
    for backer in rng.sample(others, backers):
        at = t0 + timedelta(hours=rng.uniform(2, 24 * 45))
        steps.append(Step(at, index, "plus_one", {"actor": backer}))

    assessed = _shifted_severity(rng, severity) if kind == "deviation" else "none"
    t = add(_later(rng, t0, tz, 1.0 if serious else 4.0), "assess", assessed_severity=assessed,
            **_assessment(rng, kind, theme, active))
    if rng.random() < 0.14:
        t = add(t + timedelta(minutes=rng.randint(5, 90)), "request_info",
                question=checked(rng.choice(TEXTS.questions)))
        if rng.random() < 0.88:
            t = _later(rng, t, tz, 2.0)
            steps.append(Step(t, index, "reporter_answer",
                              {"actor": reporter.identity,
                               "text": checked(rng.choice(TEXTS.answers))}))
        else:  # no answer: after some weeks the group goes on with what it has
            t = add(_later(rng, t, tz, 21.0), "move_status", status="triage",
                    message=checked(TEXTS.no_answer))
    if rng.random() < 0.5:
        t = add(_later(rng, t, tz, 2.0), "reply", text=checked(rng.choice(TEXTS.replies)))

    roll = rng.random()
    later = _later(rng, t, tz, 3.0)
    same_topic = [i for when, cat, i in earlier if cat == theme.category and when < t0]
    if serious or (kind == "deviation" and roll < 0.12):
        target = rng.choices(("eqs", "compilo", "tqm", "melde_no", "other"),
                             (45, 32, 12, 8 if serious else 0, 3))[0]
        ext = f"{REDIRECT_PREFIX[target]}-{later.astimezone(tz).year}-{rng.randint(100, 9999):04d}"
        t = add(later, "redirect", target=target, external_reference=checked(ext))
        close = (*TEXTS.closing["redirected"], 0.6, 20.0)
    elif roll < 0.19:
        t = add(later, "move_status", status="rejected",
                message=checked(rng.choice(TEXTS.reject_messages)))
        close = (*TEXTS.closing["rejected"], 0.8, 5.0)
    elif roll < 0.26 and same_topic:
        t = add(later, "mark_duplicate", duplicate_of=rng.choice(same_topic[-30:]))
        close = (*TEXTS.closing["duplicate"], 0.8, 5.0)
    else:  # measures; some wait long for them (those stay "being assessed" for a while)
        if roll >= 0.93:
            later = _later(rng, t, tz, 35.0)
        message = checked(rng.choice(TEXTS.status_messages)) if rng.random() < 0.5 else None
        t = add(later, "move_status", status="in_progress", message=message)
        close = (*TEXTS.fitting.get(theme.category, TEXTS.fitting_other), 0.75, 25.0)
    learning, measures, share, median = close
    if rng.random() < share:
        t = add(_later(rng, t, tz, median), "close",
                learning_point=checked(rng.choice(learning)),
                measure=checked(rng.choice(measures)))
        if rng.random() < 0.02:
            t = add(_later(rng, t, tz, 10.0), "reopen")
            t = add(_later(rng, t, tz, 3.0), "move_status", status="in_progress", message=None)
            add(_later(rng, t, tz, 20.0), "close",
                learning_point=checked(rng.choice(learning)),
                measure=checked(rng.choice(measures)))
    return steps


def _assessment(rng: random.Random, kind: str, theme: Theme,
                active: set[str]) -> dict[str, Any]:
    args: dict[str, Any] = {}
    if kind == "deviation" and rng.random() < 0.3:
        args["agreement_reference"] = checked(rng.choice(AGREEMENTS))
    elif kind == "deviation" and rng.random() < 0.3:
        args["guideline_breached"] = False
    if kind == "deviation" and theme.subcategory is None and rng.random() < 0.1:
        other = "routines" if theme.category != "routines" else "other"
        if other in active:  # the group files it under another category
            args["category"] = other
    return args


# ---------------------------------------------------------------- playing it


class _Clock:
    """The context's clock during seeding: set to each step's moment."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass(frozen=True, slots=True)
class DemoSummary:
    reports: int
    first_day: date
    last_day: date
    by_status: dict[str, int]
    by_kind: dict[str, int]
    messages: int
    plus_ones: int
    delivered: int
    seconds: float


def count_reports(ctx: services.Context) -> int:
    with ctx.db.reading() as session:
        return session.scalar(select(func.count()).select_from(m.Report)) or 0


def seed_demo(*, ctx: services.Context, count: int = 500, seed: int = 42,
              force: bool = False,
              progress: Callable[[int, int], None] | None = None) -> DemoSummary:
    """Fill the database with `count` demo reports; refuses a non-empty one unless `force`."""
    if not 1 <= count <= MAX_REPORTS:
        raise ValueError(f"count must be between 1 and {MAX_REPORTS}")
    existing = count_reports(ctx)
    if existing and not force:
        raise DemoRefused(existing)
    started = time.perf_counter()
    now = ctx.clock()
    plan = plan_demo(count=count, seed=seed, now=now, taxonomy=ctx.taxonomy,
                     timezone=ctx.settings.timezone)
    with ctx.db.reading() as session:
        outbox_before = session.scalar(select(func.max(m.OutboxMessage.id))) or 0
        report_before = session.scalar(select(func.max(m.Report.id))) or 0

    clock = _Clock(now)
    demo_ctx = dataclasses.replace(ctx, clock=clock)
    references: dict[int, str] = {}
    group = {a.identity: a for a in GROUP}
    done = 0
    for step in plan.steps:
        clock.now = step.at
        args = dict(step.args)
        identity = args.pop("actor")
        actor = group.get(identity) or Actor(identity, Role.REPORTER)
        if step.op == "submit":
            receipt = services.submit_report(ctx=demo_ctx, actor=actor, draft=args["draft"])
            references[step.report] = receipt.reference
            done += 1
            if progress is not None and done % 100 == 0:
                progress(done, count)
            continue
        if "duplicate_of" in args:
            args["duplicate_of"] = references[args["duplicate_of"]]
        operation = getattr(services, step.op)
        operation(ctx=demo_ctx, actor=actor, reference=references[step.report], **args)

    with ctx.db.transaction() as session:
        # Nobody is messaged about demo data: every notice it queued counts as sent.
        delivered = session.execute(
            update(m.OutboxMessage)
            .where(m.OutboxMessage.id > outbox_before, m.OutboxMessage.delivered_at.is_(None))
            .values(delivered_at=m.OutboxMessage.created_at, attempts=1)
        ).rowcount or 0
    with ctx.db.reading() as session:
        mine = m.Report.id > report_before
        by_status = dict(session.execute(
            select(m.Report.status, func.count()).where(mine).group_by(m.Report.status)).all())
        by_kind = dict(session.execute(
            select(m.Report.kind, func.count()).where(mine).group_by(m.Report.kind)).all())
        messages = session.scalar(
            select(func.count()).select_from(m.Message).where(m.Message.report_id > report_before)
        ) or 0
        plus = session.scalar(
            select(func.count()).select_from(m.PlusOne).where(m.PlusOne.report_id > report_before)
        ) or 0
    return DemoSummary(
        reports=sum(by_status.values()), first_day=plan.first_day, last_day=plan.last_day,
        by_status=by_status, by_kind=by_kind, messages=messages, plus_ones=plus,
        delivered=delivered, seconds=time.perf_counter() - started,
    )
