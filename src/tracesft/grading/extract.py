"""Finding the answer in a response: R1-Zero tags, \\boxed{}, free-form final sentences.

All scanners are linear in the length of the text (no backtracking regexes over untrusted input).
"""

from __future__ import annotations

import re

from .lexicon import EXISTENTIAL_LEAD, NUMBER_WORDS

__all__ = [
    "extract_r1_zero_answer",
    "clean_text",
    "final_paragraph",
    "final_statement",
    "gsm8k_ground_truth",
    "final_boxes",
    "last_boxed",
    "math_ground_truth",
]

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
# Between </think> and <answer> only whitespace is allowed (space, newline, none, several).
THINK_END = "</think>"
_ANSWER_OPEN = "<answer>"
_ANSWER_CLOSE = "</answer>"


_BRACES = re.compile(r"\\.|[{}]", re.DOTALL)  # an escaped character (\{, \}, ...) or a brace


def _balanced_boxes(text: str) -> list[tuple[int, int, int]]:
    """Every balanced ``\\boxed{...}``/``\\fbox{...}`` as (macro start, content start, content end),
    in order of position. One pass over the braces with a stack (escaped ``\\{``/``\\}`` skipped),
    so the time is linear in the text however many unclosed ``\\boxed{`` it holds."""
    starts = {m.end(): m.start() for m in _BOXED.finditer(text)}  # after '{' -> where "\\boxed" starts
    if not starts:
        return []
    boxes: list[tuple[int, int, int]] = []
    stack: list[int] = []
    for m in _BRACES.finditer(text):
        c = m.group()
        if c == "{":
            stack.append(m.end())
        elif c == "}" and stack:
            start = stack.pop()
            if start in starts:
                boxes.append((starts[start], start, m.start()))
    return sorted(boxes)


def last_boxed(text: str) -> str | None:
    """Content of the last balanced ``\\boxed{...}`` (or ``\\fbox{...}``) in text, else None
    (linear in the text: see :func:`_balanced_boxes`)."""
    boxes = _balanced_boxes(text)
    return text[boxes[-1][1]:boxes[-1][2]] if boxes else None


# Between two boxes of one answer: separators only ("and", "or", ",", "\\quad", "x =", "$"), no
# sentence end, at most _BOX_GAP characters.
_BOX_GAP = 40
_BOX_GAP_OK = re.compile(r"[\s,;$]*(?:(?:and|or|\\quad|\\qquad|\\\]|\\\[|\\\)|\\\(|\\text\{\s*(?:(?:and|or|,)\s*)?\}"
                         r"|(?<!\w)[A-Za-z](?:_\{?\w+\}?)?\s*=)[\s,;$]*)*")


def final_boxes(text: str) -> str | None:
    """The last ``\\boxed{...}`` of text, joined (", ") with the boxes right before it in the same
    sentence when only separators stand between them: ``$\\boxed{2}$ and $\\boxed{3}$`` -> ``"2, 3"``,
    ``x = \\boxed{-2} or x = \\boxed{2}`` -> ``"-2, 2"``, ``\\boxed{x=3}, \\quad \\boxed{y=5}`` ->
    ``"x=3, y=5"``. None when text has no balanced box. Linear, like :func:`last_boxed`.
    """
    boxes = _balanced_boxes(text)
    if not boxes:
        return None
    group = [boxes[-1]]
    for box in reversed(boxes[:-1]):
        gap = text[box[2] + 1:group[0][0]]
        if box[2] >= group[0][0] or len(gap) > _BOX_GAP or not _BOX_GAP_OK.fullmatch(gap):
            break
        group.insert(0, box)
    return ", ".join(text[a:b].strip() for _, a, b in group)


def r1_zero_block(response: str) -> tuple[bool, str | None]:
    """(format_ok, the text of the answer block) of an R1-Zero response ``... </think> <answer> ... </answer>``.

    Format is ok when some ``</think>`` is followed, after optional whitespace of any kind (space,
    newline, none), by ``<answer>``, and a ``</answer>`` closes it. The block is the text inside the
    last complete ``<answer> ... </answer>`` after that ``</think>`` (anything after the final
    ``</answer>`` is ignored).
    """
    last_close = response.rfind(_ANSWER_CLOSE)
    pos = response.find(THINK_END)
    while pos != -1 and last_close != -1:
        after = pos + len(THINK_END)
        rest = response[after:after + 64].lstrip()
        if rest.startswith(_ANSWER_OPEN) and last_close >= after:
            open_ = response.rfind(_ANSWER_OPEN, pos, last_close)
            return (True, response[open_ + len(_ANSWER_OPEN):last_close]) if open_ != -1 else (False, None)
        pos = response.find(THINK_END, after)
    return False, None


