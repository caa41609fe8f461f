"""Made-up people with valid ID numbers and phone numbers, for demos and tests."""

import random
from dataclasses import dataclass
from datetime import date, timedelta

from jietiao_shared.personal import id_check_character

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
REGIONS = ["110105", "310104", "440305", "330106", "510107", "420106"]


@dataclass(frozen=True)
class Person:
    """Someone who can take part in an IOU."""

    name: str
    id_number: str
    phone: str


def make_person(rng: random.Random) -> Person:
    """A person with a checksum-valid ID number and a +86 mobile number."""
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
    born = date(1970, 1, 1) + timedelta(days=rng.randint(0, 365 * 30))
    first17 = f"{rng.choice(REGIONS)}{born:%Y%m%d}{rng.randint(0, 999):03d}"
    phone = f"+86{rng.choice(['135', '138', '150', '186', '199'])}{rng.randint(0, 99_999_999):08d}"
    return Person(name=name, id_number=first17 + id_check_character(first17), phone=phone)
