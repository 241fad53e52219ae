"""Word lists and phrase patterns per language for the offline rules engine: data, not logic.

Every entry is written in *folded* form (see `agents.language.fold`): lowercase, no accents, ``ß`` ->
``ss``, Arabic alef/ya/ta-marbuta unified, English contractions joined (``don't`` -> ``dont``,
``I'm`` -> ``im``) and French/Italian elisions split (``quelqu'un`` -> ``quelqu un``).

Phrase syntax (compiled by `agents.language.PhraseSet`): ``|`` separates alternative phrases; in a
phrase, words are separated by spaces, ``a/b`` is a choice for one word, and a trailing ``*``
matches any word starting with the stem (``frustrat*``). ``"sales rep/team|billing"`` is "sales rep",
"sales team" or "billing".

Languages: en es pt fr de it hi (Hinglish, Latin script, plus a little Devanagari) id ar nl. Matching
is language-independent on purpose: customers mix languages ("customer care se connect kar do").
"""

from __future__ import annotations

from collections.abc import Mapping


def _words(text: str) -> frozenset[str]:
    """A set of words written as one space-separated string (easier to read and edit)."""
    return frozenset(text.split())


# --------------------------------------------------------------------------------------------------
# Tokenisation and language detection
# --------------------------------------------------------------------------------------------------

# A new clause starts at these words ("no need for an agent, just send ..." / "... bas price batao").
CLAUSE_CONJUNCTIONS = frozenset(
    {"but", "just", "instead", "pero", "sino", "porem", "aber", "sondern", "tapi", "cuma"}
    | {"maar", "lekin", "bas", "sirf", "لكن", "بس", "however", "though"}
)

# Letters that point at a language; (language, weight) pairs.
LANGUAGE_CHARS: Mapping[str, tuple[tuple[str, float], ...]] = {
    "ñ": (("es", 1.5),),
    "¿": (("es", 1.5),),
    "¡": (("es", 1.0),),
    "ã": (("pt", 1.5),),
    "õ": (("pt", 1.5),),
    "ç": (("pt", 0.5), ("fr", 0.5)),
    "ê": (("pt", 0.4), ("fr", 0.4)),
    "ß": (("de", 1.5),),
    "ä": (("de", 0.8),),
    "ö": (("de", 0.8),),
    "ü": (("de", 0.8),),
    "è": (("fr", 0.4), ("it", 0.4)),
    "ù": (("fr", 0.4), ("it", 0.3)),
    "î": (("fr", 0.6),),
    "û": (("fr", 0.6),),
    "ë": (("nl", 0.6), ("fr", 0.2)),
    "ì": (("it", 0.8),),
    "ò": (("it", 0.8),),
}

# Frequent, fairly distinctive words per language (folded). A word listed for k languages weighs
# 1/k for each; greetings used everywhere ("hi", "ok") are left out so they decide nothing.
LANGUAGE_WORDS: Mapping[str, frozenset[str]] = {
    "en": _words(
        "the is are you your i my want to with please what how can have this that and thanks thank "
        "need speak talk where when why it not dont im would like of for we our is it doesnt cant "
        "wont didnt any anyone someone there their they about just get send do does did been was "
        "were will should could whats hows order my password reset price cost much many so ever still "
        "after week experience absolutely no worries job"
    ),
    "es": _words(
        "el la los las de que quiero por favor gracias hola con un una es esta no mi yo para hablar "
        "como cuanto donde necesito tengo muy pero tambien vale usted ustedes puede pueden pasar "
        "nadie alguien llevo dias esto estoy mis del al se llama empresa somos queremos hay buenas "
        "buenos cuesta factura mucho muchas perfecto tan nada tenemos soy servicio malo sirve"
    ),
    "pt": _words(
        "eu voce voces nao com um uma de que quero obrigado obrigada ola oi falar preciso meu minha "
        "e esta ta isso por favor pra para ninguem alguem beleza valeu tem como estou muito ja vim "
        "do da dos das no na nos nas empresa se chama somos queremos funcionam sabados cadê cade "
        "pelo pela atendente consigo posso pode podem voce sou sem tudo vou atendimento problemas"
    ),
    "fr": _words(
        "je tu vous le la les est et pas ne avec pour merci bonjour une un voudrais veux parler "
        "quelqu c j d qu du des au oui il plait beaucoup ca toujours marche moi suis mon ma mes "
        "notre nous ou ce est entreprise societe aimerais peux commande bonsoir salut rien"
    ),
    "de": _words(
        "ich bin nicht und der die das ist mit bitte danke hallo wie was wo mein meine kann mochte "
        "einen einem ein sprechen ihr sie wir haben mitarbeiter echt total alles klar gern gerne "
        "hatte fur nur noch kein keine warum passt auf zu den dem bei firma heisst sind guten tag "
        "funktioniert jetzt andere adresse"
    ),
    "it": _words(
        "sono il lo gli della di che non per con un una voglio vorrei parlare grazie ciao posso mi "
        "ho perche questo buongiorno favore mille e lavoro dove quanto costa operatore persona vera "
        "volta terza stufo essere contattato da mio mia siamo azienda chiama gestire le richieste "
        "servizio pessimo vergogna"
    ),
    "hi": _words(
        "hai kya karni karna kar se ka ki ko mujhe mera meri nahi nahin chahiye chahie baat yaar "
        "bhai kisi koi aap aapka aapki kaise kyun theek thik bhi hoon hu batao karo karwao bahut "
        "accha acha ji kab kahan abhi bakwas insaan insan hain raha rahi gaya tha nhi mein"
    ),
    "id": _words(
        "saya mau bisa dengan sama aja tolong ke yang tidak gak ga nggak kak dong banget apa ini "
        "itu untuk dari kami kita berapa harga terima kasih makasih sudah belum orang bukan ada "
        "minta gimana kenapa buat lagi juga halo bicara ngobrol ngomong manusia pelayanannya "
        "sambungkan nama perusahaan oke pelanggan sekali pelayanan layanan"
    ),
    "nl": _words(
        "ik wil een het de van met niet graag kan spreken praten hoe wat waar mijn jullie bedankt "
        "dank je jij u hoi dit dat echt niemand iemand heb heeft hoeveel kost per maand aub zijn "
        "wij ons onze bedrijf heet door mens naar ook nog geen goed klantenservice reageert "
        "belachelijk verbind medewerker"
    ),
}

# --------------------------------------------------------------------------------------------------
# Explicit requests for a human: request verbs x human nouns, per language
# --------------------------------------------------------------------------------------------------

