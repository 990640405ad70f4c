"""The operator's console: parks, the portfolio envelope, verification, a delivery day, alerts.

Every page reads what the API reads, through the same functions (``vpp.api.routes``) and
repositories, so the console and the API never disagree. Times show in the market's own time
zone; money in the market's currency.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import col, select

from vpp.api.deps import EngineDep, park_access
from vpp.api.routes import park_days, portfolio
from vpp.console import i18n
from vpp.console.session import Csrf, User
from vpp.console.web import console_router, render
from vpp.db.engine import session_scope
from vpp.db.job_tables import AlertRow, JobRunRow, PipelineRunRow, PipelineStageRow
from vpp.db.repositories import AssetRepository, AuditRepository, ParkRepository
from vpp.db.repositories.forecasts import PreparedRepository
from vpp.db.repositories.market_data import MarketSeriesRepository
from vpp.domain.errors import NotFoundError
from vpp.domain.market import MarketProfile, load_market_profile
from vpp.domain.park import EnrolledAsset
from vpp.domain.pipeline import STAGES, load_pipeline_policy, pipeline_times
from vpp.domain.ports import DAY_AHEAD_PRICE
from vpp.jobs.run_records import approve_run, reject_run
from vpp.jobs.scheduler import pipeline_clock
from vpp.services.day_ahead_cycle import run_key

router = console_router()
Reason = Annotated[str, Form(max_length=500)]
VERIFICATION = ("unverified", "scheduled", "passed", "failed")


def _profile(request: Request, market_id: str) -> MarketProfile:
    return load_market_profile(market_id, request.app.state.settings.config_dir)


def _clock_now() -> pd.Timestamp:
    return pipeline_clock().now()


@router.get("/parks", response_class=HTMLResponse)
def parks(request: Request, engine: EngineDep, user: User) -> Response:
    """Every park the session reaches, with its latest delivery days."""
    user.need("parks:read")
    with session_scope(engine) as session:
        repo = ParkRepository(session)
        ids = [
            p
            for p in repo.list_ids()
            if user.principal.park_ids is None or p in user.principal.park_ids
        ]
        found = [repo.get(p) for p in ids]
        runs = session.exec(
            select(PipelineRunRow).order_by(col(PipelineRunRow.delivery_day).desc()).limit(200)
        ).all()
        assets = {p: AssetRepository(session).list_for_park(p) for p in ids}
    latest: dict[str, list[PipelineRunRow]] = defaultdict(list)
    for run in runs:
        if run.park_id in ids and len(latest[run.park_id]) < 5:
            latest[run.park_id].append(run)
    return render(
        request,
        user,
        "operator/parks.html",
        {"parks": found, "runs": latest, "assets": assets},
    )


def _default_day(engine: Any, park_id: str, profile: MarketProfile) -> date:
    """The latest delivery day with a run, else tomorrow in market time."""
    with session_scope(engine) as session:
        latest = session.exec(
            select(PipelineRunRow.delivery_day)
            .where(col(PipelineRunRow.park_id) == park_id)
            .order_by(col(PipelineRunRow.delivery_day).desc())
        ).first()
    if latest is not None:
        return latest
    today: date = _clock_now().tz_convert(profile.timezone).date()
    return today + timedelta(days=1)


@router.get("/parks/{park_id}", response_class=HTMLResponse)
def park_overview(
    request: Request,
    park_id: str,
    engine: EngineDep,
    user: User,
    day: Annotated[date | None, Query()] = None,
) -> Response:
    """The portfolio envelope per product and enterprise, the verification queue, the runs."""
    user.need("portfolio:read")
    park_access(user.principal, park_id)
    with session_scope(engine) as session:
        park = ParkRepository(session).get(park_id)
        assets = AssetRepository(session).list_for_park(park_id)
        runs = session.exec(
            select(PipelineRunRow)
            .where(col(PipelineRunRow.park_id) == park_id)
            .order_by(col(PipelineRunRow.delivery_day).desc())
            .limit(30)
        ).all()
    profile = _profile(request, park.market_id)
    shown_day = day or _default_day(engine, park_id, profile)
    envelopes = []
    for product in profile.enabled_products():
        env = portfolio.portfolio(
            park_id, request, engine, user.principal, shown_day, product.id, False
        )
        by_enterprise: dict[str, dict[str, float]] = defaultdict(
            lambda: {"up_mw": 0.0, "down_mw": 0.0, "energy_mwh": 0.0, "assets": 0}
        )
        for offered in env.offered:
            row = by_enterprise[offered.enterprise_id]
            row["up_mw"] += offered.up_mw
            row["down_mw"] += offered.down_mw
            row["energy_mwh"] += offered.energy_mwh or 0.0
            row["assets"] += 1
        envelopes.append(
            {
                "product": product,
                "envelope": env,
                "by_enterprise": dict(sorted(by_enterprise.items())),
                "chart": {
                    "labels": [_hhmm(i.start, profile.timezone) for i in env.intervals],
                    "up": [round(i.up_mw, 3) for i in env.intervals],
                    "down": [round(-i.down_mw, 3) for i in env.intervals],
                },
            }
        )
    queue = [a for a in assets if a.verification != "passed"]
    return render(
        request,
        user,
        "operator/park.html",
        {
            "park": park,
            "profile": profile,
            "day": shown_day,
            "envelopes": envelopes,
            "queue": queue,
            "runs": runs,
            "verification": VERIFICATION,
            "owners": {e.id: e.name for e in park.enterprises},
        },
    )


def _hhmm(at: Any, tz: str) -> str:
    return pd.Timestamp(at).tz_convert(tz).strftime("%H:%M")


@router.post("/parks/{park_id}/assets/{asset_id}/verification", dependencies=[Csrf])
def set_verification(
    request: Request,
    park_id: str,
    asset_id: str,
    engine: EngineDep,
    user: User,
    status: Annotated[Literal["unverified", "scheduled", "passed", "failed"], Form()],
) -> Response:
    """Record the outcome of an asset's capacity verification (audited)."""
    user.need("assets:verify")
    park_access(user.principal, park_id)
    with session_scope(engine) as session:
        asset = _park_asset(session, park_id, asset_id)
        after = asset.model_copy(update={"verification": status})
        AssetRepository(session).update(after)
        AuditRepository(session).record(
            user.principal.actor, "asset.update", "asset", asset_id, before=asset, after=after
        )
    if request.headers.get("HX-Request"):
        return render(
            request,
            user,
            "operator/_queue_row.html",
            {"asset": after, "park_id": park_id, "verification": VERIFICATION, "saved": True},
        )
    return RedirectResponse(f"/console/parks/{park_id}", status_code=303)