def extract_r1_zero_answer(response: str) -> tuple[bool, str | None]:
    """(format_ok, answer) for an R1-Zero response (format: :func:`r1_zero_block`): the answer block,
    or when it contains ``\\boxed{...}``, its last balanced boxed content (with the boxes right before
    it in the same sentence: :func:`final_boxes`)."""
    fmt_ok, block = r1_zero_block(response)
    if not fmt_ok:
        return False, None
    boxed = final_boxes(block)
    return True, (boxed if boxed is not None else block).strip()


# ---- free-form answers: the scanners the extraction rules use -----------------------------------
#
# The order in which they are tried is the table of rules in .rules (EXTRACTION_RULES). Before the
# sentence rules the text is cleaned (clean_text): markdown bold, check marks (✓ ✔) and currency
# dollars ("costs $12 and ... $3": see _drop_currency) are removed, and so are afterwords: trailing
# paragraphs/sentences that start "Let me verify", "Check:", "Verification:", "Note:", "Substituting
# back", ... and a trailing parenthetical aside ("(Note: ...)"), never the last sentence left.
#
# Everything below reads at most WINDOW characters from the end of the response, plus linear
# regex scans of the whole text, so extraction is linear in the length of the response.

_ANSWER_IS = re.compile(r"\b(?:answer\s*(?:is\b\s*:?|:)|(?:final|result)\s*:)\s*(that\b)?", re.IGNORECASE)
WINDOW = 4000
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
# A math span ($$..$$, $..$, \(..\), \[..\]) or a word (a run of non-space characters that does not
# start a span). The bounded repeats keep every scan linear.
_TOKEN = re.compile(r"\$\$.{0,2000}?\$\$|\$[^$]{0,2000}\$|\\\(.{0,2000}?\\\)|\\\[.{0,2000}?\\\]"
                    r"|(?:[^\s$\\]|\\(?![(\[]))+|\S", re.DOTALL)
_SPAN_DELIMS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
_SENTENCE_BREAK = re.compile(r"\n|(?<!\.)\.(?!\.)(?=\s+[A-Z]|\s*$)")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:\s*/\s*\d+)?")
_YES_NO = re.compile(r"(?<!\s)\s*(?:[A-Za-z ]{0,20}:\s*)?(yes|no)\b(?=\s*[,.!;:]|\s*$)", re.IGNORECASE)
_MATHY = re.compile(r"[0-9$\\^+*/=()!√±∞π]|^[A-Za-z]$")
_PROSE = re.compile(r"[A-Za-z][a-z]+(?:[-'][A-Za-z]+)*")
# Links between a sentence's subject and its object. "has"/"have" are weaker: used only when no
# copula gives an answer ("... can have at most 0 integer zeros").
_COPULA = re.compile(r"\b(?:is|are|was|were|equals|be|becomes|(?:converges|tends) to|approaches"
                     r"|(?:written|expressed|factored|factorized|simplified|rewritten) as)\b"
                     r"|(?<![<>!=\\:])=(?!=)|≡", re.IGNORECASE)
_HAVE = re.compile(r"\b(?:has|have)\b", re.IGNORECASE)
_PASSIVE = re.compile(r"(?<!\s)\s*(?:not\s+|also\s+)?(?<![a-z])[a-z]+ed\b")
# Words that may stand between the link and the answer ("is given by the expression n(n-3)/2",
# "is always 0", "are exactly").
_FILLER = {"given", "by", "the", "expression", "formula", "equal", "to", "exactly", "simply", "just", "a", "an",
           "total", "of", "value", "values", "result", "final", "as", "follows", "precisely", "then", "only",
           "always", "thus", "therefore", "hence", "indeed", "still", "also", "all", "congruent",
           "both", "namely", "following", "in", "terms", "closed", "form", "closed-form", "answer", "equals"}
