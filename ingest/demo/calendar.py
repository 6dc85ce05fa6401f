"""The simulated calendar: dates, weekdays, and retail events per channel family.

All factors are plain numpy arrays indexed by day number ``t`` (0 = start date).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

# Chinese New Year (day 1 of the first lunar month)
CNY = {
    2022: dt.date(2022, 2, 1),
    2023: dt.date(2023, 1, 22),
    2024: dt.date(2024, 2, 10),
    2025: dt.date(2025, 1, 29),
    2026: dt.date(2026, 2, 17),
    2027: dt.date(2027, 2, 6),
    2028: dt.date(2028, 1, 26),
    2029: dt.date(2029, 2, 13),
    2030: dt.date(2030, 2, 3),
}
# Qixi (Chinese Valentine's day, 7th day of the 7th lunar month)
QIXI = {
    2022: dt.date(2022, 8, 4),
    2023: dt.date(2023, 8, 22),
    2024: dt.date(2024, 8, 10),
    2025: dt.date(2025, 8, 29),
    2026: dt.date(2026, 8, 19),
    2027: dt.date(2027, 8, 8),
    2028: dt.date(2028, 8, 26),
    2029: dt.date(2029, 8, 16),
    2030: dt.date(2030, 8, 5),
}


def black_friday(year: int) -> dt.date:
    nov1 = dt.date(year, 11, 1)
    first_thu = nov1 + dt.timedelta(days=(3 - nov1.weekday()) % 7)
    return first_thu + dt.timedelta(days=22)


def prime_day(year: int) -> dt.date:
    jul1 = dt.date(year, 7, 1)
    first_tue = jul1 + dt.timedelta(days=(1 - jul1.weekday()) % 7)
    return first_tue + dt.timedelta(days=7)


@dataclass
class Calendar:
    start: dt.date
    days: int
    dates: list[dt.date] = field(init=False)
    dow: np.ndarray = field(init=False)  # 0 = Monday
    doy: np.ndarray = field(init=False)
    year_frac: np.ndarray = field(init=False)
    cny_offset: np.ndarray = field(init=False)  # days relative to the nearest CNY

    def __post_init__(self) -> None:
        self.dates = [self.start + dt.timedelta(days=i) for i in range(self.days)]
        self.dow = np.array([d.weekday() for d in self.dates], dtype=np.int64)
        self.doy = np.array([d.timetuple().tm_yday for d in self.dates], dtype=np.int64)
        self.year_frac = (self.doy - 1) / 365.25
        off = []
        for d in self.dates:
            cands = [(d - CNY[y]).days for y in (d.year - 1, d.year, d.year + 1) if y in CNY]
            off.append(min(cands, key=abs))
        self.cny_offset = np.array(off, dtype=np.int64)
        self.ymd = [d.strftime("%Y%m%d") for d in self.dates]
        self.iso = [d.isoformat() for d in self.dates]

    @property
    def end(self) -> dt.date:
        return self.dates[-1]

    def _md(self, month: int, day: int) -> np.ndarray:
        return np.array([(d.month, d.day) == (month, day) for d in self.dates])

    def _between(self, m1: int, d1: int, m2: int, d2: int) -> np.ndarray:
        return np.array([(m1, d1) <= (d.month, d.day) <= (m2, d2) for d in self.dates])

    def _on(self, when: dict[int, dt.date] | None = None, fn=None, offset: int = 0) -> np.ndarray:
        out = np.zeros(self.days, dtype=bool)
        for i, d in enumerate(self.dates):
            ref = fn(d.year) if fn else when.get(d.year)
            if ref is not None and (d - ref).days == offset:
                out[i] = True
        return out

    # ------------------------------------------------------------------ traffic
    def traffic(self, family: str) -> np.ndarray:
        """Event multiplier on the number of orders/visits for a channel family.

        families: ``cn_online`` (tmall, jd, wechat, web), ``douyin``, ``jd``,
        ``amazon``, ``store``.
        """
        f = np.ones(self.days)
        c = self.cny_offset
        if family in ("cn_online", "douyin", "jd"):
            f[self._between(10, 20, 10, 31)] *= 1.25  # Double 11 pre-sale
            f[self._between(11, 1, 11, 3)] *= 2.2
            f[self._between(11, 4, 11, 10)] *= 1.35
            f[self._md(11, 11)] *= 4.5
            f[self._md(11, 12)] *= 1.4
            f[self._between(5, 31, 6, 17)] *= 1.3  # 618
            f[self._md(6, 18)] *= 3.5 if family == "jd" else 2.8
            f[self._md(12, 12)] *= 1.8
            f[self._between(3, 7, 3, 8)] *= 1.6  # 38 女王节
            f[self._md(5, 20)] *= 1.4
            f[self._on(QIXI)] *= 1.5
            f[(c >= -20) & (c <= -11)] *= 1.15  # gift buying before CNY
            f[(c >= -10) & (c <= -3)] *= 0.8  # couriers wind down
            f[(c >= -2) & (c <= 6)] *= 0.4  # logistics stop
            f[(c >= 7) & (c <= 14)] *= 0.8
            if family == "douyin":
                f[self._between(11, 12, 11, 13)] *= 1.2  # 抖音好物节 runs later
        elif family == "amazon":
            for off, m in ((0, 3.0), (1, 2.6)):
                f[self._on(fn=prime_day, offset=off)] *= m
            for off in range(-5, 0):
                f[self._on(fn=black_friday, offset=off)] *= 1.4
            f[self._on(fn=black_friday)] *= 3.0
            f[self._on(fn=black_friday, offset=1)] *= 1.8
            f[self._on(fn=black_friday, offset=2)] *= 1.6
            f[self._on(fn=black_friday, offset=3)] *= 2.4  # Cyber Monday
            f[self._between(12, 1, 12, 20)] *= 1.5
            f[self._between(12, 24, 12, 24)] *= 0.7
            f[self._md(12, 25)] *= 0.45
            f[self._between(1, 2, 1, 20)] *= 0.8
        elif family == "store":
            f[c == -1] *= 0.0  # CNY eve: stores closed
            f[c == 0] *= 0.0
            f[(c >= 1) & (c <= 6)] *= 0.55
            f[(c >= -14) & (c <= -2)] *= 1.25
            f[self._between(10, 1, 10, 7)] *= 1.45  # golden week
            f[self._between(5, 1, 5, 5)] *= 1.3
            f[self._md(12, 24)] *= 1.5
            f[self._md(12, 25)] *= 1.2
            f[self._md(5, 20)] *= 1.3
            f[self._on(QIXI)] *= 1.35
            f[self._md(11, 11)] *= 1.15
            f[self._md(2, 14)] *= 1.3
        return f

    def weekly(self, family: str) -> np.ndarray:
        if family == "store":
            w = np.array([0.8, 0.78, 0.82, 0.88, 1.05, 1.45, 1.4])
        elif family == "amazon":
            w = np.array([1.05, 1.0, 0.98, 0.97, 0.95, 0.98, 1.07])
        elif family == "douyin":
            w = np.array([0.9, 1.05, 0.9, 1.05, 0.95, 1.2, 1.0])
        else:
            w = np.array([1.08, 1.0, 0.98, 0.97, 0.92, 0.95, 1.1])
        return w[self.dow] / w.mean()

    def yearly(self, family: str) -> np.ndarray:
        """Smooth yearly seasonality (retail is stronger in Q4 and spring)."""
        x = 2 * np.pi * self.year_frac
        amp = 0.12 if family != "amazon" else 0.2
        return 1.0 + amp * np.cos(x - 2 * np.pi * (11.5 / 12)) + 0.05 * np.sin(2 * x)

    # ------------------------------------------------------------ markdowns
    def event_markdown(self, family: str) -> np.ndarray:
        """Broad event discount rate (0..1) applied to the channel price on that day."""
        m = np.zeros(self.days)
        if family in ("cn_online", "douyin", "jd"):
            m[self._between(10, 20, 11, 11)] = 0.2
            m[self._md(11, 11)] = 0.25
            m[self._between(5, 31, 6, 18)] = 0.15
            m[self._md(12, 12)] = 0.12
            m[self._between(3, 7, 3, 8)] = 0.1
        elif family == "amazon":
            for off in (0, 1):
                m[self._on(fn=prime_day, offset=off)] = 0.2
            for off in range(-5, 4):
                m[self._on(fn=black_friday, offset=off)] = 0.2
        elif family == "store":
            m[self._between(10, 1, 10, 7)] = 0.1
            m[self._md(11, 11)] = 0.1
        return m

    def summer(self) -> np.ndarray:
        """0..1, peak in mid-July (sunscreen, light lotions)."""
        return 0.5 + 0.5 * np.cos(2 * np.pi * (self.year_frac - 0.54))

    def winter(self) -> np.ndarray:
        return 1.0 - self.summer()

    def gifting(self) -> np.ndarray:
        """Extra gift demand before CNY, 520, Qixi, Christmas, Valentine's day."""
        g = np.zeros(self.days)
        c = self.cny_offset
        g[(c >= -25) & (c <= -3)] = 1.0
        g[self._between(12, 5, 12, 24)] = 1.0
        g[self._between(2, 7, 2, 14)] = 0.8
        g[self._between(5, 13, 5, 20)] = 0.8
        for back in range(0, 8):
            g[self._on(QIXI, offset=-back)] = 0.8
        g[self._between(11, 1, 11, 11)] = np.maximum(g[self._between(11, 1, 11, 11)], 0.6)
        return g