def _park_asset(session: Any, park_id: str, asset_id: str) -> EnrolledAsset:
    for asset in AssetRepository(session).list_for_park(park_id):
        if asset.spec.id == asset_id:
            return asset
    raise NotFoundError(f"asset {asset_id} not found in park {park_id}")


def _optional(fetch: Any, *args: Any) -> Any:
    """The API's view of one part of the day, or None while the day has not reached it."""
    try:
        return fetch(*args)
    except NotFoundError:
        return None


def _quantile(quantiles: dict[str, float], level: float) -> float | None:
    if not quantiles:
        return None
    nearest = min(quantiles, key=lambda q: abs(float(q) - level))
    return round(quantiles[nearest], 2)


def day_context(
    request: Request, engine: Any, user: Any, park_id: str, day: date
) -> dict[str, Any]:
    """Everything the day view shows, read as the API reads it."""
    with session_scope(engine) as session:
        park = ParkRepository(session).get(park_id)
        run_id = run_key(park_id, park.market_id, day)
        run = session.get(PipelineRunRow, run_id)
        stages = {
            s.stage: s
            for s in session.exec(
                select(PipelineStageRow).where(col(PipelineStageRow.run_id) == run_id)
            )
        }
        attempts = session.exec(
            select(JobRunRow)
            .where(col(JobRunRow.run_id) == run_id)
            .order_by(col(JobRunRow.id).desc())
            .limit(50)
        ).all()
        prepared = PreparedRepository(session).load(run_id) if "bid" in stages else None
        profile = _profile(request, park.market_id)
        intervals = profile.day_intervals(day)
        end = intervals[-1] + pd.Timedelta(minutes=profile.interval_minutes)
        realised = MarketSeriesRepository(session).read(
            park.market_id, intervals[0], end, [DAY_AHEAD_PRICE]
        )
    policy = load_pipeline_policy(park.market_id, request.app.state.settings.config_dir)
    times = pipeline_times(profile, policy, day)
    tz = profile.timezone
    labels = [_hhmm(t, tz) for t in intervals]
    position = {t.isoformat(): k for k, t in enumerate(intervals.tz_convert("UTC"))}

    def index_of(iso: str) -> int | None:
        return position.get(pd.Timestamp(iso).tz_convert("UTC").isoformat())

    args = (park_id, day, engine, user.principal)
    forecasts = _optional(park_days.forecasts, *args) if run is not None else None
    bids = _optional(park_days.bids, *args) if run is not None else None
    awards = _optional(park_days.awards, *args) if run is not None else None
    setpoints = _optional(park_days.setpoints, *args) if run is not None else None

    price: dict[str, Any] = {"labels": labels, "unit": profile.price_unit}
    if forecasts is not None and "price" in forecasts["forecasts"]:
        rows = {
            index_of(i["interval_start"]): i["quantiles"]
            for i in forecasts["forecasts"]["price"]["intervals"]
        }
        price["p10"] = [_quantile(rows.get(k, {}), 0.1) for k in range(len(intervals))]
        price["p50"] = [_quantile(rows.get(k, {}), 0.5) for k in range(len(intervals))]
        price["p90"] = [_quantile(rows.get(k, {}), 0.9) for k in range(len(intervals))]
    if DAY_AHEAD_PRICE in realised:
        series = realised[DAY_AHEAD_PRICE]
        series.index = pd.DatetimeIndex(series.index).tz_convert("UTC")
        price["realised"] = [
            None if pd.isna(v) else round(float(v), 2)
            for v in series.reindex(intervals.tz_convert("UTC"))
        ]

    curves: dict[str, Any] = {}
    if bids is not None:
        for product_id, product_curves in bids["products"].items():
            per_side: dict[str, list[Any]] = defaultdict(lambda: [None] * len(intervals))
            for curve in product_curves:
                k = index_of(curve["interval_start"])
                if k is not None:
                    per_side[curve["side"]][k] = [
                        [round(s["quantity_mw"], 3), round(s["price"], 2)] for s in curve["steps"]
                    ]
            curves[product_id] = dict(per_side)

    award_chart: dict[str, Any] = {"labels": labels, "series": {}}
    if awards is not None:
        for product_id, rows_ in awards["products"].items():
            values = [0.0] * len(intervals)
            for a in rows_:
                k = index_of(a["interval_start"])
                if k is not None:
                    sign = -1.0 if a["side"] in ("buy", "down") else 1.0
                    values[k] += sign * a["quantity_mw"]
            award_chart["series"][product_id] = [round(v, 3) for v in values]

    dispatch: dict[str, Any] = {"labels": labels, "series": {}}
    if setpoints is not None:
        for asset_id, entry in sorted(setpoints["assets"].items()):
            values_: list[float | None] = [None] * len(intervals)
            for p in entry["setpoints"]:
                k = index_of(p["interval_start"])
                if k is not None:
                    values_[k] = round(p["power_mw"], 3)
            dispatch["series"][asset_id] = values_

    soc: dict[str, Any] = {"labels": labels, "series": {}}
    result = getattr(prepared, "bids", None)
    for quantity in ("soc_mwh", "stored_mwh"):  # batteries, thermal stores
        frame = result.assets.get(quantity) if result is not None else None
        if frame is not None:  # one column per asset, one row per interval
            for asset_id in sorted(frame.columns):
                soc["series"][str(asset_id)] = [round(float(v), 3) for v in frame[asset_id]]

    now = _clock_now()
    timeline = _timeline(times, stages, tz)
    in_review = run is not None and "bid" in stages and "approve" not in stages
    in_review = in_review and run.status != "missed"
    return {
        "park": park,
        "profile": profile,
        "day": day,
        "run": run,
        "run_id": run_id,
        "stages": stages,
        "attempts": attempts,
        "timeline": timeline,
        "times": times,
        "now": now,
        "gate_closure": times.gate_closure,
        "seconds_to_gate": (times.gate_closure - now).total_seconds(),
        "in_review": in_review,
        "bids": bids,
        "awards": awards,
        "setpoints": setpoints,
        "forecast_flags": {
            k: f["flags"] for k, f in (forecasts or {}).get("forecasts", {}).items() if f["flags"]
        },
        "charts": {
            "price": price,
            "curves": {"labels": labels, "products": curves},
            "awards": award_chart,
            "dispatch": dispatch,
            "soc": soc,
        },
        "expected_revenue": getattr(result, "expected_revenue", None),
        "tz": tz,
        "timedelta1": timedelta(days=1),
    }


