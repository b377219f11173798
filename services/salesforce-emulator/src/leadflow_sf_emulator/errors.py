"""Salesforce-worded errors. A `SalesforceError` is turned into the JSON array Salesforce sends."""

from __future__ import annotations

from typing import Any


class SalesforceError(Exception):
    """An error that the REST layer renders as `[{"message", "errorCode", "fields"?}]`."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int = 400,
        fields: list[str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.fields = fields
        self.extra = extra or {}

    def rest_body(self) -> list[dict[str, Any]]:
        item: dict[str, Any] = {}
        item.update(self.extra)
        item["message"] = self.message
        item["errorCode"] = self.code
        if self.fields is not None:
            item["fields"] = self.fields
        return [item]

    def save_error(self) -> dict[str, Any]:
        """The `errors[]` item of a SaveResult (Collections, Bulk): `statusCode`, not `errorCode`."""
        item: dict[str, Any] = {"statusCode": self.code, "message": self.message, "fields": self.fields or []}
        item.update(self.extra)
        return item


def not_found(message: str = "The requested resource does not exist") -> SalesforceError:
    return SalesforceError("NOT_FOUND", message, status=404)


def invalid_session() -> SalesforceError:
    return SalesforceError("INVALID_SESSION_ID", "Session expired or invalid", status=401)


def limit_exceeded() -> SalesforceError:
    return SalesforceError("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", status=403)


def json_parser_error(detail: str) -> SalesforceError:
    return SalesforceError("JSON_PARSER_ERROR", detail)
