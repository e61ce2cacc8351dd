"""Plausible, deterministic demo data for a Shanghai district (徐汇区). Pure generation: the
same seed gives the same district, elders and rolls."""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

from stdnum.cn import ric

DISTRICT = ("310104000000", "徐汇区")
STREETS = [
    ("310104003000", "天平路街道"),
    ("310104004000", "湖南路街道"),
    ("310104007000", "斜土路街道"),
    ("310104008000", "枫林路街道"),
    ("310104010000", "长桥街道"),
    ("310104011000", "田林街道"),
    ("310104012000", "虹梅路街道"),
    ("310104013000", "康健新村街道"),
    ("310104014000", "徐家汇街道"),
    ("310104015000", "凌云路街道"),
    ("310104016000", "龙华街道"),
    ("310104017000", "漕河泾街道"),
    ("310104103000", "华泾镇"),
]
_COMMUNITY_WORDS = [
    "建国",
    "永嘉",
    "宛平",
    "高安",
    "吴兴",
    "康平",
    "东安",
    "枫林",
    "长桥",
    "田林",
    "桂林",
    "龙华",
    "龙山",
    "华泾",
    "梅陇",
    "漕溪",
    "康健",
    "凌云",
    "紫阳",
    "华悦",
    "日晖",
    "双峰",
    "乐山",
    "景谷",
    "东湖",
    "望月",
    "百色",
    "春华",
]
_ROADS = [
    "天钥桥路",
    "漕溪北路",
    "宛平南路",
    "龙华西路",
    "田林路",
    "桂林路",
    "虹漕路",
    "斜土路",
    "中山南二路",
    "零陵路",
    "肇嘉浜路",
    "衡山路",
    "康健路",
    "钦州路",
    "龙吴路",
    "罗城路",
]
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜"
    "叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎"
    "贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
FEMALE = [
    "秀英",
    "桂英",
    "秀兰",
    "玉兰",
    "桂兰",
    "凤英",
    "淑珍",
    "玉珍",
    "秀珍",
    "玉梅",
    "美华",
    "丽华",
    "月娥",
    "翠英",
    "金凤",
    "素珍",
    "惠芳",
    "佩芳",
    "雅琴",
    "菊英",
    "阿娣",
    "巧云",
    "兰",
    "英",
    "珍",
    "芳",
    "琴",
    "梅",
]
MALE = [
    "建国",
    "建华",
    "国华",
    "德明",
    "志强",
    "永福",
    "振华",
    "文华",
    "金宝",
    "福根",
    "国庆",
    "卫国",
    "家驹",
    "明德",
    "根宝",
    "荣生",
    "志明",
    "宝林",
    "正兴",
    "伯年",
    "金龙",
    "海生",
    "伟",
    "强",
    "明",
    "军",
    "杰",
    "林",
]
# Area codes of birth places: mostly Shanghai, then the neighbouring provinces.
BIRTH_AREAS = ["310104"] * 6 + [
    "310101",
    "310105",
    "310106",
    "310110",
    "320102",
    "320502",
    "330102",
    "330203",
    "340104",
    "370102",
    "420102",
    "510104",
]
CONDITIONS = [
    ("高血压", 0.50, "氨氯地平片 5mg 每日一次"),
    ("糖尿病", 0.20, "二甲双胍片 0.5g 每日两次"),
    ("冠心病", 0.12, "阿司匹林肠溶片 100mg 每日一次"),
    ("骨质疏松", 0.15, "碳酸钙D3片 每日一次"),
    ("慢阻肺", 0.06, "噻托溴铵吸入剂 每日一次"),
    ("脑卒中后遗症", 0.05, "氯吡格雷片 75mg 每日一次"),
    ("慢性肾病", 0.03, ""),
    ("帕金森病", 0.015, "多巴丝肼片 每日三次"),
]
ALLERGIES = [("青霉素", 0.05), ("磺胺类", 0.02), ("头孢类", 0.02), ("海鲜", 0.02)]
RELATIONS_CHILD = ["儿子", "女儿"]


@dataclass(frozen=True)
class RegionSpec:
    code: str
    name: str
    level: str
    parent: str | None


def regions(communities_per_street: int = 6) -> list[RegionSpec]:
    specs = [RegionSpec(DISTRICT[0], DISTRICT[1], "district", None)]
    rnd = random.Random(104)
    for street_code, street_name in STREETS:
        specs.append(RegionSpec(street_code, street_name, "street", DISTRICT[0]))
        words = rnd.sample(_COMMUNITY_WORDS, communities_per_street)
        for i, word in enumerate(words, start=1):
            suffix = "村委会" if street_name.endswith("镇") and i > 3 else "居委会"
            specs.append(
                RegionSpec(f"{street_code[:9]}{i:03d}", f"{word}{suffix}", "community", street_code)
            )
    return specs


