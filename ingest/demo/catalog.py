"""Master data of the demo brand 青禾 QINGHE: cities, locations, products, channels,
channel SKU codes, prices per SKU per channel per day, and channel fee schedules."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from .calendar import CNY, QIXI, Calendar
from .util import rng_for

BRAND_ZH = "青禾"
BRAND_EN = "QINGHE"

# --------------------------------------------------------------------------- geography
# city_en, city_zh, province_zh, country, lat, lon, weight (share of CN population),
# warehouse, mean temp °C, temp amplitude, wet-season centre (0..1 of year), zip prefix
CITIES = [
    ("Shanghai", "上海", "上海", "CN", 31.23, 121.47, 0.13, "WH-SH", 17.0, 11.0, 0.5, "200"),
    ("Beijing", "北京", "北京", "CN", 39.90, 116.40, 0.11, "WH-SH", 13.0, 15.5, 0.56, "100"),
    ("Hangzhou", "杭州", "浙江省", "CN", 30.27, 120.15, 0.07, "WH-SH", 17.5, 11.5, 0.47, "310"),
    ("Nanjing", "南京", "江苏省", "CN", 32.06, 118.80, 0.05, "WH-SH", 16.0, 12.5, 0.5, "210"),
    ("Suzhou", "苏州", "江苏省", "CN", 31.30, 120.58, 0.04, "WH-SH", 16.5, 12.0, 0.5, "215"),
    ("Guangzhou", "广州", "广东省", "CN", 23.13, 113.26, 0.09, "WH-GZ", 22.5, 7.0, 0.45, "510"),
    ("Shenzhen", "深圳", "广东省", "CN", 22.54, 114.06, 0.08, "WH-GZ", 23.0, 6.5, 0.48, "518"),
    ("Xiamen", "厦门", "福建省", "CN", 24.48, 118.09, 0.025, "WH-GZ", 21.0, 7.0, 0.45, "361"),
    ("Changsha", "长沙", "湖南省", "CN", 28.23, 112.94, 0.03, "WH-GZ", 17.5, 12.0, 0.4, "410"),
    ("Chengdu", "成都", "四川省", "CN", 30.57, 104.07, 0.07, "WH-CD", 16.5, 9.5, 0.57, "610"),
    ("Chongqing", "重庆", "重庆", "CN", 29.56, 106.55, 0.05, "WH-CD", 18.5, 10.5, 0.5, "400"),
    ("Wuhan", "武汉", "湖北省", "CN", 30.59, 114.31, 0.05, "WH-CD", 17.0, 13.0, 0.47, "430"),
    ("Xi'an", "西安", "陕西省", "CN", 34.34, 108.94, 0.04, "WH-CD", 14.5, 13.5, 0.6, "710"),
    ("Tianjin", "天津", "天津", "CN", 39.34, 117.36, 0.03, "WH-SH", 13.0, 15.0, 0.56, "300"),
    ("Qingdao", "青岛", "山东省", "CN", 36.07, 120.38, 0.025, "WH-SH", 13.0, 12.0, 0.58, "266"),
    ("Zhengzhou", "郑州", "河南省", "CN", 34.75, 113.63, 0.025, "WH-SH", 15.0, 14.0, 0.55, "450"),
    ("Shenyang", "沈阳", "辽宁省", "CN", 41.80, 123.43, 0.02, "WH-SH", 8.5, 19.0, 0.56, "110"),
    ("Hefei", "合肥", "安徽省", "CN", 31.82, 117.23, 0.02, "WH-SH", 16.0, 13.0, 0.48, "230"),
    ("Kunming", "昆明", "云南省", "CN", 25.04, 102.71, 0.02, "WH-CD", 15.5, 5.0, 0.55, "650"),
    (
        "Nanning",
        "南宁",
        "广西壮族自治区",
        "CN",
        22.82,
        108.37,
        0.015,
        "WH-GZ",
        22.0,
        7.5,
        0.5,
        "530",
    ),
    # abroad (Amazon buyers)
    (
        "Los Angeles",
        "洛杉矶",
        "CA",
        "US",
        34.05,
        -118.24,
        0.0,
        "FBA-US-ONT8",
        18.0,
        4.5,
        0.1,
        "900",
    ),
    ("New York", "纽约", "NY", "US", 40.71, -74.01, 0.0, "FBA-US-ONT8", 13.0, 11.5, 0.5, "100"),
    ("Seattle", "西雅图", "WA", "US", 47.61, -122.33, 0.0, "FBA-US-ONT8", 11.5, 7.0, 0.0, "981"),
    ("Berlin", "柏林", "BE", "DE", 52.52, 13.40, 0.0, "FBA-DE-FRA7", 10.0, 9.5, 0.55, "101"),
    ("Munich", "慕尼黑", "BY", "DE", 48.14, 11.58, 0.0, "FBA-DE-FRA7", 9.0, 9.5, 0.55, "803"),
    ("London", "伦敦", "England", "GB", 51.51, -0.13, 0.0, "FBA-UK-LTN4", 11.5, 7.0, 0.85, "EC1"),
    (
        "Manchester",
        "曼彻斯特",
        "England",
        "GB",
        53.48,
        -2.24,
        0.0,
        "FBA-UK-LTN4",
        10.0,
        6.5,
        0.85,
        "M1 ",
    ),
]
CITY_COLS = [
    "city_en",
    "city_zh",
    "province",
    "country",
    "lat",
    "lon",
    "weight",
    "warehouse",
    "temp_mean",
    "temp_amp",
    "wet_centre",
    "zip_prefix",
]


def cities_frame() -> pl.DataFrame:
    df = pl.DataFrame(CITIES, schema=CITY_COLS, orient="row")
    return df.with_row_index("city_idx").with_columns(pl.col("city_idx").cast(pl.Int64))


# --------------------------------------------------------------------------- locations
# location_id, type, name, city_en, lat, lon, opened offset (days from start; None = long open),
# store size factor
STORES = [
    ("ST-SH-01", "青禾 上海南京西路店", "Shanghai", 31.2297, 121.4553, None, 1.35),
    ("ST-SH-02", "青禾 上海徐家汇店", "Shanghai", 31.1950, 121.4370, None, 1.0),
    ("ST-SH-03", "青禾 上海陆家嘴店", "Shanghai", 31.2363, 121.5050, None, 0.9),
    ("ST-BJ-01", "青禾 北京三里屯店", "Beijing", 39.9334, 116.4540, None, 1.25),
    ("ST-BJ-02", "青禾 北京西单店", "Beijing", 39.9097, 116.3740, None, 0.95),
    ("ST-HZ-01", "青禾 杭州湖滨店", "Hangzhou", 30.2580, 120.1640, None, 0.9),
    ("ST-GZ-01", "青禾 广州天河店", "Guangzhou", 23.1320, 113.3270, None, 1.05),
    ("ST-SZ-01", "青禾 深圳万象天地店", "Shenzhen", 22.5390, 113.9560, 120, 1.0),
    ("ST-CD-01", "青禾 成都太古里店", "Chengdu", 30.6530, 104.0830, None, 1.1),
    ("ST-WH-01", "青禾 武汉楚河汉街店", "Wuhan", 30.5580, 114.3430, None, 0.8),
]
WAREHOUSES = [
    ("WH-SH", "青禾 华东仓 (上海嘉定)", "Shanghai", 31.3760, 121.2650),
    ("WH-GZ", "青禾 华南仓 (广州黄埔)", "Guangzhou", 23.1060, 113.4590),
    ("WH-CD", "青禾 西南仓 (成都双流)", "Chengdu", 30.5790, 103.9230),
]
FBAS = [
    (
        "FBA-US-ONT8",
        "Amazon FBA ONT8 Moreno Valley",
        "Los Angeles",
        "US",
        33.9150,
        -117.2330,
        "America/Los_Angeles",
    ),
    (
        "FBA-DE-FRA7",
        "Amazon FBA FRA7 Frankenthal",
        "Munich",
        "DE",
        49.5330,
        8.3540,
        "Europe/Berlin",
    ),
    ("FBA-UK-LTN4", "Amazon FBA LTN4 Dunstable", "London", "GB", 51.8830, -0.5210, "Europe/London"),
]


def locations_frame(start: dt.date) -> pl.DataFrame:
    rows = []
    for lid, name, city, lat, lon, off, size in STORES:
        opened = (
            (start + dt.timedelta(days=off))
            if off is not None
            else dt.date(2019 + (len(rows) % 4), 3 + len(rows), 18)
        )
        rows.append((lid, "store", name, city, "CN", lat, lon, "Asia/Shanghai", opened, size))
    for i, (lid, name, city, lat, lon) in enumerate(WAREHOUSES):
        rows.append(
            (
                lid,
                "warehouse",
                name,
                city,
                "CN",
                lat,
                lon,
                "Asia/Shanghai",
                dt.date(2018 + i, 6, 1),
                1.0,
            )
        )
    for i, (lid, name, city, country, lat, lon, tz) in enumerate(FBAS):
        rows.append((lid, "fba", name, city, country, lat, lon, tz, dt.date(2021 + i, 4, 1), 1.0))
    return (
        pl.DataFrame(
            rows,
            schema=[
                "location_id",
                "location_type",
                "name",
                "city",
                "country",
                "lat",
                "lon",
                "timezone",
                "opened_date",
                "size",
            ],
            orient="row",
        )
        .with_row_index("loc_idx")
        .with_columns(pl.col("loc_idx").cast(pl.Int64))
    )


# --------------------------------------------------------------------------- products
CATS = {
    "skincare": ("SK", "护肤"),
    "makeup": ("MU", "彩妆"),
    "haircare": ("HC", "洗护发"),
    "bodycare": ("BC", "身体护理"),
    "fragrance": ("FR", "香氛"),
    "gift_set": ("GS", "礼盒"),
}
CATEGORY_ORDER = list(CATS)

SKIN_LINES = [
    ("Hydra", "水光", "HY"),
    ("Radiance", "焕亮", "RD"),
    ("Ginseng Age-Defy", "人参抗老", "GS"),
    ("Calm", "积雪草舒缓", "CM"),
]
SKIN_TYPES = [
    # en, zh, size, price, repurchase days, season (0 none, 1 summer, 2 winter)
    ("Gentle Cleanser", "洁面乳", "120ml", 129, 60, 0),
    ("Toner", "爽肤水", "200ml", 189, 60, 0),
    ("Essence", "精华水", "150ml", 299, 75, 0),
    ("Serum", "精华液", "30ml", 459, 60, 0),
    ("Cream", "面霜", "50g", 399, 75, 2),
    ("Eye Cream", "眼霜", "15g", 359, 90, 0),
    ("Sheet Mask x5", "面膜5片装", "5片", 149, 30, 0),
    ("Sunscreen SPF50+", "防晒乳SPF50+", "50ml", 199, 45, 1),
]
LIP_SHADES = [
    ("Nude Rose", "裸玫瑰"),
    ("Brick Red", "砖红"),
    ("Coral", "珊瑚"),
    ("Plum", "梅子"),
    ("Classic Red", "正红"),
    ("Peach", "蜜桃"),
    ("Mauve", "豆沙"),
    ("Berry", "浆果"),
    ("Chili", "辣椒红"),
    ("Caramel", "焦糖"),
    ("Rosewood", "玫瑰木"),
    ("Cherry", "樱桃"),
    ("Terracotta", "陶土"),
    ("Pink Mist", "雾粉"),
    ("Wine", "酒红"),
    ("Milk Tea", "奶茶"),
    ("Lychee", "荔枝"),
    ("Ginger", "姜黄"),
    ("Osmanthus", "桂花"),
    ("Jujube", "枣红"),
]
SCENTS = [
    ("White Tea", "白茶"),
    ("Osmanthus", "桂花"),
    ("Green Fig", "青无花果"),
    ("Cedar Mist", "雪松"),
]


@dataclass
class ProductSpec:
    sku: str
    name_zh: str
    name_en: str
    category: str
    brand_line: str
    list_price: int  # CNY, whole yuan
    repurchase: int
    season: int
    launch: dt.date
    discontinued: dt.date | None
    popularity: float


def _products(start: dt.date, days: int, seed: int) -> list[ProductSpec]:
    rng = rng_for(seed, "catalog.products")
    end = start + dt.timedelta(days=days - 1)
    out: list[ProductSpec] = []
    n = {k: 0 for k in CATS}

    def past_launch() -> dt.date:
        return start - dt.timedelta(days=int(rng.integers(200, 1500)))

    def add(cat, zh, en, line, price, rep, season=0, launch=None, disc=None, pop=1.0):
        n[cat] += 1
        code = CATS[cat][0]
        out.append(
            ProductSpec(
                f"QH-{code}-{n[cat]:03d}",
                f"{BRAND_ZH}{zh}",
                f"{BRAND_EN} {en}",
                cat,
                line,
                int(price),
                int(rep),
                season,
                launch or past_launch(),
                disc,
                float(pop * rng.lognormal(0.0, 0.45)),
            )
        )

    for li, (len_, lzh, _code) in enumerate(SKIN_LINES):
        for ti, (ten, tzh, size, price, rep, season) in enumerate(SKIN_TYPES):
            hero = (len_ == "Hydra" and ten == "Serum") or (
                len_ == "Ginseng Age-Defy" and ten == "Cream"
            )
            disc = (
                start + dt.timedelta(days=int(days * 0.5))
                if (len_ == "Calm" and ti in (1, 2, 5))
                else None
            )
            price_adj = price * (1.35 if len_ == "Ginseng Age-Defy" else 1.0)
            add(
                "skincare",
                f"{lzh}{tzh} {size}",
                f"{len_} {ten} {size}",
                len_,
                round(price_adj / 10) * 10 - 1,
                rep,
                season,
                disc=disc,
                pop=(3.5 if hero else 1.0) * (0.7 if li == 3 else 1.0),
            )
        if li < 2:  # travel sizes
            add(
                "skincare",
                f"{lzh}精华液 旅行装 10ml",
                f"{len_} Serum Travel 10ml",
                len_,
                169,
                45,
                pop=0.6,
            )
            add(
                "skincare",
                f"{lzh}面霜 旅行装 15g",
                f"{len_} Cream Travel 15g",
                len_,
                149,
                45,
                pop=0.5,
            )
    # a new skincare line launched mid-window
    launch_pep = start + dt.timedelta(days=int(days * 0.38))
    for ten, tzh, size, price, rep in (
        ("Peptide Serum", "胜肽紧致精华", "30ml", 599, 60),
        ("Peptide Cream", "胜肽紧致面霜", "50g", 559, 75),
        ("Peptide Eye Cream", "胜肽眼霜", "15g", 429, 90),
        ("Peptide Ampoule x7", "胜肽安瓶7支", "7x1.5ml", 299, 30),
    ):
        add(
            "skincare",
            f"{tzh} {size}",
            f"{ten} {size}",
            "Peptide",
            price,
            rep,
            launch=launch_pep,
            pop=1.6,
        )

    for i, (sen, szh) in enumerate(LIP_SHADES):
        launch = None
        disc = None
        if i >= 16:
            launch = start + dt.timedelta(days=int(days * 0.6))
        elif i in (10, 12, 13):
            disc = start + dt.timedelta(days=int(days * 0.75))
        add(
            "makeup",
            f"丝绒唇膏 #{i + 1:02d} {szh}",
            f"Velvet Lipstick #{i + 1:02d} {sen}",
            "Color",
            239,
            120,
            launch=launch,
            disc=disc,
            pop=(2.5 if i in (2, 6) else 1.0) * 0.6,
        )
    for shade in ("N10", "N15", "N20", "W25", "W30"):
        add(
            "makeup",
            f"持妆粉底液 {shade} 30ml",
            f"Long-wear Foundation {shade} 30ml",
            "Color",
            329,
            90,
            pop=0.7,
        )
    for shade in ("01 象牙白", "02 自然色", "03 小麦色"):
        add(
            "makeup",
            f"水光气垫 {shade}",
            f"Hydra Cushion {shade.split()[0]}",
            "Color",
            289,
            60,
            pop=1.0,
        )
    for c_en, c_zh in (("Black", "黑色"), ("Brown", "棕色")):
        add("makeup", f"纤长睫毛膏 {c_zh}", f"Lash Mascara {c_en}", "Color", 169, 90, pop=0.8)
    for p_en, p_zh in (
        ("Sunset", "落日"),
        ("Tea Garden", "茶园"),
        ("Peony", "牡丹"),
        ("Ink", "水墨"),
    ):
        add("makeup", f"九色眼影盘 {p_zh}", f"9-Pan Eyeshadow {p_en}", "Color", 359, 180, pop=0.6)
    for c_en, c_zh in (("Grey Brown", "灰棕"), ("Dark Brown", "深棕"), ("Natural", "自然棕")):
        add("makeup", f"细芯眉笔 {c_zh}", f"Slim Brow Pencil {c_en}", "Color", 99, 60, pop=0.8)
    for c_en, c_zh in (("Translucent", "透明"), ("Light", "浅色")):
        add("makeup", f"控油散粉 {c_zh}", f"Setting Powder {c_en}", "Color", 229, 90, pop=0.7)

    for t_en, t_zh in (("Anti-Dandruff", "去屑"), ("Repair", "修护"), ("Volume", "蓬松")):
        add(
            "haircare",
            f"发研{t_zh}洗发水 400ml",
            f"Hair Lab {t_en} Shampoo 400ml",
            "Hair Lab",
            99,
            45,
            pop=1.1,
        )
        add(
            "haircare",
            f"发研{t_zh}洗发水 750ml",
            f"Hair Lab {t_en} Shampoo 750ml",
            "Hair Lab",
            149,
            75,
            pop=0.7,
        )
        add(
            "haircare",
            f"发研{t_zh}护发素 400ml",
            f"Hair Lab {t_en} Conditioner 400ml",
            "Hair Lab",
            109,
            50,
            pop=0.6,
        )
    add(
        "haircare", "发研修护发膜 200ml", "Hair Lab Repair Mask 200ml", "Hair Lab", 139, 60, pop=0.6
    )
    add(
        "haircare",
        "发研山茶花发膜 200ml",
        "Hair Lab Camellia Mask 200ml",
        "Hair Lab",
        139,
        60,
        pop=0.5,
    )
    add("haircare", "发研护发精油 50ml", "Hair Lab Hair Oil 50ml", "Hair Lab", 169, 90, pop=0.6)
    add(
        "haircare",
        "发研轻盈护发精油 50ml",
        "Hair Lab Light Hair Oil 50ml",
        "Hair Lab",
        169,
        90,
        pop=0.4,
    )
    add("haircare", "发研头皮精华 60ml", "Hair Lab Scalp Serum 60ml", "Hair Lab", 259, 60, pop=0.5)

    for s_en, s_zh in SCENTS[:3]:
        add("bodycare", f"{s_zh}沐浴露 500ml", f"{s_en} Body Wash 500ml", "Body", 89, 45, pop=0.9)
        add(
            "bodycare",
            f"{s_zh}身体乳 250ml",
            f"{s_en} Body Lotion 250ml",
            "Body",
            129,
            60,
            2,
            pop=0.9,
        )
        add("bodycare", f"{s_zh}护手霜 30ml", f"{s_en} Hand Cream 30ml", "Body", 59, 30, 2, pop=1.0)
    add("bodycare", "海盐磨砂膏 200g", "Sea Salt Body Scrub 200g", "Body", 119, 90, pop=0.5)
    add("bodycare", "白茶磨砂膏 200g", "White Tea Body Scrub 200g", "Body", 119, 90, pop=0.4)
    add("bodycare", "滋润润唇膏", "Nourishing Lip Balm", "Body", 49, 40, 2, pop=0.8)
    add("bodycare", "修护润唇膏", "Repair Lip Balm", "Body", 49, 40, 2, pop=0.6)
    add("bodycare", "身体防晒喷雾 150ml", "Body Sun Spray 150ml", "Body", 139, 45, 1, pop=0.7)

    for s_en, s_zh in SCENTS:
        add(
            "fragrance",
            f"{s_zh}淡香精 30ml",
            f"{s_en} Eau de Parfum 30ml",
            "Scent",
            459,
            180,
            pop=0.6,
        )
        add(
            "fragrance",
            f"{s_zh}淡香精 50ml",
            f"{s_en} Eau de Parfum 50ml",
            "Scent",
            699,
            240,
            pop=0.45,
        )
    add("fragrance", "香氛探索礼盒 4x5ml", "Scent Discovery Set 4x5ml", "Scent", 199, 365, pop=0.6)
    add("fragrance", "桂花香薰蜡烛", "Osmanthus Scented Candle", "Scent", 259, 120, pop=0.4)
    add("fragrance", "白茶室内扩香", "White Tea Reed Diffuser", "Scent", 299, 120, pop=0.35)

    # permanent gift sets
    add("gift_set", "水光护肤三件套", "Hydra Skincare Trio", "Gift", 699, 120, pop=0.8)
    add("gift_set", "丝绒唇膏三支装", "Velvet Lipstick Trio", "Gift", 599, 180, pop=0.6)
    add("gift_set", "旅行护肤套装", "Travel Skincare Kit", "Gift", 259, 120, pop=0.5)
    # seasonal gift sets: one per occasion and year when it overlaps the window
    for year in range(start.year - 1, end.year + 2):
        seasonal = []
        if year in CNY:
            seasonal.append(
                (
                    f"{year} 新春限定礼盒",
                    f"{year} Lunar New Year Gift Box",
                    CNY[year] - dt.timedelta(days=45),
                    CNY[year] + dt.timedelta(days=10),
                    799,
                )
            )
        seasonal.append(
            (
                f"{year} 520限定礼盒",
                f"{year} 520 Gift Box",
                dt.date(year, 4, 28),
                dt.date(year, 6, 5),
                520,
            )
        )
        if year in QIXI:
            seasonal.append(
                (
                    f"{year} 七夕限定香氛礼盒",
                    f"{year} Qixi Scent Gift Box",
                    QIXI[year] - dt.timedelta(days=25),
                    QIXI[year] + dt.timedelta(days=7),
                    659,
                )
            )
        seasonal.append(
            (
                f"{year} 双11限定礼盒",
                f"{year} Double 11 Gift Box",
                dt.date(year, 10, 15),
                dt.date(year, 11, 30),
                899,
            )
        )
        seasonal.append(
            (
                f"{year} 圣诞限定礼盒",
                f"{year} Holiday Gift Box",
                dt.date(year, 11, 15),
                dt.date(year + 1, 1, 5),
                759,
            )
        )
        for zh, en, launch, disc, price in seasonal:
            if disc < start or launch > end:
                continue
            add("gift_set", zh, en, "Gift", price, 365, launch=launch, disc=disc, pop=1.6)
    return out


def products_frame(start: dt.date, days: int, seed: int) -> pl.DataFrame:
    specs = _products(start, days, seed)
    rng = rng_for(seed, "catalog.cost")
    cost_ratio = rng.uniform(0.16, 0.32, size=len(specs))
    rows = []
    for i, p in enumerate(specs):
        rows.append(
            dict(
                sku=p.sku,
                name_zh=p.name_zh,
                name_en=p.name_en,
                category=p.category,
                brand_line=p.brand_line,
                list_price_cents=p.list_price * 100,
                unit_cost_cents=int(round(p.list_price * cost_ratio[i] * 100)),
                launch_date=p.launch,
                discontinued_date=p.discontinued,
                repurchase_cycle_days=p.repurchase,
                season=p.season,
                popularity=p.popularity,
            )
        )
    df = pl.DataFrame(rows).with_row_index("sku_idx").with_columns(pl.col("sku_idx").cast(pl.Int64))
    return df.with_columns(
        pl.col("category")
        .map_elements(CATEGORY_ORDER.index, return_dtype=pl.Int64)
        .alias("cat_idx")
    )


# --------------------------------------------------------------------------- channels
# price channels (one price per SKU per day each) with currency and the markdown family
PRICE_CHANNELS = {
    "web": ("CNY", "cn_online"),
    "wechat": ("CNY", "cn_online"),
    "tmall": ("CNY", "cn_online"),
    "jd": ("CNY", "jd"),
    "douyin": ("CNY", "douyin"),
    "pos": ("CNY", "store"),
    "amazon_us": ("USD", "amazon"),
    "amazon_de": ("EUR", "amazon"),
    "amazon_uk": ("GBP", "amazon"),
}
FX = {"CNY": 1.0, "USD": 7.2, "EUR": 7.8, "GBP": 9.1}


def assortment(products: pl.DataFrame, seed: int) -> dict[str, np.ndarray]:
    """Boolean mask (n_sku) of SKUs listed per price channel."""
    rng = rng_for(seed, "catalog.assortment")
    cat = products["category"].to_numpy()
    name = products["name_en"].to_numpy()
    pop = products["popularity"].to_numpy()
    n = len(products)
    full = np.ones(n, dtype=bool)
    out = {"web": full.copy(), "wechat": full.copy(), "tmall": full.copy(), "pos": full.copy()}
    out["jd"] = rng.random(n) < 0.85
    dy = (pop >= np.quantile(pop, 0.55)) | (cat == "gift_set")
    out["douyin"] = dy
    # Lunar New Year / 520 / Qixi / Double 11 sets are not sold on Amazon
    is_cn_set = np.array(
        ["Lunar" in s or "520" in s or "Qixi" in s or "Double 11" in s for s in name]
    )
    amz = (
        np.isin(cat, ["skincare", "fragrance"])
        | ((cat == "makeup") & (rng.random(n) < 0.35))
        | ((cat == "gift_set") & ~is_cn_set)
    )
    for k in ("amazon_us", "amazon_de", "amazon_uk"):
        out[k] = amz & (rng.random(n) < 0.92)
    # a few online exclusives are not in stores
    out["pos"] = ~((cat == "gift_set") & np.array(["Double 11" in s for s in name]))
    return out


def price_matrices(
    cal: Calendar, products: pl.DataFrame, seed: int
) -> dict[str, dict[str, np.ndarray]]:
    """Per price channel: ``list`` and ``price`` (int cents, shape days x n_sku), ``promo`` (int code)
    and ``lift`` (demand multiplier from the markdown).

    promo codes: 0 none, 1 event markdown, 2 SKU promotion, 3 both.
    """
    n = len(products)
    base = products["list_price_cents"].to_numpy().astype(np.float64)
    out: dict[str, dict[str, np.ndarray]] = {}
    rng_pc = rng_for(seed, "catalog.price_change")
    # permanent list price changes: ~15% of SKUs get +5..12 % at some day in the window
    change_day = np.where(
        rng_pc.random(n) < 0.15, rng_pc.integers(30, max(31, cal.days - 10), size=n), 10**9
    )
    change_pct = rng_pc.uniform(0.05, 0.12, size=n)
    t = np.arange(cal.days)[:, None]
    list_cny = base[None, :] * np.where(t >= change_day[None, :], 1 + change_pct[None, :], 1.0)
    list_cny = np.round(list_cny / 1000) * 1000 - 100  # ...9.00 yuan
    list_cny = np.maximum(list_cny, 900)
    for ch, (cur, fam) in PRICE_CHANNELS.items():
        rng = rng_for(seed, "catalog.price", ch)
        if cur == "CNY":
            lst = list_cny.copy()
        else:
            x = list_cny / 100.0 / FX[cur] * 1.3
            lst = (np.ceil(x) - 0.01) * 100
        lst = np.round(lst).astype(np.int64)
        ev = cal.event_markdown(fam)[:, None] * np.ones((1, n))
        # SKU promotions: spells of 7..14 days, 10..30 % off, ~6 % of SKU-days
        sp = np.zeros((cal.days, n))
        n_spells = rng.poisson(cal.days / 60.0, size=n)
        for j in range(n):
            for _ in range(int(n_spells[j])):
                s0 = int(rng.integers(0, cal.days))
                ln = int(rng.integers(7, 15))
                sp[s0 : s0 + ln, j] = np.maximum(
                    sp[s0 : s0 + ln, j], rng.choice([0.1, 0.15, 0.2, 0.3])
                )
        if ch == "pos":
            sp *= 0.5
        md = np.maximum(ev, sp)
        price = np.round(lst * (1 - md) / 100.0) * 100 if cur == "CNY" else np.round(lst * (1 - md))
        price = np.minimum(price.astype(np.int64), lst)
        promo = (ev > 0).astype(np.int64) + 2 * (sp > 0).astype(np.int64)
        lift = (price / lst) ** -2.2
        out[ch] = {"list": lst, "price": price, "promo": promo, "lift": lift, "currency": cur}
    return out


# The planted price conflict: one SKU on one marketplace priced well below the own shop for a
# few days outside any promotion (a mis-set price). Its own RNG stream; demand is not lifted
# (the ``lift`` matrix is untouched), so only the prices of those days change.
PLANTED_CONFLICT_CHANNELS = ("tmall", "jd")
PLANTED_CONFLICT_REFERENCE = "web"
PLANTED_CONFLICT_DAYS = 4


def plant_price_conflict(
    cal: Calendar, products: pl.DataFrame, prices: dict, assort: dict, seed: int
) -> pl.DataFrame:
    """Cut the price of one SKU on one marketplace to 55–65 % of the own shop's price for
    ``PLANTED_CONFLICT_DAYS`` days on which neither channel has an event or SKU promotion and
    the SKU is live; returns the truth row(s) (empty if no such window exists)."""
    rng = rng_for(seed, "catalog.planted_price_conflict")
    ch = PLANTED_CONFLICT_CHANNELS[int(rng.integers(0, len(PLANTED_CONFLICT_CHANNELS)))]
    ref = PLANTED_CONFLICT_REFERENCE
    length = PLANTED_CONFLICT_DAYS
    t = np.arange(cal.days)[:, None]
    sd = (cal.start - dt.date(1970, 1, 1)).days
    launch = products["launch_date"].cast(pl.Date).cast(pl.Int64).to_numpy() - sd
    disc = products["discontinued_date"].cast(pl.Date).cast(pl.Int64).fill_null(10**7)
    live = (t >= launch[None, :]) & (t <= disc.to_numpy()[None, :] - sd)
    clean = (
        live
        & (prices[ch]["promo"] == 0)
        & (prices[ref]["promo"] == 0)
        & (assort[ch] & assort[ref])[None, :]
    )
    # a window of `length` clean days, away from the edges of the simulated period
    run = np.ones_like(clean)
    for k in range(length):
        run[: cal.days - k] &= clean[k:]
        run[cal.days - k :] = False
    run[:2] = False
    run[max(0, cal.days - length - 2) :] = False
    starts = np.argwhere(run)
    cols = {"channel": pl.Utf8, "reference_channel": pl.Utf8, "sku": pl.Utf8,
            "date_from": pl.Date, "date_to": pl.Date, "price": pl.Float64,
            "reference_price": pl.Float64, "currency": pl.Utf8}  # fmt: skip
    if len(starts) == 0:
        return pl.DataFrame(schema=cols)
    t0, j = (int(x) for x in starts[int(rng.integers(0, len(starts)))])
    share = rng.uniform(0.55, 0.65)
    ref_price = prices[ref]["price"][t0 : t0 + length, j]
    cut = (np.round(ref_price * share / 100.0) * 100 - 100).astype(np.int64)  # ...9.00 yuan
    prices[ch]["price"][t0 : t0 + length, j] = np.maximum(cut, 100)
    return pl.DataFrame(
        {
            "channel": [ch],
            "reference_channel": [ref],
            "sku": [products["sku"][j]],
            "date_from": [cal.start + dt.timedelta(days=t0)],
            "date_to": [cal.start + dt.timedelta(days=t0 + length - 1)],
            "price": [float(prices[ch]["price"][t0, j]) / 100],
            "reference_price": [float(ref_price[0]) / 100],
            "currency": [prices[ch]["currency"]],
        },
        schema=cols,
    )


# --------------------------------------------------------------------------- channel SKU codes
def sku_codes(products: pl.DataFrame, seed: int) -> pl.DataFrame:
    """Channel-specific item/SKU codes mapping to master SKUs."""
    rng = rng_for(seed, "catalog.sku_codes")
    skus = products["sku"].to_list()
    n = len(skus)
    from .population import _unique_ints

    tm_item = _unique_ints(rng, n, 600_000_000_000, 799_999_999_999)
    jd_item = _unique_ints(rng, n, 100_012_000_000, 100_099_999_999)
    dy_item = _unique_ints(rng, n, 3_600_000_000_000_000_000, 3_700_000_000_000_000_000)
    wx_item = np.arange(10_001, 10_001 + n)
    asin = [
        "B0" + "".join(rng.choice(list("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"), size=8))
        for _ in range(n)
    ]
    legacy = rng.random(n) < 0.2  # Tmall 商家编码 still the legacy code for some items
    rows = []
    for i, sku in enumerate(skus):
        num = sku.split("-")[-1]
        cat = sku.split("-")[1]
        rows.append(("tmall", f"QH{cat}{num}" if legacy[i] else sku, str(tm_item[i]), sku))
        rows.append(("jd", f"JD{cat}{num}", str(jd_item[i]), sku))
        rows.append(("douyin", sku, str(dy_item[i]), sku))
        rows.append(("wechat", f"mp_{wx_item[i]}", f"spu_{wx_item[i]}", sku))
        for mk in ("US", "DE", "UK"):
            rows.append((f"amazon_{mk.lower()}", f"{sku}-{mk}", asin[i], sku))
        rows.append(("web", sku, sku, sku))
        rows.append(("pos", sku, sku, sku))
    return pl.DataFrame(
        rows, schema=["channel", "channel_sku", "channel_item_id", "sku"], orient="row"
    )


# --------------------------------------------------------------------------- fees
DOUYIN_HOSTS = [
    # 达人ID, 达人昵称, host commission rate
    ("0", "青禾官方旗舰店", 0.0),  # the brand's own live room (店播)
    ("71932845026", "小杨哥的美妆间", 0.30),
    ("58201736491", "李佳的好物分享", 0.25),
    ("93017265840", "Vicky护肤日记✨", 0.22),
    ("40518830276", "成都幺妹儿", 0.20),
    ("66301847752", "程十安an", 0.28),
]


def fees_frame(start: dt.date) -> pl.DataFrame:
    vf = dt.date(start.year - 1, 1, 1)
    rows = [
        ("tmall", "commission", "0.0400", "0.00", "CNY", "天猫软件服务费 美妆类目 4%"),
        ("tmall", "points", "0.0050", "0.00", "CNY", "天猫积分 0.5%"),
        ("tmall", "payment", "0.0060", "0.00", "CNY", "支付宝服务费"),
        ("jd", "commission", "0.0800", "0.00", "CNY", "京东佣金 美妆 8%"),
        ("jd", "payment", "0.0060", "0.00", "CNY", "支付手续费"),
        ("douyin", "platform", "0.0500", "0.00", "CNY", "抖店技术服务费 5%"),
        ("douyin", "payment", "0.0060", "0.00", "CNY", "支付手续费"),
        ("wechat", "payment", "0.0060", "0.00", "CNY", "微信支付 0.6%"),
        ("web", "payment", "0.0060", "0.00", "CNY", "payment gateway"),
        ("pos", "payment", "0.0038", "0.00", "CNY", "bank card / QR acquiring"),
        ("amazon", "referral", "0.1500", "0.00", "USD", "referral fee, beauty > $10"),
        ("amazon", "fba_fulfillment", "0.0000", "3.52", "USD", "FBA fee per unit (small standard)"),
        ("amazon", "referral", "0.1500", "0.00", "EUR", "referral fee"),
        ("amazon", "fba_fulfillment", "0.0000", "2.90", "EUR", "FBA fee per unit"),
        ("amazon", "referral", "0.1500", "0.00", "GBP", "referral fee"),
        ("amazon", "fba_fulfillment", "0.0000", "2.55", "GBP", "FBA fee per unit"),
    ]
    out = [(c, t, r, f, cur, "", vf, None, note) for c, t, r, f, cur, note in rows]
    for hid, nick, rate in DOUYIN_HOSTS:
        if rate > 0:
            out.append(
                (
                    "douyin",
                    "host_commission",
                    f"{rate:.4f}",
                    "0.00",
                    "CNY",
                    hid,
                    vf,
                    None,
                    f"达人佣金 {nick} (live commerce total incl. platform ≈ {rate + 0.056 + 0.05:.0%})",
                )
            )
            out.append(
                (
                    "douyin",
                    "live_service",
                    "0.0500",
                    "0.00",
                    "CNY",
                    hid,
                    vf,
                    None,
                    "直播服务费/投流分摊",
                )
            )
    return pl.DataFrame(
        out,
        schema=[
            "channel",
            "fee_type",
            "rate",
            "fixed_fee",
            "currency",
            "host_id",
            "valid_from",
            "valid_to",
            "note",
        ],
        orient="row",
    )