# Nouns that name a human helper; a message made of one of these (plus politeness) is a request.
HUMAN_NOUNS: Mapping[str, tuple[str, ...]] = {
    "en": (
        "human|humans|hooman|humam|person|agent|agents|representative|representatives|rep|reps",
        "human support/assistance/help/contact",
        "human being|live agent|real one|team member|staff member",
        "operator|operators|salesperson|salesman|saleswoman|salesrep|advisor|adviser|consultant",
        "specialist|supervisor|manager|employee|technician|engineer",
        "sales rep/person/team/guy/manager/representative/executive/consultant/people/department",
        "account manager/executive|support agent/person/staff/team/rep|customer service agent/rep",
    ),
    "es": (
        "humano|humana|persona|agente|agentes|asesor|asesora|asesores|operador|operadora|atencion humana",
        "ejecutivo|ejecutiva|representante|vendedor|vendedora|encargado|encargada|empleado",
    ),
    "pt": (
        "humano|humana|pessoa|atendente|atendentes|agente|consultor|consultora|vendedor|vendedora",
        "operador|operadora|representante|gerente|funcionario|funcionaria|atendimento humano",
    ),
    "fr": (
        "humain|humaine|une/vraie/la/cette/autre personne|conseiller|conseillere|conseillers|agent",
        "operateur|operatrice|commercial|commerciale|vendeur|interlocuteur|responsable|technicien",
        "assistance/aide humaine",
    ),
    "de": (
        "mensch|menschen|mitarbeiter|mitarbeiterin|kundenberater|berater|beraterin|ansprechpartner",
        "ansprechpartnerin|person|agent|agenten|vertriebler|verkaufer|betreuer|sachbearbeiter",
        "techniker|kollege|kollegin",
    ),
    "it": (
        "umano|umana|persona|operatore|operatrice|operatori|consulente|commerciale|agente|addetto",
        "addetta|responsabile|tecnico",
    ),
    "hi": ("insaan|insan|aadmi|banda|executive|agent|person|human|इंसान|एजेंट|आदमी|व्यक्ति",),
    "id": ("manusia|orang|admin|operator|agen|petugas|karyawan|staf|staff|cs|orang asli",),
    "ar": ("انسان|بشري|بشر|موظف|موظفه|شخص|مندوب|ممثل|وكيل|مسؤول|مسئول|شخص حقيقي",),
    "nl": ("mens|medewerker|medewerkster|persoon|agent|adviseur|vertegenwoordiger|collega",),
}

# Pronouns: "talk to someone", "passez-moi quelqu'un"; they need a talk/connect/contact verb.
SOMEONE: Mapping[str, tuple[str, ...]] = {
    "en": ("someone|somebody|anyone|anybody|one of you/your|a real one|your/ur team/staff/people",),
    "es": ("alguien",),
    "pt": ("alguem",),
    "fr": ("quelqu un",),
    "de": ("jemand|jemanden|jemandem",),
    "it": ("qualcuno",),
    "hi": ("kisi|koi|किसी|कोई",),
    "id": ("seseorang|siapapun|siapa saja",),
    "ar": ("احد|حد",),
    "nl": ("iemand",),
}

# Departments: "transfer me to billing", "tolong sambungkan ke customer service".
DEPARTMENTS: Mapping[str, tuple[str, ...]] = {
    "en": (
        "sales|support|billing|finance|accounts|helpdesk|escalations",
        "customer service/support/care/success|tech/technical support|sales/support/billing team",
        "sales/support/billing department",
    ),
    "es": ("ventas|soporte|facturacion|atencion al cliente|servicio al cliente|comercial|cobranza",),
    "pt": ("vendas|suporte|financeiro|atendimento|comercial|sac|cobranca",),
    "fr": ("service client|commercial|ventes|support|facturation|comptabilite|sav",),
    "de": ("kundenservice|kundendienst|vertrieb|support|buchhaltung|technik|kundenbetreuung",),
    "it": ("assistenza|vendite|ufficio commerciale|supporto|amministrazione|servizio clienti",),
    "hi": ("customer care/support/service",),
    "id": ("customer service|layanan pelanggan|sales|marketing|keuangan|billing",),
    "ar": ("خدمه العملاء|الدعم|الدعم الفني|المبيعات|الحسابات",),
    "nl": ("klantenservice|verkoop|support|helpdesk|boekhouding|afdeling",),
}

# Talking: "speak to", "hablar con", "baat karni".
TALK_VERBS: Mapping[str, tuple[str, ...]] = {
    "en": ("talk|speak|chat|converse",),
    "es": ("hablar|conversar|platicar|chatear",),
    "pt": ("falar|fale|conversar|papo",),
    "fr": ("parler|parle|discuter|echanger",),
    "de": ("sprechen|reden|quatschen|chatten",),
    "it": ("parlare|chattare",),
    "hi": ("baat|bat|baatein|बात",),
    "id": ("bicara|berbicara|ngobrol|ngomong|bertanya|chat|chatting",),
    "ar": ("اتكلم|اكلم|تكلم|كلم|التحدث|اتحدث|نتكلم|التكلم|احكي|اتواصل|التواصل|تحدث",),
    "nl": ("spreken|praten|chatten|bellen met",),
}

# Handing over: "put me through", "me pueden pasar", "sambungkan", "حولني".
CONNECT_VERBS: Mapping[str, tuple[str, ...]] = {
    "en": (
        "connect|transfer|forward|redirect|escalate|route|put me through|put through|put me on",
        "pass/hand me|hand over|get/give/bring/find/fetch me|hook me up|put me in touch",
    ),
    "es": (
        "pasar|pasame|pases|pasen|pasarme|pasas|pasa|pase|pasan|comunicar|comunicame|comuniquen|comunicas",
        "comunica|comunique|comuniqueme|comuniquenme|ponme/ponerme/pongame en contacto",
        "comunicarme|transferir|transfiere|transfieras|derivar|derivame|conectar|conectame",
    ),
    "pt": (
        "transferir|transfere|transfira|passar|passa|passe|encaminhar|encaminha|conectar|chamar|chama",
        "chame|chamem|transferem|transferido|transferida|coloca/coloque/colocar/bota/me em contato",
    ),
    "fr": ("passer|passez|passe|transferer|transferez|mettre/mettez/mets/mis en relation/contact|connecter",),
    "de": ("verbinden|verbindet|weiterleiten|durchstellen|weiterverbinden|geben sie mir|gib mir",),
    "it": ("passare|passi|passami|passatemi|trasferire|trasferisci|collegare|mettere in contatto",),
    "hi": ("connect|transfer|milao|milwao|karwao|karwa do|karao",),
    "id": ("sambungkan|sambungin|hubungkan|disambungkan|sambung|alihkan|transfer|connect",),
    "ar": ("حولني|حولوني|حوليني|تحويلي|وصلني|وصلوني|اوصلني|حول|تحولني|تحوليني|تحولوني|يحولني|توصلني",),
    "nl": ("verbind|verbinden|doorverbinden|doorschakelen|koppelen",),
}

