"""The settlement team's console: months per park, a month's statements, issue and correct a
month, reconcile it with the market operator's file, download each statement.

Every figure comes from the services the API and ``vpp settle`` use: completeness and the draft
statements from settling the stored month again (``settle_month``, nothing is issued), issuing
from ``settle_park_month`` (the same refusal of an incomplete park, the same override and the
same audit records as ``POST /v1/parks/{park_id}/settlements`` and ``vpp settle
--override-incomplete --by``), the reconciliation from ``reconcile_operator`` on the file
``vpp settle --reconcile`` reads, and the downloads from the statements export route. The
console adds one audit entry of its own, ``settlement.reason``, in the same transaction: why an
override or a correction was made (the API has no field for it).

Dates are the market's days, times show in its time zone, money in its currency.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path as FilePath
from tempfile import TemporaryDirectory
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import File, Form, Path, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import col, select

from vpp.api.deps import EngineDep, ParkCall, park_access
from vpp.api.routes import settlements
from vpp.api.schemas.settlements import MONTH_PATTERN
from vpp.cli.settle import read_operator_csv
from vpp.console import i18n
from vpp.console.session import ConsoleUser, Csrf, User
from vpp.console.web import SECURITY_HEADERS, console_router, render
from vpp.db.engine import session_scope
from vpp.db.job_tables import PipelineRunRow
from vpp.db.repositories import AuditRepository
from vpp.db.repositories.settlement_stores import settlement_stores
from vpp.domain.bids import Statement
from vpp.domain.errors import ConflictError, InvalidInputError
from vpp.domain.market import MarketProfile, load_market_profile
from vpp.domain.park import Park
from vpp.domain.settlement_ports import SettlementStores
from vpp.services.park_month_inputs import load_park_month
from vpp.services.park_statements import park_statements
from vpp.services.settle_day import AGGREGATOR
from vpp.services.settle_month import (
    MonthSettlement,
    award_amounts,
    month_days,
    reconcile_operator,
    settle_month,
)
from vpp.services.settle_park_month import settle_park_month

router = console_router()
MonthPath = Annotated[str, Path(pattern=MONTH_PATTERN, description="YYYY-MM.")]
Text = Annotated[str, Form(max_length=200)]
MAX_MONTHS = 12
"""Months listed per park (the latest with delivery days); older ones open by month picker."""
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
"""Largest operator file accepted [bytes]."""
FORMATS = ("pdf", "xlsx", "csv")
AUDIT_ACTIONS = {
    "settlement.issue": "Month issued",
    "settlement.reason": "Reason recorded",
    "issue": "first issue",
    "correct": "correction",
}
"""The audit entries of a month shown in its history, and how they read."""
BASE = "/console/settlement"


def _profile(request: Request, market_id: str) -> MarketProfile:
    return load_market_profile(market_id, request.app.state.settings.config_dir)


def _month_start(month: str) -> date:
    return month_days(month)[0]


def _shift(month: str, months: int) -> str:
    first = _month_start(month)
    k = first.year * 12 + first.month - 1 + months
    return f"{k // 12:04d}-{k % 12 + 1:02d}"


def day_ranges(days: list[date]) -> list[tuple[date, date]]:
    """Consecutive days as (first, last) runs, in order."""
    runs: list[tuple[date, date]] = []
    for day in sorted(days):
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


@dataclass(frozen=True)
class MonthState:
    """One park's month as the settlement team sees it: completeness, draft and issued."""

    park: Park
    month: str
    profile: MarketProfile
    draft: MonthSettlement
    """The month settled again from the stored data (nothing issued), skipping enterprises
    with incomplete data of their own, as an issue without override would."""
    issued: list[Statement]
    """The latest version of each issued monthly statement of the park."""

    @property
    def days(self) -> int:
        return calendar.monthrange(*(int(p) for p in self.month.split("-")))[1]

    @property
    def missing_days(self) -> list[date]:
        return self.draft.missing_days

    @property
    def settled_days(self) -> int:
        return self.days - len(self.draft.missing_days)

    @property
    def missing_ranges(self) -> list[tuple[date, date]]:
        return day_ranges(self.draft.missing_days)

    @property
    def other_gaps(self) -> list[str]:
        """Every gap but the missing days (meters, measurements), as the service words it."""
        days = {f"no day statements for {d.isoformat()}" for d in self.draft.missing_days}
        return [p for p in self.draft.problems() if p not in days]

    @property
    def blocking(self) -> list[str]:
        """What stops issuing without an override."""
        return self.draft.blocking_problems()

    @property
    def version(self) -> int | None:
        return max((s.version for s in self.issued), default=None)

    @property
    def issued_total(self) -> Decimal:
        return sum((s.total for s in self.issued), Decimal("0.00"))

    @property
    def draft_total(self) -> Decimal:
        return sum((s.total for s in self.draft.statements), Decimal("0.00"))

    @property
    def currency(self) -> str:
        return self.draft.inputs.currency


