"""The console's two languages: Chinese first, English on request (`?lang=en`, remembered in a cookie).

Two languages and a few hundred strings: a catalogue in code, checked by a test for a missing translation,
rather than gettext's toolchain (a .po file per language and a compile step in `make run`).
"""

from __future__ import annotations

from typing import Any, Literal

from litestar.connection import ASGIConnection

from flexreg.console import messages_claims, messages_map, messages_materials, messages_rounds

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")
COOKIE = "flexreg_lang"

# key: (Chinese, English)
MESSAGES: dict[str, tuple[str, str]] = {
    "service": ("灵活就业登记服务", "Flexible employment registry"),
    "console": ("工作台", "Console"),
    "switch_language": ("English", "中文"),
    "switch_language_label": ("Switch to English", "切换到中文"),
    "skip_to_content": ("跳到正文", "Skip to content"),
    "sign_in": ("登录", "Sign in"),
    "sign_in_title": ("工作人员登录", "Staff sign-in"),
    "sign_in_intro": (
        "街道办事处、审批部门和管理员使用与接口相同的账号登录。经营者请使用手机应用。",
        "Street offices, reviewing departments and administrators sign in with their API accounts. "
        "Vendors use the phone app.",
    ),
    "username": ("用户名", "Username"),
    "password": ("密码", "Password"),
    "sign_out": ("退出登录", "Sign out"),
    "signed_in_as": ("当前账号", "Signed in as"),
    "bad_credentials": ("用户名或密码不正确。", "The username or password is not right."),
    "too_many_attempts": (
        "该账号登录失败次数过多，请 {minutes} 分钟后再试。",
        "Too many failed sign-ins for this account; try again in {minutes} minutes.",
    ),
    "vendors_use_app": (
        "经营者账号不能登录工作台，请使用手机应用。",
        "Vendor accounts cannot use the console; please use the phone app.",
    ),
    "form_expired": ("页面已过期，请重新提交。", "The page had expired; please submit it again."),
    "session_expired": ("登录已过期，请重新登录。", "Your session has expired; please sign in again."),
    "home": ("首页", "Home"),
    "role_street_office": ("街道办事处", "Street office"),
    "role_department": ("审批部门", "Department"),
    "role_admin": ("管理员", "Administrator"),
    "jurisdiction": ("辖区", "Jurisdiction"),
    "department": ("部门", "Department"),
    "queue": ("待办审批", "Review queue"),
    "queue_intro": (
        "按接口顺序排列：临近法定期限（2 个工作日内）的在前，其次是绿色通道，再按到期时间。",
        "In the API's order: tasks within 2 working days of their statutory limit first, then the green channel, "
        "then by due time.",
    ),
    "map": ("场地地图", "Map of places"),
    "rounds": ("摊位分配轮次", "Allocation rounds"),
    "claims": ("重点群体核验", "Key-group verification"),
    "docs": ("接口文档", "API docs"),
    "not_yet": ("该页面将在后续版本提供。", "This page comes in a later release."),
    "not_found_title": ("未找到", "Not found"),
    "not_found": ("没有这个页面。", "There is no such page."),
    "forbidden_title": ("无权访问", "Not for your role"),
    "forbidden": ("您的账号角色不能使用此页面。", "Your account's role cannot use this page."),
    "loading": ("正在加载…", "Loading…"),
    "load_failed": ("加载失败：{detail}", "Could not load: {detail}"),
    # department queue and task
    "task_status": ("状态", "Status"),
    "task_status_open": ("待处理", "Open"),
    "task_status_in_review": ("审查中", "In review"),
    "task_status_needs_supplement": ("待补正", "Awaiting supplement"),
    "task_status_approved": ("已批准", "Approved"),
    "task_status_rejected": ("不予许可", "Rejected"),
    "task_status_closed": ("已关闭", "Closed"),
    "application_status_in_review": ("审查中", "In review"),
    "application_status_needs_supplement": ("待补正", "Awaiting supplement"),
    "application_status_approved": ("已批准", "Approved"),
    "application_status_rejected": ("不予许可", "Rejected"),
    "application_status_withdrawn": ("已撤回", "Withdrawn"),
    "filter": ("筛选", "Filter"),
    "queue_today": ("今天：{day}", "Today: {day}"),
    "queue_empty": ("没有符合条件的待办。", "No tasks match."),
    "permit_type": ("许可类型", "Permit type"),
    "due_on": ("办理期限", "Due"),
    "statutory_due_on": ("法定期限", "Statutory limit"),
    "working_days_left": ("剩余工作日", "Working days left"),
    "working_days_left_n": ("剩余 {days} 个工作日", "{days} working days left"),
    "days_overdue": ("已超期 {days} 个工作日", "{days} working days overdue"),
    "flags": ("标记", "Flags"),
    "overdue": ("已超期", "Overdue"),
    "near_limit": ("临近法定期限", "Near the statutory limit"),
    "green_channel": ("绿色通道", "Green channel"),
    "provisional": ("暂定", "Provisional"),
    "provisional_help": (
        "该年度的国务院节假日安排尚未公布，期限按暂定日历计算，公布后自动重算。",
        "That year's State Council holiday schedule is not out yet: the day is provisional and is recomputed then.",
    ),
    "mode_commitment": ("告知承诺", "Commitment"),
    "unit_working_day": ("个工作日", "working days"),
    "unit_calendar_day": ("个自然日", "calendar days"),
    "next_page": ("下一页", "Next page"),
    "task": ("本部门事项", "This department's task"),
    "application": ("申请", "Application"),
    "application_status": ("申请状态", "Application status"),
    "received_on": ("收件日", "Received"),
    "periods": ("经营时段", "Periods"),
    "location": ("位置（经度, 纬度）", "Location (lon, lat)"),
    "documents": ("申请材料", "Materials"),
    "other_tasks": ("各部门事项", "Every department's task"),
    "history": ("办理记录", "History"),
    "decide": ("作出决定", "Decide"),
    "decision": ("决定", "Decision"),
    "decision_approve": ("批准", "Approve"),
    "decision_reject": ("不予许可（须说明理由）", "Reject (with reasons)"),
    "decision_request_supplement": ("一次性告知补正材料", "Ask for a supplement (one notice)"),
    "decision_note": ("说明或理由", "Note or reasons"),
    "decision_conditions": ("附加条件（每行一条）", "Conditions (one per line)"),
    "decision_conditions_help": ("仅用于批准。", "For an approval only."),
    "decision_missing": ("需补正的材料（每行一项：材料：原因）", "Missing items (one per line: item: reason)"),
    "decision_missing_help": ("仅用于补正告知。", "For a supplement request only."),
    "decision_overdue_reason": ("超期原因（将公开）", "Why it is late (published)"),
    "decision_submit": ("提交决定", "Submit the decision"),
    "decision_done": ("决定已提交，事项状态：{status}。", "Decision recorded; the task is now {status}."),
    "decision_conflict": (
        "其他人已先对该事项作出决定或修改，您看到的页面已过期，本次提交未生效。",
        "Someone else decided or changed this task first; the page you saw is out of date and nothing was changed.",
    ),
    "decision_invalid": ("该事项当前不能这样处理：{detail}", "This task cannot take that step now: {detail}"),
    "decision_refused": ("未能提交：{detail}", "Not accepted: {detail}"),
    "decision_signed_out": ("登录已过期，请重新登录后再提交。", "Your session has expired; sign in again."),
    "decision_network": ("网络错误，未能提交。", "Network error: nothing was sent."),
    "decision_reload": ("查看最新状态", "See the current state"),
    # verification page
    "verify_title": ("许可证核验", "Permit verification"),
    "permit_number": ("许可证编号", "Permit number"),
    "status_valid": ("有效", "Valid"),
    "status_expired": ("已过期", "Expired"),
    "status_suspended": ("已暂停", "Suspended"),
    "status_revoked": ("已撤销", "Revoked"),
    "holder": ("持证人", "Holder"),
    "id_last4": ("身份证号后四位", "Last four of ID number"),
    "activity": ("经营项目", "Activity"),
    "place": ("地点", "Place"),
    "hours": ("时段", "Hours"),
    "valid_dates": ("有效期", "Valid"),
    "conditions": ("附加条件", "Conditions"),
    "none": ("无", "None"),
    "departments": ("审批部门", "Departments"),
    "permit_not_found": (
        "没有这个编号的许可证。请核对编号；伪造或涂改的许可证也会显示为此结果。",
        "No permit has this number. Check the number; a forged or altered permit shows this too.",
    ),
    "signature": ("电子签名", "Signature"),
    "signature_checking": ("正在核验电子签名…", "Checking the signature…"),
    "signature_ok": ("电子签名有效，内容与许可证一致。", "The signature is valid and matches this permit."),
    "signature_bad": (
        "电子签名无效：二维码或页面内容被篡改，请勿采信。",
        "The signature is NOT valid: the QR code or this page has been tampered with. Do not rely on it.",
    ),
    "signature_mismatch": (
        "电子签名有效，但与本页显示的许可证内容不一致：{fields}。请勿采信。",
        "The signature is valid but does not match what this page shows: {fields}. Do not rely on it.",
    ),
    "signature_missing": (
        "链接中没有签名令牌，仅显示服务器记录。扫描摊位上的二维码可离线核验。",
        "The link carries no signed token; this shows the server's record only. "
        "Scan the stall's QR code to check offline.",
    ),
    "signature_unsupported": (
        "此浏览器无法核验电子签名（需要 HTTPS 和支持 Ed25519 的浏览器）。",
        "This browser cannot check the signature (it needs HTTPS and a browser with Ed25519).",
    ),
    "signature_unknown_key": (
        "签名所用的密钥不在已发布的密钥中，请勿采信。",
        "The token is signed with a key that is not among the published keys. Do not rely on it.",
    ),
    "checked_online": ("已联网核验：{time}", "Checked online at {time}"),
    "checked_offline": (
        "离线核验，所用密钥与撤销名单更新于 {time}",
        "Checked offline, with keys and the revocation list as of {time}",
    ),
    "offline_no_keys": (
        "当前离线，且此设备尚未保存公钥，无法核验。请联网后打开一次本页面。",
        "Offline, and this device has no saved keys yet: it cannot check. Open this page once while online.",
    ),
    "offline_revoked": (
        "离线撤销名单显示该许可证已{status}。",
        "The offline revocation list shows this permit as {status}.",
    ),
    "from_token": ("以下内容来自已核验的签名令牌。", "What follows is from the checked signed token."),
    "status": ("状态", "Status"),
    "pitch": ("摊位", "Pitch"),
    "valid_from": ("起始日期", "Valid from"),
    "valid_to": ("截止日期", "Valid to"),
    "every_day": ("每天", "Every day"),
    "weekday_names": ("周一,周二,周三,周四,周五,周六,周日", "Mon,Tue,Wed,Thu,Fri,Sat,Sun"),
    "list_separator": ("、", ", "),
    "date_to": ("至", "to"),
    "token_not_yet_valid": ("许可证自 {date} 起生效。", "The permit takes effect on {date}."),
    "token_expired": ("签名令牌已于 {date} 到期。", "The signed token expired on {date}."),
    "signature_needs_script": (
        "核验电子签名需要启用 JavaScript；以上为服务器记录。",
        "Checking the signature needs JavaScript; the above is the server's record.",
    ),
}


