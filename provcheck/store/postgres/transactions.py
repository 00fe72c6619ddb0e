"""Write transactions of the PostgreSQL store: all or nothing, and in commit order.

- The first write of mirrored rows (items, hashes, keypoints, removals) opens a row in
  ``batches``; its id becomes the ``batch_id`` of every row the transaction writes (through the
  transaction-local setting ``provcheck.batch``, the columns' default).
- The last statements before COMMIT give the batch the next ``seq`` under a transaction-scoped
  advisory lock. The server releases the lock only after the commit is visible, so the seqs a
  reader can see are always a prefix of the commit order: a scanner that has seen every batch up
  to seq k has seen everything committed before it (``provcheck.store.postgres.mirror``). Only
  this tail is serialised between writers; hashing and inserts run side by side.
- A killed writer (its connection drops) leaves nothing: the server rolls the whole transaction
  back, batch row included, and the lock goes with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from provcheck.errors import DatabaseError
from provcheck.store.postgres.reads import PostgresReads
from provcheck.store.postgres.schema import COMMIT_LOCK

#: NOTIFY channel a write transaction signals on commit (for listeners that want a wake-up).
CHANNEL = "provcheck_changes"


class PostgresTransactions(PostgresReads):
    """Reads, plus the transactions every change runs in."""

    _in_tx = False
    _batch: int | None = None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: an exception inside rolls every write back."""
        self._require_writable()
        if self._in_tx:
            raise DatabaseError("internal error: store transactions do not nest")
        with self._db.lock, self._db.errors(), self._db.raw.transaction():
            self._in_tx, self._batch = True, None
            try:
                yield
                self._flush_pending()
                if self._batch is not None:
                    # One round trip: the server runs them in order, the UPDATE once the lock
                    # is ours.
                    with self._db.raw.pipeline():
                        self._db.raw.execute("SELECT pg_advisory_xact_lock(%s)", (COMMIT_LOCK,))
                        self._db.raw.execute(
                            "UPDATE batches SET seq = nextval('commit_seq'), committed_at = now(),"
                            " writer = current_user WHERE id = %s",
                            (self._batch,),
                        )
                        self._db.raw.execute(f"NOTIFY {CHANNEL}")
            finally:
                self._in_tx, self._batch = False, None
                self._drop_pending()

    def _flush_pending(self) -> None:
        """Write what was queued for the end of the transaction (``PostgresWrites``)."""

    def _drop_pending(self) -> None:
        """Forget what was queued (the transaction is over, committed or not)."""

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Inside the caller's transaction, or in one of its own."""
        self._require_writable()
        if self._in_tx:
            yield
            return
        with self.transaction():
            yield

    def _batch_id(self) -> int:
        """The id of this transaction's batch, opened by its first write of mirrored rows."""
        if self._batch is None:
            self._batch = int(
                self._db.scalar(
                    "WITH b AS (INSERT INTO batches DEFAULT VALUES RETURNING id)"
                    " SELECT id, set_config('provcheck.batch', id::text, true) FROM b"
                )
            )
        return self._batch