def month_state(
    stores: SettlementStores, park: Park, month: str, profile: MarketProfile
) -> MonthState:
    """Settle ``month`` of ``park`` again from the stored data and read what was issued."""
    inputs = load_park_month(stores, park.id, month, profile)
    draft = settle_month(inputs, skip_incomplete=True)
    return MonthState(park, month, profile, draft, park_statements(stores, park.id, month))


def _reachable(user: ConsoleUser, park_ids: list[str]) -> list[str]:
    allowed = user.principal.park_ids
    return [p for p in park_ids if allowed is None or p in allowed]


def _run_months(session: Any, park_id: str) -> list[str]:
    """The months with delivery days of ``park_id``, latest first."""
    days = session.exec(
        select(PipelineRunRow.delivery_day).where(col(PipelineRunRow.park_id) == park_id)
    ).all()
    return sorted({d.strftime("%Y-%m") for d in days}, reverse=True)


@router.get("/settlement", response_class=HTMLResponse)
def months(request: Request, engine: EngineDep, user: User) -> Response:
    """Per park the months with delivery days: completeness, status and totals."""
    user.need("settlements:read")
    parks = []
    with session_scope(engine) as session:
        stores = settlement_stores(session)
        for park_id in _reachable(user, stores.parks.list_ids()):
            park = stores.parks.get(park_id)
            profile = _profile(request, park.market_id)
            shown = _run_months(session, park_id)[:MAX_MONTHS]
            parks.append(
                {
                    "park": park,
                    "profile": profile,
                    "months": [month_state(stores, park, m, profile) for m in shown],
                }
            )
    return render(request, user, "settlement/months.html", {"parks": parks})


@router.get("/settlement/open")
def open_month(
    user: User,
    park_id: Annotated[str, Query(min_length=1, max_length=64)],
    month: Annotated[str, Query(pattern=MONTH_PATTERN)],
) -> Response:
    """The month picker's target: the month's page."""
    user.need("settlements:read")
    park_access(user.principal, park_id)
    return RedirectResponse(f"{BASE}/parks/{park_id}/months/{month}", status_code=303)


def _history(session: Any, park_id: str, month: str) -> list[Any]:
    entries = AuditRepository(session).list_for("park", park_id)
    mine = [
        e
        for e in entries
        if e.action in ("settlement.issue", "settlement.reason")
        and (e.after or {}).get("month") == month
    ]
    return list(reversed(mine))


def month_context(
    request: Request, engine: Any, user: ConsoleUser, park_id: str, month: str
) -> dict[str, Any]:
    """Everything the month page shows."""
    user.need("settlements:read")
    park_access(user.principal, park_id)
    with session_scope(engine) as session:
        stores = settlement_stores(session)
        park = stores.parks.get(park_id)
        profile = _profile(request, park.market_id)
        state = month_state(stores, park, month, profile)
        versions = {
            s.id: [v for v in stores.statements.versions(s.enterprise_id, s.id)]
            for s in state.issued
        }
        history = _history(session, park_id, month)
    names = {e.id: e.name for e in park.enterprises}
    names.setdefault(AGGREGATOR, user.t("Aggregator"))
    shown = state.issued or state.draft.statements
    drafts = {s.enterprise_id: s for s in state.draft.statements}
    return {
        "park": park,
        "profile": profile,
        "month": month,
        "state": state,
        "statements": shown,
        "drafts": drafts,
        "versions": versions,
        "names": names,
        "history": history,
        "tz": profile.timezone,
        "previous": _shift(month, -1),
        "next": _shift(month, 1),
        "formats": FORMATS,
        "actions": AUDIT_ACTIONS,
        "max_upload_mb": MAX_UPLOAD_BYTES // (1024 * 1024),
        "done": {
            k: int(v)
            for k, v in request.query_params.items()
            if k in ("issued", "corrected", "unchanged") and v.isdigit()
        },
    }


@router.get("/settlement/parks/{park_id}/months/{month}", response_class=HTMLResponse)
def month_page(
    request: Request, park_id: str, month: MonthPath, engine: EngineDep, user: User
) -> Response:
    """A park's month: completeness, statements and lines, issue or correct, reconcile."""
    return render(
        request, user, "settlement/month.html", month_context(request, engine, user, park_id, month)
    )


