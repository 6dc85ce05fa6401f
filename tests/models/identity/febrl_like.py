"""A small FEBRL-like person table for testing record linkage: originals and corrupted
duplicates (typos, swapped name fields, missing values, digit slips in dates and postcodes)
with the true person of every record. Deterministic for a seed; no downloads.

Modelled on the FEBRL generator (Christen 2008): one original per person, duplicates with a
few modifications each, duplicates of one person derived from its original.
"""

from __future__ import annotations

import numpy as np
import polars as pl

GIVEN = [
    "james",
    "john",
    "robert",
    "michael",
    "william",
    "david",
    "richard",
    "joseph",
    "thomas",
    "charles",
    "christopher",
    "daniel",
    "matthew",
    "anthony",
    "mark",
    "donald",
    "steven",
    "paul",
    "andrew",
    "joshua",
    "kenneth",
    "kevin",
    "brian",
    "george",
    "timothy",
    "ronald",
    "edward",
    "jason",
    "jeffrey",
    "ryan",
    "jacob",
    "gary",
    "nicholas",
    "eric",
    "jonathan",
    "stephen",
    "larry",
    "justin",
    "scott",
    "brandon",
    "benjamin",
    "samuel",
    "gregory",
    "alexander",
    "frank",
    "patrick",
    "raymond",
    "jack",
    "dennis",
    "jerry",
    "mary",
    "patricia",
    "jennifer",
    "linda",
    "elizabeth",
    "barbara",
    "susan",
    "jessica",
    "sarah",
    "karen",
    "lisa",
    "nancy",
    "betty",
    "margaret",
    "sandra",
    "ashley",
    "kimberly",
    "emily",
    "donna",
    "michelle",
    "carol",
    "amanda",
    "dorothy",
    "melissa",
    "deborah",
    "stephanie",
    "rebecca",
    "sharon",
    "laura",
    "cynthia",
    "kathleen",
    "amy",
    "angela",
    "shirley",
    "anna",
    "brenda",
    "pamela",
    "emma",
    "nicole",
    "helen",
    "samantha",
    "katherine",
    "christine",
    "debra",
    "rachel",
    "carolyn",
    "janet",
    "catherine",
    "maria",
    "heather",
    "diane",
    "ruth",
    "julie",
    "olivia",
    "joyce",
    "virginia",
    "victoria",
    "kelly",
    "lauren",
    "christina",
    "joan",
    "evelyn",
    "judith",
    "megan",
    "andrea",
    "cheryl",
    "hannah",
    "jacqueline",
    "martha",
    "gloria",
    "teresa",
    "ann",
    "sara",
    "madison",
    "frances",
    "kathryn",
    "janice",
    "jean",
    "abigail",
    "alice",
    "judy",
    "sophia",
    "grace",
    "denise",
    "amber",
    "doris",
    "marilyn",
]
SURNAME = [
    "smith",
    "johnson",
    "williams",
    "brown",
    "jones",
    "garcia",
    "miller",
    "davis",
    "rodriguez",
    "martinez",
    "hernandez",
    "lopez",
    "gonzalez",
    "wilson",
    "anderson",
    "thomas",
    "taylor",
    "moore",
    "jackson",
    "martin",
    "lee",
    "perez",
    "thompson",
    "white",
    "harris",
    "sanchez",
    "clark",
    "ramirez",
    "lewis",
    "robinson",
    "walker",
    "young",
    "allen",
    "king",
    "wright",
    "scott",
    "torres",
    "nguyen",
    "hill",
    "flores",
    "green",
    "adams",
    "nelson",
    "baker",
    "hall",
    "rivera",
    "campbell",
    "mitchell",
    "carter",
    "roberts",
    "gomez",
    "phillips",
    "evans",
    "turner",
    "diaz",
    "parker",
    "cruz",
    "edwards",
    "collins",
    "reyes",
    "stewart",
    "morris",
    "morales",
    "murphy",
    "cook",
    "rogers",
    "gutierrez",
    "ortiz",
    "morgan",
    "cooper",
    "peterson",
    "bailey",
    "reed",
    "kelly",
    "howard",
    "ramos",
    "kim",
    "cox",
    "ward",
    "richardson",
    "watson",
    "brooks",
    "chavez",
    "wood",
    "james",
    "bennett",
    "gray",
    "mendoza",
    "ruiz",
    "hughes",
    "price",
    "alvarez",
    "castillo",
    "sanders",
    "patel",
    "myers",
    "long",
    "ross",
    "foster",
    "jimenez",
    "powell",
    "jenkins",
    "perry",
    "russell",
    "sullivan",
    "bell",
    "coleman",
    "butler",
    "henderson",
    "barnes",
    "gonzales",
    "fisher",
    "vasquez",
    "simmons",
    "romero",
    "jordan",
    "patterson",
    "alexander",
    "hamilton",
    "graham",
    "reynolds",
    "griffin",
    "wallace",
    "moreno",
    "west",
    "cole",
    "hayes",
    "bryant",
    "herrera",
    "gibson",
    "ellis",
    "tran",
    "medina",
    "aguilar",
    "stevens",
    "murray",
    "ford",
    "castro",
    "marshall",
    "owens",
    "harrison",
    "fernandez",
    "mcdonald",
    "woods",
    "washington",
    "kennedy",
    "wells",
    "vargas",
    "henry",
]
STREETS = [
    "oak",
    "maple",
    "cedar",
    "pine",
    "elm",
    "main",
    "church",
    "high",
    "park",
    "station",
    "victoria",
    "george",
    "king",
    "queen",
    "william",
    "albert",
    "edward",
    "mill",
    "bridge",
    "river",
    "hill",
    "forest",
    "lake",
    "spring",
    "north",
    "south",
    "east",
    "west",
    "railway",
    "market",
    "school",
    "new",
    "green",
    "wattle",
    "banksia",
    "jacaranda",
    "acacia",
    "bay",
    "ocean",
    "beach",
]
STREET_TYPES = ["street", "road", "avenue", "place", "crescent", "drive", "lane", "court"]
CITIES = [
    "sydney",
    "melbourne",
    "brisbane",
    "perth",
    "adelaide",
    "hobart",
    "darwin",
    "canberra",
    "geelong",
    "newcastle",
    "wollongong",
    "townsville",
    "cairns",
    "toowoomba",
    "ballarat",
    "bendigo",
    "launceston",
    "mackay",
    "rockhampton",
    "bunbury",
    "bundaberg",
    "wagga",
    "mildura",
    "shepparton",
    "gladstone",
    "tamworth",
    "orange",
    "dubbo",
    "geraldton",
    "albany",
    "bathurst",
    "warrnambool",
    "kalgoorlie",
    "devonport",
    "burnie",
    "lismore",
    "nowra",
    "goulburn",
]