def _timeline(times: Any, stages: dict[str, Any], tz: str) -> list[dict[str, Any]]:
    """Each stage: when it may start, its deadline, when it finished."""
    deadlines = {
        "forecast": ("forecast_at", "submit_by"),
        "bid": ("forecast_at", "submit_by"),
        "approve": ("forecast_at", "gate_closure"),
        "submit": ("forecast_at", "gate_closure"),
        "awards": ("results_at", None),
        "dispatch": ("results_at", "delivery_start"),
        "settle": ("settle_at", None),
    }
    rows = []
    for stage in STAGES:
        start, deadline = deadlines.get(stage, (None, None))
        done = stages.get(stage)
        rows.append(
            {
                "stage": stage,
                "from": getattr(times, start).tz_convert(tz) if start else None,
                "deadline": getattr(times, deadline).tz_convert(tz) if deadline else None,
                "done": pd.Timestamp(done.finished_at).tz_convert(tz) if done else None,
                "detail": done.detail if done else None,
            }
        )
    return rows


@router.get("/parks/{park_id}/days/{day}", response_class=HTMLResponse)
def day_view(request: Request, park_id: str, day: date, engine: EngineDep, user: User) -> Response:
    """A delivery day: forecasts, bid curves, awards, setpoints, SoC, stages; approval."""
    user.need("pipeline:read")
    park_access(user.principal, park_id)
    return render(
        request, user, "operator/day.html", day_context(request, engine, user, park_id, day)
    )


