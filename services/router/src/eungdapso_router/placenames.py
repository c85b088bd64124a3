"""Place names in what citizens write: a gazetteer of Seoul (districts, dongs, subway stations,
landmarks, roads) and of the places around it, and a matcher that finds those names the way
citizens write them ("강남역11번출구", "마포 구청 앞", "송파구청옆", "강낭구").

Why a gazetteer and not the morphological analyser: the vocabulary is closed (a few thousand
names), while citizens' spacing is not. Matching runs on the text with spaces and punctuation
removed ("마포 구청" and "마포구청" are the same), so no-spacing and odd spacing cost nothing,
and it is fast (a dictionary look-up per character, no model: kiwipiepy takes about a second
to load and a millisecond per text, and splits typos unpredictably). What an analyser would
give us, knowing where a word ends, comes from a few explicit rules instead:
- a short name (two syllables, a bare area name like "홍대", or a name that is also an
  everyday word) counts only as a word of its own: it starts the text or a word, or follows
  "서울" or another place, and it ends the text or a word or is followed by a particle or a
  place noun ("강남에서", "신림 근처"; not "강남스타일", "집중구역", "홍길동");
- a dong name does not count inside a word that begins with its last syllable ("방학동안" is
  "during the vacation", "온수동파" a burst hot-water pipe);
- a road that is also a phrase ("삼성로 이직", "대학로 진학") counts only with a house number,
  a 길 or a road word after it;
- spaces inside a name are allowed before its suffix ("마포 구청", "강남 역", "역삼 동") and
  anywhere in long names ("롯데 월드 타워");
- the longest name wins where names overlap ("서울역사박물관" is not "서울역");
- a name right after another city is that city's ("인천 중구", "부산 강서구"), and a city
  right after its province is the more specific ("경기도 성남시").
One-letter typos: a word ending in 구/역/동 that is not a known name but is one jamo away from
exactly one district, station or dong of the same length ("강낭구" -> 강남구, "신림역" typed
"신림억" is not: the suffix must be right) counts, with less weight.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from eungdapso_schemas.codes import District

#: What a name points to: a Seoul district, or an outside office code ("ext.seongnam"), or
#: ELSEWHERE (far from Seoul: no office around Seoul takes it).
Key = District | str
ELSEWHERE = "elsewhere"


class Kind(StrEnum):
    DISTRICT = "district"
    DISTRICT_OFFICE = "district_office"
    DISTRICT_SHORT = "district_short"
    DONG = "dong"
    STATION = "station"
    LANDMARK = "landmark"
    AREA = "area"
    ROAD = "road"
    OUTSIDE = "outside"
    OUTSIDE_SHORT = "outside_short"
    SEOUL = "seoul"  # "서울", "서울시": says where the next name is, points nowhere itself


#: How much one name of each kind says about the place (a sum over distinct names decides).
WEIGHT: dict[Kind, float] = {
    Kind.DISTRICT: 1.0,
    Kind.DISTRICT_OFFICE: 1.0,
    Kind.DISTRICT_SHORT: 0.6,
    Kind.DONG: 0.8,
    Kind.STATION: 0.8,
    Kind.LANDMARK: 0.8,
    Kind.AREA: 0.6,
    Kind.ROAD: 0.5,
    Kind.OUTSIDE: 0.9,
    Kind.OUTSIDE_SHORT: 0.6,
    Kind.SEOUL: 0.0,
}
#: Kinds that belong to Seoul: after another city's name they are that city's instead.
SEOUL_KINDS = frozenset(
    {Kind.DISTRICT, Kind.DISTRICT_OFFICE, Kind.DISTRICT_SHORT, Kind.DONG, Kind.STATION, Kind.ROAD, Kind.AREA}
)
#: A typo'd name says less than a well-spelt one.
TYPO_FACTOR = 0.75
#: Where a station or landmark lies on a boundary, its main district takes this share.
PRIMARY_SHARE = 0.75

#: What may follow a short name for it to count as a word of its own (particles, place nouns).
FOLLOWERS = tuple(
    sorted(
        {
            "에서",
            "에",
            "의",
            "은",
            "는",
            "이",
            "가",
            "을",
            "를",
            "도",
            "로",
            "으로",
            "와",
            "과",
            "랑",
            "이랑",
            "까지",
            "부터",
            "쪽",
            "인근",
            "근처",
            "주변",
            "일대",
            "앞",
            "뒤",
            "옆",
            "건너",
            "맞은편",
            "방면",
            "방향",
            "사거리",
            "삼거리",
            "오거리",
            "교차로",
            "입구",
            "출구",
            "청",
            "구청",
            "시청",
            "주민센터",
            "행정복지센터",
            "사무소",
            "아파트",
            "빌라",
            "상가",
            "시장",
            "공원",
            "골목",
            "거리",
            "길",
            "대로",
            "도로",
            "일원",
            "지역",
            "편",
            "안",
            "내",
            "입니다",
            "인데",
            "이에요",
            "예요",
            "에요",
            "사는",
            "살",
            "거주",
            "소재",
            "가는",
            "오는",
            "근방",
            "부근",
            "쯤",
            "만",
            "에선",
            "에는",
            "에도",
            "역",
            "먹자골목",
            "학원가",
            "상권",
        },
        key=len,
        reverse=True,
    )
)
#: Words that begin with 동: a dong name right before one of their tails is not a dong.
DONG_WORDS = (
    "동안",
    "동파",
    "동작",
    "동기",
    "동물",
    "동아리",
    "동네",
    "동료",
    "동생",
    "동영상",
    "동선",
    "동력",
    "동행",
    "동참",
    "동호회",
    "동결",
    "동향",
    "동창",
    "동맹",
    "동반",
    "동요",
    "동화",
    "동해",
    "동양",
    "동굴",
    "동전",
    "동시에",
    "동일한",
    "동일하",
    "동의서",
    "동의하",
    "동의를",
    "동의합",
)
#: What makes a phrase-like road name a road: a house number, a 길, or a road word after it.
ROAD_CONTEXT = (
    "길",
    "번길",
    "사거리",
    "삼거리",
    "오거리",
    "교차로",
    "방면",
    "방향",
    "도로",
    "구간",
    "변",
    "일대",
    "인근",
    "근처",
    "주변",
    "앞",
    "옆",
    "쪽",
    "에서",
)
#: Suffixes a short name may be split from by a space ("마포 구청").
SPLIT_SUFFIXES = frozenset({"구", "구청", "역", "동"})
#: Names that say "in Seoul": the name after them is Seoul's.
SEOUL_NAMES = ("서울특별시", "서울시", "서울", "seoul")
#: Suffixes typo matching works with: a typo in the suffix itself is not guessed.
TYPO_SUFFIXES = {"구": Kind.DISTRICT, "역": Kind.STATION, "동": Kind.DONG}
#: Kind order where two kinds name the same place and overlap: the first wins.
PRIORITY = (
    Kind.DISTRICT_OFFICE,
    Kind.DISTRICT,
    Kind.OUTSIDE,
    Kind.STATION,
    Kind.LANDMARK,
    Kind.DONG,
    Kind.ROAD,
    Kind.AREA,
    Kind.DISTRICT_SHORT,
    Kind.OUTSIDE_SHORT,
    Kind.SEOUL,
)


@dataclass(frozen=True)
class Entry:
    """One name the gazetteer knows (`surface`: compact, lower case) and where it points."""

    surface: str
    label: str
    kind: Kind
    #: Key -> share of the name's weight (they sum to 1).
    targets: tuple[tuple[Key, float], ...]
    #: Counts only as a word of its own (see the module's rules).
    word: bool = False
    #: A road that is also a phrase: counts only followed by a number, 길 or a road word.
    road_phrase: bool = False

    @property
    def weight(self) -> float:
        return WEIGHT[self.kind]


@dataclass(frozen=True)
class Match:
    entry: Entry
    start: int
    end: int
    #: The text as written, when it matched by a typo.
    typo: str | None = None


def is_syllable(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3"


def compact(name: str) -> str:
    """A name as the matcher compares it: NFKC, lower case, letters and digits only."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", name).lower() if ch.isalnum())