def _typo(rng: np.random.Generator, text: str) -> str:
    if not text:
        return text
    i = int(rng.integers(len(text)))
    kind = rng.integers(4)
    letters = "abcdefghijklmnopqrstuvwxyz" if text.isalpha() else "0123456789"
    c = letters[int(rng.integers(len(letters)))]
    if kind == 0:  # substitute
        return text[:i] + c + text[i + 1 :]
    if kind == 1:  # insert
        return text[:i] + c + text[i:]
    if kind == 2 and len(text) > 2:  # delete
        return text[:i] + text[i + 1 :]
    if i + 1 < len(text):  # transpose
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text + c


STATES = ["nsw", "vic", "qld", "wa", "sa", "tas", "nt", "act"]


def febrl_like(
    persons: int = 800,
    dup_share: float = 0.5,
    max_dups: int = 3,
    seed: int = 0,
    schema: str = "simple",
) -> pl.DataFrame:
    """A person table with its truth column ``person_id``.

    ``schema="simple"``: record_id, given_name, surname, address, postcode, city,
    date_of_birth (YYYYMMDD text), email (a quarter of the people), person_id.
    ``schema="febrl"``: the FEBRL columns: record_id, given_name, surname, street_number,
    address_1, address_2, suburb, postcode, state, date_of_birth, soc_sec_id, person_id.
    Each duplicate carries one to three modifications of its original."""
    rng = np.random.default_rng(seed)
    # names are Zipf-distributed (a few very common), as in real populations
    given_w = 1.0 / np.arange(1, len(GIVEN) + 1) ** 0.8
    surname_w = 1.0 / np.arange(1, len(SURNAME) + 1) ** 0.8
    given_w, surname_w = given_w / given_w.sum(), surname_w / surname_w.sum()
    originals = []
    for p in range(persons):
        gn = GIVEN[int(rng.choice(len(GIVEN), p=given_w))]
        sn = SURNAME[int(rng.choice(len(SURNAME), p=surname_w))]
        year, month, day = rng.integers(1940, 2006), rng.integers(1, 13), rng.integers(1, 29)
        street = STREETS[int(rng.integers(len(STREETS)))]
        stype = STREET_TYPES[int(rng.integers(len(STREET_TYPES)))]
        city_i = int(rng.integers(len(CITIES)))
        person = {
            "person_id": p,
            "given_name": gn,
            "surname": sn,
            "street_number": str(rng.integers(1, 400)),
            "address_1": f"{street} {stype}",
            "address_2": f"unit {rng.integers(1, 30)}" if rng.random() < 0.2 else None,
            "postcode": str(2000 + city_i * 37 + int(rng.integers(0, 9))),
            "city": CITIES[city_i],
            "state": STATES[city_i % len(STATES)],
            "date_of_birth": f"{year:04d}{month:02d}{day:02d}",
            "soc_sec_id": str(rng.integers(1_000_000, 9_999_999)),
        }
        if originals and rng.random() < 0.12:
            # a household: another person at the same address with the same surname
            other = originals[int(rng.integers(len(originals)))]
            for f in (
                "surname",
                "street_number",
                "address_1",
                "address_2",
                "postcode",
                "city",
                "state",
            ):
                person[f] = other[f]
        person["email"] = (
            f"{person['given_name']}.{person['surname']}{rng.integers(10, 99)}@example-mail.net"
            if rng.random() < 0.25
            else None
        )
        originals.append(person)
    text_fields = ["given_name", "surname", "address_1", "city"]
    blankable = [
        "given_name",
        "surname",
        "address_1",
        "postcode",
        "city",
        "date_of_birth",
        "street_number",
        "soc_sec_id",
    ]
    digit_fields = ["date_of_birth", "postcode", "soc_sec_id", "street_number"]
    records = []
    for o in originals:
        records.append(dict(o))
        if rng.random() >= dup_share:
            continue
        for _ in range(int(rng.integers(1, max_dups + 1))):
            d = dict(o)
            for _ in range(int(rng.integers(1, 4))):
                m = rng.random()
                if m < 0.40:
                    f = text_fields[int(rng.integers(len(text_fields)))]
                    if d[f]:
                        d[f] = _typo(rng, d[f])
                elif m < 0.50:
                    d["given_name"], d["surname"] = d["surname"], d["given_name"]
                elif m < 0.65:
                    d[blankable[int(rng.integers(len(blankable)))]] = None
                elif m < 0.90:
                    f = digit_fields[int(rng.integers(len(digit_fields)))]
                    if d[f]:
                        d[f] = _typo(rng, d[f])
                elif d["email"]:  # the same address written differently: normalises equal
                    d["email"] = f"  {d['email'].upper()} "
            records.append(d)
    order = rng.permutation(len(records))
    frame = pl.DataFrame([records[i] for i in order]).with_columns(
        pl.format("r{}", pl.int_range(pl.len()).cast(pl.String).str.zfill(5)).alias("record_id")
    )
    if schema == "febrl":
        return frame.select(
            "record_id",
            "given_name",
            "surname",
            "street_number",
            "address_1",
            "address_2",
            pl.col("city").alias("suburb"),
            "postcode",
            "state",
            "date_of_birth",
            "soc_sec_id",
            "person_id",
        )
    return frame.select(
        "record_id",
        "given_name",
        "surname",
        pl.concat_str(["street_number", "address_1"], separator=" ", ignore_nulls=True).alias(
            "address"
        ),
        "postcode",
        "city",
        "date_of_birth",
        "email",
        "person_id",
    )