@router.post("/settlement/parks/{park_id}/months/{month}/issue", dependencies=[Csrf])
def issue(
    request: Request,
    park_id: str,
    month: MonthPath,
    engine: EngineDep,
    user: User,
    override_incomplete: Annotated[bool, Form()] = False,
    by: Text = "",
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Issue the month, or correct it (a new version of each statement whose amounts changed).

    The park's incomplete data refuses the month (409) unless overridden; an override names who
    authorises it and why, a correction says why. Who authorises is recorded exactly as the
    API's ``by``; the reason in a ``settlement.reason`` audit entry of the same transaction.
    """
    user.need("settlements:issue")
    park_access(user.principal, park_id)
    t = user.t
    by, reason = by.strip(), reason.strip()
    if override_incomplete and not by:
        raise InvalidInputError(
            t("An override needs the name of who authorises it."),
            hint=t("Fill in “Authorised by” and the reason, then issue again."),
        )
    if override_incomplete and not reason:
        raise InvalidInputError(
            t("An override needs a reason; nothing was issued."),
            hint=t("Say why the month is issued despite the missing data."),
        )
    actor = user.principal.actor
    with session_scope(engine) as session:
        stores = settlement_stores(session)
        park = stores.parks.get(park_id)
        before = park_statements(stores, park_id, month)
        if before and not reason:
            raise InvalidInputError(
                t("A correction needs a reason; nothing was changed."),
                hint=t("Say why the month is issued again."),
            )
        outcome = settle_park_month(
            stores,
            park_id,
            month,
            _profile(request, park.market_id),
            override_by=by if override_incomplete else None,
            actor=actor,
        )
        if outcome.refused:
            gaps = outcome.refused
            raise ConflictError(
                t("{month} of {park} is incomplete; nothing was issued: {gaps}").format(
                    month=month,
                    park=park.name,
                    gaps="; ".join(gaps[:5]) + (f" (+{len(gaps) - 5})" if len(gaps) > 5 else ""),
                ),
                hint=t(
                    "Import the missing data, or issue with an override that names who "
                    "authorises it and why."
                ),
            )
        if reason:
            stores.audit.record(
                actor,
                "settlement.reason",
                "park",
                park_id,
                after={
                    "month": month,
                    "action": "correct" if before else "issue",
                    "reason": reason,
                    "override_by": outcome.override_by,
                    "statements": [
                        {"id": i.statement.id, "version": i.statement.version, "action": i.action}
                        for i in outcome.issued
                    ],
                },
            )
    counts = {a: sum(1 for i in outcome.issued if i.action == a) for a in ("issued", "corrected")}
    counts["unchanged"] = len(outcome.issued) - sum(counts.values())
    query = "&".join(f"{k}={v}" for k, v in counts.items())
    return RedirectResponse(f"{BASE}/parks/{park_id}/months/{month}?{query}", status_code=303)


def _operator_file(upload: UploadFile, t: Any) -> pd.DataFrame:
    """The uploaded operator statement, read as ``vpp settle --reconcile`` reads its file."""
    content = upload.file.read(MAX_UPLOAD_BYTES + 1)
    if len(content) > MAX_UPLOAD_BYTES:
        raise InvalidInputError(
            t("The file is larger than {mb} MB.").format(mb=MAX_UPLOAD_BYTES // (1024 * 1024))
        )
    if not content.strip():
        raise InvalidInputError(t("The file is empty."), hint=_columns_hint(t))
    with TemporaryDirectory() as folder:
        path = FilePath(folder) / "operator.csv"
        path.write_bytes(content)
        try:
            return read_operator_csv(path)
        except ValueError as exc:  # a malformed CSV or text that is not UTF-8
            raise InvalidInputError(
                t("The file is not a readable CSV: {why}").format(why=exc), hint=_columns_hint(t)
            ) from exc


def _columns_hint(t: Any) -> str:
    return t("Upload a CSV with the columns day (YYYY-MM-DD), product_id and amount.")


def reconciliation(
    request: Request, engine: Any, user: ConsoleUser, park_id: str, month: str, upload: UploadFile
) -> dict[str, Any]:
    """The month's award amounts against the operator's file, by day and product."""
    user.need("settlements:read")
    park_access(user.principal, park_id)
    operator = _operator_file(upload, user.t)
    with session_scope(engine) as session:
        stores = settlement_stores(session)
        park = stores.parks.get(park_id)
        profile = _profile(request, park.market_id)
        inputs = load_park_month(stores, park_id, month, profile)
    try:
        report = reconcile_operator(award_amounts(inputs), operator)
    except (ValueError, InvalidOperation) as exc:  # a day or an amount that is not one
        raise InvalidInputError(
            user.t("A day or an amount in the file cannot be read: {why}").format(why=exc),
            hint=_columns_hint(user.t),
        ) from exc
    rows = report.to_dict("records")
    outside = [r for r in rows if r["day"].strftime("%Y-%m") != month]
    return {
        "file_name": upload.filename or "",
        "rows": rows,
        "mismatched": [r for r in rows if not r["matches"]],
        "matched": sum(1 for r in rows if r["matches"]),
        "outside": len(outside),
        "ours_total": sum((r["ours"] for r in rows), Decimal("0.00")),
        "operator_total": sum((r["operator"] for r in rows), Decimal("0.00")),
        "currency": inputs.currency,
    }


@router.post(
    "/settlement/parks/{park_id}/months/{month}/reconcile",
    response_class=HTMLResponse,
    dependencies=[Csrf],
)
def reconcile(
    request: Request,
    park_id: str,
    month: MonthPath,
    engine: EngineDep,
    user: User,
    file: Annotated[UploadFile, File(description="The operator's CSV: day,product_id,amount.")],
) -> Response:
    """Compare the operator's amounts with ours; htmx gets the result alone, a plain form post
    the month page with it."""
    partial = bool(request.headers.get("HX-Request"))
    try:
        result = reconciliation(request, engine, user, park_id, month, file)
    except InvalidInputError as exc:
        if not partial:
            raise
        context = {"error": exc.message, "hint": exc.hint, "park_id": park_id, "month": month}
        return render(request, user, "settlement/_reconciliation.html", context)
    if partial:
        context = {"result": result, "park_id": park_id, "month": month}
        return render(request, user, "settlement/_reconciliation.html", context)
    context = month_context(request, engine, user, park_id, month)
    return render(request, user, "settlement/month.html", {**context, "result": result})


@router.get("/settlement/parks/{park_id}/statements/{statement_id}/export")
def download(
    request: Request,
    park_id: str,
    statement_id: Annotated[str, Path(min_length=1, max_length=200)],
    engine: EngineDep,
    user: User,
    fmt: Annotated[Literal["csv", "xlsx", "pdf"], Query(alias="format")] = "pdf",
    version: Annotated[int | None, Query(ge=1, le=10_000)] = None,
) -> Response:
    """One statement as PDF, XLSX or CSV: the file the API's export route makes."""
    user.need("settlements:read")
    park_access(user.principal, park_id)
    call = ParkCall(user.principal, park_id)
    response = settlements.export_statement(statement_id, call, request, engine, fmt, version)
    for name in ("X-Content-Type-Options", "Cache-Control", "Referrer-Policy"):
        response.headers[name] = SECURITY_HEADERS[name]
    return response


i18n.register(
    {
        "Monthly settlement": "月度结算",
        "Aggregator": "聚合商",
        "Month": "月份",
        "Days settled": "已结算天数",
        "Missing days": "缺失日期",
        "Other data gaps": "其他数据缺口",
        "Total": "合计",
        "Draft total": "草稿合计",
        "Issued total": "已出具合计",
        "open": "未出具",
        "issued v{version}": "已出具 v{version}",
        "complete": "完整",
        "incomplete": "不完整",
        "No delivery days yet for this park.": "该园区尚无交割日。",
        "No park is within reach of this key.": "此密钥无可访问的园区。",
        "Open a month": "打开月份",
        "Go": "前往",
        "All months": "全部月份",
        "Previous month": "上个月",
        "Next month": "下个月",
        "Amounts in {currency}; dates are market days in {tz}.": (
            "金额单位为 {currency}；日期为市场时区 {tz} 的交易日。"
        ),
        "Completeness": "数据完整性",
        "{settled} of {days} days settled": "{days} 天中已结算 {settled} 天",
        "Every day of the month is settled and metered.": "本月每天均已结算且计量完整。",
        "Skipped enterprises": "跳过的企业",
        "held back": "暂扣",
        "Totals": "合计",
        "Market total": "市场总额",
        "Statements sum": "结算单合计",
        "Held back for skipped enterprises": "为跳过企业暂扣",
        "Aggregator total": "聚合商合计",
        "Reconciles to the cent": "精确到分对平",
        "Statement": "结算单",
        "Version": "版本",
        "Issued at": "出具时间",
        "Download": "下载",
        "draft": "草稿",
        "issued": "已出具",
        "superseded": "已作废",
        "Draft: recomputed from the stored data, not issued.": "草稿：由已存数据重新计算，尚未出具。",
        "Recomputed now": "当前重算",
        "Lines": "明细",
        "Line": "项目",
        "Amount": "金额",
        "Quantity": "数量",
        "Earlier versions": "历史版本",
        "Issue month": "出具本月结算单",
        "Issue the month's statements: one per settled enterprise and the aggregator's.": (
            "出具本月结算单：每个已结算企业一份，另加聚合商一份。"
        ),
        "Issue despite missing data": "数据不完整时强制出具",
        "The park's data for this month is incomplete, so issuing needs an override. "
        "The statements will say so, and the audit log records who authorised it and why.": (
            "本园区本月数据不完整，出具需强制批准。结算单上将注明，审计日志将记录批准人及理由。"
        ),
        "I authorise issuing although data is missing": "我批准在数据缺失的情况下出具",
        "Authorised by (name and function)": "批准人（姓名与职务）",
        "Reason (required, recorded in the audit log)": "理由（必填，记入审计日志）",
        "Issue with override": "强制出具",
        "Correct month": "更正本月结算单",
        "Issue the month again from the stored data: each statement whose amounts changed "
        "gets a new version (the old one is kept as superseded); the others stay as they are.": (
            "按已存数据重新出具本月：金额有变化的结算单生成新版本（旧版本保留为已作废），"
            "其余保持不变。"
        ),
        "Issue a new version": "出具新版本",
        "Override (needed while the data is incomplete)": "强制批准（数据不完整时需要）",
        "Issued {n} statement(s).": "已出具 {n} 份结算单。",
        "Corrected {n} statement(s): a new version each.": "已更正 {n} 份结算单，各生成新版本。",
        "{n} statement(s) unchanged: the stored data gives the same amounts.": (
            "{n} 份结算单未变：已存数据得出的金额相同。"
        ),
        "Reconciliation with the market operator": "与市场运营机构对账",
        "Upload the market operator's statement of the month as CSV with the columns day "
        "(YYYY-MM-DD), product_id and amount ({currency}), the file vpp settle --reconcile "
        "reads. Nothing is stored.": (
            "上传市场运营机构本月结算单 CSV，列为 day（YYYY-MM-DD）、product_id 和 amount"
            "（{currency}），与 vpp settle --reconcile 读取的文件相同。文件不会被保存。"
        ),
        "Operator file (CSV, at most {mb} MB)": "运营机构文件（CSV，最大 {mb} MB）",
        "Upload progress": "上传进度",
        "Reconcile": "对账",
        "{matched} of {rows} day/product rows match to the cent.": (
            "{rows} 行（日期/产品）中有 {matched} 行精确到分一致。"
        ),
        "Every row matches.": "全部一致。",
        "Rows that differ": "不一致的行",
        "Day": "日期",
        "Ours": "我方",
        "Operator": "运营机构",
        "Difference": "差额",
        "Matches": "一致",
        "All rows": "全部行",
        "The file is empty.": "文件为空。",
        "The file is larger than {mb} MB.": "文件超过 {mb} MB。",
        "The file is not a readable CSV: {why}": "文件不是可读的 CSV：{why}",
        "A day or an amount in the file cannot be read: {why}": "文件中的日期或金额无法读取：{why}",
        "Upload a CSV with the columns day (YYYY-MM-DD), product_id and amount.": (
            "请上传包含 day（YYYY-MM-DD）、product_id 和 amount 列的 CSV。"
        ),
        "{n} row(s) of the file lie outside this month.": "文件中有 {n} 行不在本月。",
        "File": "文件",
        "History": "历史记录",
        "Action": "操作",
        "By": "执行者",
        "Override by": "强制批准人",
        "No settlement of this month yet.": "本月尚未结算。",
        "An override needs the name of who authorises it.": "强制出具需填写批准人姓名。",
        "Fill in “Authorised by” and the reason, then issue again.": (
            "请填写“批准人”和理由后重新出具。"
        ),
        "An override needs a reason; nothing was issued.": "强制出具需填写理由；未出具任何结算单。",
        "Say why the month is issued despite the missing data.": "请说明为何在数据缺失时出具本月。",
        "A correction needs a reason; nothing was changed.": "更正需填写理由；未做任何更改。",
        "Say why the month is issued again.": "请说明为何重新出具本月。",
        "{month} of {park} is incomplete; nothing was issued: {gaps}": (
            "{park} 的 {month} 数据不完整，未出具任何结算单：{gaps}"
        ),
        "Import the missing data, or issue with an override that names who authorises it "
        "and why.": "请导入缺失数据，或以强制出具方式填写批准人及理由。",
        "Month issued": "本月已出具",
        "Reason recorded": "已记录理由",
        "first issue": "首次出具",
        "correction": "更正",
        "corrected": "已更正",
        "unchanged": "未变",
    }
)