def community_codes(specs: list[RegionSpec]) -> list[str]:
    return [r.code for r in specs if r.level == "community"]


def _age(rnd: random.Random) -> int:
    # Ages 60–100 decaying roughly as China's older population does (~59 % in their 60s).
    weights = [math.exp(-0.085 * k) for k in range(41)]
    return 60 + rnd.choices(range(41), weights)[0]


def _id_number(rnd: random.Random, birth: dt.date, female: bool) -> str:
    seq = rnd.randrange(0, 100) * 10 + rnd.choice((0, 2, 4, 6, 8) if female else (1, 3, 5, 7, 9))
    body = f"{rnd.choice(BIRTH_AREAS)}{birth:%Y%m%d}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")


def _mobile(rnd: random.Random) -> str:
    return rnd.choice(["13", "15", "18", "17", "19"]) + f"{rnd.randrange(10**9):09d}"


def elder_rows(
    n: int, seed: int, communities: list[str], today: dt.date
) -> Iterator[dict[str, str]]:
    """Rows keyed by the import template's Chinese headers."""
    rnd = random.Random(seed)
    for _ in range(n):
        age = _age(rnd)
        female = rnd.random() < 0.5 + 0.005 * (age - 60)
        birth = today.replace(year=today.year - age, month=1, day=1) - dt.timedelta(
            days=rnd.randrange(365)
        )
        surname = rnd.choice(SURNAMES)
        name = surname + rnd.choice(FEMALE if female else MALE)
        r = rnd.random()
        household = "独居" if r < 0.2 else ("空巢" if r < 0.55 else "与家人同住")
        cats: list[str] = []
        if age >= 80:
            cats.append("高龄")
        if household == "独居":
            cats.append("独居")
        for cat, p in (
            ("低保", 0.03),
            ("特困", 0.005),
            ("低收入", 0.04),
            ("残疾", 0.06),
            ("计划生育特殊家庭", 0.01),
            ("退役军人", 0.04 if not female else 0.003),
        ):
            if rnd.random() < p:
                cats.append(cat)
        frailty = rnd.random() * (1 + (age - 60) / 15)
        if frailty > 2.2:
            cats.append("失能")
        elif frailty > 1.7:
            cats.append("半失能")
        conditions = [c for c, p, _m in CONDITIONS if rnd.random() < p * (0.7 + age / 150)]
        dementia = rnd.random() < 0.02 + max(0, age - 70) * 0.006
        if dementia:
            conditions.append("阿尔茨海默病")
        meds = [m for c, _p, m in CONDITIONS if c in conditions and m]
        allergies = [a for a, p in ALLERGIES if rnd.random() < p]
        community = rnd.choice(communities)
        lat = 31.17 + rnd.uniform(-0.035, 0.035)
        lng = 121.44 + rnd.uniform(-0.03, 0.03)
        road = rnd.choice(_ROADS)
        lane, building = rnd.randrange(1, 1500), rnd.randrange(1, 40)
        address = f"{road}{lane}弄{building}号{rnd.randrange(1, 7)}0{rnd.randrange(1, 5)}室"
        child_female = rnd.random() < 0.5
        contact = (
            surname + rnd.choice(FEMALE if child_female else MALE) if rnd.random() < 0.92 else ""
        )
        level = (
            ""
            if "失能" not in cats and "半失能" not in cats
            else str(rnd.randint(2, 6) if "失能" in cats else rnd.randint(1, 3))
        )
        yield {
            "姓名": name,
            "性别": "女" if female else "男",
            "身份证号": _id_number(rnd, birth, female),
            "出生日期": birth.isoformat(),
            "手机": _mobile(rnd) if rnd.random() < 0.85 else "",
            "固定电话": f"0216{rnd.randrange(10**7):07d}" if rnd.random() < 0.4 else "",
            "住址": address,
            "区划代码": community,
            "居住情况": household,
            "类别": "、".join(cats),
            "照护等级": level,
            "慢性病": "、".join(conditions),
            "过敏史": "、".join(allergies),
            "失智": "是" if dementia else "否",
            "紧急联系人": contact,
            "联系人关系": (RELATIONS_CHILD[1] if child_female else RELATIONS_CHILD[0])
            if contact
            else "",
            "联系人电话": _mobile(rnd) if contact else "",
            "纬度": f"{lat:.6f}",
            "经度": f"{lng:.6f}",
            "家庭医生": rnd.choice(["", "徐医生", "陈医生", "周医生", "王医生"]),
            "用药": "、".join(meds),
            "钥匙保管人": rnd.choice(["", "", "居委会", "邻居", contact or "邻居"]),
            "入户说明": rnd.choice(["", "", "门禁密码由居委会保管", "一楼,门口有台阶", "家中养狗"]),
        }
