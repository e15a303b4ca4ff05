# ruff: noqa: E501
"""Sentences for the changes between two policy versions, in Swedish and English.

Keys are ``change.<section>.<kind>[.<field>][.m|.n]`` after the sections, kinds and fields
of :class:`integritet.manifest.diff.Change` (``-`` for a change without a field; ``.m`` for
a material change, ``.n`` for one that is not, where that decides the wording).
:mod:`integritet.web.changes` picks the most specific key; ``{item}``, ``{old}`` and
``{new}`` are names in the reader's language where the manifest has them.
"""

from __future__ import annotations

CHANGE_MESSAGES: dict[str, tuple[str, str]] = {
    # purposes
    "change.purposes.added": ("Nytt ändamål: {item}.", "New purpose: {item}."),
    "change.purposes.removed": (
        "Ändamålet {item} används inte längre.",
        "The purpose {item} is no longer used.",
    ),
    "change.purposes.changed.legal_basis": (
        "Den rättsliga grunden för {item} är nu {new} (tidigare {old}).",
        "The legal basis for {item} is now {new} (was {old}).",
    ),
    "change.purposes.changed.categories": (
        "{item} använder nu fler slags uppgifter: {new}.",
        "{item} now uses more kinds of data: {new}.",
    ),
    "change.purposes.changed.marketing": (
        "{item} omfattar nu marknadsföring.",
        "{item} now includes marketing.",
    ),
    "change.purposes.changed.name": (
        "Ny formulering för ändamålet {item} (ingen ändring i sak).",
        "New wording for the purpose {item} (no change in substance).",
    ),
    # categories
    "change.categories.added": (
        "Ny sorts personuppgifter: {item}.",
        "A new kind of personal data: {item}.",
    ),
    "change.categories.removed": (
        "{item} samlas inte längre in.",
        "{item} is no longer collected.",
    ),
    "change.categories.changed.fields.m": (
        "Nya uppgifter samlas in under {item}: {new}.",
        "New data is collected under {item}: {new}.",
    ),
    "change.categories.changed.fields.n": (
        "Uppgifter under {item} samlas inte längre in: {old}.",
        "Data under {item} is no longer collected: {old}.",
    ),
    "change.categories.changed.kind": (
        "Vilken sorts uppgifter {item} är har ändrats.",
        "The kind of data {item} is has changed.",
    ),
    "change.categories.changed.sources": (
        "Uppgifterna under {item} kommer nu även från: {new}.",
        "The data under {item} now also comes from: {new}.",
    ),
    "change.categories.changed.role": (
        "Vår roll för {item} har ändrats.",
        "Our role for {item} has changed.",
    ),
    "change.categories.changed.name": (
        "Ny formulering för {item} (ingen ändring i sak).",
        "New wording for {item} (no change in substance).",
    ),
    # consent purposes
    "change.consent_purposes.added": (
        "Nytt samtycke att ta ställning till: {item}.",
        "A new consent to decide on: {item}.",
    ),
    "change.consent_purposes.removed": (
        "Samtycket {item} används inte längre.",
        "The consent {item} is no longer used.",
    ),
    "change.consent_purposes.changed.channels": (
        "{item} kan nu skickas via fler kanaler: {new}.",
        "{item} can now be sent by more channels: {new}.",
    ),
    "change.consent_purposes.changed.purpose": (
        "Vad samtycket {item} omfattar har ändrats.",
        "What the consent {item} covers has changed.",
    ),
    "change.consent_purposes.changed.soft_opt_in": (
        "{item} skickas nu till befintliga kunder utan att vi frågar först; du kan alltid tacka nej.",
        "{item} is now sent to existing customers without asking first; you can always say no.",
    ),
    "change.consent_purposes.changed.name": (
        "Ny formulering för samtycket {item} (ingen ändring i sak).",
        "New wording for the consent {item} (no change in substance).",
    ),
    # recipients
    "change.recipients.added": ("Ny mottagare: {item}.", "A new recipient: {item}."),
    "change.recipients.added.outside": (
        "Ny mottagare utanför EU/EES: {item} ({new}).",
        "A new recipient outside the EU/EEA: {item} ({new}).",
    ),
    "change.recipients.removed": (
        "{item} får inte längre några uppgifter.",
        "{item} no longer receives any data.",
    ),
    "change.recipients.changed.categories": (
        "{item} får nu fler slags uppgifter: {new}.",
        "{item} now receives more kinds of data: {new}.",
    ),
    "change.recipients.changed.country.m": (
        "{item} behandlar nu uppgifterna utanför EU/EES ({new}).",
        "{item} now processes the data outside the EU/EEA ({new}).",
    ),
    "change.recipients.changed.country.n": (
        "{item} har flyttat behandlingen inom EU/EES ({new}).",
        "{item} moved the processing within the EU/EEA ({new}).",
    ),
    "change.recipients.changed.transfer": (
        "Skyddet vid överföringen till {item} har ändrats.",
        "The safeguard for the transfer to {item} has changed.",
    ),
    "change.recipients.changed.purposes": (
        "{item} får uppgifter för fler ändamål: {new}.",
        "{item} receives data for more purposes: {new}.",
    ),
    "change.recipients.changed.consent_purpose": (
        "{item} får nu uppgifter utan att vi frågar om ditt samtycke.",
        "{item} now receives data without asking for your consent.",
    ),
    "change.recipients.changed.notify_before_sharing": (
        "Vi meddelar inte längre i förväg när vi delar uppgifter med {item}.",
        "We no longer tell you in advance when we share data with {item}.",
    ),
    "change.recipients.changed.financial_data": (
        "{item} kan nu få ekonomiska uppgifter.",
        "{item} may now receive financial data.",
    ),
    "change.recipients.changed.-": (
        "Namn, beskrivning eller raderingsväg för {item} har ändrats.",
        "The name, description or erasure route of {item} has changed.",
    ),
    # retention and legal holds
    "change.retention.added": (
        "En ny gräns för hur länge uppgifter sparas ({item}).",
        "A new limit on how long data is kept ({item}).",
    ),
    "change.retention.removed": (
        "En gräns för hur länge uppgifter sparas är borttagen ({item}).",
        "A limit on how long data is kept was removed ({item}).",
    ),
    "change.retention.changed.anchor": (
        "Tiden för {item} räknas nu från en annan händelse.",
        "The time for {item} is now counted from another event.",
    ),
    "change.retention.changed.duration.m": (
        "Uppgifter sparas längre ({item}): {new} i stället för {old}.",
        "Data is kept longer ({item}): {new} instead of {old}.",
    ),
    "change.retention.changed.duration.n": (
        "Uppgifter sparas kortare tid ({item}): {new} i stället för {old}.",
        "Data is kept for a shorter time ({item}): {new} instead of {old}.",
    ),
    "change.retention.changed.categories.m": (
        "Gränsen {item} gäller nu fler slags uppgifter: {new}.",
        "The limit {item} now covers more kinds of data: {new}.",
    ),
    "change.retention.changed.categories.n": (
        "Gränsen {item} gäller inte längre för: {old}.",
        "The limit {item} no longer covers: {old}.",
    ),
    "change.retention.changed.action": (
        "Vad som händer när tiden har gått ut har ändrats ({item}).",
        "What happens when the time is up has changed ({item}).",
    ),
    "change.legal_holds.added": (
        "Uppgifter sparas längre för att en lag kräver det ({item}).",
        "Data is kept longer because a law requires it ({item}).",
    ),
    "change.legal_holds.removed": (
        "Ett lagkrav att spara uppgifter gäller inte längre ({item}).",
        "A legal requirement to keep data no longer applies ({item}).",
    ),
    "change.legal_holds.changed.duration.m": (
        "Uppgifter sparas längre enligt lag ({item}): {new} i stället för {old}.",
        "Data is kept longer by law ({item}): {new} instead of {old}.",
    ),
    "change.legal_holds.changed.duration.n": (
        "Uppgifter sparas kortare tid enligt lag ({item}): {new} i stället för {old}.",
        "Data is kept for a shorter time by law ({item}): {new} instead of {old}.",
    ),
    # storage, people, cookies
    "change.storage.added.n": (
        "En ny lagringsplats inom EU/EES: {item}.",
        "A new storage location in the EU/EEA: {item}.",
    ),
    "change.storage.added.m": (
        "Uppgifter lagras nu utanför EU/EES: {item}.",
        "Data is now stored outside the EU/EEA: {item}.",
    ),
    "change.storage.removed": (
        "En lagringsplats används inte längre: {item}.",
        "A storage location is no longer used: {item}.",
    ),
    "change.storage.changed.-.m": (
        "Uppgifterna får nu lämna de angivna lagringsplatserna.",
        "The data may now leave the declared storage locations.",
    ),
    "change.storage.changed.-.n": (
        "Valet av lagringsplats har ändrats.",
        "The choice of storage location has changed.",
    ),
    "change.subjects.added": (
        "Policyn gäller nu även en ny grupp personer: {item}.",
        "The policy now also covers a new group of people: {item}.",
    ),
    "change.subjects.removed": (
        "Policyn gäller inte längre gruppen {item}.",
        "The policy no longer covers the group {item}.",
    ),
    "change.cookies.added.m": ("En ny spårningskaka: {item}.", "A new tracking cookie: {item}."),
    "change.cookies.added.n": (
        "En ny nödvändig kaka eller inställningskaka: {item}.",
        "A new necessary or preferences cookie: {item}.",
    ),
    "change.cookies.removed": (
        "Kakan {item} sätts inte längre.",
        "The cookie {item} is no longer set.",
    ),
    # controller, security, rights
    "change.controller.changed.name": (
        "Ny personuppgiftsansvarig: {new} (tidigare {old}).",
        "A new controller: {new} (was {old}).",
    ),
    "change.controller.changed.-": (
        "Våra kontaktuppgifter har ändrats.",
        "Our contact details have changed.",
    ),
    "change.security.changed": (
        "Tvåstegsinloggning krävs inte längre för personalen.",
        "Staff no longer need two-step sign-in.",
    ),
    "change.rights.changed": (
        "Hur vi hanterar dina begäranden har ändrats.",
        "How we handle your requests has changed.",
    ),
    # logs and machine data
    "change.log_sources.changed.retention.m": (
        "Loggar ({item}) sparas längre: {new} i stället för {old}.",
        "Logs ({item}) are kept longer: {new} instead of {old}.",
    ),
    "change.log_sources.changed.retention.n": (
        "Loggar ({item}) sparas kortare tid: {new} i stället för {old}.",
        "Logs ({item}) are kept for a shorter time: {new} instead of {old}.",
    ),
    "change.log_sources.changed.ip_retention.m": (
        "IP-adresser i loggar ({item}) sparas längre: {new} i stället för {old}.",
        "IP addresses in logs ({item}) are kept longer: {new} instead of {old}.",
    ),
    "change.log_sources.changed.ip_retention.n": (
        "IP-adresser i loggar ({item}) sparas kortare tid: {new} i stället för {old}.",
        "IP addresses in logs ({item}) are kept for a shorter time: {new} instead of {old}.",
    ),
    "change.telemetry.added": ("Vi samlar nu in maskindata.", "We now collect machine data."),
    "change.telemetry.changed.purposes": (
        "Maskindata används för fler ändamål: {new}.",
        "Machine data is used for more purposes: {new}.",
    ),
    "change.telemetry.changed.fields": (
        "Mer maskindata samlas in: {new}.",
        "More machine data is collected: {new}.",
    ),
    "change.telemetry.changed.refuse": (
        "Maskinerna får nu skicka uppgifter som tidigare stoppades: {old}.",
        "The machines may now send data that was refused before: {old}.",
    ),
    "change.telemetry.changed.raw_retention.m": (
        "Rå maskindata sparas längre: {new} i stället för {old}.",
        "Raw machine data is kept longer: {new} instead of {old}.",
    ),
    "change.telemetry.changed.raw_retention.n": (
        "Rå maskindata sparas kortare tid: {new} i stället för {old}.",
        "Raw machine data is kept for a shorter time: {new} instead of {old}.",
    ),
    # anything the table above does not know yet: still a sentence in both languages
    "change.other": ("Ändring under {section}: {item}.", "Change under {section}: {item}."),
    "section.purposes": ("ändamål", "purposes"),
    "section.categories": ("personuppgifter", "personal data"),
    "section.consent_purposes": ("samtycken", "consents"),
    "section.recipients": ("mottagare", "recipients"),
    "section.retention": ("lagringstider", "retention"),
    "section.legal_holds": ("lagkrav", "legal holds"),
    "section.storage": ("lagring", "storage"),
    "section.subjects": ("personer", "people"),
    "section.cookies": ("kakor", "cookies"),
    "section.controller": ("personuppgiftsansvarig", "controller"),
    "section.security": ("säkerhet", "security"),
    "section.rights": ("dina rättigheter", "your rights"),
    "section.log_sources": ("loggar", "logs"),
    "section.telemetry": ("maskindata", "machine data"),
}
