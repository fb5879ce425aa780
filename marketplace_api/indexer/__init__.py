"""The chain indexer: the chain is the source of truth, the database its index.

The indexer mirrors the events of a deployment's DatasetRegistry, ModelMarket, FedTask and
ChallengeCourt into the database (``chain_events``, unique per transaction hash and log index)
and rebuilds from them what the API shows: dataset listings (with what their metadata documents
say), model listings, licences, tasks with their rounds, commitments, rewards, stakes and
challenges. It resumes from its cursor (the last block indexed and its hash), writes each range
of blocks in one transaction (a range indexed twice changes nothing), and rolls back the blocks a
reorg replaced. The API runs it in a background thread; ``fedmarket index`` runs it on its own.

Public surface::

    Indexer(database=, backend=, deployment=, deployment_id=, store=, options=)
        .sync(to_block=None, stop=None) -> SyncReport   # up to the head (less confirmations)
        .refresh_missing(limit) -> int           # fetch documents missing before
    IndexerOptions, SyncReport
    open_index(database=, backend=, deployment=, store=, options=) -> Indexer  # schema at head
    IndexerThread(indexer), follow(indexer, stop), catch_up(indexer, thread, timeout)
    TaskSnapshot, RoundRecord, ...               # what a task's row holds (``detail``)
    unstorable_text(value) -> [(loc, why)]       # text the database cannot store
"""

from marketplace_api.indexer._documents import (
    Allocation,
    DocumentRecord,
    EvidenceDocument,
    check_allocation,
    evidence_body,
    fetch_evidence,
    fetch_metadata,
    printable,
    unstorable_text,
)
from marketplace_api.indexer._tasks import (
    BatchRecord,
    ChallengeRecord,
    CommitRecord,
    RoundRecord,
    TaskSnapshot,
)
from marketplace_api.indexer.errors import (
    ChainMovedError,
    IndexBusyError,
    IndexerStoppedError,
    UndecodableLogError,
)
from marketplace_api.indexer.indexer import Indexer, IndexerOptions, SyncReport, retry_transient
from marketplace_api.indexer.runner import IndexerThread, catch_up, follow, open_index

__all__ = [
    "Allocation",
    "BatchRecord",
    "ChainMovedError",
    "ChallengeRecord",
    "CommitRecord",
    "DocumentRecord",
    "EvidenceDocument",
    "IndexBusyError",
    "Indexer",
    "IndexerOptions",
    "IndexerStoppedError",
    "IndexerThread",
    "RoundRecord",
    "SyncReport",
    "TaskSnapshot",
    "UndecodableLogError",
    "catch_up",
    "check_allocation",
    "evidence_body",
    "fetch_evidence",
    "fetch_metadata",
    "follow",
    "open_index",
    "printable",
    "retry_transient",
    "unstorable_text",
]