def _merge(*parts: dict[str, tuple[str, str]]) -> None:
    """Each page's messages live beside it; one key has one meaning across the console."""
    for part in parts:
        clash = sorted(MESSAGES.keys() & part.keys())
        if clash:
            raise RuntimeError(f"console messages defined twice: {', '.join(clash)}")
        MESSAGES.update(part)


_merge(messages_map.MESSAGES, messages_rounds.MESSAGES, messages_claims.MESSAGES, messages_materials.MESSAGES)


def language_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Language:
    """`?lang=` first, then the remembered choice, then Chinese."""
    asked = connection.query_params.get("lang") or connection.cookies.get(COOKIE)
    return "en" if asked == "en" else "zh"


def translate(language: Language, key: str, **values: Any) -> str:
    """The message in this language; a key the catalogue lacks shows as itself (tests/console check none does)."""
    zh, en = MESSAGES.get(key, (key, key))
    text = en if language == "en" else zh
    return text.format(**values) if values else text


def catalogue(language: Language, prefix: str | tuple[str, ...] = "", *, keys: tuple[str, ...] = ()) -> dict[str, str]:
    """The messages a page's script needs, in one language: those starting with `prefix`, and `keys`."""
    return {key: translate(language, key) for key in MESSAGES if key.startswith(prefix) or key in keys}