# Being contacted: "can a salesperson call me?", "vorrei essere contattato da un commerciale".
CONTACT_VERBS: Mapping[str, tuple[str, ...]] = {
    "en": (
        "call/ring/phone/contact/email/text/reach me|reach out|give me a call/ring|call/ring back",
        "get back to me|get in touch|get/have/receive a call/callback|call from|callback",
    ),
    "es": ("llamar|llamame|llamen|llameme|contactar|contacten|contactarme|me llame",),
    "pt": ("ligar|liga|ligue|ligarem|contatar|contate|entrar em contato|retornar",),
    "fr": ("appeler|appelez|rappeler|rappelez|contacter|contactez|recontacter|joindre",),
    "de": ("anrufen|zuruckrufen|ruckruf|kontaktieren|melden",),
    "it": ("chiamare|chiamatemi|chiamami|contattato|contattata|contattare|contattatemi|richiamare",),
    "hi": ("call/phone/contact karo/kar/karna/kijiye/karein",),
    "id": ("telepon|telpon|ditelepon|ditelpon|dihubungi|hubungi|kontak|menghubungi",),
    "ar": ("اتصل|اتصلوا|يتصل|كلموني|يكلمني",),
    "nl": ("bellen|terugbellen|bel me|contact opnemen",),
}

# Wanting: "I want a human", "preciso de um consultor", "agent chahiye".
WANT_VERBS: Mapping[str, tuple[str, ...]] = {
    "en": (
        "want|need|wanna|require|prefer|request|would/id like|looking for|rather|get|can/could/may i have",
    ),
    "es": ("quiero|quisiera|necesito|deseo|prefiero|busco|me gustaria|hace falta",),
    "pt": ("quero|queria|preciso|precisa|gostaria|prefiro|desejo",),
    "fr": ("veux|voudrais|aimerais|souhaite|souhaiterais|besoin|prefere|demande|puis je avoir",),
    "de": ("ich will|mochte|brauche|wunsche|verlange|hatte gern/gerne|bitte um|kann ich * haben",),
    "it": ("voglio|vorrei|ho bisogno|desidero|preferisco|cerco|serve|servirebbe|posso avere",),
    "hi": ("chahiye|chahie|chaiye|chahta|chahti|चाहिए",),
    "id": ("mau|minta|butuh|ingin|pengen|pingin|perlu",),
    "ar": ("اريد|ابي|ابغى|ابغي|عايز|عاوز|بدي|محتاج|احتاج",),
    "nl": ("wil|wilde|zou graag|graag|nodig|wens",),
}
# Want-words that follow their object: "agent chahiye", "een medewerker nodig".
POSTPOSED_WANT = frozenset({"chahiye", "chahie", "chaiye", "चाहिए", "nodig"})

# Being served or helped by someone: "quiero que me atienda alguien", "can someone help me".
HELP_VERBS: Mapping[str, tuple[str, ...]] = {
    "en": ("help/assist me|attend to me",),
    "es": ("atienda|atiendan|atender|ayude|ayuden|ayudarme",),
    "pt": ("atenda|atender|ajude|ajudar|atendimento humano",),
    "fr": ("m aider|aidez moi|s occupe",),
    "de": ("hilft|helfen|kummert",),
    "it": ("aiuti|aiutare|aiutarmi|assista",),
    "hi": ("madad|help karo/kar/karein/kare/karega",),
    "id": ("bantu|bantuin|membantu|layani|melayani",),
    "ar": ("يساعدني|ساعدني",),
    "nl": ("helpen|help me|bijstaan",),
}

# Between a talk verb and a noun, these make it a topic, not a person: "talk about agents".
# ... and so do passive agents: "is this chat monitored by a person?".
ABOUT_WORDS = _words(
    "about regarding sobre acerca uber ueber su riguardo tentang over عن بخصوص by par von oleh door"
)
# Prepositions/postpositions that mark the noun as the one to talk *with*: "mit einem Menschen
# sprechen", "agent se baat karni hai".
WITH_WORDS = _words("to with mit met con com avec a al ao dengan sama ke se sy say sa مع ب with")
# "we need agents" is a business need, not a request: a want-frame spoken by "we" is skipped.
WE_WORDS = _words("we were nosotros nos nous wir noi kami kita wij we hum ham نحن")
# Relative words: "agents who speak Spanish" describes, it does not ask.
RELATIVE_WORDS = _words("who that which que qui die dat che yang jo اللي الذي")
# Articles/determiners skipped when looking at the word before a noun ("a travel agent").
ARTICLES = _words("a an the un una uno um uma une le la les el lo ein eine einen einem een de het")

# "Is there a human?", "tem algum atendente?", "koi banda hai?": asking whether a person exists is
# asking for one. EXIST_BEFORE precede the noun; EXIST_AFTER follow it.
EXIST_BEFORE: tuple[str, ...] = (
    "is/are there|any|anybody|hay|tem|tiene|tienen|algum|alguma|alguno|alguna|ada|gibt es|c e",
    "il y a|y a t il|y a t il|is er|zijn er|هل يوجد|في|فيه",
)
EXIST_AFTER: tuple[str, ...] = (
    "hai|available|disponible|disponivel|dispo|verfugbar|erreichbar|disponibile|beschikbaar|متاح",
    "online|here|there|around|aqui|ahi|ai|la|da|hier|daar|disitu|yahan|tersedia",
)
# Exist-words that ask about anyone at all ("any agents online?"): a plural noun is fine with these.
EXIST_ANY = frozenset({"any", "algum", "alguma", "alguno", "alguna", "ada"})