def shares(keys: Sequence[Key], *, primary: bool) -> tuple[tuple[Key, float], ...]:
    """How a name's weight is divided among the places it may be: equally, or mostly to the
    first when it is the main one (a station's address) and the others are across a boundary."""
    keys = list(dict.fromkeys(keys))
    if len(keys) == 1:
        return ((keys[0], 1.0),)
    if primary:
        rest = (1.0 - PRIMARY_SHARE) / (len(keys) - 1)
        return ((keys[0], PRIMARY_SHARE), *((k, rest) for k in keys[1:]))
    return tuple((k, 1.0 / len(keys)) for k in keys)


class _Text:
    """A text normalised for matching: `compact` (letters and digits only) and, for each of its
    characters, where it stands in `original` (to see spaces and word boundaries)."""

    def __init__(self, raw: str) -> None:
        self.original = unicodedata.normalize("NFKC", raw).lower()
        kept = [(i, ch) for i, ch in enumerate(self.original) if ch.isalnum()]
        self.positions = [i for i, _ in kept]
        self.compact = "".join(ch for _, ch in kept)

    def _before(self, i: int) -> str:
        p = self.positions[i] - 1 if i < len(self.positions) else len(self.original) - 1
        return self.original[p] if p >= 0 else " "

    def _after(self, j: int) -> str:
        q = self.positions[j - 1] + 1
        return self.original[q] if q < len(self.original) else " "

    def starts_word(self, i: int, ascii_name: bool) -> bool:
        before = self._before(i)
        return not (before.isascii() and before.isalnum()) if ascii_name else not is_syllable(before)

    def ends_word(self, j: int, ascii_name: bool) -> bool:
        after = self._after(j)
        return not (after.isascii() and after.isalpha()) if ascii_name else not is_syllable(after)

    def gaps(self, i: int, j: int) -> list[int]:
        """Where, inside [i, j), the compact text skips a space or punctuation."""
        return [k for k in range(i + 1, j) if self.positions[k] != self.positions[k - 1] + 1]