@router.post("/parks/{park_id}/days/{day}/approve", dependencies=[Csrf])
def approve(
    request: Request,
    park_id: str,
    day: date,
    engine: EngineDep,
    user: User,
    reason: Reason = "",
) -> Response:
    """Approve the day's bid set in review at the pipeline's instant, before the gate."""
    user.need("bids:approve")
    park_access(user.principal, park_id)
    run, closure = _review_run(request, engine, park_id, day)
    approve_run(
        engine, run, user.principal.actor, closure, _clock_now(), reason=reason.strip() or None
    )
    return RedirectResponse(f"/console/parks/{park_id}/days/{day}?done=approved", status_code=303)


@router.post("/parks/{park_id}/days/{day}/reject", dependencies=[Csrf])
def reject(
    request: Request, park_id: str, day: date, engine: EngineDep, user: User, reason: Reason
) -> Response:
    """Send the day's bid set back to bidding with a reason (audited)."""
    user.need("bids:approve")
    park_access(user.principal, park_id)
    run, closure = _review_run(request, engine, park_id, day)
    reject_run(engine, run, user.principal.actor, reason, closure, _clock_now())
    return RedirectResponse(f"/console/parks/{park_id}/days/{day}?done=rejected", status_code=303)


def _review_run(request: Request, engine: Any, park_id: str, day: date) -> tuple[str, pd.Timestamp]:
    """The id of ``park_id``'s run for ``day`` and the gate closure of that day."""
    with session_scope(engine) as session:
        market_id = ParkRepository(session).get(park_id).market_id
    config_dir = request.app.state.settings.config_dir
    times = pipeline_times(
        _profile(request, market_id), load_pipeline_policy(market_id, config_dir), day
    )
    return run_key(park_id, market_id, day), times.gate_closure