_ARTICLES = {"the", "a", "an"}
_OBJECT_CHARS = 1000  # an answer is read from at most this many characters after its link
# A bound is not a value: "is at least 1000" is graded as "\ge 1000" (it matches "At least 1000 ...").
_BOUNDS = {"at least": "\\ge ", "at most": "\\le ", "no more than": "\\le ", "no less than": "\\ge "}
_SEPARATORS = {"and", "or"}
# A condition restated inside or after the answer sentence: from the marker to the next comma/semicolon.
_CLAUSE_END = re.compile(r"[,;]")
_CONDITION = re.compile(r"\b(?:such that|so that|where|when|whenever|if|for which|in which|provided|given that"
                        r"|which|because|since|meaning|for all|for any|for every|for each)\b", re.IGNORECASE)
_MATH_FUNCS = {"sqrt", "floor", "ceil", "log", "ln", "exp", "sin", "cos", "tan", "pi", "binom", "mod", "max", "min",
               "gcd", "lcm", "choose", "pmod"}
_SCALE_WORDS = {"hundred", "thousand", "million", "billion", "hundreds", "thousands", "millions"}
_NUMBER_WORDS = NUMBER_WORDS


def _strip_span(token: str) -> str | None:
    """The content of a math-span token, or None for a plain word."""
    for op, cl in _SPAN_DELIMS:
        if token.startswith(op) and token.endswith(cl) and len(token) >= len(op) + len(cl):
            return token[len(op):len(token) - len(cl)].strip().rstrip(".,").strip()
    return None


def _depth_change(word: str) -> int:
    return sum(word.count(c) for c in "([{") - sum(word.count(c) for c in ")]}")


def _is_prose_word(bare: str) -> bool:
    return bool(_PROSE.fullmatch(bare)) and bare.lower() not in _MATH_FUNCS


def _skip_lead(tokens: list[str]) -> tuple[int, bool]:
    """(index of the first token of the answer, whether an article was skipped): filler words are
    skipped ("given by the expression ..."), and a noun phrase of up to 3 words after an article when
    math follows ("the binomial coefficient C(n, 4)")."""
    i, skipped_article = 0, False
    while i < len(tokens) and i < 8 and tokens[i].strip(".,;:").lower() in _FILLER \
            and not (len(tokens[i]) == 1 and i + 1 < len(tokens) and tokens[i + 1].startswith("=")):  # "is a = -5"
        skipped_article |= tokens[i].strip(".,;:").lower() in _ARTICLES
        i += 1
    if skipped_article:
        j = i
        while j < len(tokens) and j - i < 3 and _is_prose_word(tokens[j].strip(",:")) \
                and tokens[j].strip(",:").lower() not in _SEPARATORS:
            j += 1
        if j > i and j < len(tokens) and (_strip_span(tokens[j]) is not None or _MATHY.search(tokens[j])):
            i = j
    return i, skipped_article


def _read_bound(tokens: list[str], i: int) -> tuple[str, int]:
    """("\\ge "/"\\le ", the index after it) for a bound at tokens[i] ("at least", "no more than"), else ("", i)."""
    for n in (2, 3):
        phrase = " ".join(tokens[i:i + n]).lower()
        if phrase in _BOUNDS:
            return _BOUNDS[phrase], i + n
    return "", i


def _read_top_level(tok: str, nxt: str, items: list[list[str]], first: bool) -> bool | None:
    """A token outside brackets: True when read (a separator, a number word), False when the answer
    ends before it (a prose word, the final "."), None for an ordinary token."""
    bare = tok.strip(".,;:!?")
    low = bare.lower()
    if not bare:  # a lone "," between items, or the final "."
        if tok.startswith((",", ";")) and items[-1]:
            items.append([])
            return True
        return False
    if low in _SEPARATORS:
        if items[-1]:
            items.append([])
        return True
    if low == "factorial" and items[-1]:  # "is n factorial (n!)"
        items[-1][-1] += "!"
        return False
    if low in _NUMBER_WORDS and not items[-1] and not first \
            and not (tok == bare and (nxt in _NUMBER_WORDS or nxt in _SCALE_WORDS)):
        # "is two" -> 2; but "is the one who was numbered 601" is a pronoun, and "one hundred five" is
        # not 1 (a number word before a scale or another number word is not read)
        items[-1].append(_NUMBER_WORDS[low])
        if tok.endswith((",", ";")):
            items.append([])
        return True
    return False if _is_prose_word(bare) or low in ("e.g", "i.e", "etc") else None


