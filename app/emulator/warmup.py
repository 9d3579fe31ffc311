"""Warm-up: render ahead the Bulk API 2.0 CSV that a full load selects, so its jobs stream from memory.

A full load selects every field Bulk allows (all but compound and base64 fields), the loader's
system fields first and the rest in describe order; that projection of each large object is
rendered block by block into the tables' CSV cache, largest objects first, until the emulator's
cache budget is spent (the warm-up never evicts what it rendered; jobs later evict the least
recently used blocks). In a process with no other threads yet (before the server starts) the
blocks are rendered by forked worker processes, one per core; otherwise in this thread.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from app.emulator.org import Org
from app.emulator.table import BLOCK_ROWS, CsvChunk, Table

_TABLES: dict[tuple[str, str], Table] = {}  # what forked workers render from


# orgfeed's loader selects these first, then the other fields in describe order
# (app.salesforce.describe.selectable_fields); the emulator may not import the loader's code.
LOADER_FIRST_FIELDS = ("Id", "SystemModstamp", "IsDeleted", "CreatedDate")


def full_load_fields(table: Table) -> tuple[str, ...]:
    """Return the fields a full Bulk load selects, in the loader's order: every field but compound and base64 ones.

    The order matters: the cache is per projection, and a load asking for another order renders
    its CSV again (at about 200,000 rows/s on one core) instead of streaming the warm blocks.
    """
    names = [f.name for f in table.sobject.fields if not f.is_compound and f.type != "base64"]
    first = [name for name in LOADER_FIRST_FIELDS if name in names]
    return tuple(first + [name for name in names if name not in first])


def warm_bulk_cache(orgs: Sequence[Org], min_rows: int) -> int:
    """Render full-load CSV blocks into the tables' caches; return the rows rendered."""
    # Largest objects first; among equal sizes, the org's first objects (Employee) in every org.
    candidates = [
        (position, org_index, org, table)
        for org_index, org in enumerate(orgs)
        for position, table in enumerate(org.tables.values())
        if table.size >= min_rows
    ]
    tables = [(org, table) for _, _, org, table in sorted(candidates, key=lambda c: (-c[3].size, c[0], c[1]))]
    if not tables:
        return 0
    workers = os.cpu_count() or 1
    if workers > 1 and threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return _warm_in_processes(tables, workers)
    rendered = 0
    for org, table in tables:
        fields = full_load_fields(table)
        for block in range(table.size // BLOCK_ROWS):
            with org.lock:
                start = block * BLOCK_ROWS
                if not table.keep_block(
                    fields, block, table.csv_chunk(fields, range(start, start + BLOCK_ROWS)), evict=False
                ):
                    return rendered
            rendered += BLOCK_ROWS
    return rendered


def _warm_in_processes(tables: list[tuple[Org, Table]], workers: int) -> int:
    _TABLES.clear()
    _TABLES.update({(org.name, table.sobject.name): table for org, table in tables})
    rendered = 0
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            for org, table in tables:
                fields = full_load_fields(table)
                jobs = [(org.name, table.sobject.name, fields, block) for block in range(table.size // BLOCK_ROWS)]
                for (_, _, _, block), chunk in zip(jobs, pool.map(_render_block, jobs, chunksize=8)):
                    if not table.keep_block(fields, block, chunk, evict=False):
                        pool.shutdown(cancel_futures=True)  # the budget is spent
                        return rendered
                    rendered += BLOCK_ROWS
    finally:
        _TABLES.clear()
    return rendered


def _render_block(job: tuple[str, str, tuple[str, ...], int]) -> CsvChunk:
    org, sobject, fields, block = job
    table = _TABLES[(org, sobject)]
    start = block * BLOCK_ROWS
    return table.csv_chunk(fields, range(start, start + BLOCK_ROWS))
