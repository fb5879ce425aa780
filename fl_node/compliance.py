"""The sponsor contract's data duties: forgetting a participant's data, anchoring the access log.

Forgetting (``fedmarket data forget``)
    :func:`forget` lists the participant's raw data files and cache folders (path, sha-256,
    size), overwrites each file with random bytes, syncs and unlinks it, then returns a
    :class:`DeletionRecord` signed by the participant (EIP-191 ``personal_sign`` over the
    record's canonical JSON). :func:`anchor_deletion` anchors the record's sha-256 on-chain
    (:mod:`chain.anchor`), and :func:`verify_deletion` checks the signature, the anchor and that
    the files are gone. Overwriting in place is what a program can do: on copy-on-write file
    systems, SSDs (wear levelling) and snapshotted or backed-up volumes old blocks may survive,
    which only full-disk encryption with a destroyed key rules out.

Anchoring the access log
    The access log (:mod:`storage.access_log`) cannot detect the truncation of its newest
    entries by itself; :func:`anchor_log_head` anchors its head on-chain and records the anchor
    in the log's ``anchors.jsonl``, :func:`anchor_if_due` does so periodically, and
    :func:`verify_log` checks every recorded anchor on-chain before checking the log against the
    newest one. A failed check fires a breach alert (:mod:`kernel.alerts`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from chain.anchor import AnchorRecord, anchor, anchor_kind, verify_anchor
from chain.backends import ChainBackend
from chain.errors import AnchorMismatchError, AnchorNotFoundError
from chain.signer import Signer
from fl_node.errors import DeletionRecordError, ForgetTargetError
from kernel.alerts import raise_alert
from kernel.types import Address
from storage.access_log import AccessLog, LogHead, LogProblem, LogVerification
from storage.base import canonical_json

log = logging.getLogger(__name__)

DELETION_KIND = anchor_kind("fedmarket.deletion.v1")
"""The anchor kind of deletion records."""
LOG_HEAD_KIND = anchor_kind("fedmarket.access-log.v1")
"""The anchor kind of access-log heads."""
ANCHORS_FILE = "anchors.jsonl"
"""Where the log's anchors are recorded, in the log's folder."""
DEFAULT_ANCHOR_PERIOD_S = 86_400.0
"""How often :func:`anchor_if_due` anchors a moved head: daily."""
RECORD_VERSION = 1
_CHUNK = 1 << 20


# ----------------------------------------------------------------------------- deletion records


@dataclass(frozen=True)
class DeletedFile:
    """One file deleted, as it was just before.

    Attributes
    ----------
    path : str
        Absolute path.
    sha256 : str
        Hex sha-256 of its bytes.
    size : int
        Its size in bytes.
    kind : {"data", "cache"}
        A raw data copy (``--data``) or a file of a cache folder (``--cache``).
    """

    path: str
    sha256: str
    size: int
    kind: Literal["data", "cache"]


@dataclass(frozen=True)
class DeletionRecord:
    """What was deleted, by whom, when: the content the participant signs.

    Attributes
    ----------
    participant : Address
        The participant's address (who signs).
    task_id : int or None
        The task whose training the data served, if given.
    files : tuple of DeletedFile
        Every file deleted.
    caches : tuple of str
        The cache folders removed (their files are in ``files``).
    time : float
        When the deletion finished (Unix seconds).
    version : int
        The record's layout version.
    """

    participant: Address
    task_id: int | None
    files: tuple[DeletedFile, ...]
    caches: tuple[str, ...]
    time: float
    version: int = RECORD_VERSION

    def message(self) -> bytes:
        """The canonical JSON that is signed."""
        return canonical_json(asdict(self))

    def digest(self) -> bytes:
        """sha-256 of :meth:`message`: the root anchored on-chain."""
        return hashlib.sha256(self.message()).digest()

    @classmethod
    def from_dict(cls, data: Any) -> DeletionRecord:
        """Parse :func:`dataclasses.asdict`'s form.

        Raises
        ------
        DeletionRecordError
            A field is missing or malformed.
        """
        try:
            files = tuple(DeletedFile(**f) for f in data["files"])
            return cls(
                participant=Address(to_checksum_address(str(data["participant"]))),
                task_id=None if data["task_id"] is None else int(data["task_id"]),
                files=files,
                caches=tuple(str(c) for c in data["caches"]),
                time=float(data["time"]),
                version=int(data["version"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DeletionRecordError(f"deletion record: malformed ({exc})") from None


@dataclass(frozen=True)
class SignedDeletion:
    """A deletion record, its signature and where it was anchored.

    Attributes
    ----------
    record : DeletionRecord
        The signed content.
    signature : str
        ``0x`` hex of the 65-byte EIP-191 signature over ``record.message()``.
    anchor : AnchorRecord or None
        The on-chain anchor of ``record.digest()``, once anchored.
    anchor_note : str
        Where the anchor lives (or why there is none).
    """

    record: DeletionRecord
    signature: str
    anchor: AnchorRecord | None = None
    anchor_note: str = ""

    def to_json(self) -> str:
        """The record file's text (indented JSON)."""
        data = {
            "record": asdict(self.record),
            "signature": self.signature,
            "digest": "0x" + self.record.digest().hex(),
            "anchor": None if self.anchor is None else self.anchor.to_dict(),
            "anchor_note": self.anchor_note,
        }
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def load(cls, path: str | Path) -> SignedDeletion:
        """Read a record file written with :meth:`to_json`.

        Raises
        ------
        ForgetTargetError
            The file cannot be read.
        DeletionRecordError
            The file is not a deletion record.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            raw_anchor = data["anchor"]
            return cls(
                record=DeletionRecord.from_dict(data["record"]),
                signature=str(data["signature"]),
                anchor=None if raw_anchor is None else AnchorRecord.from_dict(raw_anchor),
                anchor_note=str(data.get("anchor_note", "")),
            )
        except OSError as exc:
            raise ForgetTargetError(f"{path}: cannot be read ({exc.strerror})") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise DeletionRecordError(f"{path}: not a deletion record ({exc})") from None


@dataclass(frozen=True)
class DeletionCheck:
    """What :func:`verify_deletion` found.

    Attributes
    ----------
    signer : Address
        Who signed (equal to the record's participant, else verification raised).
    anchor_time : int or None
        The anchor's block timestamp when the anchor was checked on-chain.
    remaining : tuple of str
        Files or folders of the record that still exist.
    note : str
        What was not checked, and why.
    """

    signer: Address
    anchor_time: int | None
    remaining: tuple[str, ...]
    note: str = ""

    @property
    def ok(self) -> bool:
        """Whether every recorded path is gone (signature and anchor raised otherwise)."""
        return not self.remaining


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _guard(path: Path) -> Path:
    """``path`` resolved; refuse the file system's root and the home folder."""
    resolved = path.resolve()
    if resolved == Path(resolved.anchor) or resolved == Path.home().resolve():
        raise ForgetTargetError(f"forget: refusing to delete {resolved}")
    return resolved


def inventory(data: Sequence[Path], caches: Sequence[Path]) -> tuple[DeletedFile, ...]:
    """Every file to delete, hashed: the data files, then each cache folder's regular files.

    Parameters
    ----------
    data : sequence of Path
        Raw data copies (regular files).
    caches : sequence of Path
        Cache folders (symbolic links inside are removed, not followed).

    Raises
    ------
    ForgetTargetError
        A data path is not a regular file, a cache path is not a folder, or a path is too broad.
    """
    found: list[DeletedFile] = []
    for path in data:
        target = _guard(path)
        if path.is_symlink() or not target.is_file():
            raise ForgetTargetError(
                f"forget: {path} is not a regular file (use --cache for folders)"
            )
        found.append(DeletedFile(str(target), _sha256_file(target), target.stat().st_size, "data"))
    for folder in caches:
        root = _guard(folder)
        if folder.is_symlink() or not root.is_dir():
            raise ForgetTargetError(f"forget: cache {folder} is not a folder")
        for file in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
            found.append(DeletedFile(str(file), _sha256_file(file), file.stat().st_size, "cache"))
    return tuple(found)


def overwrite_and_unlink(path: Path) -> None:
    """Overwrite ``path``'s bytes with random ones, sync them to disk, then unlink it.

    Parameters
    ----------
    path : Path
        A regular file.
    """
    size = path.stat().st_size
    with path.open("r+b") as fh:
        left = size
        while left > 0:
            step = min(left, _CHUNK)
            fh.write(os.urandom(step))
            left -= step
        fh.flush()
        os.fsync(fh.fileno())
    path.unlink()


def sign_deletion(record: DeletionRecord, account: LocalAccount) -> SignedDeletion:
    """Sign ``record`` with the participant's key (EIP-191 ``personal_sign``).

    Parameters
    ----------
    record : DeletionRecord
        Its ``participant`` must be ``account``'s address.
    account : LocalAccount
        The participant's key.
    """
    if str(record.participant) != str(account.address):
        raise ForgetTargetError(f"forget: the record names {record.participant}, the key is not")
    signed = account.sign_message(encode_defunct(primitive=record.message()))
    return SignedDeletion(record=record, signature="0x" + bytes(signed.signature).hex())


def forget(
    data: Sequence[Path],
    caches: Sequence[Path],
    account: LocalAccount,
    *,
    task_id: int | None = None,
) -> SignedDeletion:
    """Delete the data copies and cache folders; return the signed record of what was deleted.

    Everything is listed and hashed before anything is deleted, so a bad path deletes nothing.

    Parameters
    ----------
    data : sequence of Path
        Raw data copies.
    caches : sequence of Path
        Cache folders.
    account : LocalAccount
        The participant's key, which signs the record.
    task_id : int or None, default None
        The task the data was used for.

    Raises
    ------
    ForgetTargetError
        A path is missing, of the wrong kind or too broad (nothing is deleted then).
    """
    if not data and not caches:
        raise ForgetTargetError("forget: give at least one --data file or --cache folder")
    files = inventory(data, caches)
    for entry in files:
        overwrite_and_unlink(Path(entry.path))
    folders = tuple(str(_guard(c)) for c in caches)
    for folder in folders:
        shutil.rmtree(folder)
    log.info("forget: %d file(s) and %d cache folder(s) deleted", len(files), len(folders))
    record = DeletionRecord(
        participant=Address(account.address),
        task_id=task_id,
        files=files,
        caches=folders,
        time=time.time(),
    )
    return sign_deletion(record, account)


def anchor_deletion(signed: SignedDeletion, signer: Signer, note: str = "") -> SignedDeletion:
    """Anchor the record's digest on-chain from the participant's account.

    Parameters
    ----------
    signed : SignedDeletion
        The signed record.
    signer : Signer
        The participant's signer (it pays the gas).
    note : str, default ""
        Where the anchor lives, kept in the record file.
    """
    if str(signer.address) != str(signed.record.participant):
        raise DeletionRecordError("anchor_deletion: anchor it from the participant's account")
    record = anchor(signer, DELETION_KIND, signed.record.digest())
    return replace(signed, anchor=record, anchor_note=note or f"chain {record.chain_id}")


def recover_deletion_signer(signed: SignedDeletion) -> Address:
    """The address that signed the record, or raise.

    Raises
    ------
    DeletionRecordError
        The signature is malformed or recovers another address than the participant's.
    """
    try:
        signature = bytes.fromhex(signed.signature.removeprefix("0x"))
        found = Account.recover_message(
            encode_defunct(primitive=signed.record.message()), signature=signature
        )
    except Exception:  # eth-account raises several kinds for a malformed signature
        found = None
    if found != signed.record.participant:
        detail = f"deletion record of {signed.record.participant}: the signature does not match"
        raise_alert("integrity_failure", detail, source=__name__)
        raise DeletionRecordError(detail)
    return Address(found)


def verify_deletion(
    signed: SignedDeletion, backend: ChainBackend | None = None, *, check_files: bool = True
) -> DeletionCheck:
    """Check a deletion record: its signature, its anchor (given a chain), that files are gone.

    Parameters
    ----------
    signed : SignedDeletion
        The record as loaded.
    backend : ChainBackend or None, default None
        The chain the record was anchored on; without it the anchor is not checked.
    check_files : bool, default True
        Look for the recorded paths on this machine.

    Raises
    ------
    DeletionRecordError
        The signature does not match, or the anchor anchors another record or another sender.
    AnchorNotFoundError, AnchorMismatchError
        The anchor's transaction is not on this chain, or differs from its record.
    """
    signer = recover_deletion_signer(signed)
    anchor_time, note = None, ""
    if signed.anchor is None:
        note = "not anchored"
    elif backend is None:
        note = f"anchor not checked: {signed.anchor_note}"
    else:
        _check_deletion_anchor(signed)
        anchor_time = verify_anchor(backend, signed.anchor)
    paths = [f.path for f in signed.record.files] + list(signed.record.caches)
    remaining = tuple(p for p in paths if check_files and os.path.lexists(p))
    return DeletionCheck(signer=signer, anchor_time=anchor_time, remaining=remaining, note=note)


def _check_deletion_anchor(signed: SignedDeletion) -> None:
    assert signed.anchor is not None
    expected = (DELETION_KIND, signed.record.digest(), signed.record.participant)
    if (signed.anchor.kind, signed.anchor.root, signed.anchor.sender) != expected:
        detail = "deletion record: its anchor is for another record, kind or sender"
        raise_alert("integrity_failure", detail, source=__name__)
        raise DeletionRecordError(detail)


# ----------------------------------------------------------------------------- access-log anchors


@dataclass(frozen=True)
class LogAnchor:
    """An anchored access-log head.

    Attributes
    ----------
    head : LogHead
        The head anchored.
    anchor : AnchorRecord
        Where.
    """

    head: LogHead
    anchor: AnchorRecord

    def to_line(self) -> str:
        """One JSON line of ``anchors.jsonl``."""
        return json.dumps({"head": asdict(self.head), "anchor": self.anchor.to_dict()})

    @classmethod
    def from_line(cls, line: str) -> LogAnchor:
        """Parse :meth:`to_line`'s form."""
        data = json.loads(line)
        head = LogHead(seq=int(data["head"]["seq"]), hash=str(data["head"]["hash"]))
        return cls(head=head, anchor=AnchorRecord.from_dict(data["anchor"]))


def log_anchors(access_log: AccessLog) -> list[LogAnchor]:
    """The anchors recorded for ``access_log``, oldest first (unverified)."""
    path = access_log.root / ANCHORS_FILE
    if not path.is_file():
        return []
    return [LogAnchor.from_line(line) for line in path.read_text("utf-8").splitlines() if line]


def anchor_log_head(access_log: AccessLog, signer: Signer) -> LogAnchor | None:
    """Anchor the log's head on-chain and record the anchor; None for an empty log.

    Parameters
    ----------
    access_log : AccessLog
        The log.
    signer : Signer
        The log keeper's signer (pays the gas).
    """
    head = access_log.head()
    if head is None:
        return None
    record = LogAnchor(head=head, anchor=anchor(signer, LOG_HEAD_KIND, head.root))
    with (access_log.root / ANCHORS_FILE).open("a", encoding="utf-8") as fh:
        fh.write(record.to_line() + "\n")
    log.info("anchor_log_head: seq %d anchored in block %d", head.seq, record.anchor.block)
    return record


def anchor_if_due(
    access_log: AccessLog,
    signer: Signer,
    *,
    period_s: float = DEFAULT_ANCHOR_PERIOD_S,
    now: float | None = None,
) -> LogAnchor | None:
    """Anchor the head when it moved and the last anchor is ``period_s`` old; call it often.

    Parameters
    ----------
    access_log : AccessLog
        The log.
    signer : Signer
        The log keeper's signer.
    period_s : float, default DEFAULT_ANCHOR_PERIOD_S
        Least time between two anchors, judged by the chain's block timestamps.
    now : float or None, default None
        The time to judge by (the chain's time when None).
    """
    head = access_log.head()
    anchors = log_anchors(access_log)
    if head is None or (anchors and anchors[-1].head == head):
        return None
    if anchors:
        last = signer.backend.w3.eth.get_block(anchors[-1].anchor.block)
        current = signer.backend.chain_time() if now is None else now
        if current - int(last["timestamp"]) < period_s:
            return None
    return anchor_log_head(access_log, signer)


def _keeper_problems(
    backend: ChainBackend, keeper: str, valid: Sequence[LogAnchor]
) -> list[LogProblem]:
    """What the keeper's account says of the listed anchors: all sent by it, none missing.

    The keeper's account is dedicated to anchoring this log, so every transaction it ever sent
    (its nonce) is an anchor that ``anchors.jsonl`` must list: fewer listed means lines (or the
    whole file) were removed, which would otherwise hide a cut tail of the log.
    """
    problems = [
        LogProblem(
            ANCHORS_FILE,
            0,
            f"anchor in block {a.anchor.block} sent by "
            f"{a.anchor.sender}, not by the keeper {keeper}",
        )  # fmt: skip
        for a in valid
        if a.anchor.sender.lower() != keeper.lower()
    ]
    sent = int(backend.w3.eth.get_transaction_count(to_checksum_address(keeper)))
    mine = len(valid) - len(problems)
    if sent > mine:
        problems.append(
            LogProblem(
                ANCHORS_FILE,
                0,
                f"the keeper {keeper} sent {sent} anchor transactions, {mine} are listed: "
                "anchors were removed from the list",
            )
        )
    return problems


def verify_log(
    access_log: AccessLog, backend: ChainBackend, *, keeper: str | None = None
) -> LogVerification:
    """Check every recorded anchor on-chain, then the log against the newest one.

    An anchor that is not on the chain, or anchors another head, is a problem of the report (a
    forged ``anchors.jsonl``); the log is then checked against the newest anchor that holds.
    With ``keeper``, every anchor must be the keeper's, and every transaction the keeper sent
    must be listed (so deleting ``anchors.jsonl``, or its last lines, is detected too). A report
    with problems fires one ``tampered_log`` breach alert.

    Parameters
    ----------
    access_log : AccessLog
        The log.
    backend : ChainBackend
        The chain its head is anchored on.
    keeper : str or None, default None
        The address of the log keeper's account (dedicated to anchoring this log).
    """
    problems: list[LogProblem] = []
    valid: list[LogAnchor] = []
    for number, item in enumerate(log_anchors(access_log), start=1):
        try:
            if (item.anchor.kind, item.anchor.root) != (LOG_HEAD_KIND, item.head.root):
                raise AnchorMismatchError("the anchor is for another head")
            verify_anchor(backend, item.anchor)
            valid.append(item)
        except (AnchorMismatchError, AnchorNotFoundError) as exc:
            problems.append(LogProblem(ANCHORS_FILE, number, str(exc)))
    if keeper is not None:
        problems += _keeper_problems(backend, keeper, valid)
    newest = max(valid, key=lambda a: a.head.seq, default=None)
    report = access_log.verify(None if newest is None else newest.head, alert=not problems)
    if problems:
        report = replace(report, problems=(*problems, *report.problems))
        shown = "; ".join(str(p) for p in report.problems[:3])
        raise_alert("tampered_log", f"access log {access_log.root}: {shown}", source=__name__)
    return report


__all__ = [
    "DELETION_KIND",
    "LOG_HEAD_KIND",
    "DeletedFile",
    "DeletionCheck",
    "DeletionRecord",
    "LogAnchor",
    "SignedDeletion",
    "anchor_deletion",
    "anchor_if_due",
    "anchor_log_head",
    "forget",
    "inventory",
    "log_anchors",
    "overwrite_and_unlink",
    "recover_deletion_signer",
    "sign_deletion",
    "verify_deletion",
    "verify_log",
]
