"""Statements built once per shape and kept in one bounded registry.

Building and compiling a SQLAlchemy statement costs more than running it on a small page or a
tile. Builders therefore write every value as a parameter, and one statement of each shape
(which filters are present, whether a cursor is, which kind of viewer) serves every request of
that shape. Statements kept here carry no values: their parameters are `required`, so a run
that forgets one fails loudly instead of reusing a value of an earlier request.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from sqlalchemy import Select, bindparam
from sqlalchemy.sql.elements import BindParameter

# Shapes in use stay well below this: about fifty filter combinations per kind of page.
MAX_STATEMENTS = 512


def parameter(name: str, type_) -> BindParameter:
    """A parameter of a kept statement: it carries no value and must be given one."""
    return bindparam(name, type_=type_, required=True)


class StatementRegistry:
    """Statements by (builder, shape), the least recently used dropped beyond a bound."""

    def __init__(self, max_statements: int = MAX_STATEMENTS):
        self.max_statements = max_statements
        self._statements: OrderedDict[Hashable, Select] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable | None, build: Callable[[], Select]) -> Select:
        """The statement kept under KEY, built by BUILD() the first time; None: build anew."""
        if key is None:
            return build()
        with self._lock:
            statement = self._statements.get(key)
            if statement is not None:
                self._statements.move_to_end(key)
                return statement
        statement = build()
        with self._lock:
            self._statements[key] = statement
            while len(self._statements) > self.max_statements:
                self._statements.popitem(last=False)
        return statement

    def __len__(self) -> int:
        return len(self._statements)


STATEMENTS = StatementRegistry()


@dataclass(frozen=True)
class BoundStatement:
    """A statement with its parameter values, and how it may be run.

    `prepared`: the statement is kept in the registry and its best plan does not depend on
    its values, so it may be compiled and prepared once (service/db.py, run_statement).
    """

    statement: Select
    values: dict
    prepared: bool = False
