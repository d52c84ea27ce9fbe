"""Errors in vLLM's shape: ``{"error": {"message", "type", "param", "code"}}``.

Every problem with a request becomes an :class:`APIError` with its HTTP status (400 bad
input, 401 key, 404 model or path, 405 method, 413 body size, 429 too many waiting, 503 not
ready or shutting down); the message is one line and never a traceback.
"""

from __future__ import annotations

from starlette.responses import JSONResponse

#: The ``type`` vLLM (and the openai client's exception classes) use for each status.
ERROR_TYPES = {
    400: "BadRequestError", 401: "AuthenticationError", 404: "NotFoundError",
    405: "MethodNotAllowedError", 413: "RequestEntityTooLargeError", 429: "RateLimitError",
    500: "InternalServerError", 503: "ServiceUnavailableError",
}


class APIError(Exception):
    """A request the server refuses; ``param`` names the offending field when there is one."""

    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(" ".join(str(message).split()))
        self.status, self.param = status, param

    def body(self) -> dict:
        return error_body(self.status, str(self), self.param)

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status)


def error_body(status: int, message: str, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": ERROR_TYPES.get(status, "BadRequestError"),
                      "param": param, "code": status}}


def bad_request(message: str, param: str | None = None) -> APIError:
    return APIError(400, message, param)