def _read_token(tok: str, nxt: str, items: list[list[str]], depth: int, first: bool) -> int | None:
    """Read one token into ``items`` (a new item starts after a top-level separator); the bracket
    depth after it, or None when the answer ends before it."""
    span = _strip_span(tok)
    if span is not None:
        items[-1].append(span)
        if tok.endswith((",", ";")) and depth == 0:
            items.append([])
        return depth
    if tok in ("...", "…") or tok.rstrip(",") in ("...", "…"):  # "1 + 1/2 + ... + 1/n", "1, 2, ..., n"
        items[-1].append("\\ldots")
        if tok.endswith(",") and depth <= 0:
            items.append([])
        return depth
    if depth <= 0:
        read = _read_top_level(tok, nxt, items, first)
        if read is not None:
            return depth if read else None
    depth += _depth_change(tok)
    items[-1].append(tok.rstrip(".,;:?") if depth <= 0 else tok)
    if depth <= 0 and tok.rstrip(".").endswith((",", ";")):
        items.append([])
    return depth


def _collect_object(tail: str) -> str | None:
    """The answer at the start of ``tail`` (the text after the link, to the end of the sentence).

    After the lead (:func:`_skip_lead`) and a bound ("at least 1000" -> ``\\ge 1000``), items are read
    while they are math: math spans, words with digits/operators, single letters, words inside open
    brackets; commas, "and" and "or" (outside brackets) separate items ("a = 3, b = -7, and c = 4";
    "0, 2, and 4"). The first prose word outside brackets ends the answer ("29 valid strings", "1,
    which occurs when ..."). Several items are joined by ", ".
    """
    tokens = [m.group() for m in _TOKEN.finditer(tail[:_OBJECT_CHARS])]
    i, skipped_article = _skip_lead(tokens)
    bound, i = _read_bound(tokens, i)
    items: list[list[str]] = [[]]
    depth = 0
    for k in range(i, len(tokens)):
        nxt = tokens[k + 1].strip(".,;:").lower() if k + 1 < len(tokens) else ""
        depth = _read_token(tokens[k], nxt, items, depth, skipped_article and k == i)
        if depth is None:
            break
    found = [f for f in (" ".join(it).strip().rstrip(".,;:").strip() for it in items if it) if f]
    if not found and not bound:  # "is the sum of the first n terms of the harmonic series: 1 + 1/2 + ..."
        colon = tail.find(": ", 0, _OBJECT_CHARS)
        if colon != -1 and not tail[:colon].count("$") % 2 and "\\(" not in tail[:colon]:
            return _collect_object(tail[colon + 2:])
    if bound and len(found) == 1:
        return bound + found[0]
    return ", ".join(found) if found and not bound else None


_WORD_COPULA = re.compile(r"\b(?:is|are|equals)\b(?!\s*(?:not\s+)?[a-z]+ed\b)", re.IGNORECASE)


_QUANTIFIERS = {"for all", "for any", "for every", "for each"}
_OWN_VERB = re.compile(r"\b(?:is|are|equals)\b|=|≡", re.IGNORECASE)
_RESUME = re.compile(r",\s*(?:is|are|equals)\b", re.IGNORECASE)


def _condition_ranges(s: str) -> list[tuple[int, int]]:
    """Condition clauses: a "because" clause runs to the end of the sentence (a reason never resumes
    the main clause); one led by a comma (", which ...", ", meaning ...", ", where ...") runs to the
    end of the sentence or to a ", is"/", are" that resumes the main clause; one inside the subject
    ("the remainder when n is divided by 7 is 0", "triples such that a+b+c=99 is 5050") runs past its
    own verb (the first is/are/=; "for all/any/every/each" have none) to the next comma or the next
    non-passive "is"/"are"/"equals", which is the sentence's main verb."""
    out = []
    for m in _CONDITION.finditer(s):
        if m.group().lower() == "because":  # a reason never resumes the main clause: "C because ... = 70"
            out.append((m.start(), len(s)))
            continue
        if s[:m.start()].rstrip().endswith(","):  # ends where ", is ..." resumes the main clause
            resume = _RESUME.search(s, m.end())
            out.append((m.start(), resume.start() if resume else len(s)))
            continue
        # the clause's own verb ("when y is 3", "such that a+b+c=99"); "for all x" has none
        own = _OWN_VERB.search(s, m.end()) if m.group().lower() not in _QUANTIFIERS else m
        main = _WORD_COPULA.search(s, own.end()) if own else None
        stops = [x.start() for x in (_CLAUSE_END.search(s, m.end()), main) if x]
        out.append((m.start(), min(stops) - 1 if stops else len(s)))
    return out