# A frame about third parties is a product question, not a request ("can your bot transfer
# conversations to a human agent?", "so customers can talk to an agent"): these words in the frame
# (with no "me"/"I" there) cancel it.
THIRD_PARTY = _words(
    "bot chatbot bots system tool platform ai app software conversations conversation chats "
    "customers clients tickets leads users messages contacts visitors buyers shoppers "
    "conversacion conversaciones clientes sistema plataforma usuarios conversa conversas usuarios "
    "client clients systeme plateforme utilisateurs gesprach gesprache kunden plattform nutzer "
    "conversazione conversazioni clienti piattaforma utenti pelanggan percakapan sistem pengguna "
    "gesprek gesprekken klanten systeem gebruikers البوت النظام"
)
# "me"/"I" right before or inside a frame make it the customer's own request again ("the bot is
# useless I want a human").
FIRST_PERSON = _words("me i mi yo eu moi je m mich mir ich io saya aku ik mij mujhe main ني انا")
# "Call me", "me liguem", "appelez-moi", "mujhe call karo": asking to be called is asking for a human.
CALL_ME: tuple[str, ...] = (
    "call/ring/phone me|give me a call/ring|call me back|me ligar/liguem/ligue/ligam|llamame|llamenme",
    "me llamen/llame/llamas/llamar/llamaran|m/me appeler/appelez/rappeler/rappelez|appelez/rappelez moi",
    "ruf/rufen mich an|mich anrufen/zuruckrufen|mi chiami/chiamate/richiami/chiamare|chiamatemi",
    "chiamami|telepon/telpon/telfon/hubungi saya|kontak saya|bel/bellen me/mij|me/mij bellen/terugbellen",
    "mujhe call/phone karo/kijiye/kar|call karo|اتصلوا/اتصل بي",
)
# "call me" is a request at the start of a clause or after one of these ("can you call me?"); not
# in "they call me every day".
REQUEST_MOOD = _words(
    "can could would will please pls plz kindly someone somebody anyone you u need want wanna "
    "pode podem poderia podiam puede pueden podrian podria pouvez pourriez pourrais konnen "
    "konnten konnt kannst potete potreste puoi potrebbe bisa tolong mohon kunt kan wil quiero "
    "quero preciso necesito voglio vorrei mau minta ممكن اريد alguem alguien quelqu jemand "
    "qualcuno iemand seseorang koi bitte favor svp plait favore aub alstublieft tolong"
)
# ... unless an idiom follows: "call me crazy".
CALL_ME_IDIOMS = _words("crazy old names lol maybe")

# Words a bare request may carry around the noun: "real person pls", "Mitarbeiter bitte", "agent!!".
BARE_FILLER = _words(
    "a an the one some real actual live proper please pls plz plss pleaseee now asap right away "
    "un una uno um uma une ein eine einen einem echten echter echte echt vero vera veri vrai vraie "
    "de verdad real reales verdadero verdadera por favor porfa porfavor bitte s il vous plait svp "
    "per favore perfavore tolong dong aja ya kak ji na yaar ek koi asli een echt aub "
    "alstublieft graag with con com avec mit met dengan sama to من فضلك لو سمحت حقيقي ok okay hey "
    "hi hello hola oi ola bonjour hallo ciao "
    "halo hoi مرحبا yes si sim oui ja just only solo ahora agora maintenant jetzt subito sekarang "
    "nu الان being"
)

# A human noun right after one of these is something else: "travel agent", "per agent", "our
# agents" (a count before the noun, "12 agents", is handled in code).
FALSE_FRIEND_BEFORE = _words(
    "travel estate insurance booking property realty secret free sports literary fbi double "
    "ai virtual digital bot chatbot automated automatic user each per every por par pro je "
    "recursos ressources risorse daya many few our my mi mis meu minha meus mon ma mes mein meine "
    "meinen meinem mio mia miei mijn saya hamara hamare mera mere nuestro nuestros nuestra nuestras nossos "
    "nossas nosso nossa nos notre nos unsere unserer unseren nostri nostre kami onze "
    "cuantos cuantas quantos quantas combien wieviele quanti quante berapa hoeveel kitne "
    "more additional extra other another multiple several"
)
# ... or right before one of these: "agent seat", "human resources", "agente inmobiliario".
FALSE_FRIEND_AFTER = _words(
    "resources resource rights error seat seats plan plans license licence licenses licences "
    "pricing price prices tier role roles account accounts app dashboard view panel inbox login "
    "fee fees cost costs count limit limits capacity number numbers inmobiliario inmobiliaria "
    "imobiliario imobiliaria immobilier immobiliare assurance assurances seguros seguro "
    "assicurativo assicurazioni viaggio viaggi viaje viajes viagem viagens voyage voyages "
    "versicherung versicherungen reise reisen software tool tools feature features mode "
    "interface workspace portal licencia licenca licenza lizenz handoff handover takeover fallback "
    "escalation intervention hoon hu hun"
)
# Phrases that make a human noun part of a self-description: "I'm human too", "soy agente".
SELF_REFERENCE: tuple[str, ...] = (
    "im|iam|i am|soy|sou|suis|je suis|ich bin|sono|ik ben|ana",
    "work as/like|trabajo como/de|trabalho como/de/com|travaille comme|lavoro come|arbeite als",
    "werk als|kerja sebagai|saya seorang|saya adalah|we are|were|as a",
)

# Negation cues before a request ("no need for an agent", "não precisa me transferir").
NEGATION_BEFORE: tuple[str, ...] = (
    "no|not|dont|never|nao|pas|nicht|kein|keine|keinen|non|tidak|tak|gak|ga|nggak|enggak|ndak",
    "do not|does not|doesnt|didnt|wont|without|nobody|noone|no one|niet|geen|hoeft|nooit",
    "nunca|jamais|nie|nadie|ninguem|personne|nessuno|niemand|niemandem|keinem|keiner|bukan|usah|mat",
    "لا|مش|ما|مو|بدون|nahi|nahin|nhi|नहीं",
)
# Negation cues after the request, as Hindi puts them: "agent nahi chahiye".
NEGATION_AFTER: tuple[str, ...] = ("nahi|nahin|nhi|mat|नहीं|nicht|niet",)
# "agent d'assurance", "agente de seguros": a false friend after "of".
OF_WORDS = frozenset({"d", "de", "di", "da", "do"})
# "No, I want a human": an interjection, not a negation, when a subject pronoun follows.
INTERJECTION_NO = frozenset({"no", "nao", "non", "nee"})
SUBJECT_PRONOUNS = _words("i yo eu je ich io saya aku ik main mujhe انا ana")
# "une personne" is a person; "personne ne répond" is nobody.
PERSON_ARTICLES = _words("une la vraie autre cette")

# --------------------------------------------------------------------------------------------------
# Frustration: (phrase, weight); weights combine as a noisy-or; phrases may skip 2 words
# --------------------------------------------------------------------------------------------------

