"""A labelled set for `similar`: Norwegian reports in groups that describe the same failure
(paraphrased, misspelled, worded differently, coded differently by different reporters),
and reports that belong to no group. Made up for the tests; no real patient or person.

Several groups share a category on purpose (five about discharge summaries, three about
referrals), so that coded fields alone cannot tell them apart: the text has to.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    group: str | None  # None: belongs with nothing else in the set
    category: str
    subcategory: str | None
    place: str | None
    text: str
    reporter: str = "gp"
    concerned: str = "hospital"
    kind: str = "deviation"


C = Case
CASES: tuple[Case, ...] = (
    # epikrise never came after discharge from medicine
    C("epi_missing", "discharge_summary", "missing", "stolav_medisinsk",
      "Epikrise ble aldri sendt til fastlegen etter utskrivning fra medisinsk avdeling. "
      "Vi måtte ringe sykehuset for å få vite hva som var gjort."),
    C("epi_missing", "discharge_summary", "missing", "stolav_medisinsk",
      "Fastlegen har ikke mottatt noen epikrise, selv to uker etter at pasienten ble "
      "skrevet ut fra medisinsk klinikk."),
    C("epi_missing", "discharge_summary", None, "stolav_medisinsk",
      "Epikirse manglar etter utskriving frå medisinsk, fastlege fekk ingenting tilsendt."),
    # epikrise came, but weeks late
    C("epi_late", "discharge_summary", "late", "stolav_kirurgisk",
      "Epikrisen kom først tre uker etter operasjonen, altfor sent til kontrollen hos "
      "fastlege."),
    C("epi_late", "discharge_summary", "late", "stolav_ortopedi",
      "Sen epikrise: mottatt 20 dager etter utskrivelse fra ortopedisk. Kontroll var "
      "allerede gjennomført uten informasjon."),
    C("epi_late", "discharge_summary", "late", "stolav_kirurgisk",
      "Forsinket epikrise fra kirurgisk avdeling, kom lenge etter at kontrollen hos "
      "fastlegen var avtalt."),
    # epikrise to the wrong GP
    C("epi_wrong", "discharge_summary", "wrong_recipient", "stolav_hjerte_lunge",
      "Epikrisen ble sendt til feil fastlege, til tidligere lege som pasienten byttet fra "
      "for et år siden."),
    C("epi_wrong", "discharge_summary", "wrong_recipient", None,
      "Vi mottok en epikrise for en pasient som ikke lenger står på vår liste; sykehuset "
      "har gammel fastlegeopplysning."),
    C("epi_wrong", "e_messaging", "addressing", "stolav_hjerte_lunge",
      "Feil mottaker på epikrise – gikk til forrige fastlege etter legebytte."),
    # epikrise without the medication list
    C("epi_meds", "discharge_summary", "incomplete", "stolav_medisinsk",
      "Epikrisen manglet oppdatert legemiddelliste, umulig å vite hvilke medisiner som "
      "var seponert under innleggelsen."),
    C("epi_meds", "medication", "med_list", "stolav_medisinsk",
      "Ingen medisinliste i epikrisen. Uklart hvilke legemidler som var endret eller "
      "seponert."),
    C("epi_meds", "discharge_summary", "incomplete", "stolav_nevro",
      "Legemiddellisten var ikke med i epikrise fra nevrologisk, og seponerte medisiner "
      "var ikke nevnt."),
    # outpatient note never sent
    C("poli_note", "discharge_summary", "outpatient_note_missing", "stolav_kreft",
      "Poliklinisk notat fra kreftpoliklinikken ble ikke sendt fastlegen etter "
      "konsultasjonen."),
    C("poli_note", "discharge_summary", "outpatient_note_missing", "stolav_kreft",
      "Fikk aldri notat etter poliklinisk time på kreftklinikken; måtte be om det selv."),
    C("poli_note", "follow_up", None, "stolav_kreft",
      "Mangler polikliniknotat etter kontroll ved kreftavdelingen, fastlegen uten "
      "informasjon om videre plan."),
    # referral returned without reason
    C("ref_returned", "referral", "rejected_or_returned", "stolav_ortopedi",
      "Henvisningen til ortopedisk poliklinikk ble returnert uten noen begrunnelse."),
    C("ref_returned", "referral", "rejected_or_returned", "stolav_ortopedi",
      "Henvisning returnert fra ortopedi, ingen forklaring på hvorfor den ble avvist."),
    C("ref_returned", "referral", "rejected_or_returned", None,
      "Returnert henvsining uten begrunelse fra ortopedisk avdeling."),
    # referral lost between departments
    C("ref_misrouted", "referral", "misrouted", "stolav_nevro",
      "Henvisningen ble sendt videre internt på sykehuset og ble borte mellom "
      "avdelingene; ingen har vurdert den etter fire måneder."),
    C("ref_misrouted", "referral", "misrouted", "stolav_nevro",
      "Henvisning forsvant ved intern videresending mellom nevrologisk og "
      "nevrokirurgisk, ikke vurdert."),
    C("ref_misrouted", "referral", "unanswered", "stolav_nevro",
      "Intern omdirigering av henvisning: den ble liggende uvurdert mellom to "
      "avdelinger i måneder."),
    # referral never answered
    C("ref_unanswered", "referral", "unanswered", "stolav_psykisk_helse_rus",
      "Ingen svar på henvisning til DPS etter åtte uker, verken vurdering eller "
      "ventetid."),
    C("ref_unanswered", "referral", "unanswered", "stolav_psykisk_helse_rus",
      "Har ikke fått svarbrev eller vurdering på henvisningen til distriktspsykiatrisk "
      "senter etter to måneder."),
    C("ref_unanswered", "referral", None, "stolav_psykisk_helse_rus",
      "Henvisning til DPS ubesvart i over to måneder; pasient og fastlege vet ikke om "
      "den er mottatt."),
    # discharged without notice to the nursing home
    C("no_notice", "discharge_notice", "discharged_without_notice", "trondheim",
      "Pasienten ble sendt hjem til sykehjemmet uten at sykehjemmet fikk melding om "
      "utskrivning.", reporter="municipality"),
    C("no_notice", "discharge_notice", "discharged_without_notice", "trondheim",
      "Sykehjemmet ble ikke varslet før pasienten sto i døra; ingen utskrivningsmelding "
      "mottatt.", reporter="municipality"),
    C("no_notice", "discharge_notice", "discharge_timing", "trondheim",
      "Utskrevet til sykehjem uten varsel, ingen melding om utskriving kom til "
      "kommunen.", reporter="municipality"),
    # discharged late in the evening
    C("late_discharge", "discharge_notice", "discharge_timing", "malvik",
      "Utskrivning sent på kvelden klokka 21, hjemmesykepleien hadde ikke bemanning til "
      "å ta imot.", reporter="municipality"),
    C("late_discharge", "discharge_notice", "discharge_timing", "malvik",
      "Pasient kom hjem etter kl. 22 om kvelden, hjemmetjenesten var ikke forberedt på "
      "så sen utskriving.", reporter="municipality"),
    C("late_discharge", "discharge_notice", "discharged_without_notice", "malvik",
      "Kveldsutskrivning fredag kveld uten avtale, hjemmesykepleien ble ikke informert "
      "om tidspunktet.", reporter="municipality"),
    # no notice of admission
    C("admission_notice", "discharge_notice", "admission_notice", "orkland",
      "Kommunen fikk ingen innleggelsesrapport da brukeren av hjemmetjenesten ble lagt "
      "inn.", reporter="municipality"),
    C("admission_notice", "discharge_notice", "admission_notice", "orkland",
      "Ingen melding om innleggelse til hjemmetjenesten; vi dro på besøk og fant tomt "
      "hus.", reporter="municipality"),
    C("admission_notice", "admission", None, "orkland",
      "Hjemmesykepleien ble ikke varslet om at pasienten var innlagt på sykehuset, "
      "oppdaget det ved neste besøk.", reporter="municipality"),
    # test results nobody follows up
    C("test_results", "follow_up", "test_results", "stolav_lab_bilde",
      "Prøvesvar tatt på sykehuset ble ikke fulgt opp; uklart om sykehuset eller "
      "fastlegen skulle gjøre det."),
    C("test_results", "follow_up", "unclear_responsibility", "stolav_lab_bilde",
      "Patologisk blodprøvesvar etter utskrivning ble liggende uten oppfølging, ingen "
      "visste hvem som hadde ansvaret."),
    C("test_results", "follow_up", "test_results", None,
      "Provesvar som kom etter utskriving ble ikke fulgt opp av noen, uklar "
      "ansvarsfordeling mellom sykehus og fastlege."),
    # follow-up appointment never booked
    C("no_appointment", "follow_up", "follow_up_appointment", "stolav_hjerte_lunge",
      "Epikrisen sa kontroll om seks uker, men ingen kontrolltime ble noensinne satt "
      "opp."),
    C("no_appointment", "follow_up", "follow_up_appointment", "stolav_hjerte_lunge",
      "Lovet oppfølgingstime på hjertepoliklinikken ble aldri innkalt."),
    C("no_appointment", "follow_up", None, "stolav_hjerte_lunge",
      "Pasienten fikk ikke innkalling til planlagt kontroll etter hjerteinfarkt, "
      "timen ble aldri bestilt."),
    # e-message never received
    C("msg_lost", "e_messaging", "not_received", None,
      "Elektronisk melding fra legekontoret kom aldri frem til sykehuset, ingen "
      "kvittering."),
    C("msg_lost", "e_messaging", "not_received", None,
      "Vi sendte en e-melding som aldri ble mottatt; manglende applikasjonskvittering."),
    C("msg_lost", "e_messaging", "technical", None,
      "Meldingen forsvant i meldingsutvekslingen, ingen kvittering på at den var "
      "mottatt."),
    # dialogue messages unanswered
    C("dialog_unanswered", "e_messaging", "dialogue_unanswered", "stolav_medisinsk",
      "Dialogmelding til medisinsk avdeling har ikke blitt besvart på tre uker."),
    C("dialog_unanswered", "e_messaging", "dialogue_unanswered", "stolav_medisinsk",
      "Ubesvart dialogmelding med spørsmål om medisinering, ingen svar fra sykehuset."),
    C("dialog_unanswered", "e_messaging", "dialogue_unanswered", None,
      "Sendt flere dialogmeldinger til avdelingen uten å få svar."),
    # on-call doctor unreachable by phone
    C("oncall_phone", "reachability", None, "stolav_akutt",
      "Fikk ikke tak i vakthavende lege på telefon, ventet over 40 minutter i kø."),
    C("oncall_phone", "reachability", None, "stolav_akutt",
      "Umulig å nå bakvakt på telefonen, ingen tok telefonen på akuttmottaket."),
    C("oncall_phone", "reachability", None, None,
      "Vakthavende lege var ikke tilgjengelig på telefon, fastlegen ga opp etter lang "
      "ventetid."),
    # medication changed without explanation
    C("med_change", "medication", "unexplained_change", "stolav_hjerte_lunge",
      "Blodfortynnende ble byttet under innleggelsen uten at epikrisen forklarte "
      "hvorfor."),
    C("med_change", "medication", "unexplained_change", "stolav_hjerte_lunge",
      "Uforklart endring av antikoagulasjon, ingen begrunnelse for byttet av "
      "blodfortynnende."),
    C("med_change", "medication", "unexplained_change", None,
      "Legemiddel endret på sykehuset uten forklaring – blodfortynnende medisin byttet "
      "ut."),
    # no prescription or medicines at discharge
    C("no_supply", "medication", "prescription_supply", "stolav_orkdal",
      "Utskrevet på fredag uten resept og uten medisiner for helgen."),
    C("no_supply", "medication", "prescription_supply", "stolav_orkdal",
      "Pasienten manglet e-resept på nye legemidler etter utskrivning, apoteket kunne "
      "ikke utlevere."),
    C("no_supply", "medication", "prescription_supply", None,
      "Ingen resepter var skrevet ved utskriving, fikk ikke hentet medisinene på "
      "apoteket over helgen."),
    # the GP was not told a patient died
    C("death_notice", "follow_up", "unclear_responsibility", None,
      "Fastlegen fikk ikke beskjed om at pasienten døde på sykehuset, fant det ut fra "
      "pårørende."),
    C("death_notice", "follow_up", None, None,
      "Dødsfall på sykehus ble ikke meldt til fastlege; vi fikk vite det av familien."),
    C("death_notice", "routines", None, None,
      "Ingen melding til fastlegen om dødsfall under innleggelse."),
    # suggestions: a direct phone line for GPs
    C("gp_line", "reachability", None, None,
      "Forslag: egen direkte telefonlinje for fastleger til vakthavende.",
      kind="suggestion"),
    C("gp_line", "reachability", None, None,
      "Det bør opprettes et eget legetelefonnummer så fastleger slipper sentralbordet.",
      kind="suggestion"),
    C("gp_line", "reachability", None, None,
      "Foreslår en direktelinje til sykehuslegene for allmennleger.", kind="suggestion"),
    # suggestions: a joint course
    C("joint_course", "competence", None, None,
      "Forslag om felles kurs for sykehusleger og fastleger om samhandling.",
      kind="suggestion"),
    C("joint_course", "competence", None, None,
      "Vi ønsker felles undervisning og kurs der fastleger og sykehusleger møtes.",
      kind="suggestion"),
    C("joint_course", "competence", None, None,
      "Felles fagdager for leger i kommune og sykehus vil bedre samarbeidet.",
      kind="suggestion"),
    # unrelated, one of a kind
    C(None, "other", None, None,
      "Parkeringsautomaten ved hovedinngangen tar ikke kort."),
    C(None, "routines", None, None,
      "Samarbeidsavtalen beskriver ikke hvem som skal bestille hjelpemidler til "
      "hjemmet."),
    C(None, "admission", "admission_report_missing", "stolav_akutt",
      "Innleggelsesskriv fra legevakten manglet opplysninger om allergier."),
    C(None, "admission", "physician_info_missing", "stolav_kirurgisk",
      "Sykehuset etterlyste opplysninger om faste medisiner ved planlagt operasjon."),
    C(None, "competence", None, "stolav_psykisk_helse_rus",
      "Ansatte i kommunen trenger opplæring i ny rusbehandling."),
    C(None, "e_messaging", "addressing", None,
      "Adresseregisteret har feil HER-id for legevakten."),
    C(None, "follow_up", "unclear_responsibility", "stolav_kvinne_barn",
      "Uklart hvem som følger opp vaksinasjon etter fødsel på barselavdelingen."),
    C(None, "other", None, "stolav_roros",
      "Røros sykehus har stengt røntgen i helgene uten at fastlegene visste det."),
    C(None, "discharge_notice", "ready_for_discharge_notice", "heim",
      "Melding om utskrivningsklar pasient kom samme dag som overføringen.",
      reporter="municipality"),
    C(None, "discharge_summary", "incomplete", "stolav_ohn_kjeve_oye",
      "Øyeavdelingen skrev epikrise uten konklusjon om synsstyrke."),
    C(None, "referral", "incomplete", None,
      "Henvisningsmalen i journalsystemet mangler felt for tolkebehov."),
    C(None, "routines", None, "stolav_lab_bilde",
      "Blodprøvetaking på sykehuset har endret åpningstider uten varsel."),
    C(None, "medication", "med_list", None,
      "Kjernejournal viser en annen legemiddelliste enn e-resept."),
    C(None, "competence", None, None,
      "Nyutdannede leger kjenner ikke til samarbeidsutvalget.", kind="suggestion"),
)


def groups() -> dict[str, list[int]]:
    """The indexes of the cases in each group."""
    out: dict[str, list[int]] = {}
    for index, case in enumerate(CASES):
        if case.group is not None:
            out.setdefault(case.group, []).append(index)
    return out
