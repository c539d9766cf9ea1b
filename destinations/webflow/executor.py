"""Executes planned ops against the target, a dlt batch at a time (the dlt destination's body).

Idempotency, since dlt delivers a batch at least once (DLT_NOTES section 1, trap 4):
1. the ledger is checked first: objects it already maps are never written again;
2. before a create is sent, an intent is stored in the ledger and committed (DuckDB syncs it;
   the commit also covers the ops before it in the batch; the uploads of a batch commit their
   intents together, before the first one is sent); when the op comes again with its intent
   still in flight, the response was lost, and the objects are first looked up by natural key
   in the target (collection/field slug, folder name + parent, file name + MD5, item slug);
3. updates, publishes and deletes are idempotent by nature and are simply sent again.

Errors: a 400 on a bulk request is narrowed to the offending entries (from `details`, or by
splitting the batch) which are recorded in the audit table; the rest is sent again, so the loop
always shrinks and a 400 is never retried as is. 401/403 stop the run (MissingScopeError). 5xx
and lost connections surface as transient errors: dlt retries the op, and step 2 recovers.
"""

from __future__ import annotations

from .assets import AssetOps
from .item_ops import ItemOps
from .publish import PublishOps
from .schema import SchemaOps


class Executor(SchemaOps, AssetOps, ItemOps, PublishOps):
    """Runs ops for one target site (one at a time); each module adds the handlers of its ops."""
