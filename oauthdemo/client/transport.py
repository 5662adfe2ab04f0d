"""The one way the client calls a provider: JSON over HTTP, with one timeout and a size cap.

RFC 6749 §5.1/§5.2 (token answers and errors are JSON objects), RFC 6749 §2.3.1 (HTTP
Basic client authentication), OpenID Connect Discovery 1.0 §4 and RFC 7517 (JSON
documents fetched with GET).

A provider is another party: its answer may be slow, cut off, HTML, hostile JSON. Every
such failure becomes ``ProviderUnreachable`` or ``ProviderBadResponse`` (both 502) with a
sentence a learner can act on; an error *answer* (a 4xx with JSON) is returned, for the
caller to read (``OAuth2Error.from_response``).

Each call can also be told as an ``HttpExchange`` event (the back channel of the HTTP log,
``teaching.httplog``): a ``Transport`` given an event bus reports every call it makes.
"""
from __future__ import annotations

import base64
import http.client
import json
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from oauthdemo.core.errors import ProviderBadResponse, ProviderUnreachable
from oauthdemo.core.events import EventBus, HttpExchange, kept_body
from oauthdemo.core.loopback import is_loopback_url

HTTP_TIMEOUT = 10              # seconds for every call to the provider
MAX_RESPONSE = 1024 * 1024     # bytes read from a provider answer


def opener_for(url: str):
    """Loopback calls never go through a proxy from the environment."""
    if is_loopback_url(url):
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener()


def http_json(url: str, *, data: dict | None = None, headers: dict | None = None,
              timeout: float = HTTP_TIMEOUT, events: EventBus | None = None) -> tuple:
    """GET (or POST a form) and parse JSON. Returns (status, body); never raises on 4xx.

    Network failures, timeouts and non-JSON answers become ProviderUnreachable or
    ProviderBadResponse with a sentence a learner can act on. With ``events``, the call
    is told as an HttpExchange (on the back channel) once its answer is in.
    """
    body = urllib.parse.urlencode(data).encode("ascii") if data is not None else None
    req = urllib.request.Request(url, data=body, headers={"Accept": "application/json",
                                                          **(headers or {})})
    if body is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    status, _, raw = fetch(req, timeout, events)
    return status, parse_json_answer(url, raw, status)


def fetch(req: urllib.request.Request, timeout: float, events: EventBus | None) -> tuple:
    """(status, headers, body) of one call, told to ``events`` if given."""
    started, clock = time.time(), time.perf_counter()
    status, answer_headers, raw = send(req, timeout)
    if events is not None:
        events.emit(HttpExchange(
            "the client", "back", req.get_method(), req.full_url, tuple(req.header_items()),
            kept_body(req.data or b"", ""), status, tuple(answer_headers.items()),
            kept_body(raw, answer_headers.get("Content-Type", "")), len(raw), started,
            time.perf_counter() - clock, threading.get_ident()))
    return status, answer_headers, raw


def send(req: urllib.request.Request, timeout: float) -> tuple:
    """(status, headers, body): a 4xx/5xx answer is an answer, a failure an exception."""
    url = req.full_url
    try:
        with opener_for(url).open(req, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read(MAX_RESPONSE)
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.headers, err.read(MAX_RESPONSE)
    except (socket.timeout, TimeoutError) as err:
        raise ProviderUnreachable(f"{url} did not answer within {timeout:g} s.") from err
    except (urllib.error.URLError, OSError) as err:   # includes a provider that hangs up
        reason = getattr(err, "reason", err)
        raise ProviderUnreachable(f"Could not reach {url}: {reason}.") from err
    except http.client.HTTPException as err:   # a garbled status line, a cut-off body …
        raise ProviderBadResponse(f"{url} answered with malformed HTTP ({err!r}).") from err


def parse_json_answer(url: str, raw: bytes, status: int) -> dict:
    """A provider's answer as a JSON object, or ProviderBadResponse saying what it was."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        snippet = raw[:80].decode("utf-8", "replace")
        raise ProviderBadResponse(f"{url} answered HTTP {status} with something that is not "
                                  f"JSON: {snippet!r}") from err
    except RecursionError as err:   # a hostile provider's "[[[[…": one recursion per level
        raise ProviderBadResponse(f"{url} answered JSON nested too deeply to read.") from err
    if not isinstance(data, dict):
        raise ProviderBadResponse(f"{url} answered JSON that is not an object.")
    return data


def basic_authorization(client_id: str, secret: str) -> str:
    """RFC 6749 §2.3.1: client_id and secret are form-urlencoded, joined by ':', base64'd."""
    pair = urllib.parse.quote_plus(client_id) + ":" + urllib.parse.quote_plus(secret)
    return "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")


class Transport:
    """The client's calls to one provider, sharing one timeout (discovery, JWKS, token,
    userinfo, introspection, revocation): change it here and every call obeys."""

    def __init__(self, timeout: float = HTTP_TIMEOUT, events: EventBus | None = None):
        self.timeout = timeout
        self.events = events    # where each call is told (the HTTP log); None: nowhere

    def get(self, url: str, headers: dict | None = None) -> tuple:
        return http_json(url, headers=headers, timeout=self.timeout, events=self.events)

    def post(self, url: str, data: dict, headers: dict | None = None) -> tuple:
        return http_json(url, data=data, headers=headers, timeout=self.timeout,
                         events=self.events)
