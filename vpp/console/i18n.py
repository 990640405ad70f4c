"""The console's two languages: English and Simplified Chinese (zh-CN).

Texts are keyed by their English wording (as gettext does); each page module registers the
Chinese of the texts it uses with :func:`register`. A text without a translation shows in
English and is remembered in :data:`MISSING`, which the tests read after rendering every page
in Chinese.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from starlette.requests import Request

LANGUAGES = {"en": "English", "zh": "中文"}
DEFAULT = "en"
COOKIE = "vpp_lang"

_ZH: dict[str, str] = {}
MISSING: set[str] = set()
"""English texts asked for in Chinese that have no translation (read by the tests)."""

Translate = Callable[[str], str]


def register(entries: Mapping[str, str]) -> None:
    """Add Chinese translations, keyed by the English text; a key may not change meaning."""
    for english, chinese in entries.items():
        known = _ZH.get(english)
        if known is not None and known != chinese:
            raise ValueError(f"two translations of {english!r}: {known!r} and {chinese!r}")
        _ZH[english] = chinese


def translator(language: str) -> Translate:
    """``t(text)`` in ``language``; ``t("{n} assets").format(n=3)`` for texts with fields."""
    if language != "zh":
        return lambda text: text

    def t(text: str) -> str:
        found = _ZH.get(text)
        if found is None:
            MISSING.add(text)
            return text
        return found

    return t


def pick_language(request: Request) -> str:
    """The cookie's choice, else the browser's first supported language, else English."""
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return DEFAULT


register(
    {
        "Sign in": "登录",
        "Sign out": "退出",
        "API key": "API 密钥",
        "Paste the API key an administrator gave you.": "请粘贴管理员发给您的 API 密钥。",
        "The key is exchanged for a session of {minutes} minutes; it is not stored in the browser.": (
            "密钥将换取 {minutes} 分钟的会话；浏览器不会保存密钥。"
        ),
        "Signed in as {role}": "当前角色：{role}",
        "operator": "运营方",
        "enterprise": "企业",
        "settlement": "结算",
        "admin": "管理员",
        "Language": "语言",
        "Parks": "园区",
        "Alerts and jobs": "告警与任务",
        "Settlement": "结算",
        "Assets": "资产",
        "Consents": "授权",
        "Telemetry": "计量数据",
        "Earnings": "收益",
        "Statements": "结算单",
        "Something went wrong": "出错了",
        "What to do": "处理建议",
        "Back": "返回",
        "Your session has ended; sign in again.": "会话已结束，请重新登录。",
        "That key was not accepted: {reason}": "密钥未通过：{reason}",
        "Skip to content": "跳到正文",
        "Not found": "未找到",
        "Not allowed": "无权访问",
        "Conflict": "冲突",
        "Invalid input": "输入有误",
        "Too late": "已超时",
        "Unavailable": "暂不可用",
        "The form expired or came from another page; reload and try again.": (
            "表单已过期或来自其他页面，请刷新后重试。"
        ),
        "none": "无",
        "forecast issued": "预测已发布",
        "approved": "已批准",
        "submitted": "已提交",
        "awarded": "已出清",
        "dispatched": "已调度",
        "settled": "已结算",
        "yes": "是",
        "no": "否",
    }
)
