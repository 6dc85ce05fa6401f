"""Order routing (OMS): the node that should ship each order, with the reason and the
alternative considered, against the node that really shipped it.

Rules, in order (``profiles/ops_routing.yml``; store buffers from the seed allocation_rules):
* Amazon orders: the FBA nodes of the marketplace (order currency);
* a buyer outside the domestic country: the cross-border warehouse; when that warehouse is
  abroad (an overseas warehouse, 海外仓), shipping from it sends the recipient's name, address
  and phone out of the country, which PIPL (art. 39) allows only with the separate
  ``cross_border`` consent (the consent ledger, ``intermediate.int_customer_consents``):
  without it the order ships from a domestic warehouse, and the reason says so. Amazon orders
  are not gated: the marketplace abroad collected them and fulfils them, the platform sends
  nothing (its order report comes in without buyer name, e-mail or phone);
* store pickup (BOPIS): the chosen store, if its stock less the walk-in buffer covers the order;
  same-city delivery: the nearest store of the buyer's city that covers it; else home delivery;
* home delivery: the nearest node (warehouses, and stores less their walk-in buffer when
  ``ship_from_store``) whose available-to-promise covers every line (haversine distance from
  the buyer's city); split over the nearest nodes only when no single node covers the order;
  a quantity no node covers is left unrouted (never proposed to a node without stock).
Orders are routed in time order against the stock position of the end of the day before their
order day; each proposal consumes the stock it takes.

This is not ``models/replenishment/routing.py``, which spreads forecast demand without a
location over the locations for planning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from ingest.config import REPO_ROOT
from ingest.identifiers import normalize_address
from models.config_file import load_validated

ROUTING_PATH = REPO_ROOT / "profiles" / "ops_routing.yml"
EARTH_KM = 6371.0088
MODES = ("home", "bopis", "same_city")


class RoutingError(ValueError):
    """Invalid routing settings or inputs; the message names the file/field or the row."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FbaRule(_Strict):
    channels: list[str]
    location_type: str
    country_by_currency: dict[str, str]


class RoutingSettings(_Strict):
    as_if_open_days: int = Field(ge=0)
    open_max_age_days: int = Field(ge=1)
    channels: list[str] = Field(min_length=1)
    ship_from_store: bool
    fba: FbaRule
    domestic_country: str
    cross_border_node: str
    city_coordinates: dict[str, tuple[float, float]]
    city_aliases: dict[str, str] = Field(default_factory=dict)
    province_coordinates: dict[str, tuple[float, float]] = Field(default_factory=dict)

    @cached_property
    def city_index(self) -> dict[str, str]:
        """Normalised name (``normalize_address``: 杭州市 → 杭州, Shanghai → shanghai) -> key of
        ``city_coordinates``, for the keys and the aliases."""
        out: dict[str, str] = {}
        for name, key in [*((k, k) for k in self.city_coordinates), *self.city_aliases.items()]:
            norm = city_key(name)
            if norm is not None and out.setdefault(norm, key) != key:
                raise RoutingError(
                    f"{ROUTING_PATH}: city_aliases.{name}: normalises to {norm!r}, "
                    f"which already means {out[norm]}, not {key}"
                )
        return out

    @cached_property
    def province_index(self) -> dict[str, tuple[float, float]]:
        return {province_key(k): v for k, v in self.province_coordinates.items()}

    def city(self, name: str | None) -> str | None:
        """The ``city_coordinates`` key of a city name as any channel writes it, or None."""
        norm = city_key(name)
        return None if norm is None else self.city_index.get(norm)

    def coordinates(self, city: str | None) -> tuple[float, float] | None:
        key = self.city(city)
        return None if key is None else self.city_coordinates[key]

    def locate(
        self, ship_city: str | None, ship_province: str | None, customer_city: str | None
    ) -> tuple[str | None, tuple[float, float] | None, str | None]:
        """(city, point, source) of an order's delivery: its own delivery city, else its
        delivery province's point, else the customer's city; source names which one."""
        key = self.city(ship_city)
        if key is not None:
            return key, self.city_coordinates[key], "ship_city"
        prov = province_key(ship_province)
        if prov is not None and prov in self.province_index:
            return None, self.province_index[prov], "ship_province"
        key = self.city(customer_city)
        if key is not None:
            return key, self.city_coordinates[key], "customer_city"
        return None, None, None