FRUSTRATION: Mapping[str, tuple[tuple[str, float], ...]] = {
    "en": (
        ("terrible|horrible|awful|pathetic|disgusting|appalling|atrocious|abysmal|dreadful", 0.7),
        ("worst|useless|unacceptable|ridiculous|outrageous|incompetent|shameful|disgrace", 0.7),
        ("joke|nonsense|rubbish|garbage|trash|crap|bullshit|wtf|ffs|scam|scammers|ripoff", 0.65),
        ("angry|furious|livid|pissed|annoy*|frustrat*|fed up|sick of|tired of|infuriat*", 0.7),
        ("upset|disappoint*|unhappy|irritat*|mad at|so done|broken again|not again", 0.6),
        ("not happy/satisfied/acceptable|not good enough", 0.55),
        ("wasting my/our time|waste of time/money", 0.8),
        ("losing/lost my patience|out of patience|running out of patience", 0.7),
        ("nothing works/working/worked/happens|still broken", 0.55),
        ("doesnt/isnt/not work/working|still not|cant believe", 0.35),
        ("still havent/hasnt/doesnt/isnt/cant/waiting|still no", 0.4),
        ("nobody/noone answer*/help*/respond*/repl*/cares|no one answer*/help*/respond*/repl*", 0.6),
        ("third/3rd/fourth/4th/fifth/hundredth/umpteenth time", 0.65),
        ("second/2nd time", 0.35),
        ("asked/told/said/explained/written/wrote/messaged/texted * times", 0.6),
        ("already asked/told/said/explained|asked/told you already", 0.45),
        ("never answer*/reply*/respond*/help*/work*/pick*|no answer/reply/response", 0.6),
        ("bad/poor/horrible/terrible/awful/lousy service/support/experience", 0.65),
        ("how many times|again and again|over and over|for the last time|every single time", 0.65),
        ("been waiting|waiting for|waited", 0.35),
        ("for hours/days/weeks/ages|an hour|all day", 0.35),
        ("after * days/hours/weeks/week/month/months", 0.3),
        ("im done|i am done|had enough|enough is enough|give up|fed up", 0.5),
        ("done/tired of/sick of waiting|still/not/never fixed/resolved/solved", 0.45),
        ("cancel*/cancelling/canceling my subscription/account/contract/plan/service/membership", 0.45),
        ("going/gonna to cancel/leave/quit/switch|will cancel/leave/quit/switch", 0.45),
        ("switch* to a/another competitor/provider", 0.5),
        ("lawyer|lawsuit|chargeback|report you|bad review|1 star|one star", 0.6),
        ("complaint|complain", 0.45),
        ("file/make/lodge/raise a complaint|will/gonna complain|going to complain", 0.65),
        ("seriously|unbelievable|are you kidding|you kidding me|come on|fix this|sort it out", 0.35),
        ("hate|stupid|dumb|idiot|idiots|damn|hell|shit|fuck*|sucks|suck|bloody", 0.6),
    ),
    "es": (
        ("pesimo|pesima|terrible|horrible|fatal|malisimo|malisima|lamentable|penoso", 0.7),
        ("verguenza|inaceptable|indignante|ridiculo|absurdo|una burla|estafa|desastre", 0.7),
        ("harto|harta|hartos|cansado de|cansada de|enojado|enojada|enfadado|enfadada", 0.75),
        ("molesto|molesta|furioso|furiosa|frustrado|frustrada|decepcionado|decepcionada", 0.7),
        ("nadie me/nos ayuda/responde/contesta/atiende/resuelve|nadie responde/contesta/ayuda", 0.6),
        ("perdiendo el/mi tiempo|perdida de tiempo", 0.8),
        ("no funciona/sirve/sirven/funcionan|sigue sin|todavia no|aun no", 0.35),
        ("llevo dias/horas/semanas/meses|sin respuesta", 0.5),
        ("tercera/cuarta vez|cuantas veces", 0.65),
        ("queja|reclamo|denuncia|abogado|cancelar mi cuenta/suscripcion/contrato", 0.5),
        ("poner/presentar/hacer una queja/denuncia/reclamacion", 0.65),
        ("una mierda|mierda|carajo|joder|maldito", 0.65),
        ("mal/pesimo/malisimo servicio/atencion|servicio malo|no sirve/sirven para nada", 0.7),
        ("nunca responden/contestan/ayudan|voy a cancelar todo", 0.6),
    ),
    "pt": (
        ("absurdo|absurda|pessimo|pessima|horrivel|ridiculo|ridicula|vergonha|lamentavel", 0.7),
        ("palhacada|descaso|inaceitavel|inadmissivel|uma piada|golpe|enganacao|desrespeito", 0.7),
        ("irritado|irritada|bravo|brava|puto|puta|furioso|furiosa|chateado|chateada", 0.75),
        ("frustrado|frustrada|decepcionado|decepcionada|cansado de|cansada de|saco cheio", 0.7),
        ("ninguem resolve/responde/ajuda/atende", 0.6),
        ("perdendo meu/o tempo|perda de tempo", 0.8),
        ("nao funciona/resolve/resolvem/funcionam|continua sem|ainda nao|ainda sem", 0.35),
        ("faz dias/horas/semanas|sem resposta", 0.45),
        ("terceira/quarta vez|quantas vezes", 0.65),
        ("reclamacao|processar|advogado", 0.5),
        ("reclame aqui|procon|abrir/fazer uma reclamacao", 0.7),
        ("cancelar minha conta/assinatura/contrato", 0.45),
        ("merda|porra|droga", 0.6),
        ("servico/atendimento ruim/pessimo/horrivel|pessimo servico/atendimento", 0.7),
        ("nao serve pra/para nada|nunca respondem/atendem|vou cancelar tudo", 0.65),
        ("vou/vamos cancelar", 0.45),
    ),
    "fr": (
        ("inadmissible|inacceptable|scandaleux|scandaleuse|honteux|honteuse|lamentable|honte", 0.75),
        ("nul|nulle|minable|pitoyable|catastrophique|horrible|ridicule|n importe quoi|arnaque", 0.7),
        ("marre|ras le bol|agace|agacee|enerve|enervee|furieux|furieuse|decu|decue|fache|fachee", 0.75),
        ("personne ne repond/m aide/aide|aucune reponse", 0.6),
        ("perdre mon temps|perds mon temps|fait perdre|perte de temps", 0.75),
        ("toujours pas|toujours rien|ne marche|fonctionne pas|marche pas", 0.4),
        ("troisieme/quatrieme fois|combien de fois", 0.65),
        ("resilier|plainte|avocat|reclamation", 0.55),
        ("merde|putain|bordel", 0.6),
        ("mauvais service|service nul|sert a rien|jamais de reponse", 0.65),
    ),
    "de": (
        ("frechheit|unverschamt|unverschamtheit|katastrophe|katastrophal|skandal|zumutung", 0.75),
        ("kaputt|schon wieder|echt jetzt|nicht zu fassen", 0.45),
        ("genervt|nervt|sauer|wutend|verargert|frustriert|enttauscht|stinksauer|angepisst", 0.75),
        ("schlecht|schrecklich|furchtbar|lacherlich|unmoglich|inakzeptabel|mist|scheisse|nervig", 0.65),
        ("niemand hilft/antwortet/meldet/reagiert", 0.6),
        ("immer noch nicht|noch immer nicht|geht nicht|funktioniert nicht", 0.4),
        ("zeitverschwendung|verschwenden meine zeit", 0.75),
        ("dritte/vierte mal|zum dritten/vierten mal|wie oft", 0.65),
        ("kundigen|kundige|beschwerde|anwalt|abzocke|betrug", 0.55),
        ("reicht mir|reicht jetzt|habe/hab genug|die nase voll", 0.65),
        ("schlechter service/kundenservice|nie eine antwort", 0.65),
    ),
    "it": (
        ("stufo|stufa|stufi|arrabbiato|arrabbiata|incazzato|incazzata|furioso|deluso|delusa", 0.75),
        ("pessimo|pessima|vergogna|vergognoso|inaccettabile|assurdo|ridicolo|schifo|scandaloso", 0.7),
        ("nessuno risponde/aiuta/risolve", 0.6),
        ("terza/quarta volta|quante volte", 0.65),
        ("perdere tempo|perdita di tempo|perdendo tempo", 0.75),
        ("ancora non|non funziona", 0.4),
        ("disdire|disdetta|reclamo|avvocato|truffa", 0.55),
        ("servizio scadente|non serve a niente/nulla|mai una risposta", 0.65),
    ),
    "hi": (
        ("bakwas|bakwaas|bekaar|bekar|ghatiya|faltu|pagal|ganda|bakwaas", 0.7),
        ("pareshan|pareshaan|gussa|naraz|tang aa|thak gaya/gayi", 0.65),
        ("time waste|samay barbaad|time kharab", 0.75),
        ("koi jawab nahi|reply/response nahi|koi help nahi", 0.55),
        ("kitni baar|teesri/tisri baar|kab tak", 0.65),
        ("बकवास|घटिया|परेशान|गुस्सा", 0.7),
    ),
    "id": (
        ("kecewa|kesal|kesel|marah|jengkel|sebel|nyebelin|payah|parah|jelek|buruk|lelet", 0.7),
        ("tidak/gak/ga/nggak becus|penipu|penipuan", 0.75),
        ("lama banget/sekali|gak ada yang bales|tidak ada yang membalas|nggak dibales", 0.6),
        ("buang waktu|buang buang waktu", 0.75),
        ("ketiga kali|berkali kali|udah berapa kali", 0.65),
        ("komplain|lapor|laporkan", 0.55),
        ("pelayanan/layanan buruk/jelek/parah|gak/tidak ada respon", 0.65),
    ),
    "ar": (
        ("سيء|سيئه|سيئ|زفت|فاشل|فاشله|مهزله|تعبان|زهقت|زعلان|غاضب|مستاء|محبط|سخيف", 0.7),
        ("لا احد يرد|محد يرد|ما حد يرد|لا يوجد رد", 0.6),
        ("مضيعه للوقت|ضيعتوا وقتي", 0.75),
        ("للمره الثالثه|كم مره", 0.65),
        ("شكوى|نصب|احتيال", 0.55),
    ),
    "nl": (
        ("belachelijk|waardeloos|schandalig|bespottelijk|slecht|slechte|vreselijk|verschrikkelijk", 0.7),
        ("boos|kwaad|geirriteerd|gefrustreerd|teleurgesteld|het zat|irritant|balen", 0.7),
        ("niemand reageert/helpt/antwoordt", 0.6),
        ("nog steeds niet|werkt niet|doet het niet", 0.4),
        ("derde/vierde keer|hoe vaak", 0.65),
        ("tijdverspilling|verspil mijn tijd", 0.75),
        ("klacht|opzeggen|advocaat|oplichting", 0.55),
        ("slechte service/klantenservice|nooit antwoord", 0.65),
    ),
}

