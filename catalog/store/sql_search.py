"""SearchTables of the SQL catalog store: one query over the tables of every database."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, select, union_all

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

# SortCriteria's fields: each is the label of a column the search selects.
_SORTABLE = ("name", "database_name", "owner", "table_type", "update_time", "create_time")
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


def _order(sort_criteria: Sequence[SortCriterion]) -> list[tuple[str, bool]]:
    """The selected columns (by their label) to sort on, each with whether it ascends."""
    order = []
    for criterion in sort_criteria:
        if criterion.field_name not in _SORTABLE:
            allowed = ", ".join(_SORTABLE)
            raise InvalidInput(f"cannot sort on {criterion.field_name!r}; sort on one of {allowed}")
        order.append((criterion.field_name, criterion.ascending))
    # Ties broken by a unique key keep offset paging stable between calls.
    return [*order, ("database_name", True), ("name", True)]


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
        columns = (DATABASES.c.name.label("database_name"), *TABLE_COLUMNS)
        joined = TABLES.join(DATABASES, TABLES.c.database_id == DATABASES.c.id)
        conditions.append(DATABASES.c.catalog_id == cat)
        if (seg := segment_filter(TABLES.c.id, query.segment)) is not None:
            conditions.append(seg)
        offset = query.after or 0
        with self._db.read() as conn:
            stmt = _matching(conn.dialect.name, columns, joined, conditions, search_text, order)
            rows = conn.execute(stmt.offset(offset).limit(query.limit + 1)).all()
        kept, token = self._tokens.page_of(query, rows, lambda _row: offset + query.limit)
        tables = tuple(
            table_from_values(row._mapping, row.database_name, cat, row.version) for row in kept
        )
        return Page(items=tables, next_token=token)


def _matching(
    dialect: str,
    columns: Sequence[Any],
    joined: Any,
    conditions: Sequence[ColumnElement[bool]],
    search_text: str,
    order: Sequence[tuple[str, bool]],
) -> Select[Any]:
    """The tables that match, in order: search_text is found in a table's text or in its
    database's name.

    On PostgreSQL the two are asked apart and put together (UNION ALL; a table found by its
    text is not found again by its database's name), so that the text's own question can use
    the trigram index on search_text (catalog migration 0004): with an OR across the two tables
    the planner reads every table of the catalog. SQLite has no such index: one OR.
    """
    stmt = select(*columns).select_from(joined).where(*conditions)
    if search_text:
        needle = search_text.lower()
        in_text = TABLES.c.search_text.contains(needle, autoescape=True)
        in_database = DATABASES.c.name.contains(needle, autoescape=True)
        if dialect == "postgresql":
            union = union_all(stmt.where(in_text), stmt.where(in_database, ~in_text))
            stmt = select(*union.subquery("found").c)
        else:
            stmt = stmt.where(in_text | in_database)
    selected = stmt.selected_columns
    return stmt.order_by(
        *(selected[label].asc() if up else selected[label].desc() for label, up in order)
    )
