"""The domain's one exception family.

Each error carries the HTTP status it maps to and a message code whose text (zh/en) is
safe to show to users (pygeoapi's ``user_msg`` idea). Validation errors carry the full
per-row problem list. ``webmap`` turns any of these into one JSON error shape.
"""

from __future__ import annotations

from typing import Any

from geo.messages import register, render
from geo.problems import Problem

for _code, _zh, _en in (
    ("not_found", "找不到{what}：{value}", "Not found: {what} {value}"),
    ("unknown_layer", "没有名为“{value}”的图层", "There is no layer called '{value}'"),
    (
        "conflict",
        "数据已被他人修改（当前版本 {current}，您提交的版本 {expected}），请刷新后重试",
        "The feature was changed by someone else (now version {current}, you sent {expected}); "
        "reload and try again",
    ),
    (
        "validation_failed",
        "数据有 {count} 处问题，未保存任何内容",
        "The data has {count} problem(s); nothing was saved",
    ),
    ("forbidden", "您的账号没有权限执行此操作", "Your account may not do this"),
    ("unauthorized", "请先登录", "Please log in first"),
    ("bad_request", "请求有误：{value}", "Bad request: {value}"),
    (
        "upload_too_large",
        "文件太大（上限 {limit_mb} MB）",
        "The file is too large (limit {limit_mb} MB)",
    ),
    ("already_deleted", "该要素已删除", "This feature has already been deleted"),
    ("not_deleted", "该要素未被删除，无需恢复", "This feature is not deleted"),
    ("bad_geometry", "第 {row} 行：几何图形无效：{value}", "Row {row}: invalid geometry: {value}"),
    (
        "geometry_type",
        "第 {row} 行：图层“{layer}”只接受 {allowed}，这里是 {value}",
        "Row {row}: layer '{layer}' accepts {allowed}, not {value}",
    ),
    (
        "geometry_missing",
        "第 {row} 行：缺少位置（几何图形）",
        "Row {row}: the location (geometry) is missing",
    ),
    (
        "not_finite",
        "第 {row} 行：坐标不是有限数值：{value}",
        "Row {row}: coordinates are not finite numbers: {value}",
    ),
    (
        "ref_missing",
        "第 {row} 行：“{label}”指向不存在的{layer}：{value}",
        "Row {row}: '{label}' points to a {layer} that does not exist: {value}",
    ),
    ("id_taken", "编号 {value} 已存在", "The id {value} is already taken"),
    (
        "data_damaged",
        "图层“{layer}”的数据文件已损坏，暂不能读取；请管理员运行 villageworks repair",
        "The data of the layer '{layer}' is damaged and cannot be read; an administrator "
        "should run villageworks repair",
    ),
    (
        "csrf_failed",
        "表单已过期或来源不明（CSRF 校验失败），请刷新页面后重试",
        "The form expired or came from elsewhere (CSRF check failed); reload the page and retry",
    ),
):
    register(_code, _zh, _en)


class VillageWorksError(Exception):
    """Base of every error the domain raises on purpose."""

    status = 500
    code = "unknown"

    def __init__(self, code: str | None = None, **params: Any):
        self.code = code or self.code
        self.params = params
        super().__init__(self.user_message("en"))

    def user_message(self, lang: str = "zh") -> str:
        """A message for the user, in ``lang``, that leaks nothing internal."""
        return render(self.code, lang, **self.params)

    def as_dict(self, lang: str = "zh") -> dict[str, Any]:
        """The JSON error body shared by every API route."""
        return {
            "error": {"status": self.status, "code": self.code, "message": self.user_message(lang)}
        }


class BadRequest(VillageWorksError):
    """Malformed request (400)."""

    status = 400
    code = "bad_request"


class Unauthorized(VillageWorksError):
    """No or bad credentials (401)."""

    status = 401
    code = "unauthorized"


class Forbidden(VillageWorksError):
    """Authenticated, but the role does not allow it (403)."""

    status = 403
    code = "forbidden"


class NotFound(VillageWorksError):
    """No such layer or feature (404)."""

    status = 404
    code = "not_found"


class Conflict(VillageWorksError):
    """Optimistic-concurrency conflict: the version changed since it was read (412)."""

    status = 412
    code = "conflict"


class TooLarge(VillageWorksError):
    """Upload over the size cap (413)."""

    status = 413
    code = "upload_too_large"


class DataDamaged(VillageWorksError):
    """A file of the data directory holds bytes the store cannot trust (503): a damaged
    journal or layer file. ``layer`` names the layer it belongs to (None when unknown), so
    pages can report that layer and keep the others working; ``villageworks repair``
    recovers what can be recovered."""

    status = 503
    code = "data_damaged"
    layer: str | None = None


class ValidationFailed(VillageWorksError):
    """The input breaks the rules; nothing was written (422). Carries every problem."""

    status = 422
    code = "validation_failed"

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        super().__init__(count=len(errors))

    def as_dict(self, lang: str = "zh") -> dict[str, Any]:
        body = super().as_dict(lang)
        body["error"]["problems"] = [p.as_dict(lang) for p in self.problems]
        return body