def _outside_spans(s: str, spans: list[tuple[int, int]], pattern: re.Pattern) -> list[re.Match]:
    return [m for m in pattern.finditer(s) if not any(a < m.start() < b for a, b in spans)]


def _existential_answer(s: str) -> tuple[str | None, int]:
    """The count after a leading "There is/are" ("There are 5050 ordered triples ..." -> 5050; "There
    are no pairs" -> 0: a claim truth reads the statement itself), else (None, -1)."""
    ex = EXISTENTIAL_LEAD.match(s)
    if ex and re.match(r"no\s+[A-Za-z]", s[ex.end():]):
        return "0", ex.end()
    if ex:
        found = _collect_object(s[ex.end():])
        if found and _MATHY.search(found):
            return found, ex.end()
    return None, -1


def _link_passes(s: str, spans: list[tuple[int, int]]) -> list[list[re.Match]]:
    """The links of a sentence in the order they are tried: word links outside conditions last to
    first (the main verb follows the subject's clauses); "has/have" outside conditions; "=" first to
    last (the run "c = 5, a = 2 and b = -1" starts at the first one); links inside conditions; then
    "has/have" inside them."""
    conditions = _condition_ranges(s)

    def outside(m: re.Match) -> bool:
        return not any(a <= m.start() <= b for a, b in conditions)

    links = [m for m in _outside_spans(s, spans, _COPULA) if not (m.group().isalpha() and _PASSIVE.match(s, m.end()))]
    have_all = _outside_spans(s, spans, _HAVE)
    have = [m for m in have_all if outside(m)]
    return [[m for m in links if outside(m) and m.group().isalpha()][::-1], have[::-1],
            [m for m in links if outside(m) and not m.group().isalpha()], [m for m in links if not outside(m)][::-1],
            [m for m in have_all if m not in have][::-1]]


def _object_start(s: str, m: re.Match) -> int:
    """Where the object of link ``m`` starts: after it, or for "=" at the math before it ("x = 6, y = 5"),
    after it when only prose stands before it ("Total number of ways = ...")."""
    if m.group() not in ("=", "≡"):
        return m.end()
    back = m.start()
    for w in reversed(list(_TOKEN.finditer(s[max(0, m.start() - 200):m.start()]))):
        bare = w.group().strip(".,;:")
        if _is_prose_word(bare) and bare.lower() not in _SEPARATORS:
            break
        back = max(0, m.start() - 200) + w.start()
    return back if back < m.start() else m.end()  # "Total number of ways = (n(n+1)/2)^2": a prose label


def _sentence_answer(s: str) -> tuple[str | None, int]:
    """The answer a sentence states, and where it starts in ``s`` (-1 when none).

    The answer is the sentence's object: after "There is/are" at its start ("There are 5050 ordered
    triples (a, b, c) ... such that a+b+c=99" -> 5050); else after the last link (is/are/equals/be/
    =/≡, outside math spans, not a passive "is divided") that is outside a condition clause (from
    "such that", "where", "when", "for which", "which", "for all", "because", ... to the next comma):
    "The remainder when p(x^7) is divided by p(x), where p(x)=..., is 7" -> 7 (when every link is inside
    a condition, all count); earlier links are tried when the object is not math; "has"/"have" last.
    """
    s = s[-WINDOW:]
    found, start = _existential_answer(s)
    if found is not None:
        return found, start
    spans = [(m.start(), m.end()) for m in _TOKEN.finditer(s) if _strip_span(m.group()) is not None]
    for candidates in _link_passes(s, spans):
        for m in candidates:
            start = _object_start(s, m)
            if m.group().lower() in ("has", "have") and re.match(r"(?<!\s)\s*no\s+[A-Za-z]", s[m.end():]):
                return "0", start  # "has no real roots"
            found = _collect_object(s[start:])
            if found and _MATHY.search(found):
                return found, start
    last = [m for m in _TOKEN.finditer(s) if _strip_span(m.group()) is not None]
    if last and "=" in last[-1].group() and not s[last[-1].end():].strip(" .;:"):
        return _strip_span(last[-1].group()), last[-1].start()  # "$x^9+x^4-x-1=(x+1)(x^5+x+1)$."
    return None, -1