def city_key(name: str | None) -> str | None:
    """A city name as ``ingest.identifiers.normalize_address`` writes ``ship_city``."""
    return normalize_address(city=name)["city"] if name else None


def province_key(name: str | None) -> str | None:
    """A province name as ``normalize_address`` writes ``ship_province`` (浙江省 → 浙江)."""
    return normalize_address(province=name)["province"] if name else None


def load_settings(path: Path | str = ROUTING_PATH) -> RoutingSettings:
    s = load_validated(path, RoutingSettings, RoutingError, "order routing settings")
    bad = sorted(set(s.city_aliases.values()) - set(s.city_coordinates))
    if bad:
        raise RoutingError(
            f"{path}: city_aliases: aliases point to cities without coordinates: {bad}"
        )
    for table in ("city_coordinates", "province_coordinates"):
        for name, (lat, lon) in getattr(s, table).items():
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise RoutingError(f"{path}: {table}.{name}: not a latitude, longitude")
    try:
        _ = s.city_index  # names that normalise alike must mean the same city
    except RoutingError as e:
        raise RoutingError(str(e).replace(str(ROUTING_PATH), str(path))) from None
    return s


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_KM * math.asin(math.sqrt(min(1.0, h)))


@dataclass
class Node:
    location_id: str
    location_type: str
    city: str | None
    country: str | None
    lat: float | None
    lon: float | None

    @property
    def point(self) -> tuple[float, float] | None:
        return None if self.lat is None or self.lon is None else (self.lat, self.lon)


@dataclass
class Buffer:
    """Units a store holds back for walk-in buyers: max(ceil(pct × ATP), units), at most ATP."""

    pct: float = 0.0
    units: int = 0

    def of(self, atp: int) -> int:
        if atp <= 0:
            return 0
        return min(atp, max(math.ceil(round(self.pct * atp, 6)), self.units))


@dataclass
class Stock:
    """Available-to-promise per (node, sku) for one day, consumed as orders are routed."""

    atp: dict[tuple[str, str], int]
    store_ids: set[str] = field(default_factory=set)
    buffer: Buffer = field(default_factory=Buffer)

    def free(self, node: str, sku: str, buffer: Buffer | None = None) -> int:
        a = self.atp.get((node, sku), 0)
        if node in self.store_ids:
            a -= (buffer or self.buffer).of(a)
        return max(a, 0)

    def take(self, node: str, sku: str, qty: int) -> None:
        self.atp[(node, sku)] = self.atp.get((node, sku), 0) - qty


@dataclass
class Order:
    channel: str
    order_id: str
    currency: str | None
    city: str | None
    country: str | None
    lines: list[tuple[str, int]]  # (sku, quantity)
    mode: str = "home"
    pickup_location_id: str | None = None
    ship_city: str | None = None
    ship_province: str | None = None
    cross_border_consent: bool = False  # the customer granted cross_border (PIPL art. 39)


def _km(point, node: Node) -> float | None:
    return None if point is None or node.point is None else haversine_km(point, node.point)


def _fmt(node: Node, km: float | None) -> str:
    return f"{node.location_id} ({km:,.0f} km)" if km is not None else node.location_id


def sends_data_abroad(channel: str, node: Node, settings: RoutingSettings) -> bool:
    """Whether shipping an order of ``channel`` from ``node`` sends the recipient's personal
    data out of the country: a node abroad (or of unknown country: not shown to be at home),
    unless the channel is a marketplace abroad that fulfils its own orders (FBA: the data
    never left the marketplace)."""
    return node.country != settings.domestic_country and channel not in settings.fba.channels


def abroad_without_consent(routing: pl.DataFrame) -> pl.DataFrame:
    """The proposals of ``order_routing`` that would send a recipient's data abroad without
    their ``cross_border`` consent (the privacy rule of routing; empty when it holds)."""
    return routing.filter(pl.col("sends_data_abroad") & ~pl.col("cross_border_consent"))