# Words that lift a frustration cue a little ("so angry", "muito irritado", "echt sauer").
INTENSIFIERS = _words(
    "so very really totally absolutely extremely seriously muy demasiado muito super tres vraiment "
    "total echt voll wirklich molto davvero bahut banget sangat جدا كتير zeer heel erg"
)
# Positive words: shouting with these is joy, not frustration ("AMAZING!!! love it").
POSITIVE_WORDS = _words(
    "amazing awesome great love loved lovely perfect excellent fantastic wonderful brilliant "
    "cool nice thanks thank super wow incredible best happy genial excelente perfecto gracias "
    "encanta maravilloso otimo perfeito obrigado obrigada adorei incrivel maravilha genial "
    "parfait merci genial formidable super toll danke klasse prima wunderbar perfekt grazie "
    "perfetto ottimo fantastico bellissimo mantap keren makasih bagus sip top geweldig "
    "bedankt prachtig fijn mast badhiya shukriya dhanyavad شكرا ممتاز رائع جميل funktioniert "
    "works working solved resolved fixed"
)
ANGRY_EMOJI = frozenset("😡🤬😤👿💢🖕😠")
ANNOYED_EMOJI = frozenset("🙄😒😩😫😑🤦")
POSITIVE_EMOJI = frozenset("😍🥰❤💕👍🙏😊😀😃😄😁🎉🤩💯👏🔥✅🙂😂🤗")

# --------------------------------------------------------------------------------------------------
# Acknowledgements and greetings
# --------------------------------------------------------------------------------------------------

# A message made only of these (and ACK_FILLER), with at least one of these, is an acknowledgement.
ACK_WORDS = _words(
    "thanks thank thx thnx ty tysm cheers ok okay okey k kk alright great cool nice perfect "
    "awesome excellent understood noted gotcha fine good brilliant lovely sweet appreciated "
    "gracias vale perfecto genial entendido listo dale ok bueno buenisimo excelente claro "
    "obrigado obrigada valeu beleza blz certo otimo perfeito combinado entendi show tranquilo "
    "merci parfait entendu super daccord genial nickel "
    "danke dankeschon super prima klar passt perfekt verstanden gut toll "
    "grazie perfetto capito ottimo benissimo va bene "
    "theek thik thanks shukriya dhanyavad accha acha achha badhiya "
    "makasih terima kasih oke sip siap mantap baik noted "
    "شكرا تمام ممتاز طيب مشكور اوكي حسنا "
    "bedankt dank top prima oke helder duidelijk mooi"
)
ACK_FILLER = _words(
    "you u so much very a lot lots many got it thats that s is all for the help again "
    "muchas muchisimas mil muito muita tres beaucoup vielen vielmals alles mille kak ya "
    "banyak sekali hai ji bhai yaar جزيلا جدا wel hartelijk je well ah oh i see sounds "
    "de y e and et und en dan aur ok lol haha hehe bye goodbye cya later adios tchau ciao tschuss"
)

