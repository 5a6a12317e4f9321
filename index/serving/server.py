"""`python -m index.serving.server APP [uvicorn options]`: uvicorn's own CLI, with TCP_NODELAY kept under
`--workers` and logs that never keep a question.

Why this exists: with `--workers N` uvicorn 0.54 binds the listening socket
itself and leaves its protocol number at 0; accepted connections inherit it,
and asyncio only switches Nagle's algorithm off (TCP_NODELAY) on sockets that
report IPPROTO_TCP. So on Linux every keep-alive request after a connection's
first waits for the client's delayed ACK (uvicorn issue #3149, open when
written). bench/api.py measures the API with one and two workers; its figures
are in docs/bench/results.md ("JSON API under concurrent clients"). The
one-worker path is unaffected (asyncio binds that socket from getaddrinfo,
which fills the protocol in).

The fix is the same listening socket, re-wrapped so that it reports
IPPROTO_TCP; everything else is uvicorn's CLI unchanged (`make api` runs it
with one worker process per core).

Logs: the question log stores questions only after `index.firm.redact`, so the
server's own log must not keep them either (uvicorn's access log writes every
request line, `GET /search?q=我手机139...`, next to the client's address, and
journald keeps it as long as it likes). Unless `--log-config` names another
configuration, this CLI runs uvicorn with its usual log setup plus two filters
(`log_config`): the access line drops the question (`q=[omitted]`) and redacts
the rest of the path and query (`redact_target`), and every other line, from
uvicorn, this project or a library, warnings and tracebacks included, goes
through `redact` (`RedactingFilter`). `install_log_redaction` (called by the
app factory) puts the same filters on uvicorn's loggers when it is run by
plain `uvicorn`.

One malformed request, one warning: a request whose chunked body is broken is
answered 400 by uvicorn with the warning "Invalid HTTP request received.";
the app's own answer, refused then, is dropped by
`index.serving.errors.DroppedResponseGuard`, and when the broken chunk comes
after the app's answer, uvicorn (0.54) tries to send its 400 on a finished
response and asyncio logs that as an ERROR with a traceback, which
`RefusedAnswerFilter` keeps out (the warning has said it all).
"""
from __future__ import annotations

import copy
import importlib
import logging
import socket
from typing import Any
from urllib.parse import quote, unquote, unquote_plus

import uvicorn.config

from index.firm.redact import redact

try:  # the HTTP implementation uvicorn uses here (httptools is not installed)
    from h11 import LocalProtocolError as _H11LocalProtocolError
except ImportError:  # pragma: no cover - h11 comes with uvicorn
    _H11LocalProtocolError = None

QUESTION_PARAMS = frozenset({"q"})  # query parameters that carry the asker's own words
OMITTED = "[omitted]"

_uvicorn_bind_socket = uvicorn.config.Config.bind_socket


def bind_tcp_socket(config: uvicorn.config.Config) -> socket.socket:
    """`Config.bind_socket`, with an IP listener's protocol set to TCP so its connections get TCP_NODELAY."""
    sock = _uvicorn_bind_socket(config)
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto != socket.IPPROTO_TCP:
        fixed = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
        fixed.set_inheritable(True)
        return fixed
    return sock


# ------------------------------------------------------------------ logs -----
# Parts of request targets already found to hold no personal data (/search, k=5, mode=bm25, ...):
# `redact` takes ~20 µs even on "/healthz", and an access line repeats the same few parts.
# Nothing that was redacted is ever kept here.
_CLEAN_PARTS: set[tuple[Any, str]] = set()
_CLEAN_PARTS_MAX = 4096


def _redacted(raw: str, decode: Any, safe: str = "") -> str:
    """`raw` (percent-encoded) unchanged unless its decoded text holds personal data; then redacted, re-encoded."""
    if (decode, raw) in _CLEAN_PARTS:
        return raw
    text = decode(raw)
    clean = redact(text)
    if clean != text:
        return quote(clean, safe=safe)
    if len(_CLEAN_PARTS) >= _CLEAN_PARTS_MAX:
        _CLEAN_PARTS.clear()
    _CLEAN_PARTS.add((decode, raw))
    return raw


