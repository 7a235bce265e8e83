"""Short load and fault runs (make load and make chaos are the full ones): two Rasa replicas behind
HAProxy, a PostgreSQL and a Redis of their own (nothing else on the machine loses a connection), Locust
through the web chat for a few seconds. Every turn answered, none lost, none stored twice."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.load import DEFAULT_DATA, PrivateStores, Stack, run_fault, run_load

MODEL = Path(__file__).resolve().parents[2] / "models" / "thai-eservice.tar.gz"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.needs_model,
    pytest.mark.postgres,
    pytest.mark.skipif(not MODEL.exists(), reason="no trained model (make train)"),
    pytest.mark.skipif(not DEFAULT_DATA.exists(), reason=f"no conversations to play at {DEFAULT_DATA}"),
    pytest.mark.skipif(shutil.which("haproxy") is None, reason="no HAProxy (make balancer)"),
]
USERS, SECONDS = 4, 6


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stores = PrivateStores()
    stores.start()
    stack = Stack(2, stores, tmp_path_factory.mktemp("replicas"))
    try:
        stack.up()
        yield stack
    finally:
        stack.down()
        stores.stop()


def assert_nothing_lost(result: dict) -> None:
    assert result["answered"] > 0
    assert result["lost"] == 0, result
    assert result["stored_twice"] == 0, result
    assert result["not_stored"] == 0, result


def test_load_through_two_replicas(stack: Stack) -> None:
    assert_nothing_lost(run_load(stack, USERS, SECONDS, DEFAULT_DATA))


def test_a_replica_killed_mid_load_loses_nothing(stack: Stack) -> None:
    result = run_fault(stack, "replica", USERS, SECONDS, DEFAULT_DATA)
    assert_nothing_lost(result)
    assert result["answers_after"]


def test_with_the_catalog_down_every_turn_is_answered_errors_with_the_hotline(stack: Stack) -> None:
    result = run_fault(stack, "catalog", USERS, SECONDS, DEFAULT_DATA)
    assert_nothing_lost(result)
    # The action server had no copy of any record: the service questions took the error path.
    assert result["errors_with_hotline"] > 0, result["kinds"]
    assert result["errors_without_hotline"] == 0
    assert result["answers_after"]


@pytest.mark.parametrize("store", ["postgres", "redis"])
def test_a_store_restarted_mid_load_loses_nothing(stack: Stack, store: str) -> None:
    result = run_fault(stack, store, USERS, SECONDS, DEFAULT_DATA)
    assert_nothing_lost(result)
    assert result["answers_after"]