def _split_sentences(par: str) -> list[str]:
    spans = [(m.start(), m.end()) for m in _TOKEN.finditer(par) if _strip_span(m.group()) is not None]
    out, start = [], 0
    for m in _SENTENCE_BREAK.finditer(par):
        if any(a < m.start() < b for a, b in spans):
            continue
        out.append(par[start:m.start()])
        start = m.end()
    out.append(par[start:])
    return [x.strip() for x in out if x.strip()]


# Markdown bold around prose ("**Answer:** 42", "**Final answer: 7**"); a "**" between two operands
# ("2**10", "(n+1)**2") is an exponent and stays.
_MARKDOWN_BOLD = re.compile(r"(?<![\w)\]}])\*\*|\*\*(?![\w({\[])")


# A single "$" (not "\\$", not "$$"); a run of two or more letters that is a word, not a command.
_DOLLAR = re.compile(r"\\.|\$\$|\$", re.DOTALL)
_SPAN_WORD = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}")
_CHECK_MARKS = re.compile(r"[✓✔✅☑]\ufe0f?")


def _drop_currency(text: str) -> str:
    """Remove currency dollars: a ``$`` before a digit is currency, not a math delimiter, when the span
    it would open has no closing ``$`` (an odd count), or runs across a newline, or holds two or more
    prose words ("costs $12 and a notebook costs $3" -> "costs 12 and a notebook costs 3"); then the
    next ``$`` is tried as an opener. ``$12$`` and ``$3 \\times 4$`` stay math. One left-to-right pass over
    the dollars, each gap read once, so linear."""
    if "$" not in text:
        return text
    dollars = [m.start() for m in _DOLLAR.finditer(text) if m.group() == "$"]
    drop, i = [], 0
    while i < len(dollars):
        p = dollars[i]
        q = dollars[i + 1] if i + 1 < len(dollars) else None
        if p + 1 < len(text) and text[p + 1].isdigit():
            gap = text[p + 1:q] if q is not None else ""
            if q is None or "\n" in gap or len(_SPAN_WORD.findall(gap)) >= 2:
                drop.append(p)
                i += 1
                continue
        i += 2
    if not drop:
        return text
    out, last = [], 0
    for p in drop:
        out.append(text[last:p])
        last = p + 1
    out.append(text[last:])
    return "".join(out)


def _unmark(text: str) -> str:
    """Markdown bold, currency dollars and check marks (✓, ✔) removed."""
    return _CHECK_MARKS.sub("", _drop_currency(_MARKDOWN_BOLD.sub("", text)))


# An afterword: a paragraph or sentence that checks or annotates an answer already given ("Let me
# verify: ...", "Check: ...", "Note: ...", "Substituting back, ...", "Verification: ...", "This is the
# final answer.").
_AFTERWORD = re.compile(
    r"(?<!\W)\W*(?:(?:let(?:'s|\s+me|\s+us)|to|we\s+can|i\s+will|i'll)\s+(?:verify|check|double[- ]check|confirm)\b"
    r"|(?:verification|check|checking|verifying|double[- ]check(?:ing)?|sanity[- ]check|note)\s*[:,-]"
    r"|as\s+a\s+(?:sanity\s+)?check\b|(?:substituting|plugging)\s+(?:\S+\s+){0,3}?back\b"
    # a back-reference to the answer just given: "This is the final answer.", "This is the expression for ..."
    r"|th(?:is|at)\s+is\s+the\s+(?:final\s+|required\s+|desired\s+)?(?:answer|expression|formula|result)\b)",
    re.IGNORECASE)