# --------------------------------------------------------------------------------------------------
# Loops: words that carry no topic when comparing repeated questions
# --------------------------------------------------------------------------------------------------

LOOP_STOPWORDS = _words(
    "i me my the a an is are to do please pls hi hello hey again still yo mi el la los las un una "
    "de por favor eu meu minha o a um uma je ma mon le la les un une ich mein meine der die das "
    "ein eine io il lo saya aku ik mijn de het een ok okay"
)

# --------------------------------------------------------------------------------------------------
# Extraction (regular expressions on the original text; case-insensitive)
# --------------------------------------------------------------------------------------------------

# Lead-ins before a company name that leave no doubt: "the company is Initech", "Minha empresa é a
# Padaria Central", "nama perusahaan saya Toko Maju Jaya".
COMPANY_LEADS: tuple[str, ...] = (
    r"\b(?:the\s+|my\s+|our\s+)?(?:company|business|firm|organi[sz]ation|brand|shop|store|startup|agency)"
    r"(?:'s)?\s+(?:name\s+)?(?:is|=|:|called|named|-)\s*(?:called\s+)?",
    r"\b(?:it'?s|its|we'?re|we\s+are)\s+called\s+",
    r"\b(?:mi|la|nuestra)\s+(?:empresa|compa[ñn][ií]a|negocio|tienda|marca)\s+(?:se\s+llama|es|:)\s*",
    r"\b(?:mi|nuestro|el)\s+(?:negocio|restaurante)\s+(?:se\s+llama|es|:)\s*",
    r"\b(?:minha|a|nossa)\s+(?:empresa|companhia|loja|marca)\s+(?:se\s+chama|chama|[ée]|:)\s*",
    r"\b(?:meu|o|nosso)\s+(?:neg[óo]cio|restaurante)\s+(?:se\s+chama|chama|[ée]|:)\s*",
    r"\b(?:mon|notre|ma|l')\s*(?:entreprise|soci[ée]t[ée]|boutique|marque)\s+(?:s'appelle|est|:)\s*",
    r"\b(?:meine|unsere|die)\s+(?:firma|gesellschaft)\s+(?:hei(?:ß|ss)t|ist|:)\s*",
    r"\b(?:mein|unser|das)\s+(?:unternehmen|gesch[äa]ft)\s+(?:hei(?:ß|ss)t|ist|:)\s*",
    r"\b(?:la\s+)?(?:mia|nostra)\s+(?:azienda|societ[àa]|ditta|impresa)\s+(?:si\s+chiama|[èe]|:)\s*",
    r"\b(?:nama\s+)?(?:perusahaan|usaha|toko|bisnis)\s+(?:saya|kami|aku)\s+(?:adalah\s+|namanya\s+|:\s*)?",
    r"\bnama\s+(?:perusahaannya|usahanya|tokonya)\s+",
    r"\b(?:ons|mijn)\s+bedrijf\s+(?:heet|is|:)\s*",
    r"(?:اسم\s+)?(?:شركتي|شركتنا|الشركه|الشركة)\s+(?:هي\s+|اسمها\s+|:\s*)?",
    r"\b(?:mera|meri|hamari|hamara)\s+(?:company|business|firm)\s+(?:ka\s+naam\s+)?(?:hai\s+)?",
)
# Lead-ins that need a capitalised name after them: "We're Globex Corporation", "Wir sind die Müller
# GmbH", "lavoro per Rossi Srl" ("we're looking for ..." is not a name).
COMPANY_LEADS_WEAK: tuple[str, ...] = (
    r"\b(?:we\s*'?re|we\s+are)\s+(?:from\s+)?",
    r"\bi\s*(?:'m|\s+am)\s+(?:from|with|at)\s+",
    r"\bi\s+work\s+(?:for|at|with)\s+",
    r"\b(?:this\s+is|it'?s)\s+\w+\s+from\s+",
    r"\b(?:somos|trabajo\s+(?:en|para))\s+",
    r"\b(?:trabalho\s+(?:na|no|para|em))\s+",
    r"\b(?:nous\s+sommes|je\s+travaille\s+(?:chez|pour))\s+",
    r"\b(?:wir\s+sind|ich\s+arbeite\s+(?:bei|f[üu]r))\s+",
    r"\b(?:siamo|lavoro\s+(?:per|presso|in|da))\s+",
    r"\b(?:saya|kami)\s+dari\s+",
    r"\b(?:wij\s+zijn|we\s+zijn|ik\s+werk\s+(?:bij|voor))\s+",
)
# Legal suffixes: "Acme Ltd", "Müller GmbH" are company names wherever they appear.
COMPANY_SUFFIXES = (
    r"(?:Inc|Ltd|LLC|LLP|PLC|Corp|Corporation|Co|GmbH|AG|KG|UG|SA|S\.A|SL|S\.L|SRL|Srl|S\.r\.l|SpA|"
    r"S\.p\.A|BV|B\.V|NV|Ltda|EIRELI|SAS|SARL|Pty|Tbk|Pvt|Limited|Industries|Group|Holdings)\.?"
)
# Words at the start of a captured name that are articles, not part of it ("a Padaria Central").
NAME_ARTICLES = _words("a o the la el los las le les die der das den l' een het de")
# Words that end a captured name ("Acme and we sell shoes", "Initech, thanks").
NAME_STOP = _words(
    "and but we i our which that who where here thanks thank please pls lol y e et und en dan aur "
    "pero mas mais aber ma tapi maar que qui die che yang gracias obrigado obrigada merci danke "
    "grazie bedankt makasih"
)
# A value that is one of these is not a company ("hello from the ad", "I'm from Facebook").
NOT_COMPANY = _words(
    "ad ads facebook instagram fb ig whatsapp tiktok anuncio annonce anzeige annuncio "
    "iklan advertentie إعلان here there home nothing none no yes sure ok okay hi hello idk you "
    "your the a an it this that interested looking"
)
# Yes/no answers are not values ("sure" is no use case).
YES_NO = _words(
    "yes yeah yep yup sure no nope nah si sim oui non ja nein nee ya iya tidak gak haan nahi "
    "maybe perhaps talvez quizas peut etre vielleicht forse mungkin misschien"
)
# First words that show a bare answer is a sentence, not a name ("why do you need that?").
NOT_NAME_START = _words(
    "i im i'm we were we're my our it its it's is are do does did why what how when where who "
    "which can could would should will no not yes yeah yep sure ok okay please sorry hmm um "
    "just maybe this that there here you your yo mi mis por porque que qué como cómo eu "
    "não nao sim je pourquoi quoi comment oui non ich warum was wie ja nein io perché "
    "perche cosa come si saya kenapa apa ya tidak ik waarom wat hoe nee dont don't idk "
    "hi hello hey hola oi olá ola bonjour hallo ciao halo hoi thanks thank gracias obrigado "
    "merci danke grazie"
)

