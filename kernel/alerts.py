"""Breach alerts: one typed record and one hook, fired where a breach becomes detectable.

The detectable events are a failed integrity check (bytes that do not match their hash or
anchor), an unexpected key use (a ciphertext or wrapped key opened with a key it was not made
for, a signature from another key than expected) and a tampered log (the access log's hash
chain broken). Code that detects one calls :func:`raise_alert`, which always logs the alert
and, when configured, delivers it as JSON::

    FEDMARKET_BREACH_WEBHOOK=https://ops.example/hook   # POSTed, application/json
    FEDMARKET_BREACH_COMMAND="/usr/local/bin/page-oncall --fedmarket"   # the JSON on stdin
    FEDMARKET_BREACH_TIMEOUT_S=5                        # per delivery (default 5 s)

The hook never raises into the caller (a failed delivery is logged) and never carries secrets:
the detail is cut to :data:`MAX_DETAIL_CHARS` characters and the values of environment
variables whose names hold ``KEY``, ``SECRET``, ``PASSWORD`` or ``TOKEN`` are blanked out of
it. Only the standard library is used (the kernel imports nothing else).
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Literal, get_args

log = logging.getLogger(__name__)

AlertKind = Literal["integrity_failure", "unexpected_key_use", "tampered_log"]
ALERT_KINDS: tuple[str, ...] = get_args(AlertKind)

WEBHOOK_ENV = "FEDMARKET_BREACH_WEBHOOK"
COMMAND_ENV = "FEDMARKET_BREACH_COMMAND"
TIMEOUT_ENV = "FEDMARKET_BREACH_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 5.0
MAX_DETAIL_CHARS = 1000
SECRET_NAME_MARKERS = ("KEY", "SECRET", "PASSWORD", "TOKEN")
"""An environment variable whose name holds one of these is treated as a secret."""
_MIN_SECRET_CHARS = 8
"""Shorter values are not blanked out (they would blank ordinary words and numbers)."""


@dataclass(frozen=True)
class BreachAlert:
    """A detected event that may be a breach.

    Attributes
    ----------
    kind : {"integrity_failure", "unexpected_key_use", "tampered_log"}
        What was detected.
    detail : str
        One line saying what and where (no secrets: see :func:`scrub`).
    time : float
        When it was detected (Unix seconds).
    source : str
        The module that detected it, e.g. ``"storage.access_log"``.
    version : int
        The record's layout version.
    """

    kind: AlertKind
    detail: str
    time: float
    source: str = ""
    version: int = 1

    def to_json(self) -> bytes:
        """The alert as the JSON object the hook delivers (UTF-8, sorted keys)."""
        return json.dumps(asdict(self), sort_keys=True).encode("utf-8")


def scrub(text: str, environ: Mapping[str, str] | None = None) -> str:
    """``text`` on one line, cut to :data:`MAX_DETAIL_CHARS`, secret variables' values blanked.

    Parameters
    ----------
    text : str
        The detail to clean.
    environ : Mapping or None, default None
        Where secrets are looked for (``os.environ`` when None).
    """
    env = os.environ if environ is None else environ
    cleaned = " ".join(text.split())
    for name, value in env.items():
        secret = any(m in name.upper() for m in SECRET_NAME_MARKERS)
        if secret and len(value) >= _MIN_SECRET_CHARS:
            cleaned = cleaned.replace(value, "[redacted]")
            cleaned = cleaned.replace(value.removeprefix("0x"), "[redacted]")
    return cleaned[:MAX_DETAIL_CHARS]


@dataclass(frozen=True)
class AlertHook:
    """Where alerts are delivered: a webhook, a command, both or neither.

    Attributes
    ----------
    webhook : str or None
        An ``http(s)`` URL the alert's JSON is POSTed to.
    command : tuple of str or None
        A command run with the alert's JSON on its stdin.
    timeout_s : float
        Limit of each delivery.
    """

    webhook: str | None = None
    command: tuple[str, ...] | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AlertHook:
        """The hook the environment configures (see the module docstring).

        Parameters
        ----------
        environ : Mapping or None, default None
            The variables to read (``os.environ`` when None).
        """
        env = os.environ if environ is None else environ
        command = env.get(COMMAND_ENV, "").strip()
        try:
            timeout = float(env.get(TIMEOUT_ENV, "") or DEFAULT_TIMEOUT_S)
        except ValueError:
            log.warning("alerts: %s is not a number; using %s s", TIMEOUT_ENV, DEFAULT_TIMEOUT_S)
            timeout = DEFAULT_TIMEOUT_S
        return cls(
            webhook=env.get(WEBHOOK_ENV, "").strip() or None,
            command=tuple(shlex.split(command)) if command else None,
            timeout_s=timeout,
        )

    def fire(self, alert: BreachAlert) -> bool:
        """Deliver ``alert`` everywhere configured; never raise.

        Parameters
        ----------
        alert : BreachAlert
            What to deliver.

        Returns
        -------
        bool
            Whether every configured delivery succeeded (``True`` when none is configured).
        """
        ok = True
        if self.webhook is not None:
            ok = self._post(alert) and ok
        if self.command is not None:
            ok = self._run(alert) and ok
        return ok

    def _post(self, alert: BreachAlert) -> bool:
        assert self.webhook is not None
        where = _shown_url(self.webhook)  # the URL's path or query may hold a token
        if urllib.parse.urlsplit(self.webhook).scheme not in ("http", "https"):
            log.error("alerts: webhook %s is not an http(s) URL; alert not sent", where)
            return False
        request = urllib.request.Request(
            self.webhook,
            data=alert.to_json(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                status = int(response.status)
        except Exception as exc:  # never raise into the detection point
            log.error("alerts: webhook %s failed: %s", where, type(exc).__name__)
            return False
        if not 200 <= status < 300:
            log.error("alerts: webhook %s answered %d", where, status)
            return False
        return True

    def _run(self, alert: BreachAlert) -> bool:
        assert self.command is not None
        try:
            done = subprocess.run(  # noqa: S603 - the operator's own command
                list(self.command),
                input=alert.to_json(),
                capture_output=True,
                timeout=self.timeout_s,
                check=False,
            )
        except Exception as exc:  # never raise into the detection point
            log.error("alerts: command %s failed: %s", self.command[0], type(exc).__name__)
            return False
        if done.returncode != 0:
            log.error("alerts: command %s exited %d", self.command[0], done.returncode)
            return False
        return True


def _shown_url(url: str) -> str:
    """Scheme and host of ``url`` only (its path, query or user info may be a secret)."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}"