def _starts_afterword(text: str, pos: int) -> bool:
    r"""Whether an afterword marker starts at text[pos] (read on a window: the pattern's leading
    ``(?<!\W)\W*`` keeps searches linear, and a window starts it afresh at pos)."""
    return bool(_AFTERWORD.match(text[pos:pos + 400]))


def _is_afterword(text: str, pos: int, end: int) -> bool:
    """Whether text[pos:end] is an afterword: starts with a marker and names no answer ("answer is")."""
    return _starts_afterword(text, pos) and not _ANSWER_IS.search(text, pos, end)


_SENTENCE_START = re.compile(r"(?:\n|(?<!\.)[.!](?=\s))\s*")


def _trailing_parenthetical(par: str) -> int:
    """Start of a trailing "(...)" that is an aside (after a sentence end, or "(Note: ...)"), else -1."""
    body = par.rstrip().rstrip(".").rstrip()
    if not body.endswith(")"):
        return -1
    depth = 0
    for i in range(len(body) - 1, max(-1, len(body) - 1 - _OBJECT_CHARS), -1):
        depth += {")": 1, "(": -1}.get(body[i], 0)
        if depth == 0:
            before = body[:i].rstrip()
            if before and (before.endswith((".", "!")) or _starts_afterword(body, i + 1)) \
                    and not _ANSWER_IS.search(body, i):
                return i
            return -1
    return -1


def _drop_afterword(text: str) -> str:
    """Text without the checks and notes after its answer: trailing paragraphs that start with an
    afterword marker (see _AFTERWORD), then trailing sentences of the last paragraph that start with
    one, then a trailing parenthetical aside; never the last remaining sentence."""
    text = text.rstrip()
    window = text[-WINDOW:]
    cut = len(window)
    for b in reversed(list(_PARAGRAPH_BREAK.finditer(window))):  # within the window: linear
        if b.end() >= cut or not _is_afterword(window, b.end(), cut):
            break
        cut = b.start()
    text = text[:len(text) - len(window) + cut].rstrip()
    window = text[-WINDOW:]
    breaks = list(_PARAGRAPH_BREAK.finditer(window))
    offset = len(text) - len(window) + (breaks[-1].end() if breaks else 0)
    par = text[offset:]
    spans = [(m.start(), m.end()) for m in _TOKEN.finditer(par) if _strip_span(m.group()) is not None]
    starts = [m.end() for m in _SENTENCE_START.finditer(par) if not any(a < m.start() < b for a, b in spans)]
    for start in reversed([x for x in starts if x < len(par)]):
        if not par[:start].strip() or not _is_afterword(par, start, len(par)):
            break
        par = par[:start].rstrip()
    cut = _trailing_parenthetical(par)
    if cut > 0:
        par = par[:cut].rstrip()
    return text[:offset] + par


def clean_text(response: str) -> str:
    """The response without markdown bold, currency dollars, check marks and afterwords (checks and
    notes after the answer): the text the sentence rules read."""
    return _drop_afterword(_unmark(response).strip())


def last_paragraph(text: str) -> str:
    """The last paragraph of a text (after its last blank line), at most WINDOW characters."""
    window = text[-WINDOW:]
    breaks = list(_PARAGRAPH_BREAK.finditer(window))
    return window[breaks[-1].end():].strip() if breaks else window.strip()


def final_paragraph(response: str) -> str:
    """The last paragraph of the response (after its last blank line), at most WINDOW characters,
    without markdown bold, currency dollars, check marks and afterwords (checks and notes after the
    answer)."""
    return last_paragraph(clean_text(response))


def statement_of(par: str) -> str:
    """A final paragraph's concluding statement: the text after "answer is (that)", else the
    paragraph's first sentence (a summary turn leads with its claim: "No, it is not possible ...")."""
    from .claims import _NEGATION

    matches = list(_ANSWER_IS.finditer(par))
    if matches and not _NEGATION.search(par[:matches[-1].start()]):
        return _split_sentences(par[matches[-1].end():] or " ")[0] if par[matches[-1].end():].strip() else par
    sentences = _split_sentences(par)
    return sentences[0] if sentences else ""


def final_statement(response: str) -> str:
    """The response's concluding statement (see :func:`statement_of`) of its final paragraph."""
    return statement_of(final_paragraph(response))


