"""Offline extraction of lead fields from one customer message: company name, primary use case,
email, business size and budget.

Rules, in order of trust (the confidence says which one fired):

1. an explicit lead-in ("the company is Initech", "Minha empresa é a Padaria Central",
   "we'd use it to send delivery notifications")                                       -> 0.9
2. a legal suffix anywhere ("Acme Ltd", "Müller GmbH", "Globex Corporation")            -> 0.85
3. only when the bot just asked: a weaker lead-in before a capitalised name
   ("lavoro per Rossi", "I work at Google"; unasked, "I'm from Brazil" is no company)    -> 0.75
4. only when the bot just asked: the answer itself, trimmed of filler
   ("Boulangerie Martin"; "customer support in three countries")                        -> 0.65

An answer that is a question, a greeting, a thank-you or a request for a human is never a value,
so "Hi from your ad" or "why do you need that?" yield no company name. Patterns live in
`agents.lexicon`; values keep the customer's spelling, the evidence is the matched span.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, Field

from agents import lexicon
from agents.language import PhraseSet, analyse, content_words, fold
from agents.sentinel.basics import (
    is_acknowledgement,
    is_announcement,
    is_greeting,
    is_question,
    small_talk_runs_on,
    social_prefix,
    strip_social,
    undecided,
    will_get_back,
)
from agents.sentinel.detectors import detect_explicit_request
from agents.sentinel.frustration import detect_frustration

__all__ = [
    "Extracted",
    "extract_budget",
    "extract_business_size",
    "extract_company_name",
    "extract_email",
    "extract_fields",
    "extract_use_case",
]


class Extracted(BaseModel, frozen=True):
    """One field value found in a message."""

    field: str = Field(description="company_name, use_case, email, business_size or budget.")
    value: str = Field(description="The value, in the customer's spelling.")
    evidence: str = Field(description="The span of the message it came from.")
    confidence: float = Field(ge=0.0, le=1.0, description="How sure the rule is, 0..1.")
    correction: bool = Field(default=False, description="The customer correcting a value given before.")


_FLAGS = re.IGNORECASE | re.UNICODE
_COMPANY_LEADS = [re.compile(p, _FLAGS) for p in lexicon.COMPANY_LEADS]
# A role at the business ("I'm the practice manager at ...") counts asked or not.
_COMPANY_LEADS_WEAK = [
    re.compile(p, _FLAGS) for p in (*lexicon.COMPANY_LEADS_ROLE, *lexicon.COMPANY_LEADS_WEAK)
]
_COMPANY_LEADS_NAMED = [
    re.compile(p, _FLAGS) for p in (*lexicon.COMPANY_LEADS_ROLE, *lexicon.COMPANY_LEADS_NAMED)
]
_SELF_INTRO = [re.compile(p, _FLAGS) for p in lexicon.SELF_INTRO_LEADS]
_COMPANY_PREFIXES = [re.compile(p, _FLAGS) for p in lexicon.COMPANY_PREFIXES]
# "Oakridge Property Management here - looking to ...": a name of two or more capitalised words
# announcing itself.
_NAME_HERE = re.compile(
    r"((?:[A-ZÀ-ÖØ-Þ0-9][\w&'.-]*\s+|&\s+){2,6})(?:here|qui|aqu[ií]|ici|hier)\b(?!\s*,?\s*(?:from|with|at|is)\b)"
)
_TITLED = re.compile(r"^(?:Dr|Dra|Mr|Mrs|Ms|Prof|Pastor|Rev|Fr|Sr|Sra|Ing|Lic|Chief|Alhaji|Madam)\.?\s")
_BY_THE_NAME = re.compile(r"\b((?:[A-ZÀ-ÖØ-Þ0-9][\w&'.-]*\s+(?:&\s+)?){1,6})naam\s+se\b")
_CAPITALISED = re.compile(r"^[A-ZÀ-ÖØ-Þ0-9&]")
_NAME_FIRST = re.compile(
    r"^\s*(?:(?i:ay|oh|ah|ok|okay|sorry|oops|haha)[\s,!.]+)*"
    r"((?:[A-ZÀ-ÖØ-Þ0-9][\w&'.-]*\s+(?:&\s+)?){1,6})(?:naam\s+(?:hai|he|h)\b|is\s+(?:the|our)\s+(?:company\s+)?name\b"
    # Tagalog: "Glam Corner Salon po yung name" (... is the name).
    r"|(?:po\s+)?(?:yung|yong|ang)\s+(?:name|pangalan)\b)"
)
# Words that make an answer a description of what the customer wants to do, not a name.
_USE_CASE_CUES = re.compile(
    r"\b(?:to|for|with|via|para|pra|pour|f[üu]r|per|untuk|buat|voor|ko|se|pe|de|des|dos|das|les|our|nos|"
    r"\w+ing|\w+ar|\w+er|\w+ir|\w+en|send|answer|manage|track|book|take|handle|sell|support|"
    r"notify|remind|automate|receive|collect|capture|schedule|"
    r"qua|để|muốn|cần|"  # Vietnamese: "chị muốn nhận đơn đặt bánh qua whatsapp"
    r"(?:on|over|thru|through)\s+(?:whats\s?app|wa|wpp))\b",  # "class bookings and cancellations on whatsapp"
    _FLAGS,
)
_COMPANY_SUFFIX = re.compile(
    # Capitalised words, "&" or "and" among them ("Harper & Cole Ltd", "Harper and Cole Ltd"), a
    # particle between two of them ("Ferretera del Bajío S.A.", "Bank of Ireland Ltd"), then the
    # legal form.
    r"((?:[A-ZÀ-ÖØ-Þ][\w&'.-]*\s+)(?:(?:[A-ZÀ-ÖØ-Þ][\w&'.-]*|&|and"
    r"|(?:(?:de|van|von)\s+(?:la|las|los|der|den)|de|del|della|di|da|das|do|dos|du|des|van|von|of"
    r"|der|den|ter|und|y|e|et|en)(?=\s+[A-ZÀ-ÖØ-Þ]))\s+){0,4})" + lexicon.COMPANY_SUFFIXES + r"(?![\w])",
    re.UNICODE,
)
_USE_CASE_LEADS = [re.compile(p, _FLAGS) for p in lexicon.USE_CASE_LEADS]
_CORRECTION_CUES = PhraseSet.of(lexicon.CORRECTION_CUES)
_USE_CASE_ANSWER_LEADS = [re.compile(p, _FLAGS) for p in lexicon.USE_CASE_ANSWER_LEADS]
_USE_CASE_TRIM_END = re.compile(lexicon.USE_CASE_TRIM_END, _FLAGS)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}", re.UNICODE)
_NUM = r"\d(?:[\d.,]*\d)?\s*(?:k|m|mil|thousand|million|ribu|juta|lakh|crore)?(?!\w)"
_SIZE = re.compile(
    rf"(?<![\w$€£])(\d(?:[\d.,]*\d)?)(?:\s*(?:-|–|to|a|à|bis|tot|sampai|hingga|e)\s*(\d(?:[\d.,]*\d)?))?\+?\s*"
    rf"(?:full[-\s]time\s+|people\s+in\s+|)"
    rf"{lexicon.STAFF_NOUNS}",
    _FLAGS,
)
_TEAM_OF = re.compile(r"\b(?:team|equipo|equipe|[ée]quipe|team)\s+(?:of|de|von|di|van)\s+(\d+)", _FLAGS)
_SOLO = re.compile(lexicon.SOLO_PHRASES, _FLAGS)
_PER = (
    r"(?:\s*(?:/|per|a|an|al|por|par|pro|al|per|tiap|per)\s*"
    r"(?:month|mo|year|yr|mes|m[êe]s|mois|monat|mese|bulan|maand|ano|a[ñn]o|an|jahr|anno|tahun|jaar))?"
)
_BUDGET = re.compile(
    rf"(?:{lexicon.CURRENCY}\s?{_NUM}|{_NUM}\s?{lexicon.CURRENCY}){_PER}"
    rf"|{lexicon.BUDGET_WORDS}\s+(?:is|of|de|é|est|ist|è|adalah|van|around|about|approx\w*|~|:)?\s*"
    rf"(?:around|about|approx\w*|~|unos|cerca\s+de|environ|etwa|circa|sekitar|ongeveer)?\s*{_NUM}{_PER}",
    _FLAGS,
)
# A dot ends a clause unless it closes an initial ("S.L.", "B.V.": the name goes on to its end).
# Emoji and pictographs end a name or a use case ("Doce Thaís Confeitaria 🍰", "for my barbers 💈
# no shows r killing us").
_EMOJI = r"[\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff]"
_LEGAL_FORM = r"(?:LLC|L\.L\.C|Inc|Ltd|Limited|GmbH|Pty|Plc|LLP|S\.A|S\.L|B\.V|SRL|S\.r\.l)\b"
_ENDS_IN_LEGAL_FORM = re.compile(r"\s(?:co|ltd|llc|inc|gmbh|bv|b\.v|srl|s\.r\.l|pty|plc)\.?$", re.IGNORECASE)
_CLAUSE_END = re.compile(
    # A period ends a clause, but not after a title ("Praxis Dr. Weber", "St. Mary's Clinic").
    # A legal form after a comma or in parentheses goes on ("3 Brothers Plumbing, LLC", "Halcyon
    # Lettings (UK) Ltd"); a company-form prefix keeps its dot ("PT. Maju Jaya").
    r",(?!\s*"
    + _LEGAL_FORM
    + r")|[;!?\n]|\((?![\w .&-]{1,24}\)\s*"
    + _LEGAL_FORM
    + r")|\)(?!\s*"
    + _LEGAL_FORM
    + r")|"
    + _EMOJI
    + r"|(?<!\.[A-ZŞ])(?<!\b[DMSJ][rts])(?<!\bMrs)(?<!\bProf)(?<!\bPT)(?<!\bCV)(?<!\bBros)(?<!\bSp)"
    + r"(?<!\bHnos)(?<!\bد)"  # "عيادة د. منى": د. is Dr.
    + r"(?<!\bPvt)(?<!\bIng)(?<!\bLic)(?<!\bArq)(?<!\bDra)(?<!\bSra)"  # "(Pvt.) Ltd", "el Ing. Ramírez"
    + r"\.(?![A-ZŞ]\.)(?!\s?(?:Şti|KG)\b)|\s[-–/|]\s|"
    r"\s+(?:and|but|y|e|et|und|dan|aur|en|pero|mas|aber|ma|tapi|maar)\s|"
    # "... للأجهزة الطبية وعايزين نستخدمه ...": "and" joined to the verb that follows the name.
    r"\s+و(?=(?:عايزين|عاوزين|عايز|نبغى|نبي|نريد|بدنا|نحتاج|محتاجين|نستخدم|عندنا)\b)",
    _FLAGS,
)
# ("Jansen en Zonen" is a Dutch name: "en" is "and" there; "sa" is Tagalog's "in".)
_TOWN_AFTER = re.compile(
    r"(?<=\w)\s+(?:in|aus|uit|a|à|sa|en(?!\s+(?:Zoon|Zonen|Zn|Dochter|Dochters|Partners|Co)\b))\s+[A-ZÀ-ÖØ-Þ][\w-]+$"
)
# "Agriturismo Il Poggiolo s.r.l. di Montepulciano": after a legal form, the town goes too.
_TOWN_AFTER_FORM = re.compile(
    r"(\b(?:s\.r\.l|srl|s\.p\.a|spa|gmbh|ltd|s\.a|s\.l|llc|inc|b\.v|bv)\.?)\s+(?:di|de|da|em|en|à|aus|uit|in|from)\s+[A-ZÀ-ÖØ-Þ][\w'-]+$",
    re.IGNORECASE,
)
_INITIALS_END = re.compile(r"\b[A-ZŞ]\.[A-ZŞ]\.$")
_SENTENCE_END = re.compile(r"[.!?\n]+(?:\s|$)")


_SCRIPT_CHANGE = re.compile(r"(?:(?<=[A-Za-z0-9&])|(?<=[A-Za-z0-9]\.))\s+(?=[\u0600-\u06ff])")
# A legal form's abbreviation keeps its dots, and a second part goes with it ("Pvt. Ltd.",
# "S.A. de C.V.", "S.r.l.", "Co.", the "KG" after "& Co.").
_SUFFIX_TAIL = re.compile(
    r"^\.?(?:\s*(?:\([\w .&-]{1,24}\)\s*)?(?:Ltd|Limited|Inc|LLC|Bhd|Tbk|de\s+C\.?\s?V|C\.V|S\.A|Cia|Şti"
    r"|&\s*Co\.?\s*KG|KG)\b\.?)?",
    re.UNICODE,
)
_NOW = frozenset(
    {"now", "nowadays", "jetzt", "nun", "agora", "ahora", "maintenant", "desormais", "adesso", "sekarang"}
)
_OVER_WHATSAPP = re.compile(
    r"\b(?:pelo|por|via|on|over|through|no|en|sur|über|uber|per|lewat|melalui|tramite|op|qua|kupitia)\s+"
    r"(?:o\s+|el\s+|le\s+|il\s+)?(?:whats\s?app|wa|zap|zapzap)\b",
    re.IGNORECASE,
)
_TRADE_AFTER_PARTNERS = re.compile(
    r"(?:\s+[A-ZÀ-ÖØ-Þ][\w'-]*){1,3}(?=\s*(?:[,;!?]|\.(?:\s|$)|$))", re.UNICODE
)
_SINCE = re.compile(
    r"\b(?:seit|since|desde|depuis|dal|dalla|sejak|sinds|vanaf|ab|a\s+partir\s+de|até|until)\s*$",
    re.IGNORECASE,
)
_DOTTED_SUFFIX = re.compile(r"(?:\b(?:Co|Inc|Ltd|Pvt|Corp|Bhd|Tbk|Ltda|Lda|Cia|Şti)|\b[A-Za-z]\.[A-Za-z])$")


# "Crumb and Co", "Smith & Sons", "Rossi e Figli": a conjunction that is part of the name.
# Articles that names take as their own first word ("La Esquina del Gusto", "The Old Mill").
_OWN_ARTICLES = frozenset({"la", "el", "los", "las", "le", "les", "il", "lo", "the", "l"})
# "of" in a name after its trade: "Cocina de Abuela", "Taller del Norte", "Boulangerie du Coin".
_WHOSE = frozenset({"de", "del", "do", "da", "dos", "das", "di", "du", "della", "dello", "des"})
# Words that join two parts of one name ("Jones Plumbing and Heating", "Salt & Sage").
_FROM = frozenset({"de", "da", "di", "do", "von", "van", "of", "from"})  # "Ana de Ferretera López S.A."
_NAME_JOINERS = frozenset({"and", "&", "y", "e", "et", "und", "en", "dan", "aur", "n", "i"})
_PARTNERS = re.compile(
    r"(?:Co|Company|Sons|Daughters|Partners|Associates|Brothers|Bros|Figli|Hijos|Filhos|S(?:ö|oe)hne|Zonen|Fils)\b\.?",
    re.UNICODE,
)


def _clause_end(raw: str) -> re.Match[str] | None:
    cut = _CLAUSE_END.search(raw)
    while cut is not None and cut.group(0).strip() and cut.group(0).strip()[0].isalpha():
        if not _PARTNERS.match(raw, cut.end()) and not _joins_name(
            raw[: cut.start()].split(), _words_to_clause_end(raw, cut.end())
        ):
            break
        cut = _CLAUSE_END.search(raw, cut.end())
    return cut


def _words_to_clause_end(raw: str, start: int) -> list[str]:
    rest = _CLAUSE_END.search(raw, start)
    return raw[start : rest.start() if rest else len(raw)].split()


def _joins_name(before: list[str], after: list[str]) -> bool:
    """Whether a joiner ("and", "&", "y") between the words `before` and `after` it is inside a
    name: between two trades ("jones plumbing and heating") or two capitalised words ("Thistle and
    Thread", the second no pronoun: "Acme and We ..." aside)."""
    if not before or not after:
        return False
    trades = (
        fold(before[-1]).strip(",") in lexicon.TRADE_NOUNS
        and len(after) <= 2
        and fold(after[-1]).strip(".,!?") in lexicon.TRADE_NOUNS
    )
    capitals = (
        bool(_CAPITALISED.match(before[-1]))
        and bool(_CAPITALISED.match(after[0]))
        and fold(after[0]) not in lexicon.SUBJECT_PRONOUNS | {"i", "we"}
        # "DISTRIBUIDORA EL PROGRESO Y QUEREMOS ENVIAR EL CATALOGO ...": in capitals, a long
        # sentence after the joiner is no second half of the name.
        and not (len(after) > 5 and all(w.isupper() for w in after if w[:1].isalpha()))
    )
    return trades or capitals


def _clean_name(raw: str) -> str:
    """Cut a captured name at the end of its clause and drop leading articles and trailing filler."""
    cut = _clause_end(raw)
    value = raw[: cut.start()] if cut else raw
    if _DOTTED_SUFFIX.search(value):
        tail = _SUFFIX_TAIL.match(raw[len(value) :])
        if tail and tail.group(0):
            value += tail.group(0)
    # "Falcon Tech Solutions LLC ونبغاه ...": a Latin name ends where Arabic words begin.
    value = _SCRIPT_CHANGE.split(value, maxsplit=1)[0]
    words = value.split()
    # "a Padaria Central" drops its article; "Le Petit Atelier" keeps it, capitalised as part of the name.
    # An article before a lowercase name may be the name's own ("la esquina del gusto", "the blue
    # door bakery"): it stays; one a sentence puts there goes ("wir sind die weber & söhne kg").
    while (
        words
        and words[0].islower()
        and fold(words[0]).rstrip("'") in lexicon.NAME_ARTICLES
        and len(words) > 1
        and not (words[1].islower() and fold(words[0]).rstrip("'") in _OWN_ARTICLES)
    ):
        words = words[1:]
    for i, word in enumerate(words):
        partners = i + 1 < len(words) and _PARTNERS.fullmatch(words[i + 1].rstrip(",!?"))
        # "Jones Plumbing and Heating", "Thistle and Thread": a joiner inside the name.
        joined = fold(word) in _NAME_JOINERS and _joins_name(words[:i], words[i + 1 :])
        if i and fold(word).strip(".,!?") in lexicon.NAME_STOP and not partners and not joined:
            # "Sharma Coaching Classes se hai": "se" (from) goes with the verb it comes before.
            words = words[: i - 1] if i > 1 and words[i - 1] == "se" else words[:i]
            break
    # "la esquina del gusto jaja": laughter after the name is not part of it; nor is "now" ("we're
    # called Brightwave Media now").
    while len(words) > 1 and (
        _LAUGHTER.fullmatch(words[-1]) or (words[-1].islower() and fold(words[-1]).strip(".,!") in _NOW)
    ):
        words = words[:-1]
    # "Công ty TNHH Mỹ Phẩm Hoa Sen": a prefix that says "the company" goes before words are counted.
    # (Quotes around it go first, so that '"empresa: Doce Lar"' loses its prefix too.)
    for prefix in _COMPANY_PREFIXES:
        words = prefix.sub("", " ".join(words).strip(" \"'“”‘’`*"), count=1).split()
    # At most six words, an ampersand not counted ("Müller & Töchter GmbH & Co. KG").
    kept = next((i for i in range(len(words) + 1) if sum(w != "&" for w in words[:i]) == 6), len(words))
    value = " ".join(words[:kept]).strip(" \"'“”‘’`*:-«»")
    # "Kettle & Crumb Bakery in Leeds", "Physiotherapie Kranich aus Leipzig": the town goes.
    value = _TOWN_AFTER.sub("", value)
    value = _TOWN_AFTER_FORM.sub(r"\1", value)
    if _INITIALS_END.search(value) or (value.endswith(".") and _DOTTED_SUFFIX.search(value[:-1])):
        return value.rstrip(",;:!")
    return value.rstrip(".,;:!")


def _without_article(value: str) -> str:
    """`value` without a leading article of its own ("la brasserie du parc" -> "brasserie du parc")."""
    words = value.split()
    if len(words) > 1 and fold(words[0]).rstrip("'") in _OWN_ARTICLES:
        return " ".join(words[1:])
    return value


def _in_title_case(value: str) -> bool:
    """Every word capitalised, joiners aside ("We Fix It Plumbing & Heating")."""
    return all(_CAPITALISED.match(w) or fold(w) in _NAME_JOINERS for w in value.split())


def _titled_after_a_greeting(value: str) -> bool:
    """ "Hello Fresh Meals", "Ciao Bella Gelato": a greeting word opening a name in title case,
    followed by two capitalised words that are no greeting's ("Hello There Team" is a greeting)."""
    words = value.split()
    rest = [fold(w) for w in words[1:]]
    return (
        len(words) >= 3
        and all(_CAPITALISED.match(w) for w in words)
        and not any(w in lexicon.GREETING_FILLER or w in lexicon.FUNCTION_WORDS for w in rest)
        and fold(value) not in lexicon.NOT_COMPANY
    )


def _plausible_name(value: str) -> bool:
    folded = fold(value)
    if not value or not any(c.isalpha() for c in value) or "@" in value:
        return False
    if folded in lexicon.NOT_COMPANY or folded.split()[0] in lexicon.NOT_NAME_START:
        return False
    if fold(_without_article(value)) in lexicon.NOT_COMPANY:  # "the ad" in "Dana here from the ad"
        return False
    return len(value) <= 60


_NO_VALUE_WORDS = (
    lexicon.BARE_FILLER
    | lexicon.YES_NO
    | lexicon.CHATTER_WORDS
    | lexicon.APOLOGY_WORDS
    | lexicon.INTERJECTIONS
)


def _only_chatter(sentence: str) -> bool:
    """ "Com certeza.", "Of course.", "Bien sûr.": a sentence that says nothing to take."""
    words = analyse(sentence).words
    return bool(words) and all(w in _NO_VALUE_WORDS or w in lexicon.FUNCTION_WORDS for w in words)


def _is_chatter(text: str) -> bool:
    """Greetings, thanks, questions (asked or announced) and requests for a human: never a field
    value."""
    words = analyse(text).words
    if not words or all(w in _NO_VALUE_WORDS for w in words) or is_greeting(text):
        return True
    # "does it support multiple agents", "sorry what do you mean by use case lol": a question opens
    # it ("..., porque ahorita lo hago yo" further on is a reason, not a question).
    if "?" in text or "¿" in text or "؟" in text or is_question(_FIRST_CLAUSE.split(text, maxsplit=1)[0]):
        return True
    if is_acknowledgement(text) or is_announcement(text) or detect_explicit_request(text) is not None:
        return True
    if _asked_inside(text):
        return True  # "before I tell u anything what are ur opening hours", "je préfère savoir s'il y a ..."
    if will_get_back(text):
        return True  # "ahora no puedo, luego te escribo": later, not an answer
    if _RATHER_NOT_SAY.find(words):
        return True  # "I'd prefer not to give the company name": no answer
    remarks = _PASSING_REMARKS.find(words)
    if remarks:
        # "nice, your ad was funny btw 😂", "the weather here is insane today": small talk, unless
        # a use case is said beside it ("we send weather alerts" is one: no remark covers it).
        covered = {i for m in remarks for i in range(m.first, m.last + 1)}
        rest = " ".join(w for i, w in enumerate(words) if i not in covered)
        if not _USE_CASE_CUES.search(rest):
            return True
    if _CONFIRMS_NAME.find(words):
        return True  # "ja so heisst das Café wirklich 😄": about the name given before
    introduced = _MY_NAME_IS.match(text.strip())
    their_name = text.strip()[introduced.end() :].split() if introduced else []
    if introduced and 0 < len(their_name) <= 3 and all(_CAPITALISED.match(w) for w in their_name):
        return True  # "je m'appelle Amélie Durand": who is writing, nothing more
    frustration = detect_frustration(text)
    return frustration is not None and frustration.score >= 0.6


def _looks_like_name(value: str) -> bool:
    """A short run of capitalised words, or one word: "Brightside Dental", "zentro", "Crumb & Co",
    "Les Jardins d'Arthur" (an elided article before a capital)."""
    words = [_ELIDED.sub("", w) for w in value.split()]
    if len(words) == 1:
        return True
    return len(words) <= 5 and all(_CAPITALISED.match(w) or len(w) <= 3 for w in words)


# A question inside a sentence: a question word with a verb and "you" after it ("... what are ur
# opening hours"), or wanting to know whether ("je préfère d'abord savoir s'il y a un essai").
_ASKED_INSIDE = re.compile(
    r"\b(?:what|when|how|where|which)\s+(?:are|is|do|does|can|r)\s+(?:you|u|ur|your|y'?all)\b"
    r"|\b(?:know|savoir|saber|wissen|sapere|weten|tahu)\s+(?:first\s+|d'abord\s+|primero\s+|primeiro\s+|erst\s+|prima\s+|eerst\s+|dulu\s+)?"
    r"(?:if|whether|si|s'il|s'ils|se|ob|of|apakah)\b",
    _FLAGS,
)


def _asked_inside(text: str) -> bool:
    """A question of the customer's own inside a sentence, not one their customers ask ("answering
    customers who ask what are your opening hours" is a use case)."""
    for m in _ASKED_INSIDE.finditer(text):
        before = analyse(text[: m.start()]).words
        if any(w.startswith("ask") or w in lexicon.ASK_VERBS for w in before[-2:]):
            continue
        # "je voudrais d'abord savoir si ...": the customer wants to know; "let customers know if
        # their order shipped" is what they want to tell others.
        if m.group(0).split()[0].lower() in _WH or set(before[-4:]) & lexicon.WANTING_TO_KNOW:
            return True
    return False


_WH = frozenset({"what", "when", "how", "where", "which"})


_RATHER_NOT_SAY = PhraseSet.of(lexicon.RATHER_NOT_SAY)
_PASSING_REMARKS = PhraseSet.of(lexicon.PASSING_REMARKS)
_CONFIRMS_NAME = PhraseSet.of(lexicon.CONFIRMS_NAME)


def confirms_name(text: str) -> bool:
    """ "sí, ese es el nombre jaja", "ja so heisst das Café wirklich 😄": the customer says their
    answer before was the name."""
    return bool(_CONFIRMS_NAME.find(analyse(text).words))


def _named_before_confirmation(text: str) -> Extracted | None:
    a = analyse(text)
    found = _CONFIRMS_NAME.find(a.words)
    if not found:
        return None
    before = re.split(_EMOJI, text[: a.tokens[found[0].first].start], maxsplit=1)[0]
    value = before.strip(" ,.;:!-–")
    if not value or not _CAPITALISED.match(value) or not _looks_like_name(value) or _is_chatter(value):
        return None
    return Extracted(field="company_name", value=value, evidence=text.strip(), confidence=0.85)


def _confirmation_and_after(text: str, *, asking: str | None, known: frozenset[str]) -> list[Extracted]:
    """ "evet firmanın adı bu 😊 tur rezervasyonları ve müşteri soruları için": the name said before
    the confirmation, if any (else the answer before it: `confirmed_name`), and what follows it,
    read as an answer of its own ("iya kak nama usahanya memang itu 😅 buat terima order ...")."""
    a = analyse(text)
    found = _CONFIRMS_NAME.find(a.words)
    after = text[a.tokens[found[-1].last].end :]
    after = re.sub(rf"^(?:\s|{_EMOJI}|[,.;:!\-–—])+", "", after)
    out = [x for x in (_named_before_confirmation(text),) if x is not None]
    # "así se llama el bar", "adı bu zaten: Tamam 😄": what it is or the name again, no answer.
    if len(re.sub(_EMOJI, " ", after).split()) >= 3:
        rest = extract_fields(
            after, asking=asking if asking != "company_name" else "use_case", known=known | {"company_name"}
        )
        out.extend(x for x in rest if x.field != "company_name")
    return out


def confirmed_name(earlier: str) -> str | None:
    """The earlier answer a confirmation points back to, when it can be a name: a few words, some
    letters, no question ("Buen Día", "Tamam")."""
    value = earlier.strip().strip(".!")
    words = value.split()
    if not 1 <= len(words) <= 6 or len(value) > 60 or "?" in value or not any(c.isalpha() for c in value):
        return None
    return value


_FIRST_CLAUSE = re.compile(r"[,.;:!\n]")
_LAUGHTER = re.compile(r"(?:ja){2,}|(?:ha){2,}|(?:he){2,}|k{3,}|rs+|lol|lmao|(?:wk){2,}", re.IGNORECASE)
_ELIDED = re.compile(r"^[a-z]{1,4}['’](?=[A-ZÀ-ÖØ-Þ])")


def _reads_as_a_name(value: str) -> bool:
    """A name said unasked reads as one: no words of a sentence in it ("Interested In This", "Looking
    For Info" are title case, not names), articles excepted ("Bakkerij De Molen"), and no word for
    the people a business serves ("New Customers", "Clientes Nuevos": who they are, not a name)."""
    words = [fold(w).strip(".,!?") for w in value.split()]
    if not words or words[0].endswith("ing"):
        return False
    if any(w in lexicon.PEOPLE_SERVED for w in words):
        return False
    return not any(w in lexicon.FUNCTION_WORDS and w not in lexicon.NAME_ARTICLES for w in words)


def _names_a_trade(text: str) -> bool:
    """Whether a description names the kind of business ("garments buying house", "agencia de marketing")."""
    return any(fold(w).strip(".,!?") in lexicon.TRADE_NOUNS for w in text.split())


def _trade_name(text: str) -> bool:
    """A short answer that ends with the kind of business it is, with no word of a sentence in it:
    "ridgeway auto repair", "jones plumbing and heating", "salt & sage catering". Asked for the
    company, it is the name, lowercase or not; "appointment reminders for the clinic" is not one."""
    words = [fold(w).strip(".,!?()") for w in text.split()]
    words = [w for w in words if w]
    if not 2 <= len([w for w in words if w not in _NAME_JOINERS]) <= 5:
        return False
    # "la cocina de abuela", "taller del norte", "boulangerie du coin": the trade, then whose.
    head = words[1:] if words[0] in lexicon.NAME_ARTICLES else words
    trade_first = len(head) >= 2 and head[0] in lexicon.TRADE_NOUNS and head[1] in _WHOSE
    if words[-1] not in lexicon.TRADE_NOUNS and words[-1] not in lexicon.COMPANY_WORDS and not trade_first:
        return False
    # "We Fix It Plumbing & Heating", "The Thank You Card Company": in title case, a name may be
    # made of any words.
    if _in_title_case(text):
        return True
    return not any(
        w in lexicon.FUNCTION_WORDS
        and w not in lexicon.NAME_ARTICLES
        and w not in _NAME_JOINERS
        and not (trade_first and w in _WHOSE)
        for w in words
    )


def looks_like_use_case(text: str) -> bool:
    """An answer that describes what the customer wants to do ("answering customer FAQs for our
    gym", "tomar pedidos por whatsapp"), not a company name."""
    words = text.split()
    if len(words) >= 2 and _PRIMARILY.match(text):
        # "Hauptsächlich Terminerinnerungen für Patienten", "mostly order tracking": what it is
        # mainly for, whatever words follow.
        return True
    if len(words) < 3 or _looks_like_name(text.strip()):
        return False
    # A capitalised first word is a name's ("Trident Marine for ..."), unless it is a preposition
    # or the like ("Für Kundenservice über WhatsApp").
    opening_name = (
        bool(_CAPITALISED.match(words[0]))
        and fold(words[0]) not in lexicon.FUNCTION_WORDS
        and fold(words[0]).strip(",:") not in lexicon.USE_CASE_ADVERBS
    )
    return bool(_USE_CASE_CUES.search(text)) and not opening_name


def extract_company_name(
    text: str, *, asked: bool, person: str | None = None, unasked_weak: bool = False
) -> Extracted | None:
    """The company name in `text`; `asked` (the bot just asked for it) lets a bare answer count.

    `person` is the customer's own name (their WhatsApp profile): an answer that is only that name
    is a self-introduction, not a company. Unasked, of the weak lead-ins only those saying who they
    are count ("we're Northwind Traders": two capitalised words or more, none a word of a
    sentence); `unasked_weak` (a use case stands in the same message) lets every weak lead-in count.
    """
    for pattern in _SELF_INTRO:
        m = pattern.search(text)
        if m:
            value = _clean_name(text[m.end() :])
            if _plausible_name(value):
                return Extracted(
                    field="company_name", value=value, evidence=m.group(0) + value, confidence=0.85
                )
    # "Gupta Sweets naam hai hamari dukaan ka", "Bloom & Petal is the name": the name comes first;
    # "apna dhaba hai Zaiqa Dhaba naam se" ("by the name"): anywhere.
    m = _NAME_FIRST.match(text) or _BY_THE_NAME.search(text)
    if m:
        value = _clean_name(m.group(1))
        if _plausible_name(value):
            return Extracted(field="company_name", value=value, evidence=m.group(0), confidence=0.85)
    # "usaha saya katering, namanya Dapur Bunda Nur": of two lead-ins, the one before a capitalised
    # name gives it (the first said what the business is).
    led: list[Extracted] = []
    for pattern in _COMPANY_LEADS:
        m = pattern.search(text)
        if m:
            value = _clean_name(text[m.end() :])
            if _plausible_name(value):
                led.append(
                    Extracted(field="company_name", value=value, evidence=m.group(0) + value, confidence=0.9)
                )
                if not value[0].islower():
                    break
    if led:
        return next((e for e in led if not e.value[0].islower()), led[0])
    m = _COMPANY_SUFFIX.search(text)
    if m:
        tail = _SUFFIX_TAIL.match(text[m.end() :])
        if not (tail and tail.group(0)) and _PARTNERS.search(m.group(0).split()[-1]):
            # "Shah & Co Accountants", "Baker & Sons Removals": the trade after the partners.
            tail = _TRADE_AFTER_PARTNERS.match(text[m.end() :])
            if tail and any(fold(w) in lexicon.NOT_NAME_START for w in tail.group(0).split()):
                tail = None
        value = _clean_name(m.group(0) + (tail.group(0) if tail else ""))
        words = value.split()
        while words and fold(words[0]) in lexicon.NOT_NAME_START | lexicon.NAME_ARTICLES:
            words = words[1:]
        # "wir heißen seit Jänner Huber & Partner GmbH": since when is no part of the name.
        if len(words) > 2 and _SINCE.search(text[: m.start()]):
            words = words[1:]
        # "Ana de Ferretera López S.A." from Ana: who is writing, then where from.
        if (
            person
            and len(words) > 3
            and fold(words[0]) == fold(person.split()[0])
            and fold(words[1]) in _FROM
        ):
            words = words[2:]
        value = " ".join(words)
        # "Wir sind die Physiotherapie am Stadtpark GmbH": a lead-in before it gives the whole name.
        for pattern in _COMPANY_LEADS_WEAK:
            lead = pattern.search(text)
            whole = _clean_name(text[lead.end() :]) if lead is not None else ""
            if value and value in whole and _plausible_name(whole):
                value, words = whole, whole.split()
                break
        if len(words) >= 2 and _plausible_name(value):
            return Extracted(field="company_name", value=value, evidence=m.group(0), confidence=0.85)
    m = _NAME_HERE.search(text)
    if m:
        value = _clean_name(m.group(1))
        # "Dr. Srinivas Rao here": a person with a title announces themselves, not the business.
        if _plausible_name(value) and len(value.split()) >= 2 and not _TITLED.match(value):
            return Extracted(field="company_name", value=value, evidence=m.group(0), confidence=0.8)
    # Unasked and with no use case beside it, only a lead-in that says who they are ("we're
    # Northwind Traders"), and only before a clear name (see `clear`).
    for pattern in _COMPANY_LEADS_WEAK if asked or unasked_weak else _COMPANY_LEADS_NAMED:
        m = pattern.search(text)
        if m:
            # "does it matter if we're tiny?": a question about them, not their name.
            end = _CLAUSE_END.search(text, m.end())
            if end is not None and text[end.start()] == "?":
                continue
            # "aap kaun ho pehle batao" ("who are you, tell me first"): inside a question.
            opening = re.split(r"[.!?\n]", text[: m.start()])[-1]
            if opening.strip() and is_question(opening):
                continue
            # "we're a chain of 3 barbershops": an English indefinite article describes the business.
            we = _WE_LEAD.match(m.group(0)) is not None
            # "We're an NGO, Hope Harbor Foundation, and we want ...": the name beside what they are.
            beside = _NAMED_AFTER_DESCRIPTION.match(text, m.end()) if we else None
            if (
                beside is not None
                and not beside.group("article")
                and not _names_a_trade(beside.group("kind"))
            ):
                beside = None  # "we are based in Leeds, West Yorkshire": where, not what they are
            if beside is not None and _plausible_name(_clean_name(beside.group("name"))):
                value = _clean_name(beside.group("name"))
                return Extracted(field="company_name", value=value, evidence=beside.group(0), confidence=0.75)
            if _DESCRIBED.match(text, m.end()) and we:
                continue
            value = written = _clean_name(text[m.end() :])
            # "je gère la boulangerie Au Pain Doré", "I run the bakery Golden Crust": what the
            # business is, then its name in capitals (two words at least: "the same Problem").
            kind = _KIND_THEN_NAME.match(value)
            if (
                kind is not None
                and fold(kind.group(1)) not in lexicon.FUNCTION_WORDS
                and len(kind.group(2).split()) >= 2
                and _plausible_name(kind.group(2))
            ):
                value = kind.group(2)
            # Unasked, the name must look like one: two capitalised words, or one beside a use
            # case in the same message ("I'm from Bloom, ... we want to handle orders").
            clear = asked or (_looks_like_name(value) and (len(value.split()) >= 2 or unasked_weak))
            if not (asked or unasked_weak) and not _reads_as_a_name(value):
                continue  # "We're Really Interested In This", "We are Looking For Info": title case
            # Asked for it, a lowercase name counts ("it's blue door bakery"); unasked, capitals.
            named = value[0].isupper() or (
                asked
                and value[0].isalpha()  # "wir sind 6 Leute": a head count, not a name
                and len(_without_article(value).split()) <= 5
                and fold(_without_article(value).split()[0]) not in lexicon.FUNCTION_WORDS
                # "its for lesson bookings" says what it is for; "it's for blue door bakery" whom.
                and (_trade_name(value) or not re.search(r"\bfor\s*$", m.group(0), re.IGNORECASE))
            )
            if _plausible_name(value) and named and clear:
                return Extracted(
                    field="company_name", value=value, evidence=m.group(0) + written, confidence=0.75
                )
    if not asked:
        return None
    if small_talk_runs_on(text):
        return None  # "saw the ad about the shared inbox": no name in it
    # "We Fix It Plumbing & Heating", "Just Call Dave Plumbing": a name in title case that ends with
    # its trade, whatever its words say; also as the last sentence ("ha you bots get straight to it
    # don't ya. Salt & Stone Surf School").
    whole = text.strip().rstrip(".!")
    last = _SENTENCE_END.split(whole)[-1].strip()
    # ... or as the first clause of it ("hey, saw the ad. Orchard Lane Bakery, we bake for cafes").
    for titled in dict.fromkeys((whole, last, _FIRST_CLAUSE.split(last, maxsplit=1)[0].strip())):
        if _trade_name(titled) and _in_title_case(titled):
            return Extracted(field="company_name", value=titled, evidence=text.strip(), confidence=0.75)
    # "Permisi, kami butuh ...": a greeting set off by a comma is no part of the answer ("Namaste
    # Yoga", "Servus Catering" are names).
    opening = social_prefix(text)
    tokens = analyse(text).tokens
    if opening and opening < len(tokens):
        after = text[tokens[opening - 1].end :].lstrip(" ")
        if after[:1] in {",", ".", "!", ":", ";", "-", "،"}:
            text = strip_social(text) or text
    # "ok cool. Sunny Side Cafe": an opening sentence that says nothing; the answer follows it.
    said = _CHATTER_SENTENCE.match(text)
    if said and (
        is_greeting(said.group(1))  # "Hi, saw the ad. Jasper Creek Outfitters, we do ..."
        or all(
            _only_chatter(part) or is_acknowledgement(part)
            for part in said.group(1).split(",")
            if part.strip()
        )
    ):
        text = text[said.end() :]
    # "it's just me and my sister, Two Birds Ceramics", "é pra minha clínica de estética, a Bella
    # Pele", "hamari clinic hai - Shifa Dental Care": the name stands last, set off by a comma or a
    # dash.
    set_off = _SET_OFF.split(text)
    if len(set_off) > 1:
        last = _clean_name(set_off[-1])
        opening = set_off[-1].split()
        if (
            len(last.split()) >= 2
            and bool(opening)
            and (_CAPITALISED.match(opening[0]) or fold(opening[0]) in lexicon.NAME_ARTICLES)
            and _looks_like_name(last)
            and sum(1 for w in last.split() if _CAPITALISED.match(w)) >= 2
            and _plausible_name(last)
            and not _is_chatter(last)
        ):
            return Extracted(field="company_name", value=last, evidence=text.strip(), confidence=0.7)
    # "Ach so, sorry: Nordlicht Events": a colon introduces the answer.
    after_colon = text.rsplit(":", 1)[1].strip() if ":" in text else ""
    if after_colon and extract_email(after_colon) is not None:
        after_colon = ""  # "mail: info@visser.nl": a contact detail, not the answer
    answer_text = after_colon if 0 < len(after_colon.split()) <= 6 else text
    answer = answer_text.strip()
    cut = _clause_end(answer)
    first = answer[: cut.start()] if cut else answer
    # "Trident Marine, we'd like a call from sales": a name opening the answer counts even when the
    # rest of the message asks for something.
    named_first = first != text.strip() and _looks_like_name(first.strip()) and not _is_chatter(first)
    if not named_first and (
        _is_chatter(text)
        or (
            looks_like_use_case(text)
            and not _ENDS_IN_LEGAL_FORM.search(text.strip())
            and not _trade_name(text.strip())
        )
    ):
        return None
    # "We'd be using it for appointment reminders, ...": an answer opening with a use case's
    # lead-in is no name ("Parcelpoint here, ... want WhatsApp for alerts" opens with one).
    if not named_first and any((m := p.search(text)) is not None and m.start() == 0 for p in _USE_CASE_LEADS):
        return None
    value = _clean_name(first)
    if not (_plausible_name(value) or _titled_after_a_greeting(value)):
        return None
    if len(value.split()) > 6 or value.replace(" ", "").isdigit():
        return None
    value_words = analyse(value).words
    if all(w in lexicon.INFO_WORDS or w in _NO_VALUE_WORDS for w in value_words):
        return None  # "info pls": a request for information
    if any(w in lexicon.INFO_WORDS for w in value_words) and all(
        w in lexicon.INFO_WORDS
        or w in _NO_VALUE_WORDS
        or w in lexicon.FUNCTION_WORDS
        or w in lexicon.NOT_COMPANY
        for w in value_words
    ):
        return None  # "quisiera info del anuncio": information about the ad, asked for
    if value_words and all(w in lexicon.FUNCTION_WORDS for w in value_words) and value.islower():
        return None  # "queria" (cut before "mais informações"): no name at all
    if person and fold(value) in {fold(person), fold(person.split()[0])}:
        return None
    # "sou a thaís", "I'm Freya": the customer says who they are, not what the company is.
    introduced = _SELF_NAMING.match(value)
    rest = value[introduced.end() :].split() if introduced else []
    if introduced and (len(rest) <= 1 or (person is not None and fold(rest[0]) == fold(person.split()[0]))):
        return None
    if value[:1].islower() and text.rstrip().endswith(("?", "؟")):
        return None  # "on est une ONG, pas une entreprise, ça marche quand même ?": asked back
    return Extracted(field="company_name", value=value, evidence=text.strip(), confidence=0.65)


_KIND_THEN_NAME = re.compile(
    r"^(?:(?:the|la|le|l'|el|o|a|die|der|das|het|de|il|lo)\s+)?([a-zà-öø-ÿ][a-zà-öø-ÿ'-]+)\s+"
    r"([A-ZÀ-ÖØ-Þ][\w&'.-]*(?:\s+(?:[A-ZÀ-ÖØ-Þ][\w&'.-]*|&|and|de|del|du|da|di|von|van)){0,4})$",
    re.UNICODE,
)
_CHATTER_SENTENCE = re.compile(r"\s*([^.!?]+[.!]+)\s+(?=\S)")
_ARTICLE = r"(?:an?|une?|un[ao]?|ein(?:e|en)?|een|uma?)"
_DESCRIBED = re.compile(_ARTICLE + r"\s+[a-z]")
# Who "we" are, in the lead-ins of several languages ("on est une agence immo, Agence Horizon").
_WE_LEAD = re.compile(r"(?:we|i|on|nous|somos|wir|siamo|wij|a\s+gente)\b", re.IGNORECASE)
# A short description, a comma, then two or more capitalised words set off by a comma or the end.
# A comma, or a dash between spaces: what sets off the name at the end of an answer.
_SET_OFF = re.compile(r",|\s[-–—]\s")
_NAMED_AFTER_DESCRIPTION = re.compile(
    r"(?:(?P<article>"
    + _ARTICLE
    + r")\s+|(?=[a-z]))"  # "a cleaning company, ...", "garments buying house, ..."
    r"(?P<kind>[^,.!?\"“”«]{1,40})(?:,|\s[-–—:]|:)\s*[\"“«']?"
    r"(?P<name>[A-ZÀ-ÖØ-Þ][\w&'.-]*(?:\s+(?:[A-ZÀ-ÖØ-Þ][\w&'.-]*|&|and|del?|d[aiou]|of|y)){1,4})[\"”»']?"
    r"(?=\s*(?:,|\.|!|$|\s(?:and|y|et|und|e)\b))",
    re.UNICODE,
)


# A person's own name given ("my name is", "je m'appelle", "me llamo"), unlike "I'm", "soy".
_MY_NAME_IS = re.compile(
    r"^(?:my\s+name\s+is|me\s+llamo|mi\s+nombre\s+es|meu\s+nome\s+[ée]|je\s+m'appelle|mi\s+chiamo|"
    r"ich\s+hei(?:ß|ss)e|mein\s+name\s+ist|nama\s+saya|mera\s+naam|mijn\s+naam\s+is)\s+",
    _FLAGS,
)
_SELF_NAMING = re.compile(
    r"^(?:i'?m|i\s+am|my\s+name\s+is|me\s+llamo|soy|sou|je\s+suis|je\s+m'appelle|ich\s+bin|ich\s+hei(?:ß|ss)e|"
    r"sono|mi\s+chiamo|aku|nama\s+saya|ik\s+ben|mera\s+naam|mai|main)\s+(?:[oa]\s+)?(?=\w)",
    _FLAGS,
)


# After a comma, a new subject or a figure starts a remark about something else ("customer support,
# we get tons of DMs", "selling on WhatsApp, budget is like $50/mo", "lead follow up, 5 log hai").
_USE_CASE_AFTERTHOUGHT = re.compile(
    r",\s*(?=(?:we|i|our|my|it|its|it's|they|ppl|people|folks|everyone|everybody|customers|clients|budget|about|around|"
    r"today|currently|right\s+now|hoje|hj|hoy|ahora|ahorita|agora|actualmente|atualmente|aujourd'hui|heute|derzeit|oggi|sekarang|skrg|abhi|nu|"
    # how it is done now ("..., adesso chiamiamo uno per uno", "..., aktuell läuft alles über ...")
    r"adesso|attualmente|al\s+momento|aktuell|momentan|zurzeit|jetzt|maintenant|actuellement|en\s+ce\s+moment|l[àa]|"
    r"momenteel|saat\s+ini|[şs]u\s+an|[şs]imdi|teraz|obecnie|hi[ệe]n\s+t[ạa]i|حاليا|الآن|je|j'|ich|io|"
    r"se\s+(?:nos|me)|"
    r"like|tipo|o\s+sea|ou\s+seja|i\s+mean|es\s+decir|c'est-[àa]-dire|d\.\s?h\.|cio[èe]|yaitu|matlab|"
    r"temos|tenemos|nous\s+avons|wir\s+haben|abbiamo|kami\s+punya|we've|we\s+have|nosotros|somos|sou|soy|n[óo]s|"
    r"o\s+pessoal|a\s+gente|la\s+gente|les\s+gens|die\s+leute|there'?s|there\s+(?:is|are)|"
    r"langfristig|sp[äa]ter|vielleicht|maybe|perhaps|eventually|later|talvez|quiz[áa]s|peut-[êe]tre|forse|mungkin|misschien|"
    r"and|y|e|et|und|dan|aur|en|plus|also|roz|daily|har\s+din|setiap\s+hari|todos\s+los\s+d[ií]as|todo\s+dia|"
    r"nous|on|wir|sind|noi|siamo|kami|aku|hum|ham|wij|zijn|"
    # the company named after the use case ("..., the company is called Crumb and Co")
    r"(?:the\s+)?(?:company|business|firm|brand|shop|store)(?:'s)?|(?:la\s+|a\s+|nuestra\s+|nossa\s+)?empresa|"
    r"(?:l'|notre\s+)entreprise|(?:die\s+|unsere\s+)?firma|l'azienda|(?:het\s+|ons\s+)?bedrijf|nama)\b|\d"
    # a remark ("nothing fancy", "that's all", "for now")
    r"|(?:nothing\s+(?:fancy|special|else|big)|that'?s\s+(?:it|all)|for\s+now|for\s+starters|if\s+possible|"
    r"nada\s+(?:m[áa]s|especial|del\s+otro\s+mundo)|s[óo]\s+isso|c'est\s+tout|rien\s+de\s+(?:plus|sp[ée]cial)|"
    r"sonst\s+nichts|niente\s+di\s+(?:che|speciale))\b"
    # a Hinglish sentence of its own, ending in its verb ("..., bahut msgs aate hai")
    r"|[^,]*\b(?:hai|hain|hota|hoti|hote|tha|thi)\s*$"
    # an Indonesian remark about something of theirs ("..., chatnya udah ga ke-handle")
    r"|\w{3,}nya\s+(?:udah|sudah|sering|selalu|suka|ga|gak|tidak|nggak|jadi|makin)\b)",
    _FLAGS,
)


# "use it for", in the languages that put it after the lead-in ("on voudrait l'utiliser pour ...").
# "... verschicken – Physiotherapie Kranich", "... rental inquiries - company is Keystone Rentals".
_SPACED_DASH = re.compile(
    r"\s[–—]\s|\s-\s+(?=(?:the\s+|our\s+|my\s+)?(?:company|business|firm|name|empresa|entreprise|firma|azienda|"
    r"bedrijf|perusahaan|we'?re|we\s+are|somos|nous\s+sommes|wir\s+sind)\b)",
    re.IGNORECASE,
)
_USED_FOR = re.compile(r"\b(?:use|using)\s+(?:it|this|you|whats\s?app)\s+(?:\w+\s+)?(?:for|to)\b", _FLAGS)
_USE_IT_FOR = re.compile(
    r"^(?:to\s+)?(?:(?:whats\s?app|het|dit)\s+(?:gebruiken|inzetten)\s+(?:voor|om)|(?:whats\s?app|es|das)\s+(?:f[üu]r|zum|zur)"
    r"|(?:use|using)\s+(?:it|this|you|whats\s?app|wa)\s+(?:(?:mostly|mainly|primarily|basically)\s+)?(?:to|for)|(?:l'utiliser|utiliser)\s+pour"
    r"|(?:usarlo|usarla|utilizarlo|us[áa]-lo|usar|utilizar)\s+(?:para|pra|pa)|(?:usarlo|utilizzarlo)\s+per"
    # "isko use karna hai wedding orders ki booking ke liye"
    r"|(?:isko|ise|isey|isse|ye|yeh|iska)\s+use\s+(?:karna|karni|karenge|karte|karke)(?:\s+(?:hai|hain|h))?)\s+",
    _FLAGS,
)


# What the use case is for, said after it ("a shared inbox so my 3 VAs can answer", "auto reply
# pesanan biar ga kewalahan", "pour que les clients ..."): the purpose goes.
_PURPOSE = re.compile(
    r"\s+(?:so\s+(?:that\s+)?(?=(?:my|we|i|our|they|the|people|ppl|customers|clients|it|nobody|no\s+one)\b)|"
    r"(?:biar|supaya|agar|para\s+que|pra\s+que|para\s+q|pour\s+que|damit|so\s*dass|perch[ée]|affinch[ée]|taaki|taki|zodat|"
    r"sem|sin|sans|senza|ohne|tanpa|without)\s)",
    _FLAGS,
)


# "one place for client project updates that management can also see": a relative clause with a
# subject of its own describes the thing; the use case ends before it.
_OWN_SUBJECT_CLAUSE = re.compile(
    r"\s+(?:that|which|que|qui|die|dat|yang)\s+(?=\w+\s+(?:can|could|will|would|should|may|might|pode|podem|puede|pueden|peut|peuvent|kann|können|kunnen|bisa)\b)",
    _FLAGS,
)
# An answer that opens with "mainly" is the answer, whatever lead-in comes later in the message
# ("Mainly appointment reminders, though at some point we might use it for patient queries").
_GREETED_PURPOSE = re.compile(r"(?:for|para|pra|pour|voor|f[üu]r|per|untuk|buat)\s+", re.IGNORECASE)
_PRIMARILY = re.compile(
    r"^\s*(?:mainly|mostly|primarily|principally|chiefly|principalmente|sobretudo|sobre\s+todo|surtout|"
    r"principalement|vor\s+allem|haupts[äa]chlich|in\s+erster\s+linie|soprattutto|terutama|vooral)\b",
    _FLAGS,
)


# A capitalised name, then what the business is ("Voyages Soleil, une agence de voyage", "Kaya
# Dental, a small clinic"): the answer to "what's your company?", not a use case.
_NAME_THEN_WHAT_IT_IS = re.compile(
    r"^((?:[A-ZÀ-ÖØ-Þ][\w&'.-]*)(?:\s+(?:[A-ZÀ-ÖØ-Þ][\w&'.-]*|&|de|da|do|di|del|van|von))*)\s*[,–-]\s*"
    r"(?:une?|a|an|una?|uma?|ein|eine|een|our|notre|nuestra|nossa|unsere|onze)\s",
    re.UNICODE,
)


# Why they need it, said after it ("balas chat pelanggan otomatis kak, soalnya adminnya kewalahan",
# "order updates because we get tons of calls"): the reason goes.
# "... at the same time instead of passing one phone round": how it is done now, set against it.
_INSTEAD = re.compile(
    r"[\s,]+(?:instead\s+of|rather\s+than|en\s+lugar\s+de|en\s+vez\s+de|em\s+vez\s+de|ao\s+inv[ée]s\s+de|au\s+lieu\s+de|"
    r"(?:an)?statt|invece\s+di|in\s+plaats\s+van|daripada|bukannya)\s",
    _FLAGS,
)
_BECAUSE = re.compile(
    r"[\s,]+(?:because|bc|coz|cuz|cause|(?:since|as)(?=\s+(?:we|i|our|my|they|the)\b)|porque|pq|parce\s+que|weil|"
    r"siccome|poich[ée]|omdat|karena|krn|soalnya|soale|kyunki|kyuki|kyonki)\s",
    _FLAGS,
)


# "parent communication, daily updates and pickup changes": a list of uses, three or so short items
# with "and" before the last, none of them a sentence or a number ("..., we have 300 clients").
_ITEM = (
    r"(?!(?:we|i|our|my|it|they|nous|wir|noi|kami|hum|we're|we've|about|around|like)\b)"
    r"[^\W\d][\w'&/-]*(?:\s+[\w'&/-]+){0,4}"
)
_LIST_OF_USES = re.compile(
    rf"^(?!.*\d)\s*{_ITEM}(?:\s*,\s*{_ITEM}){{1,3}}\s+(?:and|y|e|et|und|dan|en|aur|or)\s+{_ITEM}\s*$",
    _FLAGS,
)


# Turkish says what it is for before "için kullan-" ("for ... we'll use it"): the use case ends there.
_TURKISH_USE_FOR = re.compile(r"\s+i[çc]in\s+kullan\w*", re.IGNORECASE)


def _clean_use_case(raw: str) -> str:
    sentence = _SENTENCE_END.split(raw.strip(), maxsplit=1)[0]
    sentence = re.split(_EMOJI, sentence, maxsplit=1)[0]
    sentence = _SPACED_DASH.split(sentence, maxsplit=1)[0]  # "... verschicken – Physiotherapie Kranich"
    if not _LIST_OF_USES.match(sentence):
        sentence = _USE_CASE_AFTERTHOUGHT.split(sentence, maxsplit=1)[0]
    sentence = sentence.split("،", 1)[0]  # an Arabic comma: a remark follows ("..., الضغط علينا كبير")
    sentence = _PURPOSE.split(sentence, maxsplit=1)[0]
    sentence = _BECAUSE.split(sentence, maxsplit=1)[0]
    sentence = _INSTEAD.split(sentence, maxsplit=1)[0]
    sentence = _TURKISH_USE_FOR.split(sentence, maxsplit=1)[0]  # "müşteri destek için kullanacağız, ..."
    sentence = _OWN_SUBJECT_CLAUSE.split(sentence, maxsplit=1)[0]
    sentence = _USE_IT_FOR.sub("", sentence.strip(), count=1)  # "looking to use it for class bookings"
    value = _USE_CASE_TRIM_END.sub("", sentence.strip()).strip(" ,.;:!-")
    return value[:160]


def _aside(text: str) -> bool:
    """ "sorry my toddler grabbed the phone lol", "jaja perdón estaba en una llamada", "sorki za
    opóźnienie, klient przyszedł": a message that opens with an apology is about the customer's own
    doing, not an answer, unless a name in capitals follows the apology ("sorry! Webshop
    Fietsfriend") or a use case after its lead-in ("sorry, mainly for bookings")."""
    a = analyse(text)
    words = a.words
    i = _opening_fillers(words, apologies=False)
    if i >= len(words) or words[i] not in lexicon.APOLOGY_WORDS:
        return False
    rest = text[a.tokens[i].end :].lstrip(" ,.:;!-–—")
    # "ah scusa il nome: trattoria da nonna lina", "sorry, our company is called ...": an answer.
    if ":" in rest or extract_company_name(rest, asked=False) is not None:
        return False
    # "Sorry, yes of course, it's the Harbourside Hotel in Whitby 😊": past the chatter, a name.
    parts = rest.split(",")
    while len(parts) > 1 and _only_chatter(parts[0]):
        parts = parts[1:]
    rest = _COPULA.sub("", ",".join(parts).strip(), count=1).strip()
    named = _clean_name(rest)
    if _opening_name(rest) is not None or (
        named[:1].isupper() and _looks_like_name(named) and _plausible_name(named)
    ):
        return False
    opening = analyse(rest).words[:1]
    return not _PRIMARILY.match(rest) and not (opening and opening[0] in lexicon.PURPOSE_WORDS)


def _opening_fillers(words: Sequence[str], *, apologies: bool) -> int:
    """How many words open the message as interjections and laughter ("jaja", "oh"), and as
    apologies too when `apologies`."""
    i = 0
    while i < len(words) and (
        words[i] in lexicon.INTERJECTIONS
        or _LAUGHTER.fullmatch(words[i])
        or (apologies and words[i] in lexicon.APOLOGY_WORDS)
    ):
        i += 1
    return i


def _opening_name(text: str) -> str | None:
    """The name in capitals that opens `text`, up to the end of its clause ("Viveros del Ebro, que
    me como las palabras" -> "Viveros del Ebro"), or None."""
    cut = _clause_end(text)
    # "Boulangerie Marchand*": the star of a corrected word is not part of the name.
    name = text[: cut.start() if cut else len(text)].strip().rstrip(".!*").lstrip("*")
    if not name[:1].isupper() or not _looks_like_name(name) or not _plausible_name(name):
        return None
    return name


# "we're a dental group", "somos una tienda online de cosmética": what the business is, no use.
_WHAT_THEY_ARE = re.compile(
    r"^\s*(?:we'?re|we\s+are|somos|nous\s+sommes|on\s+est|wir\s+sind|siamo|wij\s+zijn|we\s+zijn|"
    r"kami(?:\s+adalah)?|biz|jeste(?:ś|s)my)\s+(?:just\s+|only\s+|solo\s+|s[óo]\s+)?"
    r"(?:an?|una?|une?|ein(?:e|en)?|een|uma?|sebuah|bir)\s+[^,;.!?]{2,60}[.!]*\s*$",
    re.IGNORECASE,
)


def _only_what_they_are(text: str) -> bool:
    """The message only says what kind of business they are ("we're a dental group"), with no
    purpose ("for ...") and nothing about what it does ("a clinic that sends ...")."""
    if not _WHAT_THEY_ARE.match(text):
        return False
    words = analyse(text).words
    return not set(words) & (lexicon.PURPOSE_WORDS | lexicon.RELATIVE_WORDS) and not any(
        w.endswith("ing") and len(w) > 5 for w in words
    )


def extract_use_case(text: str, *, asked: bool) -> Extracted | None:
    """The primary use case; unasked only after a clear lead-in ("we'd use it to ...")."""
    if _asked_inside(text):
        return None  # "je voudrais d'abord savoir s'il y a un essai gratuit": a question
    if asked:
        # "pour les rappels de vaccins... non pardon, pour les commandes d'ordonnances en fait": the
        # answer corrected in the message itself; what follows the correction counts.
        a = analyse(text)
        cues = _CORRECTION_CUES.find(a.words)
        if cues and cues[-1].first > 0:
            after = text[a.tokens[cues[-1].last].end :].lstrip(" ,.:;!-–—")
            if len(analyse(after).words) >= 2:
                text = after
    # Opening with "mainly", the answer is in the first clause: a lead-in further on is not it.
    reach = len(text)
    if asked and _PRIMARILY.match(text):
        cut = _CLAUSE_END.search(text)
        reach = cut.start() if cut else len(text)
    for pattern in _USE_CASE_LEADS:
        m = pattern.search(text)
        if m and m.start() < reach:
            value = _clean_use_case(text[m.end() :])
            if len(value) >= 3:
                return Extracted(
                    field="use_case",
                    value=value,
                    evidence=_SENTENCE_END.split(text[m.start() :].strip(), maxsplit=1)[0],
                    confidence=0.9,
                )
    if not asked:
        greeted = _GREETED_PURPOSE.match(strip_social(text)) if social_prefix(text) else None
        if greeted is not None and "?" not in text:
            # "hallo, voor klantvragen over verzendingen", "hi, for appointment reminders": a greeting,
            # then what it is for, unasked.
            rest = strip_social(text)[greeted.end() :]
            words = analyse(rest).words
            if (
                len(words) >= 2
                and words[0] not in lexicon.INFO_WORDS | lexicon.ASK_VERBS
                and not is_question(rest)
                and not set(words) & lexicon.QUESTION_WORDS
            ):
                value = _clean_use_case(rest)
                if len(value) >= 3:
                    return Extracted(field="use_case", value=value, evidence=text.strip(), confidence=0.8)
    if asked and _is_chatter(text):
        # "service reminders + customers asking is my car ready. can a human call me tho": the
        # answer, then a request of its own sentence; the answer counts.
        sentences = [x.strip() for x in _SENTENCE_END.split(text.strip()) if x.strip()]
        if len(sentences) < 2 or _is_chatter(sentences[0]) or is_acknowledgement(sentences[0]):
            return None
        if detect_explicit_request(text) is None:
            return None
        text = sentences[0]
    if not asked or _is_chatter(text) or _aside(text) or _only_what_they_are(text):
        return None
    # "ok cool. we want it for appointment reminders": the answer is the first sentence that is
    # not an acknowledgement.
    sentences = [x.strip() for x in _SENTENCE_END.split(text.strip()) if x.strip()]
    value = next(
        (x for x in sentences if not is_acknowledgement(x) and not _only_chatter(x) and not is_greeting(x)),
        sentences[0] if sentences else "",
    )
    # "g'day so basically its for lesson bookings": the greeting goes first.
    greeting = social_prefix(value)
    if greeting and greeting < len(analyse(value).words):
        if small_talk_runs_on(value):
            return None  # "vi el anuncio de whatsapp": the small talk runs on
        value = value[analyse(value).tokens[greeting].start :]
    # "sorry, mainly for bookings": the apology goes too.
    opening = analyse(value)
    skip = min(_opening_fillers(opening.words, apologies=True), len(opening.words) - 1)
    if skip > 0:
        value = value[opening.tokens[skip].start :]
    for _ in range(3):  # "well, mainly to ..." peels two leads
        for pattern in _USE_CASE_ANSWER_LEADS:
            trimmed = pattern.sub("", value, count=1)
            if trimmed != value:
                value = trimmed
                break
        else:
            break
    value = _clean_use_case(value)
    if len(value) < 3 or not any(c.isalpha() for c in value):
        return None
    if is_acknowledgement(value) or _only_chatter(value):
        return None  # "d'accord, merci, je regarde ça ce soir": what is left is an acknowledgement
    return Extracted(field="use_case", value=value, evidence=text.strip(), confidence=0.65)


_CATALOGUES = frozenset({"catalogo", "catalogos", "catalog", "catalogue", "katalog", "menu", "cardapio"})


def _asks_for_information(use_case: Extracted) -> bool:
    """ "quiero más información", "je voudrais plus d'infos", "info sulla inbox condivisa": a
    request for information, not what they want to do."""
    if set(analyse(use_case.value).words) & lexicon.RECIPIENT_WORDS:
        return False  # information for their customers: what they want to send
    if _USED_FOR.search(use_case.evidence):
        return False  # "we'd use it for quote follow-ups": what it is used for is no request
    words = content_words(use_case.value)
    if len(words) >= 2 and set(words) & lexicon.ENQUIRY_WORDS:
        return False  # "quote requests from our website": what their customers ask for
    opening = analyse(use_case.value).words[:1]
    if len(words) >= 2 and opening and opening[0] in lexicon.MAKE_VERBS:
        return False  # "fazer orçamento de peças": quotes they make for their customers
    if len(words) >= 3 and _OVER_WHATSAPP.search(use_case.value):
        return False  # "orçamento de peças pelo whatsapp": what they do over WhatsApp, for others
    if words and words[0] in _CATALOGUES and _OVER_WHATSAPP.search(use_case.value):
        return False  # "queremos un catálogo por whatsapp": their own catalogue, shown there
    return not words or all(w in lexicon.INFO_WORDS for w in words) or words[0] in lexicon.INFO_WORDS


def _inside_the_use_case(company: Extracted, use_case: Extracted, text: str) -> bool:
    """ "We'd be wanting it for shift swap requests", asked for the company: a bare answer's first
    words are no name when the message is a use case after a clear lead-in that starts where the
    "name" does."""
    if company.confidence > 0.65 or use_case.confidence < 0.9:
        return False
    start = text.find(use_case.evidence[:20])
    at = text.find(company.value)
    return start >= 0 and start <= at <= start + len(use_case.evidence)


def _is_the_company(use_case: Extracted, company: Extracted | None) -> bool:
    """ "trabalho na Lar Doce Lar Imóveis" taken whole as the answer: the company, not a use case
    (a use case after a clear lead-in stays)."""
    return company is not None and use_case.confidence < 0.9 and fold(company.value) in fold(use_case.value)


def extract_email(text: str) -> Extracted | None:
    """The first email address in `text`."""
    m = _EMAIL.search(text)
    if m is None:
        return None
    value = m.group(0).rstrip(".")
    return Extracted(field="email", value=value, evidence=value, confidence=0.95)


def _number(raw: str) -> str:
    return raw.strip().rstrip(".,")


def extract_business_size(text: str) -> Extracted | None:
    """Head count as digits ("12", "10-50"; "1" for "just me"), from "12 agents", "30 Mitarbeiter"."""
    m = _SIZE.search(text)
    if m:
        low, high = _number(m.group(1)), m.group(2)
        value = f"{low}-{_number(high)}" if high else low
        return Extracted(field="business_size", value=value, evidence=m.group(0).strip(), confidence=0.85)
    m = _TEAM_OF.search(text)
    if m:
        return Extracted(field="business_size", value=m.group(1), evidence=m.group(0), confidence=0.8)
    m = _SOLO.search(text)
    if m:
        return Extracted(field="business_size", value="1", evidence=m.group(0), confidence=0.7)
    return None


def extract_budget(text: str) -> Extracted | None:
    """A budget: an amount with a currency ("$500/month", "R$ 2.000") or after "budget"."""
    m = _BUDGET.search(text)
    if m is None:
        return None
    value = m.group(0).strip()
    return Extracted(field="budget", value=value, evidence=value, confidence=0.8)


_COPULA = re.compile(
    r"^(?:(?:sorry|perd[oó]n|desculpa|pardon|scusa)[\s,:]+)?"
    r"(?:it'?s|its|it\s+is|the\s+name\s+is|es\s+ist|het\s+is|c'est|es|era|ist|is|[ée]|[èe])\s+",
    re.IGNORECASE,
)
_AFTER_NAME = re.compile(r"\s+(?:with|con|com|avec|mit|met|dengan|w/)\s+.*$", re.IGNORECASE)


# A word with a star before or after it ("*Marchand", "Marchand*"): the chat convention for a word
# typed again, corrected. An even number of stars is formatting ("*Acme Corp*").
_STARRED_WORD = re.compile(
    r"(?<![\w*])\*[^\W\d_][\w'-]{1,30}(?![\w*])|(?<![\w*])[^\W\d_][\w'-]{1,30}\*(?![\w*])"
)


def is_correction(text: str) -> bool:
    """The customer correcting what they typed before ("sorry, typo, it's ...", "me equivoqué",
    "pardon, Boulangerie Marchand*")."""
    if text.count("*") % 2 == 1 and _STARRED_WORD.search(text):
        return True
    return bool(_CORRECTION_CUES.find(analyse(text).words))


def _corrected_company(text: str, *, soft: bool) -> Extracted | None:
    """ "sorry, typo, it's Orbitell Solutions with two Ls": a correction of the company name given
    before, the name that follows the cue."""
    a = analyse(text)
    cues = _CORRECTION_CUES.find(a.words)
    if not cues:
        # "perdón, en realidad la empresa es Rivas Hnos. SRL", "przepraszam, właściwie firma to
        # Nowak i Syn Sp. z o.o.": an apology or an "actually" beside a clearly led name.
        sorry = [i for i, w in enumerate(a.words) if w in lexicon.CORRECTION_WORDS]
        if not soft or not sorry:
            return None
        led = extract_company_name(text, asked=False)
        if led is not None and led.confidence >= 0.85:
            return led.model_copy(update={"evidence": text.strip(), "correction": True})
        # "pardon Yıldız Ev Mobilyaları", "desculpe, é Clínica Dentária Sorriso Lda": the apology,
        # then the name in capitals and nothing else.
        # "perdón, Viveros del Ebro, que me como las palabras jaja": up to the end of its clause.
        rest = _COPULA.sub("", text[a.tokens[sorry[0]].end :].lstrip(" ,.:;!-–—"), count=1).strip()
        name = _opening_name(rest)
        if name is not None and len(name.split()) >= 2:
            return Extracted(
                field="company_name", value=name, evidence=text.strip(), confidence=0.85, correction=True
            )
        return None
    rest = text[a.tokens[cues[0].last].end :].lstrip(" ,.:;!-–—")
    if not rest.strip(" .!"):
        # "oh wacht, Tandartspraktijk Zuidplein bedoel ik": the cue after the name.
        before = text[: a.tokens[cues[0].first].start]
        capital = next((t.start for t in a.tokens if t.start < len(before) and text[t.start].isupper()), None)
        name = _opening_name(before[capital:].strip(" ,.:;!-–—")) if capital is not None else None
        if name is None:
            return None
        return Extracted(
            field="company_name", value=name, evidence=text.strip(), confidence=0.85, correction=True
        )
    rest = _COPULA.sub("", rest, count=1)
    value = _AFTER_NAME.sub("", _clean_name(rest))
    if not value or not value[0].isupper() or not _looks_like_name(value) or not _plausible_name(value):
        # "Korrektur: wir heißen seit Jänner Huber & Partner GmbH": a sentence that names it clearly.
        led = extract_company_name(rest, asked=False)
        if led is not None and led.confidence >= 0.85:
            return led.model_copy(update={"evidence": text.strip(), "correction": True})
        return None
    return Extracted(
        field="company_name", value=value, evidence=text.strip(), confidence=0.85, correction=True
    )


# "firma adı mı? Yıldız Turizm", "el nombre? Ferretería López": the question asked back, then the
# answer. A short question with a word for a name or a business in it.
_ECHO = re.compile(r"^\s*¿?(?P<echo>[^?¿.!]{1,40})\?+\s*(?=\S)")
_NAME_NOUNS = frozenset(
    {"name", "naam", "nombre", "nome", "nom", "adi", "ismi", "isim", "nama", "nazwa", "ten"}
)


def _after_the_echo(text: str) -> str:
    m = _ECHO.match(text)
    if m is None:
        return text
    words = analyse(m.group("echo")).words
    if len(words) > 5 or not set(words) & (_NAME_NOUNS | lexicon.BUSINESS_NOUNS):
        return text
    return text[m.end() :]


def extract_fields(
    text: str, *, asking: str | None, known: frozenset[str] = frozenset(), person: str | None = None
) -> list[Extracted]:
    """Every field found in one message.

    `asking` is the field the bot just asked for, if any; `known` the fields already collected;
    `person` the customer's profile name. An answer is taken for what it looks like, not only for
    what was asked: a description of what they want to do answers "use case" even when the bot
    asked for the company ("answering customer FAQs for our gym"), and a bare name answers
    "company" when the bot asked for the use case and the company is still missing ("FitHub").
    """
    if asking == "company_name":
        text = _after_the_echo(text)
        # "es Ferretería López", "é a Padaria Central": the answer's copula goes.
        copula = _COPULA.match(text)
        rest = text[copula.end() :].split() if copula is not None else []
        name_words = rest[1:] if rest and fold(rest[0]) in lexicon.NAME_ARTICLES else rest
        if name_words and "?" not in text and _CAPITALISED.match(name_words[0]):
            text = " ".join(rest)
    # "Peak Fitness - no sorry, Peak Performance Fitness": corrected in the answer itself too.
    if will_get_back(text):
        return []  # "je vous redis ça demain, on est encore en réflexion": later, no answer yet
    hedge = _SENTENCE_END.search(text.strip())
    if hedge is not None and undecided(text.strip()[: hedge.start()]):
        # "honestly not sure yet... mostly people dm me asking for prices": the answer follows.
        return extract_fields(text.strip()[hedge.end() :], asking=asking, known=known, person=person)
    if confirms_name(text):
        return _confirmation_and_after(text, asking=asking, known=known)
    known_company = "company_name" in known
    corrected = (
        _corrected_company(text, soft=known_company) if known_company or asking == "company_name" else None
    )
    if corrected is not None:
        return [corrected]
    found: list[Extracted] = []
    email = extract_email(text)
    # A message that is only an email address answers no "company?" question.
    only_email = email is not None and text.strip().strip(".").strip() == email.value
    # "sorry my toddler grabbed the phone lol": an aside answers nothing; only a lead-in counts. The
    # sentences after it may ("haha sorry it's been a monday. tenants reporting repairs mainly").
    aside = _aside(text)
    sentence_end = _SENTENCE_END.search(text.strip()) if aside else None
    # (Not after a question: "perdona, ¿me podría llamar alguien? prefiero explicarlo por teléfono".)
    later = [text.strip()[sentence_end.end() :]] if sentence_end is not None and "?" not in text else []
    if later and len(analyse(later[0]).words) >= 2 and not _aside(later[0]) and not _is_chatter(later[0]):
        return extract_fields(later[0], asking=asking, known=known, person=person)
    answer = None if only_email or aside else asking
    stripped = text.strip()
    strong_company = extract_company_name(text, asked=False, person=person)
    if (
        answer == "company_name"
        and strong_company is None
        and "use_case" not in known
        and looks_like_use_case(stripped)
        and not _ENDS_IN_LEGAL_FORM.search(stripped)  # "salt & sage catering co."
        and not _trade_name(stripped)  # "ridgeway auto repair"
        # "je vous écris suite à votre pub", "i'm a freelancer, do i count as a business lol": the
        # ad mentioned, or a question asked back, is no use case.
        and not small_talk_runs_on(stripped)
        and not is_question(stripped)
    ):
        answer = "use_case"
    elif (
        answer == "use_case"
        and "company_name" not in known
        and _looks_like_name(stripped)
        and not _is_chatter(stripped)
        and len(stripped.split()) <= 4
    ):
        answer = "company_name"
    company: Extracted | None = None
    if answer == "use_case" and asking == "company_name":
        # Asked for the company, an answer with a lead-in to a name is the name, however it reads
        # ("ok. wir sind die weber & söhne kg").
        led = extract_company_name(text, asked=True, person=person)
        if led is not None and led.confidence >= 0.7:
            answer, company = "company_name", led
    use_case = extract_use_case(text, asked=answer == "use_case")
    if use_case is not None and _asks_for_information(use_case):
        use_case = None
    if (
        use_case is not None
        and email is not None
        and not content_words(use_case.value.replace(email.value, " "))
    ):
        use_case = None  # "siobhan@cloverlockers.co.uk if you need it": a contact detail, no use case
    if use_case is None and answer == "use_case" and asking == "company_name":
        answer = "company_name"  # it read like a use case but is none: the answer to what was asked
    asked_company = use_case is not None and asking == "company_name"
    named = _NAME_THEN_WHAT_IT_IS.match(use_case.value) if use_case is not None and asked_company else None
    if named is not None and _plausible_name(named.group(1)):
        # "c'est pour Voyages Soleil, une agence de voyage": a name, then what the business is.
        use_case, answer = None, "company_name"
        value = named.group(1)
        company = Extracted(field="company_name", value=value, evidence=text.strip(), confidence=0.75)
    if company is None:
        company = extract_company_name(
            text, asked=answer == "company_name", person=person, unasked_weak=use_case is not None
        )
    if company is None and use_case is not None and use_case.confidence >= 0.9 and asking == "company_name":
        # "ok sounds good. Copperline Coffee Roasters, we'd use it for wholesale orders from cafes":
        # the answer asked for, then the use case after its lead-in.
        start = text.find(use_case.evidence)
        before = text[:start].strip(" ,;:-–—") if start > 0 else ""
        answered = extract_company_name(before, asked=True, person=person) if before else None
        if answered is not None and _in_title_case(answered.value) and _reads_as_a_name(answered.value):
            company = answered
    if use_case is not None and _is_the_company(use_case, company):
        use_case = None
    if use_case is not None and company is not None and _inside_the_use_case(company, use_case, text):
        company = None
    if use_case is not None and company is not None:
        # "cart abandonment reminders for our online store, Koala Kids Co": the name said at the
        # end of the use case is not part of it.
        at = use_case.value.find(company.value)
        if at >= 3 and use_case.value.endswith(company.value):
            use_case = use_case.model_copy(update={"value": use_case.value[:at].rstrip(" ,;:-")})
    if company is not None and confirms_name(text):
        # "Servus Catering 😄 heißt wirklich so": the name said before the confirmation; "sí, así se
        # llama el bar" names none, the answer before is the name (`confirmed_name`).
        company = _named_before_confirmation(text)
    for item in (company, use_case, email, extract_business_size(text), extract_budget(text)):
        if item is not None:
            found.append(item)
    return found