def redact_target(target: str) -> str:
    """A request target (path?query, as uvicorn's access line holds it) fit for a log: the question
    parameter's value left out, personal data in the path and the other values redacted. Decoded
    before redaction, so that percent-encoding hides nothing; encoded again, so it stays one line."""
    path, sep, query = target.partition("?")
    out = _redacted(path, unquote, safe="/")
    if not sep:
        return out
    params = []
    for part in query.split("&"):
        key, eq, value = part.partition("=")
        if unquote_plus(key) in QUESTION_PARAMS:
            params.append(f"{key}={OMITTED}")
        else:
            params.append(_redacted(key, unquote_plus) + eq + _redacted(value, unquote_plus))
    return f"{out}?{'&'.join(params)}"


def redact_record(record: logging.LogRecord) -> None:
    """Personal data out of a record's message, traceback and stack, in place (unchanged when there is none)."""
    try:
        message = record.getMessage()
    except Exception:  # a malformed record: the formatter reports it as logging always does
        return
    clean = redact(message)
    if clean != message:
        record.msg, record.args = clean, None
        record.__dict__.pop("color_message", None)  # uvicorn's coloured copy of the message
    if record.exc_info and not record.exc_text:  # formatted once here, as a Formatter would
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class RedactingFilter(logging.Filter):
    """Every line a handler writes, through `index.firm.redact`: messages, warnings, tracebacks."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


class AccessLogFilter(logging.Filter):
    """uvicorn's access line (`client - "METHOD target HTTP/x" status`) without the question."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], redact_target(args[2]), args[3], args[4])
        else:
            redact_record(record)
        return True


def server_already_answered(exc: BaseException | None) -> bool:
    """True for h11 refusing a response because the server has answered that request already
    (uvicorn's 400 for a malformed request, sent while the app was still working on it)."""
    return (_H11LocalProtocolError is not None and isinstance(exc, _H11LocalProtocolError)
            and "can't handle event type Response" in str(exc))


class RefusedAnswerFilter(logging.Filter):
    """Drops the traceback of an answer refused because the server had already answered 400: uvicorn's
    "Invalid HTTP request received." warning has said what happened, once."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and server_already_answered(record.exc_info[1]))


def redacting_filter() -> RedactingFilter:
    """The log config's factory for `RedactingFilter`; Python warnings are routed through logging
    (`py.warnings`) too, so that they reach a handler that redacts them."""
    logging.captureWarnings(True)
    return RedactingFilter()


def log_config() -> dict[str, Any]:
    """uvicorn's default logging (LOGGING_CONFIG), with the access line and every other line redacted.

    Loggers that have no handler of their own (this project's, libraries') reach the root's, which
    writes WARNING and above like uvicorn's lines; before, Python's last-resort handler wrote them bare.
    """
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["filters"] = {
        "redact": {"()": f"{__name__}.redacting_filter"},
        "access": {"()": f"{__name__}.AccessLogFilter"},
    }
    config["handlers"]["default"]["filters"] = ["redact"]
    config["handlers"]["access"]["filters"] = ["access"]
    config["root"] = {"handlers": ["default"], "level": "WARNING"}
    return config


def _add_once(target: logging.Filterer, kind: type[logging.Filter]) -> None:
    if not any(isinstance(f, kind) for f in target.filters):
        target.addFilter(kind())


def install_log_redaction() -> None:
    """The same filters on uvicorn's own loggers, and on Python's last-resort handler, for a server
    started without `log_config` (plain `uvicorn ...`, a custom --log-config); and, in every
    case, `RefusedAnswerFilter` on the loggers a refused answer reaches. Idempotent; run by the
    app factory, so in each worker process."""
    _add_once(logging.getLogger("uvicorn.access"), AccessLogFilter)
    _add_once(logging.getLogger("uvicorn.error"), RedactingFilter)
    for name in ("asyncio", "uvicorn.error"):  # where the protocol's and the app cycle's errors are logged
        _add_once(logging.getLogger(name), RefusedAnswerFilter)
    if logging.lastResort is not None:
        _add_once(logging.lastResort, RedactingFilter)


def main(argv: list[str] | None = None) -> None:
    uvicorn.config.Config.bind_socket = bind_tcp_socket  # type: ignore[method-assign]
    cli_module = importlib.import_module("uvicorn.main")  # the module (`uvicorn.main` is shadowed by the command)
    cli_module.LOGGING_CONFIG = log_config()  # what the CLI uses when no --log-config is given
    cli_module.main.main(args=argv, prog_name="python -m index.serving.server")


if __name__ == "__main__":
    main()