def route_order(
    order: Order,
    nodes: dict[str, Node],
    stock: Stock,
    settings: RoutingSettings,
    bopis_buffer: Buffer | None = None,
) -> dict:
    """Propose the node(s) for one order and take their stock. Returns mode, shipments
    [(node, sku, qty, free_before)], unrouted [(sku, qty)], reason, alternative, alternative_km."""
    city, point, _source = settings.locate(order.ship_city, order.ship_province, order.city)
    need = {}
    for sku, q in order.lines:
        if sku is not None and q > 0:
            need[sku] = need.get(sku, 0) + q

    def covers(nid: str, buf: Buffer | None = None) -> bool:
        return all(stock.free(nid, s, buf) >= q for s, q in need.items())

    def by_distance(cands: list[Node]) -> list[tuple[Node, float | None]]:
        ranked = [(n, _km(point, n)) for n in cands]
        # nearest first; without a buyer point, the node with most of the order's stock
        if point is None:
            return sorted(
                ranked,
                key=lambda t: (
                    -sum(min(stock.free(t[0].location_id, s), q) for s, q in need.items()),
                    t[0].location_id,
                ),
            )
        return sorted(
            ranked, key=lambda t: (t[1] if t[1] is not None else math.inf, t[0].location_id)
        )

    def ship_whole(nid: str, buf: Buffer | None = None) -> list[tuple]:
        out = []
        for s, q in need.items():
            out.append((nid, s, q, stock.free(nid, s, buf)))
            stock.take(nid, s, q)
        return out

    notes = []
    mode = order.mode if order.mode in MODES else "home"
    if order.channel in settings.fba.channels:
        country = settings.fba.country_by_currency.get(order.currency or "")
        cands = [
            n for n in nodes.values()
            if n.location_type == settings.fba.location_type and n.country == country
        ]  # fmt: skip
        mode = "fba"
    elif order.country and order.country != settings.domestic_country:
        node = nodes.get(settings.cross_border_node)
        cands = [node] if node is not None else []
        mode = "cross_border"
        abroad = node is not None and sends_data_abroad(order.channel, node, settings)
        if abroad and not order.cross_border_consent:
            notes.append(
                f"no cross_border consent: the recipient's data may not go to "
                f"{node.location_id} ({node.country}); shipped from a domestic warehouse"
            )
            cands = [
                n for n in nodes.values()
                if n.country == settings.domestic_country and n.location_type == "warehouse"
            ]  # fmt: skip
    else:
        # stores ship only to a buyer whose city is known (a store is a local node)
        stores_ok = settings.ship_from_store and point is not None
        home = [
            n for n in nodes.values()
            if n.country == settings.domestic_country
            and (n.location_type == "warehouse" or (stores_ok and n.location_type == "store"))
        ]  # fmt: skip
        if mode == "bopis":
            store = nodes.get(order.pickup_location_id or "")
            if store is not None and covers(store.location_id, bopis_buffer):
                return {
                    "mode": "bopis",
                    "shipments": ship_whole(store.location_id, bopis_buffer),
                    "unrouted": [],
                    "reason": f"store pickup at {store.location_id}: its stock less the walk-in buffer covers the order",
                    "alternative": None,
                    "alternative_km": None,
                }
            notes.append(
                f"pickup store {order.pickup_location_id} cannot cover the order; delivered instead"
            )
            mode = "home"
        if mode == "same_city":
            local = [
                n for n in home
                if n.location_type == "store" and city is not None and settings.city(n.city) == city
            ]  # fmt: skip
            for n, km in by_distance(local):
                if covers(n.location_id):
                    return {
                        "mode": "same_city",
                        "shipments": ship_whole(n.location_id),
                        "unrouted": [],
                        "reason": f"same-city delivery from {_fmt(n, km)}, the nearest store of {city} covering the order",
                        "alternative": None,
                        "alternative_km": None,
                    }
            notes.append(f"no store in {city} covers the order; delivered instead")
            mode = "home"
        cands = home
    ranked = by_distance(cands)
    if not ranked:
        return {
            "mode": mode, "shipments": [], "unrouted": sorted(need.items()),
            "reason": "; ".join([*notes, "no eligible node"]), "alternative": None, "alternative_km": None,
        }  # fmt: skip
    where = (
        "nearest node" if point is not None else "warehouse with most stock (delivery city unknown)"
    )
    full = [(n, km) for n, km in ranked if covers(n.location_id)]
    if full:
        n, km = full[0]
        alt, alt_km = full[1] if len(full) > 1 else (None, None)
        closer = [m for m, _ in ranked[: ranked.index((n, km))]]
        why = f"{where} whose stock covers every line: {_fmt(n, km)}"
        if closer:
            why += f"; nearer {', '.join(m.location_id for m in closer[:3])}: too little stock"
        return {
            "mode": mode,
            "shipments": ship_whole(n.location_id),
            "unrouted": [],
            "reason": "; ".join([*notes, why]),
            "alternative": alt.location_id if alt else None,
            "alternative_km": alt_km,
        }
    # split: each line from the nearest nodes with stock, as little as possible apart
    shipments, unrouted = [], []
    for s, q in sorted(need.items()):
        left = q
        for n, _dist in ranked:
            if left <= 0:
                break
            free = stock.free(n.location_id, s)
            if free <= 0:
                continue
            take = min(free, left)
            shipments.append((n.location_id, s, take, free))
            stock.take(n.location_id, s, take)
            left -= take
        if left > 0:
            unrouted.append((s, left))
    used = sorted({sh[0] for sh in shipments})
    if len(used) > 1:
        why = f"split over {', '.join(used)}: no single node covers every line"
    elif used:
        why = f"{where} with stock for part of the order: {used[0]}"
    else:
        why = "no node has stock for any line"
    if unrouted:
        why += f"; {sum(q for _, q in unrouted)} unit(s) without stock anywhere left unrouted"
    return {
        "mode": mode,
        "shipments": shipments,
        "unrouted": unrouted,
        "reason": "; ".join([*notes, why]),
        "alternative": ranked[0][0].location_id,
        "alternative_km": ranked[0][1],
    }