# Lead-ins that announce a use case anywhere in a message: "we'd use it to ...", "use case: ...".
USE_CASE_LEADS: tuple[str, ...] = (
    r"\b(?:the\s+|our\s+|my\s+)?(?:main\s+|primary\s+)?use[\s-]*case\s+(?:is|would\s+be|:)\s*",
    r"\b(?:we|i)(?:'d|\s+would|'ll|\s+will|\s+want\s+to|\s+need\s+to|\s+plan\s+to)?\s+use\s+"
    r"(?:it|this|you|your\s+\w+|whatsapp|the\s+\w+)\s+(?:to|for)\s+",
    r"\blooking\s+for\s+(?:a\s+way|something|a\s+tool|a\s+solution)\s+(?:to|for)\s+",
    r"\b(?:queremos|quiero|quero|queremos)\s+us(?:arlo|ar|á-lo)\s+para\s+",
    r"\b(?:nous\s+voulons|on\s+veut)\s+l'utiliser\s+pour\s+",
    r"\b(?:wir\s+wollen|wir\s+m[öo]chten)\s+es\s+(?:f[üu]r|zum|zur)\s+",
)
# Lead-ins trimmed from the start of an answer to "what would you use it for?".
USE_CASE_ANSWER_LEADS: tuple[str, ...] = (
    r"^(?:well|so|basically|mainly|mostly|primarily|probably|i\s+think|hmm+|um+|uh+|ok|okay)[\s,:]+",
    r"^(?:we|i)(?:'d|\s+would)?\s+(?:like|want|need|hope|plan|wish|love)\s+(?:to\s+use\s+it\s+)?"
    r"(?:to|for)\s+",
    r"^(?:we|i)(?:'d|\s+would|'ll|\s+will)?\s+use\s+(?:it|this|you)\s+(?:to|for)\s+",
    r"^(?:it'?s|it\s+is|its)\s+(?:for|to)\s+",
    r"^(?:to|for)\s+",
    r"^(?:bueno|pues|principalmente|b[áa]sicamente)[\s,:]+",
    r"^(?:queremos|quiero|necesitamos|necesito|quer[ií]amos)\s+(?:usarlo\s+)?(?:para\s+)?",
    r"^(?:queremos|quero|precisamos|preciso|gostar[íi]amos\s+de)\s+(?:usar\s+)?(?:para\s+)?",
    r"^(?:para|pra)\s+",
    r"^(?:surtout|principalement)[\s,:]+",
    r"^(?:nous\s+voulons|on\s+veut|je\s+veux|nous\s+souhaitons)\s+",
    r"^pour\s+",
    r"^(?:haupts[äa]chlich)[\s,:]+",
    r"^(?:wir\s+wollen|wir\s+m[öo]chten|ich\s+m[öo]chte)\s+",
    r"^(?:f[üu]r|um|zum|zur)\s+",
    r"^(?:soprattutto|principalmente)[\s,:]+",
    r"^(?:vogliamo|vorremmo|voglio|vorrei)\s+",
    r"^per\s+",
    r"^(?:terutama|kami\s+mau|saya\s+mau|kami\s+ingin|saya\s+ingin)\s+",
    r"^(?:untuk|buat)\s+",
    r"^(?:vooral|eigenlijk)[\s,:]+",
    r"^(?:we\s+willen|wij\s+willen|ik\s+wil)\s+",
    r"^(?:om|voor)\s+",
)
# Trailing politeness trimmed from a use case.
USE_CASE_TRIM_END = (
    r"(?:[\s,]+(?:please|pls|thanks|thank\s+you|thx|por\s+favor|gracias|obrigad[oa]|merci|danke|"
    r"bitte|grazie|makasih|terima\s+kasih|bedankt|aub|mainly|basically|mostly|lol))+$"
)

# Business size: "12 agents", "30 Mitarbeiter", "50 employees".
STAFF_NOUNS = (
    r"(?:employees?|staff|people|persons?|agents?|reps?|seats?|team\s+members?|workers?|"
    r"empleados?|trabajadores?|personas|agentes|asesores|funcion[áa]rios?|colaboradores?|pessoas|"
    r"atendentes|salari[ée]s|employ[ée]s|personnes|conseillers|mitarbeiter(?:innen)?|angestellte|"
    r"leute|dipendenti|persone|operatori|karyawan|pegawai|orang|staf|medewerkers|werknemers|mensen|"
    r"موظف|موظفين|log|logon)\b"
)
SOLO_PHRASES = (
    r"\b(?:just\s+me|only\s+me|solo\s+yo|s[óo]\s+eu|moi\s+seul|nur\s+ich|solo\s+io|saya\s+sendiri|"
    r"alleen\s+ik|freelancer|self[-\s]employed|aut[óo]nomo|one[-\s]man|sole\s+trader)\b"
)
# Budget: currency symbols and codes around an amount.
CURRENCY = (
    r"(?:US\$|R\$|A\$|C\$|\$|€|£|¥|₹|Rp\.?|USD|EUR|GBP|BRL|MXN|INR|IDR|AED|SAR|CHF|reais|"
    r"d[óo]lares|dollars?|euros?|pounds?|rupees?|rupiah|pesos?)"
)
BUDGET_WORDS = (
    r"(?:budget|presupuesto|or[çc]amento|verba|budg[eé]t|etat|budget|anggaran|bujet|ميزانيه|ميزانية|"
    r"spend|invest)"
)

# Arabic clitics stripped when matching ("والموظف" -> "موظف"); longest first.
ARABIC_PREFIXES = ("وال", "بال", "فال", "كال", "لل", "ال", "و", "ب", "ل", "ف")

# One-word negators: "not bad" is no complaint, "not fixed" is no praise.
NEGATORS = _words(
    "not no never nicht pas non nao niet tidak gak nahi nunca jamais geen kein"
    " isnt arent wasnt werent dont doesnt didnt cant cannot wont havent hasnt hadnt shouldnt couldnt"
)

# Counts before a noun make it a head count, not a request ("three agents", "zwei Mitarbeiter").
NUMBER_WORDS = _words(
    "two three four five six seven eight nine ten twenty dozen hundred dos tres cuatro cinco diez "
    "duas quatro deux trois quatre cinq zwei drei vier funf zehn due tre quattro dua tiga empat "
    "lima sepuluh twee drie vijf tien teen char paanch"
)