class Gazetteer:
    """Immutable once built: `find` may be called from any thread."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        merged: dict[str, Entry] = {}
        for e in entries:
            if len(e.surface) < 2:
                continue
            known = merged.get(e.surface)
            merged[e.surface] = e if known is None else _stronger(known, e)
        self.entries = merged
        self._by_bigram: dict[str, list[Entry]] = defaultdict(list)
        for e in sorted(merged.values(), key=lambda e: -len(e.surface)):
            self._by_bigram[e.surface[:2]].append(e)
        #: (suffix, length) -> entries a typo'd word of that shape may stand for.
        self._typo_index: dict[tuple[str, int], list[Entry]] = defaultdict(list)
        for e in merged.values():
            suffix = e.surface[-1]
            if (
                TYPO_SUFFIXES.get(suffix) is e.kind
                and len(e.surface) >= 3
                and all(is_syllable(ch) for ch in e.surface)
            ):
                self._typo_index[(suffix, len(e.surface))].append(e)

    def find(self, raw: str) -> list[Match]:
        """The place names in `raw`, in order, overlaps resolved."""
        text = _Text(raw)
        c = text.compact
        found = [
            Match(e, i, i + len(e.surface))
            for i in range(len(c) - 1)
            for e in self._by_bigram.get(c[i : i + 2], ())
            if c.startswith(e.surface, i)
        ]
        ends = {m.end for m in found}
        accepted = [m for m in found if self._fits(text, m, ends)]
        chosen = _without_overlaps(accepted)
        chosen += self._typos(text, chosen, ends)
        return _attributed(sorted(chosen, key=lambda m: m.start))

    # ------------------------------------------------------------------ the rules
    def _fits(self, text: _Text, m: Match, ends: set[int]) -> bool:
        e, c = m.entry, text.compact
        ascii_name = e.surface.isascii()
        gaps = text.gaps(m.start, m.end)
        if gaps and not ascii_name and len(e.surface) < 5:
            # A short name is split only before its suffix ("마포 구청"), not across words.
            if len(gaps) > 1 or c[gaps[0] : m.end] not in SPLIT_SUFFIXES:
                return False
        if ascii_name:
            return text.starts_word(m.start, True) and text.ends_word(m.end, True)
        if e.word:
            after_place = (
                m.start in ends
                or c[: m.start].endswith(SEOUL_NAMES)
                or c[m.start - 1 : m.start] in ("구", "시", "도")
            )
            if not (text.starts_word(m.start, False) or after_place):
                return False
            if not (text.ends_word(m.end, False) or c.startswith(FOLLOWERS, m.end)):
                return False
        if e.kind is Kind.DONG and not text.ends_word(m.end, False) and c.startswith(DONG_WORDS, m.end - 1):
            return False
        if e.road_phrase:
            rest = c[m.end :]
            return rest[:1].isdigit() or rest.startswith(ROAD_CONTEXT)
        return True

    def _typos(self, text: _Text, chosen: list[Match], ends: set[int]) -> list[Match]:
        """Words ending in 구/역/동, one jamo away from exactly one name of the same shape."""
        c = text.compact
        covered = {k for m in chosen for k in range(m.start, m.end)}
        typos: list[Match] = []
        for j, suffix in enumerate(c):
            if suffix not in TYPO_SUFFIXES or j in covered:
                continue
            for length in range(3, 7):
                i = j - length + 1
                if (
                    i < 0
                    or any(k in covered for k in range(i, j))
                    or not all(is_syllable(ch) for ch in c[i : j + 1])
                ):
                    continue
                starts = text.starts_word(i, False) or i in ends or c[:i].endswith(SEOUL_NAMES)
                office = suffix == "구" and c[j + 1 : j + 2] == "청"
                if not (starts or office) or text.gaps(i, j + 1):
                    continue
                written = c[i : j + 1]
                if written in self.entries:
                    continue  # a known name refused by a rule above is not a typo of another
                close = [
                    e
                    for e in self._typo_index.get((suffix, length), ())
                    if _jamo_distance(e.surface, written) == 1
                ]
                if len(close) == 1:
                    typos.append(Match(close[0], i, j + 1, typo=written))
                    covered.update(range(i, j + 1))
                    break
        return typos


def _stronger(a: Entry, b: Entry) -> Entry:
    """Of two senses of the same name, the one that says more (the other's places kept if
    they are the same)."""
    first, second = (
        (a, b) if (a.weight, -PRIORITY.index(a.kind)) >= (b.weight, -PRIORITY.index(b.kind)) else (b, a)
    )
    if {k for k, _ in first.targets} == {k for k, _ in second.targets} or not second.targets:
        return first
    if not first.targets:
        return second
    # The same name for different places (a dong of one district, an area of another): the
    # places of both, equally.
    keys = [k for k, _ in first.targets] + [k for k, _ in second.targets]
    return replace(first, targets=shares(keys, primary=False))


def _without_overlaps(matches: list[Match]) -> list[Match]:
    chosen: list[Match] = []
    taken: set[int] = set()
    for m in sorted(matches, key=lambda m: (-(m.end - m.start), PRIORITY.index(m.entry.kind), m.start)):
        if not any(k in taken for k in range(m.start, m.end)):
            chosen.append(m)
            taken.update(range(m.start, m.end))
    return chosen


def _attributed(matches: list[Match]) -> list[Match]:
    """A Seoul-looking name right after another city's name is that city's ("인천 중구"); a
    city right after its province is the more specific of the two ("경기도 성남시")."""
    kept: list[Match] = []
    for m in matches:
        previous = kept[-1] if kept else None
        if previous is not None and previous.end == m.start:
            outside_before = previous.entry.kind in (Kind.OUTSIDE, Kind.OUTSIDE_SHORT)
            if outside_before and m.entry.kind in SEOUL_KINDS:
                continue
            if outside_before and m.entry.kind in (Kind.OUTSIDE, Kind.OUTSIDE_SHORT):
                kept.pop()  # the province (or the city) gives way to the more specific name
        kept.append(m)
    return kept


def _jamo(ch: str) -> tuple[int, int, int]:
    code = ord(ch) - 0xAC00
    return code // 588, (code % 588) // 28, code % 28


def _jamo_distance(a: str, b: str) -> int:
    """Letters (initial, vowel, final) that differ between two words of the same length."""
    if len(a) != len(b):
        return 99
    return sum(x != y for ca, cb in zip(a, b, strict=True) for x, y in zip(_jamo(ca), _jamo(cb), strict=True))
