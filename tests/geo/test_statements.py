"""The registry of statements built once per shape: bounded, and never carrying a value."""

import uuid

import pytest
from sqlalchemy import Integer, select
from sqlalchemy.exc import ArgumentError, StatementError

from service.geo.devices.filter import DeviceFilter
from service.geo.devices.spatial import select_device_page_in_space
from service.geo.statements import StatementRegistry, parameter
from service.visibility import Viewer


def test_a_shape_is_built_once_and_the_least_recently_used_go_beyond_the_bound():
    registry = StatementRegistry(max_statements=2)
    built = []

    def build(n):
        built.append(n)
        return select(parameter("n", Integer))

    first = registry.get("a", lambda: build("a"))
    assert registry.get("a", lambda: build("again")) is first
    registry.get("b", lambda: build("b"))
    registry.get("a", lambda: build("again"))  # a is now the most recently used
    registry.get("c", lambda: build("c"))
    assert len(registry) == 2
    registry.get("a", lambda: build("a kept"))
    registry.get("b", lambda: build("b rebuilt"))
    assert built == ["a", "b", "c", "b rebuilt"]
    assert registry.get(None, lambda: build("never kept")) is not registry.get(
        None, lambda: build("never kept")
    )


def test_kept_statements_carry_no_value_so_a_forgotten_one_fails_loudly(app, isolated):
    viewer = Viewer(id=uuid.uuid4())
    page = select_device_page_in_space(DeviceFilter(kinds=["camera"], viewer=viewer), 10)
    assert viewer.id not in page.statement.compile().params.values()
    assert ["camera"] not in page.statement.compile().params.values()
    values = dict(page.values)
    del values["filter_viewer"]
    with pytest.raises((ArgumentError, StatementError), match="filter_viewer"):
        isolated.execute(page.statement, values | {"photo_base": "https://x/"})


def test_viewers_who_see_every_pin_get_a_statement_of_their_own():
    anonymous = select_device_page_in_space(DeviceFilter(), 10)
    moderator = select_device_page_in_space(DeviceFilter(viewer=Viewer(sees_every_pin=True)), 10)
    assert anonymous.values == moderator.values
    assert anonymous.statement is not moderator.statement
    again = select_device_page_in_space(DeviceFilter(), 20)
    assert again.statement is anonymous.statement