def route_orders(
    orders: pl.DataFrame,
    lines: pl.DataFrame,
    nodes: pl.DataFrame,
    atp: pl.DataFrame,
    settings: RoutingSettings,
    buffers: dict[str, Buffer] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Route ``orders`` (channel, order_id, ordered_at, order_date, routed_as, currency, city,
    country, actual_location_id, actual_shipments, delivery_mode?, pickup_location_id?,
    cross_border_consent?) whose
    ``lines`` are (channel, order_id, sku, quantity), in time order, each day against ``atp``
    (position_date, location_id, sku, available_to_promise) of the day before. ``buffers``:
    walk-in buffers for stores, keys "same_city" (ship-from-store and same-city) and "bopis".
    Returns (order_routing: one row per order, order_routing_lines: one row per shipment line).
    """
    buffers = buffers or {}
    for col in ("order_id", "channel", "order_date"):
        nulls = orders.filter(pl.col(col).is_null())
        if nulls.height:
            raise RoutingError(
                f"orders to route: row of order {nulls.row(0, named=True).get('order_id')} has no {col}"
            )
    node_map = {
        r["location_id"]: Node(r["location_id"], r["location_type"], r["city"], r["country"], r["lat"], r["lon"])
        for r in nodes.iter_rows(named=True)
    }  # fmt: skip
    if settings.cross_border_node not in node_map:
        raise RoutingError(
            f"{ROUTING_PATH}: cross_border_node: {settings.cross_border_node} is not a location"
        )
    stores = {k for k, n in node_map.items() if n.location_type == "store"}
    by_order: dict[tuple[str, str], list[tuple[str, int]]] = {}
    for r in lines.iter_rows(named=True):
        by_order.setdefault((r["channel"], r["order_id"]), []).append(
            (r["sku"], int(r["quantity"]))
        )
    atp_by_day: dict[date, dict] = {}
    for (d,), g in atp.partition_by(["position_date"], as_dict=True).items():
        atp_by_day[d] = {
            (a, s): int(v)
            for a, s, v in g.select("location_id", "sku", "available_to_promise").iter_rows()
        }
    has_mode = "delivery_mode" in orders.columns
    has_pickup = "pickup_location_id" in orders.columns
    out, out_lines = [], []
    stock: Stock | None = None
    day = None
    for r in orders.sort(["order_date", "ordered_at", "channel", "order_id"]).iter_rows(named=True):
        if r["order_date"] != day:
            day = r["order_date"]
            base = atp_by_day.get(day - timedelta(days=1), {})
            stock = Stock(dict(base), stores, buffers.get("same_city", Buffer()))
        order = Order(
            r["channel"], r["order_id"], r.get("currency"), r.get("city"), r.get("country"),
            by_order.get((r["channel"], r["order_id"]), []),
            (r.get("delivery_mode") or "home") if has_mode else "home",
            r.get("pickup_location_id") if has_pickup else None,
            r.get("ship_city"), r.get("ship_province"),
            bool(r.get("cross_border_consent")),
        )  # fmt: skip
        res = route_order(order, node_map, stock, settings, buffers.get("bopis"))
        city, point, source = settings.locate(order.ship_city, order.ship_province, order.city)
        used = []
        for nid, s, q, free in res["shipments"]:
            out_lines.append((r["channel"], r["order_id"], day, nid, s, q, free))
            if nid not in used:
                used.append(nid)
        km = [_km(point, node_map[n]) for n in used]
        actual = r.get("actual_location_id")
        actual_km = _km(point, node_map[actual]) if actual in node_map else None
        proposed_km = sum(km) if used and all(k is not None for k in km) else None
        out.append(
            {
                "routed_as": r["routed_as"],
                "channel": r["channel"],
                "order_id": r["order_id"],
                "order_date": day,
                "customer_city": order.city,
                "customer_country": order.country,
                "delivery_city": city,
                "location_source": source,
                "mode": res["mode"],
                "proposed_nodes": ",".join(used) if used else None,
                "shipments": len(used),
                "is_split": len(used) > 1,
                "units": sum(q for _s, q in order.lines),
                "units_unrouted": sum(q for _s, q in res["unrouted"]),
                "proposed_km": proposed_km,
                "alternative_node": res["alternative"],
                "alternative_km": res["alternative_km"],
                "actual_location_id": actual,
                "actual_shipments": r.get("actual_shipments"),
                "actual_km": actual_km,
                "km_saved": (actual_km - proposed_km)
                if actual_km is not None and proposed_km is not None
                else None,
                "reason": res["reason"],
                "cross_border_consent": order.cross_border_consent,
                "sends_data_abroad": any(
                    sends_data_abroad(order.channel, node_map[n], settings) for n in used
                ),
            }
        )
    routing = (
        pl.DataFrame(out, schema=ROUTING_SCHEMA, orient="row")
        if out
        else pl.DataFrame(schema=ROUTING_SCHEMA)
    )
    routed_lines = pl.DataFrame(out_lines, schema=LINES_SCHEMA, orient="row")
    return routing, routed_lines


ROUTING_SCHEMA = {
    "routed_as": pl.String, "channel": pl.String, "order_id": pl.String, "order_date": pl.Date,
    "customer_city": pl.String, "customer_country": pl.String, "delivery_city": pl.String,
    "location_source": pl.String, "mode": pl.String,
    "proposed_nodes": pl.String, "shipments": pl.Int64, "is_split": pl.Boolean,
    "units": pl.Int64, "units_unrouted": pl.Int64, "proposed_km": pl.Float64,
    "alternative_node": pl.String, "alternative_km": pl.Float64, "actual_location_id": pl.String,
    "actual_shipments": pl.Int64, "actual_km": pl.Float64, "km_saved": pl.Float64,
    "reason": pl.String, "cross_border_consent": pl.Boolean, "sends_data_abroad": pl.Boolean,
}  # fmt: skip
LINES_SCHEMA = {
    "channel": pl.String, "order_id": pl.String, "order_date": pl.Date, "location_id": pl.String,
    "sku": pl.String, "quantity": pl.Int64, "available_before": pl.Int64,
}  # fmt: skip


def summary(routing: pl.DataFrame) -> dict:
    """Headline figures: orders routed (open, as if open), split rates, orders per source of
    the delivery location, and over the orders whose real shipping node and delivery city are known: mean km proposed vs actual, saved."""
    cmp_ = routing.filter(pl.col("km_saved").is_not_null())
    actual_split = routing.filter(pl.col("actual_shipments").is_not_null())
    out = {
        "orders_routed": routing.height,
        "open_orders": int((routing["routed_as"] == "open").sum()),
        "as_if_open_orders": int((routing["routed_as"] == "as_if_open").sum()),
        "split_rate": _r(routing["is_split"].mean()) if routing.height else None,
        "actual_split_rate": _r((actual_split["actual_shipments"] > 1).mean())
        if actual_split.height
        else None,
        "orders_unrouted_units": int((routing["units_unrouted"] > 0).sum()),
        "orders_located": {
            src or "unknown": n
            for src, n in sorted(
                routing.group_by("location_source").len().rows(), key=lambda t: t[0] or "~"
            )
        }
        if routing.height
        else {},
        "orders_compared": cmp_.height,
        "mean_km_proposed": _r(cmp_["proposed_km"].mean(), 1) if cmp_.height else None,
        "mean_km_actual": _r(cmp_["actual_km"].mean(), 1) if cmp_.height else None,
        "km_saved_total": _r(cmp_["km_saved"].sum(), 0) if cmp_.height else None,
        "km_saved_share": _r(cmp_["km_saved"].sum() / cmp_["actual_km"].sum())
        if cmp_.height and cmp_["actual_km"].sum()
        else None,
        "orders_nearer": int((cmp_["km_saved"] > 0.5).sum()),
        "orders_farther": int((cmp_["km_saved"] < -0.5).sum()),
    }
    out["modes"] = dict(sorted(routing.group_by("mode").len().rows())) if routing.height else {}
    return out


def _r(x, digits: int = 4):
    return None if x is None else round(float(x), digits)


# --------------------------------------------------------------------------- warehouse I/O
def read_inputs(con, settings: RoutingSettings) -> dict[str, pl.DataFrame]:
    """Orders to route (open ones and the last ``as_if_open_days`` of shipped ones), their
    lines, the nodes, the ATP of the days needed, and the stores' walk-in buffers."""
    params = {
        "channels": settings.channels,
        "days": settings.as_if_open_days,
        "max_age": settings.open_max_age_days,
    }
    orders = con.execute(
        """
        with last as (select max(order_date) as d from marts.fct_orders),
        real as (
            select o.*, c.city, c.country, a.ship_city, a.ship_province,
                coalesce(k.consent_cross_border = 'granted', false) as cross_border_consent
            from marts.fct_orders as o
            left join marts.dim_customers as c on o.customer_id = c.customer_id
            left join intermediate.int_customer_consents as k on o.customer_id = k.customer_id
            left join staging.stg_lake__orders as a
                on o.channel = a.channel and o.order_id = a.order_id
            where o.channel in (select unnest($channels)) and o.is_real_order
        ),
        located as (
            select channel, order_id, count(distinct location_id) as actual_shipments,
                   min(location_id) as actual_location_id
            from marts.fct_order_lines where location_id is not null group by 1, 2
        ),
        flagged as (
            select r.*, l.actual_location_id, l.actual_shipments,
                r.status = 'paid' and l.actual_location_id is null
                    and r.order_date > (select d from last) - cast($max_age as integer) as is_open
            from real as r
            left join located as l on r.channel = l.channel and r.order_id = l.order_id
        )
        select channel, order_id, ordered_at, order_date, currency, city, country,
            ship_city, ship_province, cross_border_consent,
            case when is_open then 'open' else 'as_if_open' end as routed_as,
            actual_location_id, actual_shipments
        from flagged
        where is_open
           or (not is_open and order_date > (select d from last) - cast($days as integer))
        """,
        params,
    ).pl()
    lines = con.execute(
        """
        select l.channel, l.order_id, l.sku, l.quantity
        from marts.fct_order_lines as l
        where l.channel in (select unnest($channels)) and l.sku is not null and l.quantity > 0
          and l.is_real_order
        """,
        {"channels": settings.channels},
    ).pl()
    lines = lines.join(orders.select("channel", "order_id"), on=["channel", "order_id"], how="semi")
    nodes = con.execute(
        "select location_id, location_type, city, country, lat, lon from staging.stg_lake__locations"
    ).pl()
    days = sorted({d - timedelta(days=1) for d in orders["order_date"].unique().to_list()})
    atp = con.execute(
        "select position_date, location_id, sku, available_to_promise "
        "from marts.inventory_position where position_date in (select unnest($days))",
        {"days": days},
    ).pl()
    rules = con.execute(
        "select atp_channel, buffer_pct, buffer_units from reference.allocation_rules "
        "where atp_channel in ('bopis', 'same_city')"
    ).pl()
    buffers = {
        r["atp_channel"]: Buffer(float(r["buffer_pct"] or 0), int(r["buffer_units"] or 0))
        for r in rules.iter_rows(named=True)
    }
    return {"orders": orders, "lines": lines, "nodes": nodes, "atp": atp, "buffers": buffers}
