"""SearchTables of the SQL catalog store: one query over the tables of every database."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, exists, select

from sluice.catalog.core.model import Comparator, PropertyPredicate, SortCriterion, Table
from sluice.catalog.core.names import text_value
from sluice.catalog.core.store import sql_checks as checks
from sluice.catalog.core.store.rows import SqlTableParameter
from sluice.catalog.core.store.sql_base import DATABASES, TABLES, SqlStoreBase, segment_filter
from sluice.catalog.core.store.sql_table_values import TABLE_COLUMNS, table_from_values
from sluice.common.errors import InvalidInput
from sluice.common.paging import Page, PageRequest

PARAMETERS = SqlTableParameter.__table__
# Glue's ValueString bounds SearchText and a filter's key and value; Glue documents no bound
# on the number of filters, each of which is one more condition to plan.
MAX_SEARCH_TEXT = 1024
MAX_FILTERS = 20

_SORTABLE: dict[str, Any] = {
    "name": TABLES.c.name,
    "database_name": DATABASES.c.name,
    "owner": TABLES.c.owner,
    "table_type": TABLES.c.table_type,
    "update_time": TABLES.c.update_time,
    "create_time": TABLES.c.create_time,
}
_FILTERABLE: dict[str, Any] = {
    "database_name": DATABASES.c.name,
    "name": TABLES.c.name,
    "owner": TABLES.c.owner,
    "table_type": TABLES.c.table_type,
    "description": TABLES.c.description,
}
# Names are stored lower-case, so filters on them compare lower-cased values.
_LOWER_CASE_KEYS = frozenset({"database_name", "name"})
_COMPARE: dict[Comparator, Callable[[Any, Any], ColumnElement[bool]]] = {
    Comparator.EQUALS: operator.eq,
    Comparator.GREATER_THAN: operator.gt,
    Comparator.LESS_THAN: operator.lt,
    Comparator.GREATER_THAN_EQUALS: operator.ge,
    Comparator.LESS_THAN_EQUALS: operator.le,
}


def _condition(predicate: PropertyPredicate) -> ColumnElement[bool]:
    """A filter on a table field, or else on the table parameter the key names."""
    text_value("a filter key", predicate.key, MAX_SEARCH_TEXT)
    text_value("a filter value", predicate.value, MAX_SEARCH_TEXT)
    try:
        compare = _COMPARE[Comparator(predicate.comparator)]
    except ValueError:
        raise InvalidInput(f"comparator {predicate.comparator!r} is not valid") from None
    if not predicate.key:
        raise InvalidInput("a filter key must not be empty")
    column = _FILTERABLE.get(predicate.key)
    if column is not None:
        value = predicate.value.lower() if predicate.key in _LOWER_CASE_KEYS else predicate.value
        return compare(column, value)
    return exists().where(
        PARAMETERS.c.table_id == TABLES.c.id,
        PARAMETERS.c.key == predicate.key,
        compare(PARAMETERS.c.value, predicate.value),
    )


def _order(sort_criteria: Sequence[SortCriterion]) -> list[Any]:
    order = []
    for criterion in sort_criteria:
        column = _SORTABLE.get(criterion.field_name)
        if column is None:
            allowed = ", ".join(_SORTABLE)
            raise InvalidInput(f"cannot sort on {criterion.field_name!r}; sort on one of {allowed}")
        order.append(column.asc() if criterion.ascending else column.desc())
    # Ties broken by a unique key keep offset paging stable between calls.
    return [*order, DATABASES.c.name, TABLES.c.name]


class SearchOps(SqlStoreBase):
    """SearchTables over the denormalised search_text and the table_parameters rows."""

    def search_tables(
        self,
        catalog_id: str,
        search_text: str,
        filters: Sequence[PropertyPredicate],
        sort_criteria: Sequence[SortCriterion],
        page: PageRequest,
    ) -> Page[Table]:
        cat = checks.catalog_id(catalog_id)
        text_value("search_text", search_text, MAX_SEARCH_TEXT)
        if len(filters) > MAX_FILTERS:
            raise InvalidInput(f"SearchTables takes at most {MAX_FILTERS} filters")
        conditions = [_condition(predicate) for predicate in filters]
        order = _order(sort_criteria)
        query = self._tokens.page_query(
            page,
            int,
            "SearchTables",
            cat,
            search_text,
            [(p.key, p.value, str(p.comparator)) for p in filters],
            [(s.field_name, s.ascending) for s in sort_criteria],
        )
        stmt = (
            select(DATABASES.c.name.label("database_name"), *TABLE_COLUMNS)
            .select_from(TABLES.join(DATABASES, TABLES.c.database_id == DATABASES.c.id))
            .where(DATABASES.c.catalog_id == cat, *conditions)
        )
        if search_text:
            needle = search_text.lower()
            stmt = stmt.where(
                TABLES.c.search_text.contains(needle, autoescape=True)
                | DATABASES.c.name.contains(needle, autoescape=True)
            )
        if (seg := segment_filter(TABLES.c.id, query.segment)) is not None:
            stmt = stmt.where(seg)
        offset = query.after or 0
        stmt = stmt.order_by(*order).offset(offset).limit(query.limit + 1)
        with self._db.read() as conn:
            rows = conn.execute(stmt).all()
        kept, token = self._tokens.page_of(query, rows, lambda _row: offset + query.limit)
        tables = tuple(
            table_from_values(row._mapping, row.database_name, cat, row.version) for row in kept
        )
        return Page(items=tables, next_token=token)
