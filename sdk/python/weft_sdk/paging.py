"""Reading a platform's list page by page, each page a durable step (a call run again after a
lost answer on page 5 reads from page 5), with a bound on pages so that a platform that never
says "last page" cannot keep a call going until its timeout."""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Tuple

from . import steps
from .errors import rejected

# The code of the error a list answers when it has more pages than its bound.
TOO_MANY_PAGES = "too-many-pages"


def all_pages(name: str, start: Any, max_pages: int, fetch: Callable[[Any], Tuple[List[Any], Optional[Any]]]) -> List[Any]:
    """Every row of list `name`: `fetch(at)` answers a page's rows and where the next page
    starts (None after the last: a cursor, an offset, a page number), each page run as step
    `{name}/page/{n}`. More than `max_pages` pages is `rejected`, coded `too-many-pages`."""
    rows: List[Any] = []
    at, pages = start, 0
    while at is not None:
        if pages == max_pages:
            raise rejected(TOO_MANY_PAGES, f"list {name} has more than {max_pages} pages; read {len(rows)} rows so far")
        pages += 1
        here = at
        page = steps.run(f"{name}/page/{pages}", steps.SAFE, lambda: list(fetch(here)))
        rows.extend(page[0])
        at = page[1]
    return rows
