"""Typed API errors: the model raises them, the HTTP layer serialises them as Webflow does."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error answer of the Data API: status code plus Webflow's error body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details: list[Any] = list(details or [])
        self.headers: dict[str, str] = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The JSON body Webflow sends for every error (WEBFLOW_API.md section 7)."""
        return {
            "code": self.code,
            "message": self.message,
            "externalReference": None,
            "details": self.details,
        }


def detail(param: str, description: str) -> dict[str, str]:
    """One validation detail in the observed `{param, description}` form
    (deviations: validation-details)."""
    return {"param": param, "description": description}


def bad_request(message: str = "Bad Request: Request is malformed") -> ApiError:
    return ApiError(400, "bad_request", message)


def validation_error(
    details: list[Any] | None = None, message: str = "Validation Error"
) -> ApiError:
    return ApiError(400, "validation_error", message, details)


def invalid(param: str, description: str) -> ApiError:
    """Shorthand: a 400 validation_error naming one offending param."""
    return validation_error([detail(param, description)])


def invalid_id(param: str) -> ApiError:
    return ApiError(
        400,
        "validation_error",
        "Validation Error: Provided ID is invalid",
        [detail(param, "Provided ID is invalid")],
    )


def not_found(message: str = "Requested resource not found") -> ApiError:
    return ApiError(404, "resource_not_found", message)


def not_authorized() -> ApiError:
    return ApiError(401, "not_authorized", "Request not authorized")


def missing_scopes(scope: str) -> ApiError:
    return ApiError(
        403,
        "missing_scopes",
        f"OAuthForbidden: You are missing the following scopes - {scope}",
    )


def forbidden() -> ApiError:
    return ApiError(403, "forbidden", "User is not authorized to perform this action")


def conflict(message: str) -> ApiError:
    return ApiError(409, "conflict", message)


def duplicate_collection() -> ApiError:
    return ApiError(409, "duplicate_collection", "Collection already exists")


def too_many_requests(retry_after: str, headers: dict[str, str]) -> ApiError:
    return ApiError(
        429,
        "too_many_requests",
        "Too many requests",
        headers={**headers, "Retry-After": retry_after},
    )


def internal_error() -> ApiError:
    return ApiError(500, "internal_error", "An Internal Error occurred")
