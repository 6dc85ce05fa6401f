"""Persons of the demo brand and every identifier they can show on a channel.

One row per person in a wide frame; channel writers gather the identifier a record
shows (for the time of that record) by person index, so the truth is exact.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from .catalog import CATEGORY_ORDER, STORES, cities_frame
from .util import ALNUM, B64ISH, DIGITS, HEX, random_strings, rng_for

# sales channels a person can prefer (order of the preference columns)
SALES_CHANNELS = ["tmall", "jd", "douyin", "web", "wechat", "pos", "amazon"]

SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
SURNAME_PY = [
    "wang",
    "li",
    "zhang",
    "liu",
    "chen",
    "yang",
    "huang",
    "zhao",
    "wu",
    "zhou",
    "xu",
    "sun",
    "ma",
    "zhu",
    "hu",
    "guo",
    "he",
    "gao",
    "lin",
    "luo",
    "zheng",
    "liang",
    "xie",
    "song",
    "tang",
    "xu",
    "han",
    "feng",
    "deng",
    "cao",
    "peng",
    "zeng",
    "xiao",
    "tian",
    "dong",
    "yuan",
    "pan",
    "yu",
    "jiang",
    "cai",
    "yu",
    "du",
    "ye",
    "cheng",
    "su",
    "wei",
    "lv",
    "ding",
    "ren",
    "shen",
    "yao",
    "lu",
    "jiang",
    "cui",
    "zhong",
    "tan",
    "lu",
    "wang",
    "fan",
    "jin",
    "shi",
    "liao",
    "jia",
    "xia",
    "wei",
    "fu",
    "fang",
    "bai",
    "zou",
    "meng",
    "xiong",
    "qin",
    "qiu",
    "jiang",
    "yin",
    "xue",
    "yan",
    "duan",
    "lei",
    "hou",
    "long",
    "shi",
    "tao",
    "li",
    "he",
    "gu",
    "mao",
    "hao",
    "gong",
    "shao",
    "wan",
    "qian",
    "yan",
    "qin",
    "wu",
    "dai",
    "mo",
    "kong",
    "xiang",
    "tang",
]
GIVEN = list(
    "婷静丽敏燕艳娟霞芳娜雪琳晶颖慧玲莉倩欣怡佳悦雯萱涵梦瑶璐思月宁晓琪蕾薇蓉洁露彤瑾妍雅楠子轩浩宇俊杰伟磊强明涛鹏"
)
GIVEN_PY = [
    "ting",
    "jing",
    "li",
    "min",
    "yan",
    "yan",
    "juan",
    "xia",
    "fang",
    "na",
    "xue",
    "lin",
    "jing",
    "ying",
    "hui",
    "ling",
    "li",
    "qian",
    "xin",
    "yi",
    "jia",
    "yue",
    "wen",
    "xuan",
    "han",
    "meng",
    "yao",
    "lu",
    "si",
    "yue",
    "ning",
    "xiao",
    "qi",
    "lei",
    "wei",
    "rong",
    "jie",
    "lu",
    "tong",
    "jin",
    "yan",
    "ya",
    "nan",
    "zi",
    "xuan",
    "hao",
    "yu",
    "jun",
    "jie",
    "wei",
    "lei",
    "qiang",
    "ming",
    "tao",
    "peng",
]
EN_FIRST = [
    "Emma",
    "Olivia",
    "Sophia",
    "Mia",
    "Charlotte",
    "Amelia",
    "Grace",
    "Chloe",
    "Lily",
    "Hannah",
    "Laura",
    "Anna",
    "Lea",
    "Sarah",
    "Julia",
    "Emily",
    "Jessica",
    "Daniel",
    "James",
    "Lucas",
    "Ben",
    "Max",
    "Wei",
    "Jing",
]
EN_LAST = [
    "Smith",
    "Johnson",
    "Brown",
    "Taylor",
    "Miller",
    "Wilson",
    "Davis",
    "Clark",
    "Lewis",
    "Walker",
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Wagner",
    "Evans",
    "Roberts",
    "Chen",
    "Wang",
    "Li",
    "Zhang",
]
NICK_WORDS = [
    "小鹿",
    "奶茶",
    "橘子",
    "月亮",
    "星星",
    "兔兔",
    "柠檬",
    "芒果",
    "可乐",
    "桃子",
    "小鱼",
    "糖糖",
    "云朵",
    "饭团",
    "小熊",
    "豆豆",
    "喵喵",
    "樱桃",
    "布丁",
    "麻薯",
]
NICK_TAILS = [
    "爱护肤",
    "不吃香菜",
    "的日常",
    "今天也要美",
    "酱",
    "呀",
    "mm",
    "2019",
    "_",
    "的小窝",
    "宝宝",
    "子",
]

MOBILE_PREFIXES = np.array(
    [
        130,
        131,
        132,
        133,
        135,
        136,
        137,
        139,
        150,
        151,
        152,
        155,
        156,
        157,
        158,
        159,
        176,
        177,
        180,
        181,
        182,
        183,
        185,
        186,
        187,
        188,
        189,
        191,
        195,
        198,
        199,
    ]
)
EMAIL_DOMAINS_CN = [
    "qq.com",
    "163.com",
    "126.com",
    "gmail.com",
    "outlook.com",
    "icloud.com",
    "sina.com",
    "foxmail.com",
]
EMAIL_W_CN = [0.38, 0.2, 0.08, 0.08, 0.08, 0.08, 0.05, 0.05]
OPENID_PREFIX = {"mp_shop": "oJ7Ks5", "mp_member": "oX2mQ0", "oa": "o6_bma"}

DEFAULT_PHONE = "13800138000"


def _unique_ints(
    rng: np.random.Generator, n: int, lo: int, hi: int, exclude: set[int] = frozenset()
) -> np.ndarray:
    out = np.empty(0, dtype=np.int64)
    while len(out) < n:
        cand = rng.integers(lo, hi, size=int(n * 1.3) + 16, dtype=np.int64)
        allv = np.concatenate([out, cand])
        _, first = np.unique(allv, return_index=True)
        keep = np.sort(first)
        allv = allv[keep]
        if exclude:
            allv = allv[~np.isin(allv, np.array(sorted(exclude), dtype=np.int64))]
        out = allv
    return out[:n]


def _phones(rng: np.random.Generator, n: int, exclude: set[int]) -> np.ndarray:
    """Unique CN mobile numbers as int64."""
    prefix = rng.choice(MOBILE_PREFIXES, size=n * 2)
    body = rng.integers(0, 100_000_000, size=n * 2, dtype=np.int64)
    nums = prefix.astype(np.int64) * 100_000_000 + body
    _, first = np.unique(nums, return_index=True)
    nums = nums[np.sort(first)]
    nums = nums[~np.isin(nums, np.array(sorted(exclude), dtype=np.int64))]
    return nums[:n]


def build_population(n: int, days: int, seed: int, id_offset: int = 0) -> pl.DataFrame:
    """``n`` persons; ids (person_id, member numbers) start after ``id_offset`` persons, so that
    shards of one brand (``generator.generate(shards=...)``) never share them."""
    rng = rng_for(seed, "population")
    cities = cities_frame()
    cn_idx = cities.filter(pl.col("country") == "CN")["city_idx"].to_numpy()
    cn_w = cities.filter(pl.col("country") == "CN")["weight"].to_numpy()
    ab_idx = cities.filter(pl.col("country") != "CN")["city_idx"].to_numpy()

    overseas = rng.random(n) < 0.06
    city = np.where(
        overseas, rng.choice(ab_idx, size=n), rng.choice(cn_idx, size=n, p=cn_w / cn_w.sum())
    )
    city_en = cities["city_en"].to_numpy()[city]
    country = cities["country"].to_numpy()[city]

    # home store: nearest store in the home city (random among the city's stores)
    store_ids = np.array([s[0] for s in STORES])
    store_city = np.array([s[2] for s in STORES])
    home_store = np.full(n, "", dtype=object)
    u = rng.random(n)
    for c in np.unique(store_city):
        ids = store_ids[store_city == c]
        m = city_en == c
        home_store[m] = ids[np.minimum((u[m] * len(ids)).astype(int), len(ids) - 1)]

    female = rng.random(n) < 0.86
    birth_year = rng.integers(1968, 2006, size=n)
    birth_doy = rng.integers(1, 366, size=n)

    # names
    si = rng.integers(0, len(SURNAMES), size=n)
    g1 = rng.integers(0, len(GIVEN), size=n)
    g2 = rng.integers(0, len(GIVEN), size=n)
    two = rng.random(n) < 0.7
    sur = np.array(SURNAMES)[si]
    giv = np.where(two, np.char.add(np.array(GIVEN)[g1], np.array(GIVEN)[g2]), np.array(GIVEN)[g1])
    sur_py = np.array(SURNAME_PY)[si]
    giv_py = np.where(
        two, np.char.add(np.array(GIVEN_PY)[g1], np.array(GIVEN_PY)[g2]), np.array(GIVEN_PY)[g1]
    )
    ef = np.array(EN_FIRST)[rng.integers(0, len(EN_FIRST), size=n)]
    el = np.array(EN_LAST)[rng.integers(0, len(EN_LAST), size=n)]
    first_name = np.where(overseas, ef, giv)
    last_name = np.where(overseas, el, sur)
    full_name = np.where(overseas, np.char.add(np.char.add(ef, " "), el), np.char.add(sur, giv))

    # lifecycle (days relative to the start date; negative = before the window)
    before = rng.random(n) < 0.55
    acq = np.where(before, rng.integers(-900, 0, size=n), rng.integers(0, max(days, 1), size=n))
    churns = rng.random(n) < 0.3
    churn = np.where(churns, acq + 30 + rng.exponential(260, size=n).astype(np.int64), 10**6)
    churn = np.where(churn < days, churn, 10**6)

    # channel preferences
    k = len(SALES_CHANNELS)
    alpha = np.array([3.0, 1.2, 1.6, 0.8, 1.3, 2.6, 0.0])
    has_store = home_store != ""
    a = np.tile(alpha, (n, 1)) * 0.55
    a[~has_store, 5] = 0.0
    a[:, 6] = 0.0
    a = np.maximum(a, 1e-9)
    prefs = rng.gamma(a)
    prefs[~has_store, 5] = 0.0
    prefs[:, 6] = 0.0
    prefs[prefs / np.maximum(prefs.sum(1, keepdims=True), 1e-12) < 0.08] = 0.0
    prefs[overseas] = 0.0
    prefs[overseas, 6] = 1.0
    zero = prefs.sum(1) == 0
    prefs[zero, 0] = 1.0
    prefs = prefs / prefs.sum(1, keepdims=True)
    acq_channel = np.array(SALES_CHANNELS)[
        np.argmax(prefs * rng.uniform(0.7, 1.0, size=(n, k)), axis=1)
    ]

    activity = rng.lognormal(0.0, 0.85, size=n)
    price_sens = rng.beta(2.0, 3.0, size=n)
    cat_alpha = np.array([3.0, 2.0, 1.0, 1.0, 0.6, 0.5])
    tastes = rng.gamma(np.tile(cat_alpha, (n, 1)))
    tastes[~female, 1] *= 0.15
    tastes[~female, 2] *= 2.0
    tastes = tastes / tastes.sum(1, keepdims=True)

    # engagement
    uses_wechat = (~overseas) & (rng.random(n) < 0.35 + 1.2 * prefs[:, 4] + 0.3 * prefs[:, 5])
    wx_auth = uses_wechat & (rng.random(n) < 0.7)
    app_user = (~overseas) & (rng.random(n) < 0.12 + 0.6 * prefs[:, 3] + 0.2 * prefs[:, 5])
    web_user = (rng.random(n) < 0.25 + 1.0 * prefs[:, 3]) & ~overseas
    social_user = (~overseas) & (rng.random(n) < 0.22)
    member = (~overseas) & (
        rng.random(n) < 0.25 + 0.7 * prefs[:, 5] + 0.5 * prefs[:, 4] + 0.3 * prefs[:, 3]
    )
    wecom = member & has_store & (rng.random(n) < 0.45 * (prefs[:, 5] > 0))

    # phones
    default_num = int(DEFAULT_PHONE)
    phone1 = _phones(rng, n, {default_num})
    phone2n = _phones(rng, n, {default_num} | set(phone1.tolist()[:0]))
    phone1s = phone1.astype(str)
    phone2s = phone2n.astype(str)
    # overseas numbers in E.164
    ab_cc = np.where(country == "US", "+1", np.where(country == "DE", "+49", "+44"))
    ab_num = np.char.add(ab_cc, rng.integers(2_000_000_000, 9_999_999_999, size=n).astype(str))
    phone = np.where(overseas, ab_num, phone1s)
    # family members share the phone of someone in the same city
    shares = (~overseas) & (rng.random(n) < 0.07)
    household_of = np.arange(n)
    order = np.argsort(city, kind="stable")
    sc = city[order]
    starts = np.searchsorted(sc, sc, side="left")
    ends = np.searchsorted(sc, sc, side="right")
    pick = starts + (rng.random(n) * (ends - starts)).astype(np.int64)
    partner_sorted = order[np.minimum(pick, ends - 1)]
    partner = np.empty(n, dtype=np.int64)
    partner[order] = partner_sorted
    shares &= partner != np.arange(n)
    shares &= ~shares[partner]  # no chains
    household_of[shares] = partner[shares]
    phone = np.where(shares, phone[partner], phone)
    changes_phone = (~overseas) & (~shares) & (rng.random(n) < 0.08)
    phone_change = np.where(
        changes_phone,
        np.maximum(acq, 0)
        + (rng.random(n) * np.maximum(days - np.maximum(acq, 0), 1)).astype(np.int64),
        10**6,
    )
    phone_new = np.where(changes_phone, phone2s, "")

    # emails
    dom = rng.choice(EMAIL_DOMAINS_CN, size=n, p=EMAIL_W_CN)
    qqnum = rng.integers(10_000_000, 3_999_999_999, size=n).astype(str)
    digits2 = rng.integers(1, 9999, size=n).astype(str)
    style = rng.random(n)
    local_cn = np.where(
        dom == "qq.com",
        qqnum,
        np.where(
            style < 0.5,
            np.char.add(np.char.add(giv_py, sur_py), digits2),
            np.char.add(np.char.add(np.char.add(sur_py, "."), giv_py), digits2),
        ),
    )
    local_ab = np.char.add(
        np.char.add(np.char.add(np.char.lower(ef.astype(str)), "."), np.char.lower(el.astype(str))),
        digits2,
    )
    local_ab = np.char.replace(local_ab, "ü", "ue")
    email1 = np.where(
        overseas, np.char.add(local_ab, "@gmail.com"), np.char.add(np.char.add(local_cn, "@"), dom)
    )
    has_email = np.where(overseas, rng.random(n) < 0.98, rng.random(n) < 0.62)
    email = np.where(has_email, email1, "")
    changes_email = has_email & (rng.random(n) < 0.05)
    email_change = np.where(
        changes_email,
        np.maximum(acq, 0)
        + (rng.random(n) * np.maximum(days - np.maximum(acq, 0), 1)).astype(np.int64),
        10**6,
    )
    email_new = np.where(
        changes_email,
        np.char.add(
            np.char.add(np.char.add(giv_py, "_"), rng.integers(100, 999, size=n).astype(str)),
            "@outlook.com",
        ),
        "",
    )

    # CRM
    member_no = np.char.add(
        "6688",
        rng.permutation(
            np.arange(10_000_000 + 10 * id_offset, 10_000_000 + 10 * (id_offset + n), 10)
        )[:n].astype(str),
    )
    member_no = np.where(member, member_no, "")
    member_join = np.where(member, np.maximum(acq, acq + rng.integers(0, 60, size=n)), 10**6)
    join_store = np.where(
        member & has_store & (prefs[:, 5] > 0), home_store, np.where(member, "ONLINE", "")
    )

    # WeChat ids
    unionid = np.char.add("oVq1", random_strings(rng, n, 24, B64ISH))
    op_shop = np.char.add(OPENID_PREFIX["mp_shop"], random_strings(rng, n, 22, B64ISH))
    op_mem = np.char.add(OPENID_PREFIX["mp_member"], random_strings(rng, n, 22, B64ISH))
    op_oa = np.char.add(OPENID_PREFIX["oa"], random_strings(rng, n, 22, B64ISH))
    wecom_id = np.char.add("wmQh", random_strings(rng, n, 28, B64ISH))

    # devices (app), anonymous ids (web)
    dev1 = random_strings(rng, n, 32, HEX)
    dev2 = random_strings(rng, n, 32, HEX)
    ios = rng.random(n) < 0.45
    new_device = app_user & (rng.random(n) < 0.15)
    device_change = np.where(
        new_device,
        np.maximum(acq, 0)
        + (rng.random(n) * np.maximum(days - np.maximum(acq, 0), 1)).astype(np.int64),
        10**6,
    )
    anon = [random_strings(rng, n, 32, HEX) for _ in range(3)]
    n_anon = rng.integers(1, 4, size=n)

    # marketplaces
    nick_a = np.array(NICK_WORDS)[rng.integers(0, len(NICK_WORDS), size=n)]
    nick_b = np.array(NICK_TAILS)[rng.integers(0, len(NICK_TAILS), size=n)]
    nick_c = rng.integers(1, 999, size=n).astype(str)
    nick_style = rng.random(n)
    tb_nick = np.where(
        nick_style < 0.35,
        np.char.add("tb", rng.integers(10**8, 10**10, size=n).astype(str)),
        np.where(
            nick_style < 0.7,
            np.char.add(np.char.add(nick_a, nick_b), nick_c),
            np.char.add(np.char.add(giv_py, "_"), nick_c),
        ),
    )
    tm_open = [
        np.char.add("AAF", random_strings(rng, n, 21, B64ISH)) for _ in range(4)
    ]  # store1, store2, rotated x2
    tm_rotates = rng.random(n) < 0.25
    jd_pin = np.where(
        rng.random(n) < 0.5,
        np.char.add("jd_", random_strings(rng, n, 12, HEX)),
        np.char.add(giv_py, rng.integers(100, 99999, size=n).astype(str)),
    )
    dy_uid = _unique_ints(rng, n, 10**10, 9 * 10**10).astype(str)
    dy_nick = np.char.add(
        nick_a, np.array(["", "✨", "🌸", "呀", "酱"])[rng.integers(0, 5, size=n)]
    )
    weibo = _unique_ints(rng, n, 1_000_000_000, 7_999_999_999).astype(str)
    xhs = random_strings(rng, n, 24, "0123456789abcdef")
    amz_relay = random_strings(rng, n, 16, "abcdefghijklmnopqrstuvwxyz0123456789")
    shop_cust = _unique_ints(rng, n, 7_000_000_000_000, 7_999_999_999_999)

    # marketing consent per purpose; a share revokes later in the window
    consent = {}
    for purpose, p_grant in (("email", 0.45), ("sms", 0.35), ("wechat", 0.5), ("ads", 0.3)):
        g = rng.random(n) < p_grant
        rv = g & (rng.random(n) < 0.12)
        consent[f"consent_{purpose}"] = g
        consent[f"consent_{purpose}_revoked_day"] = np.where(
            rv,
            np.maximum(acq, 0)
            + (rng.random(n) * np.maximum(days - np.maximum(acq, 0), 1)).astype(np.int64),
            10**6,
        )
    # home address (street part); the city/province come from the city table
    roads = np.array(
        [
            "人民路",
            "中山路",
            "解放路",
            "建设路",
            "和平路",
            "长江路",
            "南京路",
            "延安路",
            "青年路",
            "文化路",
            "学府路",
            "滨江大道",
            "世纪大道",
            "科技路",
            "花园路",
            "胜利路",
            "新华路",
            "光明街",
            "幸福路",
            "东风路",
        ]
    )
    districts = np.array(
        [
            "东城区",
            "西城区",
            "南山区",
            "高新区",
            "江北区",
            "天河区",
            "浦东新区",
            "锦江区",
            "鼓楼区",
            "滨湖区",
        ]
    )
    street = np.char.add(
        np.char.add(
            np.char.add(
                np.char.add(
                    districts[rng.integers(0, len(districts), size=n)],
                    roads[rng.integers(0, len(roads), size=n)],
                ),
                rng.integers(1, 999, size=n).astype(str),
            ),
            "号",
        ),
        np.char.add(
            np.char.add(rng.integers(1, 30, size=n).astype(str), "栋"),
            np.char.add(rng.integers(101, 3302, size=n).astype(str), "室"),
        ),
    )
    en_street = np.char.add(
        rng.integers(1, 9999, size=n).astype(str),
        np.array([" Main St", " Oak Ave", " High Street", " Hauptstraße", " Park Rd", " Elm St"])[
            rng.integers(0, 6, size=n)
        ],
    )
    address = np.where(overseas, en_street, street)
    zip5 = rng.integers(0, 1000, size=n).astype(str)

    df = pl.DataFrame(
        {
            "person_id": np.arange(id_offset + 1, id_offset + n + 1, dtype=np.int64),
            "address1": address,
            "zip_suffix": np.char.zfill(zip5, 3),
            "city_idx": city.astype(np.int64),
            "home_city": city_en,
            "country": country,
            "home_store": home_store.astype(str),
            "overseas": overseas,
            "female": female,
            "birth_year": birth_year,
            "birth_doy": birth_doy,
            "first_name": first_name,
            "last_name": last_name,
            "full_name": full_name,
            "name_pinyin": np.where(overseas, ef, np.char.add(np.char.add(sur_py, " "), giv_py)),
            "acq_day": acq.astype(np.int64),
            "churn_day": churn.astype(np.int64),
            "acq_channel": acq_channel,
            "activity": activity,
            "price_sensitivity": price_sens,
            "uses_wechat": uses_wechat,
            "wx_authorised": wx_auth,
            "app_user": app_user,
            "web_user": web_user,
            "social_user": social_user,
            "is_member": member,
            "wecom_added": wecom,
            "household_of": household_of.astype(np.int64) + id_offset,
            "phone": phone,
            "phone_new": phone_new,
            "phone_change_day": phone_change.astype(np.int64),
            "email": email,
            "email_new": email_new,
            "email_change_day": email_change.astype(np.int64),
            "member_no": member_no,
            "member_join_day": member_join.astype(np.int64),
            "join_store": join_store,
            "unionid": unionid,
            "openid_mp_shop": op_shop,
            "openid_mp_member": op_mem,
            "openid_oa": op_oa,
            "wecom_external_userid": wecom_id,
            "device_id": dev1,
            "device_id_new": dev2,
            "device_change_day": device_change.astype(np.int64),
            "device_os": np.where(ios, "iOS", "Android"),
            "anon_1": anon[0],
            "anon_2": anon[1],
            "anon_3": anon[2],
            "n_anon": n_anon.astype(np.int64),
            "tmall_nick": tb_nick,
            "tmall_open_s1": tm_open[0],
            "tmall_open_s2": tm_open[1],
            "tmall_open_s1_new": tm_open[2],
            "tmall_open_s2_new": tm_open[3],
            "tmall_rotates": tm_rotates,
            "jd_pin": jd_pin,
            "douyin_uid": dy_uid,
            "douyin_nick": dy_nick,
            "weibo_uid": weibo,
            "xhs_id": xhs,
            "amazon_relay": amz_relay,
            "shop_customer_id": shop_cust,
        }
    )
    df = df.with_columns([pl.Series(k, v) for k, v in consent.items()])
    for j, ch in enumerate(SALES_CHANNELS):
        df = df.with_columns(pl.Series(f"pref_{ch}", prefs[:, j]))
    for j, cat in enumerate(CATEGORY_ORDER):
        df = df.with_columns(pl.Series(f"taste_{cat}", tastes[:, j]))
    return df


def phone_at(persons: pl.DataFrame, pidx: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The phone a person uses on day ``t`` (after a change: the new number)."""
    ph = persons["phone"].to_numpy()[pidx]
    new = persons["phone_new"].to_numpy()[pidx]
    cd = persons["phone_change_day"].to_numpy()[pidx]
    return np.where(t >= cd, new, ph)


def email_at(persons: pl.DataFrame, pidx: np.ndarray, t: np.ndarray) -> np.ndarray:
    em = persons["email"].to_numpy()[pidx]
    new = persons["email_new"].to_numpy()[pidx]
    cd = persons["email_change_day"].to_numpy()[pidx]
    return np.where(t >= cd, new, em)


__all__ = [
    "DEFAULT_PHONE",
    "SALES_CHANNELS",
    "build_population",
    "email_at",
    "phone_at",
    "ALNUM",
    "DIGITS",
]
