"""`meld seed-demo`: realistic synthetic reports with triage history, for trying Meld out.

The generator first makes a *plan*: every report and every later step of the working group
and the reporter (assess, ask, answer, reply, redirect, mark duplicate, close, +1), each with
its moment in time. The plan is a pure function of (count, seed, now, taxonomy), so a seed
gives the same data every time. The plan is then played in time order through the real
services (`intake.services`), with the context's clock set to each step's moment, so
references, audit events, notifications and feedback times are exactly what Meld would have
written. Steps that would lie after "now" are left out: recent reports are still waiting.

Every text is made from templates: no names, no identity numbers, no phone numbers or
e-mail addresses. Each one is checked with `intake.domain.privacy.find_identifiers` before use.
The reporters are synthetic (`slack:UDEMO0001`, `teams:demo-0001`, `web:demo0001`), and the
notifications the seeding queued are marked as delivered, so nobody is messaged.
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
from storage import models as m

MAX_REPORTS = 100_000
SPAN_DAYS = 730  # two years back from today

# ---------------------------------------------------------------- vocabulary

WEEKDAYS = ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag")
SERVICES = ("hjemmesykepleien", "hjemmetjenesten", "korttidsavdelingen", "sykehjemmet",
            "helsehuset", "tildelingskontoret", "den kommunale akutte døgnenheten")
DRUGS = ("blodfortynnende", "insulin", "vanndrivende", "smertestillende",
         "antibiotika", "blodtrykksmedisin", "epilepsimedisin", "kvalmestillende")
TESTS = ("blodprøvesvar", "røntgensvar", "CT-svar", "biopsisvar", "bakteriologisk svar",
         "EKG-tolkning")
TIMES = ("sent på ettermiddagen", "på kvelden", "rett før helgen", "om morgenen",
         "midt på dagen", "i helgen")
# how often each hospital place turns up (the big clinics discharge the most patients)
HOSPITAL_WEIGHTS = {
    "stolav_medisinsk": 25, "stolav_kirurgisk": 15, "stolav_hjerte_lunge": 10,
    "stolav_ortopedi": 10, "stolav_akutt": 8, "stolav_nevro": 7, "stolav_kreft": 7,
    "stolav_psykisk_helse_rus": 6, "stolav_orkdal": 6, "stolav_kvinne_barn": 5,
    "stolav_ohn_kjeve_oye": 3, "stolav_roros": 2,
}
LAB_CATEGORIES = frozenset({"follow_up", "e_messaging"})
HOSPITAL_UNITS = {
    "stolav_akutt": "akuttklinikken",
    "stolav_medisinsk": "medisinsk klinikk",
    "stolav_kirurgisk": "kirurgisk klinikk",
    "stolav_hjerte_lunge": "hjerte-lungeklinikken",
    "stolav_kreft": "kreftklinikken",
    "stolav_nevro": "nevroklinikken",
    "stolav_ortopedi": "ortopedisk klinikk",
    "stolav_kvinne_barn": "kvinne-barn-klinikken",
    "stolav_psykisk_helse_rus": "klinikk for psykisk helse og rus",
    "stolav_ohn_kjeve_oye": "øre-nese-hals",
    "stolav_lab_bilde": "laboratoriet",
    "stolav_orkdal": "sykehuset på Orkdal",
    "stolav_roros": "sykehuset på Røros",
}

# (reporter_party, concerned_party, weight): who usually reports what, about whom
GP_HOSP = (("gp", "hospital", 8), ("out_of_hours", "hospital", 1))
MUN_HOSP = (("municipality", "hospital", 8), ("gp", "hospital", 1))
HOSP_GP = (("hospital", "gp", 6), ("hospital", "municipality", 2))
HOSP_MUN = (("hospital", "municipality", 6), ("hospital", "out_of_hours", 1))
MIXED = (("gp", "hospital", 4), ("municipality", "hospital", 3), ("hospital", "gp", 2),
         ("hospital", "municipality", 2), ("out_of_hours", "hospital", 1),
         ("gp", "municipality", 1), ("municipality", "gp", 1))


@dataclass(frozen=True, slots=True)
class Theme:
    """What one kind of report is about: category, who reports it, and ways to tell it."""

    category: str
    subcategory: str | None
    weight: float
    parties: tuple[tuple[str, str, int], ...]
    texts: tuple[str, ...]


DEVIATIONS: tuple[Theme, ...] = (
    Theme("discharge_summary", "missing", 9, GP_HOSP, (
        "Pasienten var utskrevet fra {unit}, men epikrisen var ikke kommet til fastlegen "
        "{days} dager senere. Måtte ringe sykehuset for å få vite hva som var gjort.",
        "Ingen epikrise etter innleggelse på {unit}. Pasienten kom til kontroll hos "
        "fastlegen uten at legen visste om oppholdet.",
        "Epikrise mangler etter utskriving fra {unit}. Pasienten visste ikke selv hvilke "
        "endringer som var gjort i behandlingen.",
    )),
    Theme("discharge_summary", "late", 8, GP_HOSP, (
        "Epikrisen kom {days} dager etter utskriving fra {unit}. I mellomtiden hadde "
        "pasienten vært hos fastlegen uten at oppdatert informasjon var tilgjengelig.",
        "Forsinket epikrise fra {unit}: sendt først etter {days} dager. Oppfølgingen som "
        "var bestilt skulle skje innen en uke.",
    )),
    Theme("discharge_summary", "incomplete", 7, GP_HOSP, (
        "Epikrisen fra {unit} sier ikke hvem som skal følge opp {test}. Uklart om fastlegen "
        "eller sykehuset har ansvaret.",
        "Epikrisen mangler begrunnelse for at {drug} ble seponert. Fastlegen må gjette seg "
        "til om det skal startes igjen.",
        "Epikrise fra {unit} uten plan for videre oppfølging, og uten oppdatert "
        "legemiddelliste.",
    )),
    Theme("discharge_summary", "wrong_recipient", 3, GP_HOSP, (
        "Epikrisen ble sendt til tidligere fastlege, ikke til nåværende. Kom frem via "
        "omveier etter {days} dager.",
        "Epikrise fra {unit} sendt til feil legekontor. Kontoret videresendte, men "
        "informasjonen kom for sent til planlagt kontroll.",
    )),
    Theme("discharge_summary", "outpatient_note_missing", 3, GP_HOSP, (
        "Poliklinisk notat fra {unit} er ikke sendt fastlegen. Pasienten fortalte om "
        "endret behandling som legen ikke kjente til.",
        "Etter poliklinisk time på {unit} kom det ikke noe notat. Fastlegen fikk forespørsel "
        "om resept uten å vite om endringen.",
    )),
    Theme("discharge_notice", "discharged_without_notice", 8, MUN_HOSP, (
        "Pasienten ble skrevet ut fra {unit} {time_of_day} uten at {service} var varslet. "
        "Pasienten kom hjem uten nødvendig hjelp på plass.",
        "Utskrevet fra {unit} en {weekday} uten melding til kommunen. {service} fikk vite om "
        "det fra pårørende.",
        "Ingen melding om utskriving fra {unit}. Hjelpemidler og tilsyn var ikke på plass da "
        "pasienten kom hjem.",
    )),
    Theme("discharge_notice", "ready_for_discharge_notice", 6, MUN_HOSP, (
        "Melding om utskrivningsklar pasient kom {time_of_day} med beskjed om utskriving "
        "samme dag. For kort tid til å forberede {service}.",
        "Melding om utskrivningsklar pasient fra {unit} manglet opplysninger om "
        "funksjonsnivå og hjelpebehov.",
    )),
    Theme("discharge_notice", "discharge_timing", 5, MUN_HOSP, (
        "Pasienten ble sendt hjem fra {unit} en {weekday} {time_of_day}. {service} hadde ikke "
        "bemanning til å ta imot før dagen etter.",
        "Utskriving fra {unit} sent på kvelden med drosje. Ingen fra {service} var varslet om "
        "tidspunktet.",
    )),
    Theme("discharge_notice", "admission_notice", 4, MUN_HOSP, (
        "{service} fikk ikke melding om at pasienten var innlagt på {unit}. Hjemmebesøk "
        "ble gjennomført til tomt hus.",
        "Innleggelsesrapport ble ikke sendt fra {unit}. Kommunen fikk ikke gitt "
        "opplysninger om pasientens funksjon før vurderingen.",
    )),
    Theme("discharge_notice", "discharge_report_missing", 4, MUN_HOSP, (
        "Utskrivningsrapport til {service} manglet. Sykepleierne måtte ringe avdelingen for "
        "å få vite om sårstell og {drug}.",
        "Pasienten kom tilbake til {service} uten utskrivningsrapport fra {unit}.",
    )),
    Theme("medication", "med_list", 5, MIXED, (
        "Legemiddellisten i epikrisen fra {unit} stemmer ikke med det pasienten fikk med seg "
        "hjem. {drug} står oppført to ganger med ulik dose.",
        "Legemiddellisten fra {unit} var ikke oppdatert. {service} ga {drug} etter gammel "
        "liste i {days} dager.",
    )),
    Theme("medication", "unexplained_change", 4, GP_HOSP, (
        "Dosen av {drug} ble endret under oppholdet på {unit} uten at det er forklart i "
        "epikrisen.",
        "{drug} er seponert under innleggelsen uten begrunnelse. Fastlegen vet ikke om det "
        "var tilsiktet.",
    )),
    Theme("medication", "prescription_supply", 3, MUN_HOSP, (
        "Pasienten ble skrevet ut en {weekday} uten resept på {drug}, og apoteket hadde "
        "stengt. {service} måtte skaffe medisin via legevakten.",
        "Pasienten kom hjem fra {unit} med medisiner for bare ett døgn. Ny resept var ikke "
        "sendt.",
    )),
    Theme("referral", "rejected_or_returned", 5, GP_HOSP, (
        "Henvisning til {unit} ble returnert uten at det kom frem hva som manglet.",
        "Henvisningen ble avvist av {unit} med beskjed om at pasienten kan henvises på nytt "
        "ved forverring. Vurderingen er ikke forklart.",
    )),
    Theme("referral", "unanswered", 3, GP_HOSP, (
        "Ingen tilbakemelding på henvisning sendt til {unit} for {days} dager siden. "
        "Pasienten har ikke fått innkalling.",
        "Henvisning til {unit} er ikke besvart. Fastlegen fikk ikke kvittering på at den var "
        "mottatt.",
    )),
    Theme("referral", "incomplete", 3, HOSP_GP, (
        "Henvisningen manglet problemstilling og oppdatert legemiddelliste. Vurderingen ble "
        "forsinket.",
        "Henvisning uten opplysninger om {test}. Sykehuset måtte be om mer informasjon før "
        "prioritering.",
    )),
    Theme("referral", "misrouted", 2, MIXED, (
        "Henvisningen ble sendt til feil avdeling og ble liggende i {days} dager før den ble "
        "videresendt til {unit}.",
    )),
    Theme("admission", "admission_report_missing", 3, HOSP_MUN, (
        "Pasienten kom til {unit} fra {service} uten innleggelsesrapport. Vi visste ikke "
        "hvilken hjelp pasienten hadde hjemme.",
        "Innleggelse fra kommunen uten opplysninger om funksjonsnivå og {drug}.",
    )),
    Theme("admission", "physician_info_missing", 3, HOSP_GP, (
        "Innleggelse via legevakten uten legeopplysninger om aktuell sykdom og "
        "legemidler. Vakthavende måtte innhente alt på nytt.",
        "Innleggelsesskriv manglet viktige opplysninger om tidligere {test}.",
    )),
    Theme("follow_up", "test_results", 5, GP_HOSP, (
        "{test} tatt på {unit} ble sendt fastlegen uten beskjed om hvem som skulle følge opp. "
        "Funnet ble først oppdaget {days} dager senere.",
        "Fastlegen fikk {test} fra sykehuset uten at det var avtalt. Uklart om svaret var "
        "vurdert av sykehuset.",
    )),
    Theme("follow_up", "follow_up_appointment", 4, GP_HOSP, (
        "Epikrisen sier kontroll om seks uker, men ingen har bestilt timen. Fastlegen vet ikke "
        "om sykehuset eller legen skal gjøre det.",
        "Pasienten fikk ikke planlagt kontroll på {unit}. Ble fanget opp av fastlegen etter "
        "{days} dager.",
    )),
    Theme("follow_up", "unclear_responsibility", 4, MIXED, (
        "Uklart hvem som har ansvar for oppfølging av {test} etter utskriving fra {unit}.",
        "Både sykehuset og fastlegen trodde den andre fulgte opp. Ingen gjorde det på "
        "{days} dager.",
    )),
    Theme("e_messaging", "not_received", 4, MIXED, (
        "Elektronisk melding fra {unit} kom aldri frem. Avsender fikk ikke varsel om at den "
        "feilet.",
        "Dialogmelding sendt til {service} ble ikke mottatt. Ble oppdaget ved en telefon "
        "{days} dager senere.",
    )),
    Theme("e_messaging", "addressing", 3, MIXED, (
        "Melding adressert til feil enhet i kommunen. {service} fikk den først etter {days} "
        "dager.",
        "Feil i adresseregisteret gjorde at epikrisen gikk til et legekontor som er lagt ned.",
    )),
    Theme("e_messaging", "technical", 2, MIXED, (
        "Teknisk feil i meldingsutvekslingen: meldinger fra {unit} kom frem uten vedlegg.",
        "Meldingene hopet seg opp etter en oppdatering og kom frem først dagen etter.",
    )),
    Theme("e_messaging", "dialogue_unanswered", 3, GP_HOSP, (
        "Dialogmelding til {unit} med spørsmål om {drug} er ikke besvart etter {days} dager.",
        "Spørsmål sendt som dialogmelding ble ikke besvart. Måtte ringe for å få svar.",
    )),
    Theme("reachability", None, 4, MIXED, (
        "Fikk ikke tak i vakthavende lege på {unit} på telefon. Ventet i over en halvtime "
        "{time_of_day}.",
        "Sentralbordet satte over til feil avdeling flere ganger. Ga opp etter tre forsøk.",
        "{service} fikk ikke svar fra sykehuset om pasientens behov før utskriving.",
    )),
    Theme("routines", None, 3, MIXED, (
        "Rutinen for utskriving i samarbeidsavtalen ble ikke fulgt: pasienten ble sendt hjem "
        "før {service} hadde bekreftet at de var klare.",
        "Ulik praksis mellom avdelingene på {unit} for når kommunen skal varsles.",
    )),
    Theme("competence", None, 1, MIXED, (
        "Nyansatte på {unit} kjente ikke til rutinen for melding til kommunen ved utskriving.",
        "{service} manglet opplæring i utstyret pasienten kom hjem med.",
    )),
    Theme("other", None, 1, MIXED, (
        "Transport hjem fra {unit} var ikke bestilt. Pasienten ventet i mottaket i flere "
        "timer.",
        "Hjelpemidler ble ikke levert før pasienten kom hjem.",
    )),
)

SUGGESTIONS: tuple[Theme, ...] = (
    Theme("discharge_summary", "late", 3, GP_HOSP, (
        "Forslag: send en kort foreløpig epikrise samme dag som utskriving, og den fullstendige "
        "senere.",
    )),
    Theme("discharge_notice", "ready_for_discharge_notice", 3, MUN_HOSP, (
        "Forslag: avtal et fast tidspunkt for melding om utskrivningsklare pasienter, slik at "
        "kommunen rekker å planlegge.",
        "Forslag: ikke skriv ut pasienter til hjemmetjenesten etter klokken 15 uten avtale.",
    )),
    Theme("routines", None, 4, MIXED, (
        "Forslag: lag en felles sjekkliste for utskriving av skrøpelige eldre.",
        "Forslag: samle rutinene fra samarbeidsavtalen på én side som er lett å finne.",
        "Forslag: faste samhandlingsmøter mellom {unit} og kommunen hver tertial.",
    )),
    Theme("competence", None, 3, MIXED, (
        "Forslag: en kort e-læring om hvordan man melder samhandlingsavvik.",
        "Forslag: introduksjon til samarbeidsavtalen for nyansatte leger på sykehuset.",
    )),
    Theme("e_messaging", "dialogue_unanswered", 2, GP_HOSP, (
        "Forslag: en felles frist for å besvare dialogmeldinger mellom sykehus og fastleger.",
    )),
    Theme("reachability", None, 2, GP_HOSP, (
        "Forslag: et eget telefonnummer til vakthavende for fastleger og legevakt.",
    )),
    Theme("medication", "med_list", 2, MIXED, (
        "Forslag: legemiddelliste alltid som eget vedlegg i epikrisen, med endringer merket.",
    )),
)

INPUTS: tuple[Theme, ...] = (
    Theme("follow_up", "unclear_responsibility", 3, MIXED, (
        "Spørsmål: hvem har ansvaret for å følge opp {test} som kommer etter utskriving?",
        "Hvem skal bestille kontroll når epikrisen sier at det skal skje om tre måneder?",
    )),
    Theme("routines", None, 3, MIXED, (
        "Gjelder rutinen for utskriving også for pasienter som skrives ut i helgen?",
        "Hvor finner jeg den gjeldende versjonen av samarbeidsavtalen?",
    )),
    Theme("referral", "rejected_or_returned", 2, GP_HOSP, (
        "Innspill: returnerte henvisninger bør alltid ha en kort begrunnelse.",
    )),
    Theme("other", None, 2, MIXED, (
        "Innspill: det er uklart hvilke saker som skal meldes her og hvilke som skal i eget "
        "avvikssystem.",
    )),
)

GENERIC_TEXTS = (
    "Samhandlingen mellom {unit} og kommunen fungerte ikke som avtalt.",
    "Informasjon som skulle fulgt pasienten kom ikke frem i tide.",
)

CONSEQUENCES = {
    "none": ("Ingen konsekvens for pasienten denne gangen.",
             "Fikk løst det på telefon, men det tok tid."),
    "minor": ("Ga ekstra arbeid og forsinket oppfølgingen noe.",
              "Pasienten måtte vente unødvendig, men fikk ingen skade."),
    "moderate": ("Pasienten fikk forverring og trengte ekstra oppfølging.",
                 "Behandlingen ble forsinket med flere dager."),
    "significant": ("Pasienten måtte legges inn på nytt etter kort tid.",
                    "Feilen førte til betydelig forverring før den ble oppdaget."),
    "severe": ("Hendelsen ga alvorlig skade. Meldt også i eget avvikssystem.",),
    "unknown": ("Vet ikke om det fikk følger for pasienten.",),
}

QUESTIONS = (
    "Kan du si omtrent når dette skjedde, og hvilken avdeling det gjaldt?",
    "Var dette første gang, eller har du opplevd det samme tidligere?",
    "Vet du om avdelingen er kjent med hendelsen?",
    "Kan du beskrive hva som manglet, uten å oppgi noe om pasienten?",
)
ANSWERS = (
    "Det gjaldt en sengepost på medisinsk klinikk, i uken før helgen.",
    "Vi har opplevd det samme flere ganger det siste halvåret.",
    "Avdelingen er ikke informert av oss. Vi tok det direkte hit.",
    "Det manglet plan for oppfølging og oppdatert legemiddelliste.",
)
NO_ANSWER = "Vi har ikke fått svar, og vurderer saken ut fra det vi har."
REPLIES = (
    "Takk for meldingen. Vi har tatt saken opp med avdelingen og kommer tilbake til deg.",
    "Takk! Saken er drøftet i Forbedringsgruppen, og vi følger den opp med klinikken.",
    "Vi ser flere meldinger om det samme og tar det opp på neste samhandlingsmøte.",
    "Takk for innspillet. Vi har sendt det videre til de som eier rutinen.",
)
STATUS_MESSAGES = (
    "Avdelingen har startet en gjennomgang av rutinen.",
    "Klinikken har fått tilbakemelding og lager et tiltak.",
    "Vi har avtalt oppfølging med kommunen og sykehuset.",
)
REJECT_MESSAGES = (
    "Dette gjelder forhold internt i én virksomhet og bør meldes i eget avvikssystem.",
    "Saken ligger utenfor samarbeidsavtalen. Vi anbefaler å ta den opp med nærmeste leder.",
)
LEARNING_POINTS = (
    "Epikrise må sendes samme dag som pasienten skrives ut, også før helg.",
    "Kommunen må varsles før utskriving, ikke etter.",
    "Ansvar for oppfølging av prøvesvar må stå tydelig i epikrisen.",
    "Legemiddelendringer må begrunnes i epikrisen.",
    "Meldinger om utskrivningsklare pasienter må sendes tidlig nok til at kommunen kan "
    "planlegge.",
    "Returnerte henvisninger trenger en begrunnelse fastlegen kan handle på.",
    "Feil i adresseregisteret rammer mange meldinger; de må rettes ved kilden.",
    "Nyansatte kjenner ikke rutinene i samarbeidsavtalen godt nok.",
    "Dialogmeldinger blir liggende når ingen har ansvar for innboksen.",
    "Telefonen til vakthavende er vanskelig å nå for fastleger på dagtid.",
)
MEASURES = (
    "Klinikken har innført sjekkliste ved utskriving.",
    "Rutinen for utskriving er gjennomgått på avdelingsmøte.",
    "Tema på neste samhandlingsmøte med kommunene.",
    "Adresseregisteret er rettet og kontrolleres månedlig.",
    "Egen innboks for dialogmeldinger med ansvarlig per vakt.",
    "Informasjon om samarbeidsavtalen inngår nå i introduksjonen for nyansatte.",
    "Avdelingen sender foreløpig epikrise samme dag.",
    "Fast tidspunkt for melding om utskrivningsklare pasienter er avtalt.",
    "Rutinen er oppdatert og publisert i kvalitetssystemet.",
    "Saken følges opp i Forbedringsgruppen neste tertial.",
)
# which learning points and measures fit which category (indices into the lists above)
FITTING = {
    "discharge_summary": ((0, 2, 3), (0, 6, 2)),
    "discharge_notice": ((1, 4), (0, 1, 7)),
    "medication": ((3,), (0, 8, 2)),
    "referral": ((5,), (8, 2, 9)),
    "admission": ((7,), (8, 2)),
    "follow_up": ((2,), (8, 2, 9)),
    "e_messaging": ((6, 8), (3, 4)),
    "reachability": ((9,), (2, 8, 9)),
    "routines": ((1, 7), (1, 8, 5)),
    "competence": ((7,), (5,)),
}
REDIRECT_LEARNING = (
    "Alvorlige hendelser skal meldes i virksomhetens eget kvalitetssystem.",
    "Saken er fulgt opp i det formelle avvikssystemet.",
)
REDIRECT_MEASURES = (
    "Videresendt og behandlet i eget kvalitetssystem.",
    "Melder informert om riktig meldekanal.",
)
REJECT_LEARNING = ("Saken lå utenfor Forbedringsgruppens mandat.",)
REJECT_MEASURES = ("Melder er informert om riktig kanal.",)
DUPLICATE_LEARNING = ("Samme forhold som en tidligere melding; følges opp der.",)
DUPLICATE_MEASURES = ("Se tiltaket i den første meldingen.",)
AGREEMENTS = (
    "Samarbeidsavtalen, retningslinje for utskriving",
    "Samarbeidsavtalen, retningslinje for innleggelse",
    "Samarbeidsavtalen, retningslinje for legemiddelopplysninger",
    "Samarbeidsavtalen, retningslinje for henvisning og epikrise",
)
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
    unit = HOSPITAL_UNITS.get(place or "", "sykehuset")
    return text.format(
        unit=unit, days=rng.randint(2, 21), weekday=rng.choice(WEEKDAYS),
        service=rng.choice(SERVICES), drug=rng.choice(DRUGS), test=rng.choice(TESTS),
        time_of_day=rng.choice(TIMES),
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
        out.append(Theme(first.id, None, 1, MIXED, GENERIC_TEXTS))
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
    return None, rng.choice(("privat avtalespesialist", "apotek", "ambulansetjenesten"))


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
            text += " " + rng.choice(CONSEQUENCES[severity])
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
                question=checked(rng.choice(QUESTIONS)))
        if rng.random() < 0.88:
            t = _later(rng, t, tz, 2.0)
            steps.append(Step(t, index, "reporter_answer",
                              {"actor": reporter.identity, "text": checked(rng.choice(ANSWERS))}))
        else:  # no answer: after some weeks the group goes on with what it has
            t = add(_later(rng, t, tz, 21.0), "move_status", status="triage",
                    message=checked(NO_ANSWER))
    if rng.random() < 0.5:
        t = add(_later(rng, t, tz, 2.0), "reply", text=checked(rng.choice(REPLIES)))

    roll = rng.random()
    later = _later(rng, t, tz, 3.0)
    same_topic = [i for when, cat, i in earlier if cat == theme.category and when < t0]
    if serious or (kind == "deviation" and roll < 0.12):
        target = rng.choices(("eqs", "compilo", "tqm", "melde_no", "other"),
                             (45, 32, 12, 8 if serious else 0, 3))[0]
        ext = f"{REDIRECT_PREFIX[target]}-{later.astimezone(tz).year}-{rng.randint(100, 9999):04d}"
        t = add(later, "redirect", target=target, external_reference=checked(ext))
        close = (REDIRECT_LEARNING, REDIRECT_MEASURES, 0.6, 20.0)
    elif roll < 0.19:
        t = add(later, "move_status", status="rejected",
                message=checked(rng.choice(REJECT_MESSAGES)))
        close = (REJECT_LEARNING, REJECT_MEASURES, 0.8, 5.0)
    elif roll < 0.26 and same_topic:
        t = add(later, "mark_duplicate", duplicate_of=rng.choice(same_topic[-30:]))
        close = (DUPLICATE_LEARNING, DUPLICATE_MEASURES, 0.8, 5.0)
    else:  # measures; some wait long for them (those stay "being assessed" for a while)
        if roll >= 0.93:
            later = _later(rng, t, tz, 35.0)
        message = checked(rng.choice(STATUS_MESSAGES)) if rng.random() < 0.5 else None
        t = add(later, "move_status", status="in_progress", message=message)
        lps, mes = FITTING.get(theme.category, ((7, 9), (2, 9)))
        close = (tuple(LEARNING_POINTS[i] for i in lps), tuple(MEASURES[i] for i in mes),
                 0.75, 25.0)
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