def _answer_after(text: str, m: re.Match) -> str | None:
    """The answer after an "answer is" match: a statement after "answer is that", else its object."""
    rest = text[m.end():m.end() + _TAIL_CHARS]
    sentences = _split_sentences(rest)
    if not sentences:
        return None
    if m.group(1):  # "the final answer is that there are 5 ..."
        return _statement_answer(sentences[0])
    found = _collect_object(sentences[0])
    if found and _MATHY.search(found):
        return found
    yes_no = _YES_NO.match(sentences[0])
    return yes_no.group(1).capitalize() if yes_no else None


def _statement_answer(sentence: str) -> str | None:
    yes_no = _YES_NO.match(sentence)
    if yes_no:
        return yes_no.group(1).capitalize()
    found, _ = _sentence_answer(sentence)
    return found


_TAIL_CHARS = 2000
# "cannot be 1977", "can never be 5": the link right before the value is negated (not a negation
# further back, which belongs to a clause of the subject: "... are never neighbors is 32").
_NEGATED_LINK = re.compile(r"(?:\b(?:not|cannot|never)|n't)\s+(?:be|is|are|was|were|equals?)\s*$", re.IGNORECASE)


# GSM8K's answer line: "#### 72" at the start of a line (the last such line counts).
GSM8K_MARKER = re.compile(r"^[ \t]*####[ \t]*([^\n]{0,200})", re.MULTILINE)
_CHOICE_NAMED = re.compile(r"\b(?:option|choice|answer)\s*\(?([A-E])\)?(?![\w])", re.IGNORECASE)


_PLAIN_NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?%?")
_COMPARISON = re.compile(r"(?:[<>≤≥≠]|\\(?:le|ge|leq|geq|neq|ne|lt|gt)\b)\s*$")


def _only_value(sentence: str) -> str | None:
    """The one value of a sentence without a link: its only math span or number ("So she sold 48
    clips in May." -> 48; "we get $6$ paths" -> 6), else a named choice letter when it has no value
    ("Option D", "I would go with choice (C)"); None when it holds several values or none. Values in a
    condition ("for all n", "when ...", "because ...") or after a comparison ("n ≥ 1") do not count:
    "This completes the proof for all n ≥ 1." has none."""
    conditions = _condition_ranges(sentence)
    values, prose = [], []
    for m in _TOKEN.finditer(sentence):
        if any(a <= m.start() <= b for a, b in conditions):
            continue
        span = _strip_span(m.group())
        if span is None:
            prose.append(m.group())
            bare = m.group().strip(".,;:!?()")
            if not any(c.isdigit() for c in bare) or _COMPARISON.search(sentence[max(0, m.start() - 8):m.start()]):
                continue
            if not _PLAIN_NUMBER.fullmatch(bare):
                return None  # digits inside an expression ("y(n-1)", "240/20"): not a one-value sentence
            values.append(bare.rstrip("%"))
        elif _MATHY.search(span) and not re.search(r"[<>≤≥]|\\(?:le|ge|leq|geq)\b", span):
            values.append(span)
    if len(values) == 1:
        return values[0].rstrip(",")
    choice = _CHOICE_NAMED.search(" ".join(prose)) if not values else None
    return choice.group(1).upper() if choice else None


# A paragraph that concludes: it overrides a \\boxed{} of an earlier paragraph when it states an answer.
_CONCLUSION = re.compile(r"(?<!\W)\W*(?:so|thus|therefore|hence|in conclusion|in summary|finally|overall|in total)\b",
                         re.IGNORECASE)


def gsm8k_ground_truth(answer: str) -> str:
    """GSM8K reference answer: the text after the final ``####`` (``"... #### 1,018"`` -> ``"1018"``)."""
    if "####" not in answer:
        raise ValueError(f"no '####' in GSM8K answer: {answer[:80]!r}")
    return answer.rsplit("####", 1)[1].strip().replace(",", "")


def math_ground_truth(solution: str) -> str:
    """MATH reference answer: the last ``\\boxed{}`` of a reference solution."""
    boxed = last_boxed(solution)
    if boxed is None:
        raise ValueError(f"no \\boxed{{}} in MATH solution: {solution[:80]!r}")
    return boxed.strip()