@router.get("/alerts", response_class=HTMLResponse)
def alerts(
    request: Request,
    engine: EngineDep,
    user: User,
    status: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    """Alerts, newest first, and the latest stage attempts (job runs)."""
    user.need("pipeline:read")
    with session_scope(engine) as session:
        raised = session.exec(select(AlertRow).order_by(col(AlertRow.id).desc()).limit(100)).all()
        query = select(JobRunRow).order_by(col(JobRunRow.id).desc()).limit(200)
        if status:
            query = query.where(col(JobRunRow.status) == status)
        jobs = session.exec(query).all()
        parks_of = {r.id: r.park_id for r in session.exec(select(PipelineRunRow)).all()}
    reachable = user.principal.park_ids
    if reachable is not None:
        raised = [a for a in raised if a.run_id is None or parks_of.get(a.run_id) in reachable]
        jobs = [j for j in jobs if j.run_id is None or parks_of.get(j.run_id) in reachable]
    return render(
        request,
        user,
        "operator/alerts.html",
        {"alerts": raised, "jobs": jobs, "status": status, "parks_of": parks_of},
    )


i18n.register(
    {
        "Park": "园区",
        "Market": "市场",
        "Enterprises": "企业",
        "Import limit": "下网上限",
        "Export limit": "上网上限",
        "Recent delivery days": "近期交割日",
        "Delivery day": "交割日",
        "Status": "状态",
        "Open": "打开",
        "No runs yet.": "尚无运行记录。",
        "Portfolio envelope": "聚合灵活性包络",
        "Product": "产品",
        "Enterprise": "企业",
        "Up": "上调",
        "Down": "下调",
        "Energy": "电量",
        "Peak up": "上调峰值",
        "Peak down": "下调峰值",
        "Excluded": "未计入",
        "No consented, verified capacity for this product.": "该产品暂无已授权且已核验的容量。",
        "Verification queue": "核验队列",
        "Asset": "资产",
        "Type": "类型",
        "Nominated": "申报容量",
        "Verification": "核验",
        "Set": "设置",
        "Saved": "已保存",
        "Every asset is verified.": "所有资产均已核验。",
        "unverified": "未核验",
        "scheduled": "已排期",
        "passed": "通过",
        "failed": "未通过",
        "Show day": "查看日期",
        "Day view": "日视图",
        "Price forecast and realised price": "价格预测与实际价格",
        "Bid curves": "报价曲线",
        "Interval": "时段",
        "Awards": "中标",
        "Setpoints and device confirmations": "调度指令与设备确认",
        "State of charge (planned)": "荷电状态（计划）",
        "Stage timeline": "环节时间线",
        "Stage": "环节",
        "From": "开始",
        "Deadline": "截止",
        "Done": "完成",
        "Confirmation": "确认",
        "Attempts": "尝试次数",
        "Last error": "最近错误",
        "Approve": "批准",
        "Reject": "驳回",
        "Reason": "理由",
        "Note (optional, recorded in the audit log)": "备注（可选，记入审计日志）",
        "Reason (required, recorded in the audit log)": "理由（必填，记入审计日志）",
        "in review": "待审批",
        "Bids await your approval": "报价待您批准",
        "Gate closes in": "距关闸",
        "The gate has closed.": "已关闸。",
        "Approved.": "已批准。",
        "Rejected: the day is bid again at the next scheduler tick.": (
            "已驳回：下一次调度时将重新报价。"
        ),
        "Nothing to approve: {status}.": "无需批准：{status}。",
        "No run for this day yet.": "该日尚无运行。",
        "Not yet": "尚未生成",
        "Expected result when bid": "报价时的预期收益",
        "Offered": "申报电量",
        "Assets bid": "参与报价的资产",
        "Forecast notes": "预测说明",
        "Alerts": "告警",
        "Job runs": "任务运行",
        "Kind": "类型",
        "At": "时间",
        "Message": "信息",
        "Webhook": "回调",
        "Duration": "耗时",
        "Run": "运行",
        "All": "全部",
        "No alerts.": "暂无告警。",
        "No job runs.": "暂无任务运行。",
        "Previous day": "前一天",
        "Next day": "后一天",
        "Times in {tz}.": "时间为 {tz}。",
        "forecast": "预测",
        "bid": "报价",
        "approve": "审批",
        "submit": "提交",
        "awards": "出清",
        "dispatch": "调度",
        "settle": "结算",
        "missed": "错过",
        "review": "待审",
        "succeeded": "成功",
        "waiting": "等待",
        "rejected": "已驳回",
        "delivered": "已下发",
        "skipped": "跳过",
        "confirmed": "已确认",
        "pending": "待发送",
        "sell": "卖",
        "buy": "买",
        "up": "上调",
        "down": "下调",
        "P10–P90": "P10–P90",
        "Median forecast": "预测中位数",
        "Realised": "实际",
        "Show": "显示",
    }
)