def raise_alert(
    kind: AlertKind, detail: str, *, source: str = "", hook: AlertHook | None = None
) -> BreachAlert:
    """Log a breach alert and deliver it through the configured hook; never raise.

    Parameters
    ----------
    kind : {"integrity_failure", "unexpected_key_use", "tampered_log"}
        What was detected.
    detail : str
        What and where, in one line; secrets are blanked out (:func:`scrub`).
    source : str, default ""
        The detecting module (pass ``__name__``).
    hook : AlertHook or None, default None
        Where to deliver it; read from the environment when None.

    Returns
    -------
    BreachAlert
        The alert as delivered.
    """
    if kind not in ALERT_KINDS:
        log.error("alerts: unknown kind %r reported as integrity_failure", kind)
        kind = "integrity_failure"
    alert = BreachAlert(kind=kind, detail=scrub(detail), time=time.time(), source=source)
    log.warning("breach alert: %s from %s: %s", alert.kind, source or "?", alert.detail)
    try:
        (hook or AlertHook.from_env()).fire(alert)
    except Exception as exc:  # the hook's own bug must not reach the detection point
        log.error("alerts: hook failed: %s", type(exc).__name__)
    return alert


__all__ = [
    "ALERT_KINDS",
    "COMMAND_ENV",
    "TIMEOUT_ENV",
    "WEBHOOK_ENV",
    "AlertHook",
    "AlertKind",
    "BreachAlert",
    "raise_alert",
    "scrub",
]
