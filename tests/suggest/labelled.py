"""A labelled set for Meld's category suggestions: short reports as GPs, hospital doctors
and nurses write them about collaboration that failed (or went well), each with the
category and, where it is clear, the subcategory the group would give it.

Written by hand for this purpose, not from categories.toml's words: varied wording,
inflections, abbreviations, a few typos, and some texts without the category's obvious
word. No names, telephone numbers or national identity numbers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Labelled:
    text: str
    category: str
    subcategory: str | None = None


def _set(category: str, *cases: tuple[str, str | None]) -> list[Labelled]:
    return [Labelled(text, category, sub) for text, sub in cases]


LABELLED: tuple[Labelled, ...] = tuple([
    *_set(
        "discharge_summary",
        ("Pasienten ble skrevet ut fra medisinsk avdeling for ti dager siden, men vi har "
         "fortsatt ikke fått epikrisen. Har purret to ganger.", "late"),
        ("Epikrisa kom tre uker etter utreise, etter at pasienten allerede hadde vært på "
         "kontroll hos meg.", "late"),
        ("Ingen epikrise etter innleggelse på ortopeden i januar. Pasienten selv visste "
         "ikke hva som var gjort.", "missing"),
        ("Utskrivningsnotatet nevner ikke at warfarin ble stoppet under oppholdet, og det "
         "står ingenting om plan for ny INR.", "incomplete"),
        ("Epikrise sendt til pasientens gamle fastlege i en annen by selv om han byttet lege "
         "i fjor.", "wrong_recipient"),
        ("Vi mottok epikrise på en pasient som ikke står på min liste. Den skulle til en "
         "annen lege på senteret.", "wrong_recipient"),
        ("Etter poliklinisk time på øyeavdelingen har jeg ikke fått noe notat, så jeg vet "
         "ikke om det ble startet ny behandling.", "outpatient_note_missing"),
        ("Pas. var til kontroll på hjertepoliklinikken, men det kom aldri noe notat til "
         "fastlegen.", "outpatient_note_missing"),
        ("Sammenfatningen fra sykehuset var på fire linjer og sa ingenting om diagnose "
         "eller videre tiltak.", "incomplete"),
        ("Utreisedokumentet manglet helt. Vi fikk bare en liste over legemidler, ingen "
         "tekst om hva som var gjort.", "missing"),
        ("Har etterlyst epikirse fra gyn. avdeling i over en måned, fortsatt ingenting.",
         "missing"),
        ("Epikrisen er skrevet som om fastlegen har tilgang til sykehusjournalen. "
         "Forkortelser og interne koder uten forklaring.", "incomplete"),
        ("Dagkirurgisk inngrep på hånden, men ingen dokumentasjon sendt til meg etterpå.",
         "outpatient_note_missing"),
        ("Forløpsbeskrivelsen fra rehabiliteringsoppholdet kom først etter at pasienten "
         "var reinnlagt.", "late"),
        ("Sluttnotatet fra psykiatrisk døgnenhet ble adressert til legevakten i stedet for "
         "fastlegen.", "wrong_recipient"),
        ("Jeg fikk ikke noe skriftlig etter at pasienten lå fem døgn på lungeavdelingen og "
         "må ringe for å få vite hva som skjedde.", "missing"),
        ("Epikrisen anbefalte «kontroll hos fastlege» uten å si hva som skulle "
         "kontrolleres eller når.", "incomplete"),
    ),
    *_set(
        "discharge_notice",
        ("Hjemmesykepleien fikk ingen beskjed da bruker kom hjem fra sykehuset fredag "
         "kveld. Han satt alene uten hjelp.", "discharged_without_notice"),
        ("Pasienten ble meldt utskrivningsklar kl 14 og skulle hjem samme dag; kommunen "
         "rakk ikke å organisere noe.", "ready_for_discharge_notice"),
        ("Vi i sykehjemmet visste ikke at beboeren var lagt inn før pårørende ringte to "
         "dager senere.", "admission_notice"),
        ("Sendt hjem klokken 23 en lørdag, til en 92-åring som bor alene.",
         "discharge_timing"),
        ("Ingen pleierapport fulgte med da pasienten kom tilbake til korttidsavdelingen; vi "
         "visste ikke hvordan såret skulle stelles.", "discharge_report_missing"),
        ("Utskrivningen skjedde uten at tildelingskontoret var kontaktet, og det var ikke "
         "søkt om hjemmetjenester.", "discharged_without_notice"),
        ("Kommunen ble varslet om utskrivingsklar pasient først dagen etter at vedkommende "
         "allerede hadde reist hjem.", "ready_for_discharge_notice"),
        ("Sykehuset sendte ingen innleggelsesrapport, så hjemmesykepleien dro på besøk til "
         "en tom leilighet tre dager på rad.", "admission_notice"),
        ("Beboer ble sendt tilbake fra akutten kl 02 om natten med taxi, uten følge.",
         "discharge_timing"),
        ("Rapporten fra sykepleier om sårstell og ernæring manglet ved overflytting til "
         "sykehjem.", "discharge_report_missing"),
        ("Skrevet ut fredag ettermiddag før helgen uten at kommunen hadde rukket å få på "
         "plass hjelp.", "discharge_timing"),
        ("Vi fikk melding halv fire om at pasienten ville komme med drosje en time senere. "
         "Ingen mulighet til å forberede oss.", "ready_for_discharge_notice"),
        ("Hjemmetjenesten ble ikke informert om at brukeren var innlagt og fortsatte å "
         "levere middag på døra.", "admission_notice"),
        ("Mann med ny stomi kom hjem uten noen overføringsrapport fra sykepleierne på "
         "avdelingen.", "discharge_report_missing"),
        ("Pasienten dukket opp hjemme uten at noen hadde sagt fra til oss. Nøkkelboksen var "
         "tom, og hun kom seg ikke inn.", "discharged_without_notice"),
        ("Utskrevet for tidlig etter hofteoperasjon, reinnlagt etter to døgn.",
         "discharge_timing"),
        ("Vi fikk ikke PLO-melding om innleggelsen og skjønte ikke hvorfor brukeren ikke "
         "åpnet døren.", "admission_notice"),
    ),
    *_set(
        "medication",
        ("Legemiddellisten i epikrisen stemte ikke med det pasienten faktisk fikk på "
         "avdelingen. To preparater var dobbelt opp.", "med_list"),
        ("Metoprolol var seponert uten forklaring. Pasienten fikk hjertebank hjemme.",
         "unexplained_change"),
        ("Pasienten ble sendt hjem med bare to tabletter Paralgin forte og ingen resept.",
         "prescription_supply"),
        ("Dosen av Lantus var halvert under oppholdet, men ingen sa noe om hvorfor.",
         "unexplained_change"),
        ("Multidosen fra apoteket ble ikke stoppet da pasienten ble innlagt, og gammel "
         "dosering fortsatte etter hjemkomst.", "prescription_supply"),
        ("Det finnes tre forskjellige medisinlister på samme pasient: vår, sykehusets og "
         "den i kjernejournalen.", "med_list"),
        ("Nytt blodtrykksmiddel ble lagt til uten at det står noe om indikasjon eller hvem "
         "som skal følge opp.", "unexplained_change"),
        ("E-resepten på Oxynorm var ikke sendt, og apoteket kunne ikke utlevere i helgen.",
         "prescription_supply"),
        ("Sykehjemmet har feil medikamentoversikt etter oppholdet; Marevan står fortsatt "
         "oppført selv om det er byttet til Eliquis.", "med_list"),
        ("Pasienten fikk med seg nye piller hjem, men ingen visste hva de var for.",
         "unexplained_change"),
        ("Insulinpennene manglet ved hjemkomst, og hjemmesykepleien fikk ikke tak i nye før "
         "mandag.", "prescription_supply"),
        ("Antidepressiva ble trappet ned på sykehuset uten at det ble begrunnet noe sted.",
         "unexplained_change"),
        ("Oppdatert oversikt over faste legemidler var ikke sendt med ved overføring til "
         "rehabilitering.", "med_list"),
        ("Dosering av prednisolon var uklar: epikrisen sa 20 mg, resepten sa 40 mg.",
         "med_list"),
        ("Fikk beskjed fra apoteket om at vi måtte fornye alle reseptene fordi sykehuset "
         "hadde slettet dem.", "prescription_supply"),
        ("Pasienten sto på både ramipril og losartan etter utskrivning, noe som ikke var "
         "meningen.", "med_list"),
        ("Hjertemedisinene ble byttet ut med andre preparater uten at fastlegen fikk vite "
         "hvorfor.", "unexplained_change"),
    ),
    *_set(
        "referral",
        ("Henvisning til nevrolog ble avvist med begrunnelse om at det ikke var rett til "
         "prioritert helsehjelp, uten råd om videre utredning.", "rejected_or_returned"),
        ("Sendte henvisning til ortopedisk poliklinikk for fire måneder siden og har ikke "
         "fått noen bekreftelse.", "unanswered"),
        ("Henvisningen min ble sendt tilbake fordi den skulle gått til et annet sykehus i "
         "regionen.", "misrouted"),
        ("Vi mottar stadig henvisninger fra fastleger uten opplysninger om medisiner eller "
         "tidligere behandling.", "incomplete"),
        ("Pasienten ble henvist til feil seksjon og har nå ventet unødvendig i to "
         "måneder.", "misrouted"),
        ("Henvisning returnert med krav om flere opplysninger, selv om alt sto i "
         "vedlegget.", "rejected_or_returned"),
        ("Har ikke hørt noe fra BUP etter at jeg henviste en 14-åring med alvorlig angst i "
         "mars.", "unanswered"),
        ("Henvsiningen manglet problemstilling, det sto bare «vurdering».", "incomplete"),
        ("Søknad om utredning ved hukommelsesklinikken ble avslått uten at pasienten eller "
         "jeg fikk begrunnelse.", "rejected_or_returned"),
        ("Rekvisisjonen til koloskopi ble liggende i en annen avdelings innboks i seks "
         "uker.", "misrouted"),
        ("Henviste pasient med mistanke om kreft, men det tok tre uker før noen vurderte "
         "henvisningen.", "unanswered"),
        ("Fastlegens henvisning til kirurg hadde ikke med blodprøver eller bilder, så vi "
         "måtte innhente alt selv.", "incomplete"),
        ("Ble bedt om å henvise på nytt til DPS fordi den første var «for gammel».",
         "rejected_or_returned"),
        ("Spesialisten avviste å vurdere pasienten og ba meg sende til en privatpraktiserende "
         "i stedet.", "rejected_or_returned"),
        ("Henvisningen til hudlege ble videresendt tre ganger mellom helseforetakene før den "
         "havnet riktig.", "misrouted"),
        ("Ingen svar på henvisning for utredning av søvnapné etter fem måneder; pasienten "
         "er fortsatt sykmeldt.", "unanswered"),
        ("Henvisningene fra legevakten er ofte håndskrevne og uleselige.", "incomplete"),
    ),
    *_set(
        "admission",
        ("Pasient kom inn i akuttmottaket fra legevakten uten noe skriv, og vi visste ikke "
         "hvorfor hun var sendt.", "admission_report_missing"),
        ("Innleggende lege oppga ingen faste medisiner eller allergier; det tok timer å få "
         "oversikt.", "physician_info_missing"),
        ("Fastlegen la inn pasienten med bare en beskjed på telefon til vakthavende; ingen "
         "skriftlig dokumentasjon fulgte med.", "admission_report_missing"),
        ("Innleggelsesskrivet sa bare «dårlig allmenntilstand» uten funn, vitale parametre "
         "eller spørsmålsstilling.", "physician_info_missing"),
        ("Eldre kvinne lagt inn fra sykehjem uten opplysninger om demensgrad eller hva som "
         "var vanlig funksjon for henne.", "physician_info_missing"),
        ("Ambulansen kom med pasienten, men verken legeopplysninger eller innleggelsesbrev "
         "var sendt.", "admission_report_missing"),
        ("Legevaktslegen sendte inn en pasient med brystsmerter uten EKG eller beskrivelse "
         "av symptomene.", "physician_info_missing"),
        ("Pasient innlagt fra KAD uten at det fulgte med noen papirer om behandlingen "
         "der.", "admission_report_missing"),
        ("Ved akutt innleggelse fra allmennlegen manglet informasjon om at pasienten bruker "
         "blodfortynnende.", "physician_info_missing"),
        ("Skrivet fra fastlegen kom først dagen etter at pasienten var lagt inn.",
         "admission_report_missing"),
        ("Vi fikk inn en pasient fra kommunen med spørsmål om hjerneslag, men ingen "
         "opplysninger om når symptomene startet.", "physician_info_missing"),
        ("Innleggelsen skjedde uten henvisning og uten at noen hadde ringt oss på "
         "forhånd.", "admission_report_missing"),
        ("Problemstillingen ved innleggelsen var uklar og beskrev tilsynelatende en annen "
         "pasient.", "physician_info_missing"),
        ("Lagt inn som ø-hjelp fra legevakt, men vi fikk ikke vite hvilken behandling som "
         "var gitt før transporten.", "physician_info_missing"),
        ("Sykehjemmet sendte beboeren til sykehuset uten noen form for dokumentasjon.",
         "admission_report_missing"),
        ("Innleggelser fra enkelte legekontor kommer nesten alltid uten skriftlig "
         "innleggelsesbegjæring.", "admission_report_missing"),
    ),
    *_set(
        "follow_up",
        ("Et CT-svar med mistanke om svulst i lungen ble ikke fulgt opp av noen; sykehuset "
         "trodde fastlegen gjorde det og omvendt.", "unclear_responsibility"),
        ("Blodprøver tatt før utskrivning viste høy kalium, men svaret kom aldri til meg.",
         "test_results"),
        ("Pasienten skulle hatt kontroll på kirurgisk poliklinikk etter seks uker, men ble "
         "aldri innkalt.", "follow_up_appointment"),
        ("Epikrisen sa at fastlege skulle følge opp prøvene sykehuset hadde bestilt, men vi "
         "har ikke tilgang til svarene.", "test_results"),
        ("Hvem har ansvaret for sårbehandlingen etter utskrivning? Sykehuset, "
         "hjemmesykepleien og fastlegen peker på hverandre.", "unclear_responsibility"),
        ("Biopsisvaret viste kreft, men ingen kontaktet pasienten på tre uker.",
         "test_results"),
        ("Planlagt etterkontroll etter pacemakerinnleggelse ble ikke satt opp.",
         "follow_up_appointment"),
        ("Sykehuset ba fastlegen ta ny blodprøve om to uker, men sa ikke hvem som skulle "
         "handle på svaret.", "unclear_responsibility"),
        ("Ultralydfunn av aneurisme ble nevnt i en bisetning uten plan for oppfølging.",
         "test_results"),
        ("Pasienten ventet på ny time på barneavdelingen som aldri kom, og foreldrene ringte "
         "oss.", "follow_up_appointment"),
        ("Uklart hvem som skal forskrive og følge opp metotreksat: revmatolog eller "
         "fastlege.", "unclear_responsibility"),
        ("Røntgensvar fra legevakten med brudd ble oversett, og pasienten gikk med "
         "ubehandlet fraktur i ti dager.", "test_results"),
        ("Kontrollen hos øyelegen ble avlyst og ikke satt opp på nytt.",
         "follow_up_appointment"),
        ("Ingen tok ansvar for å sørge for tilsyn etter at han ble sittende i rullestol.",
         "unclear_responsibility"),
        ("Forskjellige leger bestiller de samme prøvene fordi ingen vet hvem som har "
         "ansvaret for oppfølgingen.", "unclear_responsibility"),
        ("Pasienten fikk beskjed om at sykehuset ville ringe med tid for ny vurdering, men "
         "ingenting har skjedd på to måneder.", "follow_up_appointment"),
        ("PSA-verdien steg på tre målinger hos urologen uten at noen reagerte.",
         "test_results"),
    ),
    *_set(
        "e_messaging",
        ("Dialogmeldingen jeg sendte til avdelingen for en uke siden er fortsatt "
         "ubesvart.", "dialogue_unanswered"),
        ("Epikrisen ble sendt elektronisk, men kom aldri inn i vårt journalsystem. "
         "Sykehuset har kvittering for sendt.", "not_received"),
        ("Meldinger fra hjemmetjenesten går til en gammel adresse i adresseregisteret etter "
         "kommunesammenslåingen.", "addressing"),
        ("Det har vært feil i integrasjonen mellom EPJ og helsenettet i to dager; ingen "
         "meldinger går ut.", "technical"),
        ("Vi fikk feilmelding hver gang vi prøvde å sende PLO-meldinger til sykehuset.",
         "technical"),
        ("Spørsmål om medisinering sendt som dialogmelding til sykehjemmet, ingen har "
         "svart.", "dialogue_unanswered"),
        ("Legekontoret står oppført med feil HER-id, så alle elektroniske svar havner et "
         "annet sted.", "addressing"),
        ("Laboratoriesvarene kommer ikke fram elektronisk, vi må hente dem på papir.",
         "not_received"),
        ("Etter oppgradering av journalsystemet forsvant vedleggene fra meldingene.",
         "technical"),
        ("Elektronisk melding om innlagt pasient ble sendt til feil bydel fordi avsender "
         "valgte feil mottaker i listen.", "addressing"),
        ("Meldingene fra sykehuset blir liggende i kø og når ikke fastlegekontoret før "
         "neste dag.", "technical"),
        ("Jeg har sendt tre meldinger til poliklinikken om samme pasient uten å få noe "
         "svar.", "dialogue_unanswered"),
        ("Vi mottok ikke e-meldingen om utskrivningsklar pasient; sykehuset sier den er "
         "sendt.", "not_received"),
        ("Sykehuset svarer ikke på elektroniske forespørsler, bare telefon fungerer.",
         "dialogue_unanswered"),
        ("Kommunens meldingsadresse ble slettet ved en feil, og i en uke gikk alt i "
         "retur.", "addressing"),
        ("Svaret på dialogmeldingen kom først etter tre uker, da var pasienten allerede "
         "innlagt på nytt.", "dialogue_unanswered"),
        ("Nye fastleger får ikke meldinger fordi oppføringen deres i adresseregisteret ikke "
         "er oppdatert.", "addressing"),
    ),
    *_set(
        "reachability",
        ("Prøvde å ringe vakthavende gynekolog fem ganger uten å komme gjennom.", None),
        ("Sentralbordet satte meg over til en avdeling som ikke svarte, og så ble samtalen "
         "brutt.", None),
        ("Det er umulig å få tak i fastlegen på dagtid; legekontoret har telefontid bare en "
         "time.", None),
        ("Ventet 40 minutter i telefonkø for å snakke med en lege om en akutt syk "
         "pasient.", None),
        ("Bakvakten på kirurgen svarte ikke på søkeren, og vi måtte sende pasienten "
         "videre.", None),
        ("Hjemmesykepleien har ikke direktenummer til avdelingen og må gå via "
         "sentralbordet hver gang.", None),
        ("Ringte legevakten for råd om en beboer, men ingen lege var ledig på over en "
         "time.", None),
        ("Avdelingen lovet å ringe tilbake med svar samme dag, men ingen ringte.", None),
        ("Overlegen var ikke mulig å nå for å diskutere en pasient før utskrivning.", None),
        ("Vi får ikke snakket med noen på poliklinikken fordi telfonen bare har "
         "talemelding.", None),
        ("Det tok tre timer å få kontakt med vakthavende psykiater for en suicidal "
         "pasient.", None),
        ("Fastlegekontoret stenger telefonene kl 14, og sykehjemmet har ingen å spørre på "
         "ettermiddagen.", None),
        ("Ble satt over fire ganger mellom ulike kontorer og endte med å legge på.", None),
        ("Vakttelefonen til hjemmesykepleien var ikke bemannet natt til søndag.", None),
        ("Nummeret som står oppgitt i brevet går til et kontor som er lagt ned.", None),
        ("Sykehjemslegen er bare til stede én dag i uken og kan ikke nås resten av "
         "tiden.", None),
    ),
    *_set(
        "routines",
        ("Samarbeidsavtalen sier at sykehuset skal varsle kommunen tre dager før "
         "utskrivning, men dette følges sjelden.", None),
        ("Det finnes ingen felles prosedyre for hvordan vi overfører pasienter med "
         "resistente bakterier mellom sykehjem og sykehus.", None),
        ("Avdelingene har ulike rutiner for hvem som sender hjelpemidler med pasienten.",
         None),
        ("Tjenesteavtalen om ø-hjelp døgnopphold blir tolket forskjellig av kommunen og "
         "helseforetaket.", None),
        ("Ny rutine for legemiddelsamstemming er innført på sykehuset, men ingen har "
         "informert fastlegene.", None),
        ("Foreslår at samhandlingsmøtene mellom kommune og sykehus tas opp igjen; det har "
         "ikke vært møte på et år.", None),
        ("Praksisen med å skrive ut pasienter på fredager bryter med det vi har avtalt i "
         "samarbeidsutvalget.", None),
        ("Det mangler en skriftlig retningslinje for hvem som skal bestille transport ved "
         "utskrivning.", None),
        ("Sykehuset følger ikke den avtalte framgangsmåten for palliative pasienter som "
         "ønsker å dø hjemme.", None),
        ("Kommunen har ikke tatt i bruk rutinen for mottak av pasienter med trakeostomi som "
         "vi ble enige om.", None),
        ("Forløpet for pasienter med hjertesvikt er ikke forankret hos fastlegene, og "
         "sykehuset antar at alt blir fulgt opp.", None),
        ("Gjentatte brudd på avtalen om at sykehuset skal ta imot pasienter fra KAD innen "
         "to timer.", None),
        ("Legevakt og sykehus har helt ulike retningslinjer for når barn med feber skal "
         "legges inn.", None),
        ("Vi trenger en omforent rutine for overføring mellom psykisk helsevern og "
         "kommunens rustjeneste.", None),
        ("Avtalen om at hjemmesykepleien skal få tilsendt sårbeskrivelse overholdes ikke "
         "av kirurgisk avdeling.", None),
        ("Ingen skriftlig beskrivelse av arbeidsdelingen ved ernæringsoppfølging av "
         "kreftpasienter.", None),
    ),
    *_set(
        "competence",
        ("Hjemmesykepleien hadde ikke opplæring i stell av PICC-line, og pasienten måtte "
         "reinnlegges.", None),
        ("Sykehjemmet manglet kompetanse til å gi intravenøs antibiotika, så pasienten ble "
         "liggende på sykehus unødvendig lenge.", None),
        ("Nyansatte sykepleiere på sykehjemmet kjente ikke til hvordan man håndterer en "
         "insulinpumpe.", None),
        ("Vikarlegen på legevakten visste ikke at pasienter med feber etter cellegift skal "
         "legges direkte inn.", None),
        ("Turnuslegen ble stående alene uten veiledning med en komplisert pasient.", None),
        ("Personalet i bofellesskapet kunne ikke bruke det nye CPAP-apparatet.", None),
        ("Ønsker kurs for fastleger i oppfølging av pasienter etter fedmeoperasjon.", None),
        ("Hjemmetjenesten trenger undervisning i stomistell før flere pasienter skrives ut "
         "med stomi.", None),
        ("Ingen på nattevakt kunne tolke blodsukkermålingene eller justere insulinet.", None),
        ("Ansatte på sykehuset kjente ikke til kommunens tilbud og ga pasienten feil "
         "informasjon om hjelp hjemme.", None),
        ("Det er behov for opplæring i bruk av smertepumpe for palliative pasienter i "
         "kommunen.", None),
        ("LIS-legen i mottaket hadde lite erfaring med små barn og sendte hjem en dehydrert "
         "baby.", None),
        ("Sykepleierne var usikre på hvordan sondeernæringen skulle gis, og stoppet den.",
         None),
        ("Vi ber om internundervisning om delirium hos eldre for de ansatte på "
         "korttidsavdelingen.", None),
        ("Helsefagarbeiderne har ikke lært å måle oksygenmetning eller når de skal "
         "kontakte lege.", None),
        ("Legen på sykehjemmet var ukjent med det nye antikoagulasjonsregimet og ga feil "
         "dose.", None),
    ),
    *_set(
        "other",
        ("Pasienttransporten kom ikke, og pasienten ble sittende i fire timer i "
         "resepsjonen.", None),
        ("Det ble ikke bestilt tolk til konsultasjonen, og pasienten forsto ingenting av "
         "informasjonen.", None),
        ("Sengen og rullatoren var ikke på plass hjemme da hun kom tilbake.", None),
        ("NAV har ikke mottatt sykmeldingen fra sykehuset, og pasienten har ikke fått "
         "utbetalt penger.", None),
        ("Vi får faktura for legeerklæringer som kommunen mener sykehuset skal dekke.", None),
        ("Pårørende ble ikke informert om dødsfallet før de kom på besøk.", None),
        ("Ønsker bedre parkering for hjemmesykepleien ved sykehuset; vi bruker mye tid på å "
         "finne plass.", None),
        ("En pasient klaget på at journalen var lest av ansatte som ikke hadde tjenstlig "
         "behov.", None),
        ("Drosjen som skulle hente pasienten etter dialysen kjørte til feil adresse.", None),
        ("Veldig bra samarbeid med det geriatriske teamet denne uken, rask og god hjelp med "
         "en vanskelig pasient.", None),
        ("Attest til førerkort ble etterspurt av sykehuset, men det er fastlegens oppgave "
         "etter regelverket.", None),
        ("Isolatet på sykehjemmet var ikke klargjort til pasienten med MRSA.", None),
        ("Pasienten ble sendt hjem i sykehusklær og uten sko i januar.", None),
        ("Det var ingen egnet bolig å skrive pasienten ut til, og kommunen har ingen "
         "ledig leilighet.", None),
        ("Forespørsel om innsyn i journalen ble liggende i to måneder.", None),
        ("Pasienten ble fakturert egenandel to ganger for samme konsultasjon.", None),
    ),
])


# Written after categories.toml's words were settled, without looking at the model, as a
# check of the words on texts they were not made from; part of LABELLED too. Taxonomy words
# alone, measured when written: top-1 0.825, top-3 0.875.
FRESH: tuple[Labelled, ...] = (
    Labelled('Pasienten var innlagt i ni dager på hjerteavdelingen, og jeg har fortsatt ikke '
             'fått noe fra sykehuset om hva som ble gjort.',
             'discharge_summary'),
    Labelled('Epikrisen kom tre uker etter utskrivningen, og da hadde pasienten allerede vært '
             'hos meg to ganger.',
             'discharge_summary'),
    Labelled('Notatet fra sykehuset sier ingenting om hvilke prøver som skal tas videre.',
             'discharge_summary'),
    Labelled('Utskrivningsbrevet ble sendt til legen pasienten hadde for fem år siden.',
             'discharge_summary'),
    Labelled('Hjemmetjenesten fikk beskjed klokken åtte om kvelden om at en pasient med stort '
             'hjelpebehov kom hjem samme kveld.',
             'discharge_notice'),
    Labelled('Kommunen ble ikke varslet før pasienten sto i døra med taxi.',
             'discharge_notice'),
    Labelled('Sykehuset meldte pasienten utskrivningsklar på fredag ettermiddag uten å ringe '
             'oss.',
             'discharge_notice'),
    Labelled('Ingen rapport om sårstell fulgte med da brukeren kom tilbake til omsorgsboligen.',
             'discharge_notice'),
    Labelled('Waran ble stoppet under oppholdet, men ingen fortalte hvorfor eller om den '
             'skulle startes igjen.',
             'medication'),
    Labelled('Listen over faste medisiner i brevet stemte ikke med det pasienten hadde med seg'
             ' hjem.',
             'medication'),
    Labelled('Det ble skrevet ut dobbel dose morfin, og apoteket oppdaget det ved en '
             'tilfeldighet.',
             'medication'),
    Labelled('Pasienten gikk tom for Sobril fordi sykehuset ikke fornyet reseptet.',
             'medication'),
    Labelled('Henvisningen til nevrolog ble avvist med beskjed om at vi måtte bruke et annet '
             'skjema.',
             'referral'),
    Labelled('Jeg sendte henvisning til øyeavdelingen for tre måneder siden og har ikke hørt '
             'noe.',
             'referral'),
    Labelled('Sykehuset returnerte henvisningen fordi blodprøvene var over en uke gamle.',
             'referral'),
    Labelled('Henvisningen havnet på feil klinikk og ble liggende der.',
             'referral'),
    Labelled('Legevakten la inn pasienten uten å sende med noen opplysninger om faste '
             'medisiner eller tidligere sykdom.',
             'admission'),
    Labelled('Mottaket hadde ingen informasjon fra fastlegen om hvorfor pasienten ble sendt '
             'inn.',
             'admission'),
    Labelled('Ved akutt innleggelse fra sykehjemmet manglet innleggelsesskrivet helt.',
             'admission'),
    Labelled('Biopsisvaret kom til sykehuset etter at pasienten var skrevet ut, og ingen sa '
             'fra til meg.',
             'follow_up'),
    Labelled('Pasienten skulle kalles inn til kontroll etter seks uker, men fikk aldri noen '
             'innkalling.',
             'follow_up'),
    Labelled('Det er uklart om det er sykehuset eller jeg som skal følge opp den forhøyede '
             'kreatininen.',
             'follow_up'),
    Labelled('CT-funnet med en liten svulst i lungen ble ikke nevnt for noen før et halvt år '
             'senere.',
             'follow_up'),
    Labelled('Dialogmeldingen vår til sengeposten har stått ubesvart i to uker.',
             'e_messaging'),
    Labelled('Vi fikk feilmelding da vi prøvde å sende elektronisk melding til sykehuset etter'
             ' systemoppdateringen.',
             'e_messaging'),
    Labelled('Meldingene fra sykehuset går til en gammel adresse i adresseregisteret.',
             'e_messaging'),
    Labelled('Pleie- og omsorgsmeldingen kom aldri fram, men sykehuset fikk kvittering.',
             'e_messaging'),
    Labelled('Jeg ringte vakthavende indremedisiner fem ganger uten at noen tok telefonen.',
             'reachability'),
    Labelled('Det er umulig å få snakket med en lege på avdelingen før klokken tre.',
             'reachability'),
    Labelled('Telefonen til poliklinikken er bare åpen en time om dagen.',
             'reachability'),
    Labelled('Fastlegekontoret svarer ikke på telefon, og sykehuset fikk ikke avklart '
             'medisinene.',
             'reachability'),
    Labelled('Sykehuset følger ikke den avtalte rutinen for utskrivning av skrøpelige eldre.',
             'routines'),
    Labelled('Delavtalen om utskrivningsklare pasienter blir ikke fulgt i helgene.',
             'routines'),
    Labelled('Det finnes ingen felles prosedyre for hvem som bestiller hjelpemidler før '
             'hjemreise.',
             'routines'),
    Labelled('Hjemmesykepleien kunne ikke stelle PICC-linjen fordi ingen hadde fått opplæring.',
             'competence'),
    Labelled('Personalet på sykehjemmet kjente ikke til hvordan den nye pumpen skulle brukes.',
             'competence'),
    Labelled('Vi trenger kurs i palliasjon for sykepleierne i kommunen.',
             'competence'),
    Labelled('Pasientreisen hentet ikke pasienten, og hun ble sittende i mottaket i fem timer.',
             'other'),
    Labelled('Det var ikke bestilt tolk til samtalen, så pasienten forsto ingenting.',
             'other'),
    Labelled('Sykemeldingen ble ikke skrevet ut ved utreise, så pasienten måtte til fastlegen '
             'bare for det.',
             'other'),
)

LABELLED = LABELLED + FRESH
