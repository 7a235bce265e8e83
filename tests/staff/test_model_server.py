"""Rasa's model server and the deployed model (staff/models.py): which model is live, and the rollout.

The rollout hands a new model to one Rasa worker at a time and knows every worker by the ETag it
polls with; these tests play the workers' polls. Archives here are stand-ins with only the
metadata.json a Rasa model carries.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import free_port

from staff import models
from staff.models import ModelServer, Rollout, live_model, model_id_of, model_of_etag, switch


def fake_model(path: Path, model_id: str) -> Path:
    data = json.dumps({"model_id": model_id, "domain": {}}).encode()
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo("components/domain_provider/domain.yml")
        info.size = 2
        archive.addfile(info, io.BytesIO(b"{}"))
        info = tarfile.TarInfo("metadata.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    return fake_model(tmp_path / "seed.tar.gz", "seed0000")


def test_the_model_id_is_read_from_the_archive(seed: Path) -> None:
    assert model_id_of(seed) == "seed0000"


def test_the_seed_model_is_live_on_a_fresh_machine(tmp_path: Path, seed: Path) -> None:
    live = live_model(tmp_path / "store", seed)
    assert (live.model_id, live.candidate, live.path) == ("seed0000", None, seed)


def test_a_deployment_is_live_until_the_seed_model_is_trained_again(tmp_path: Path, seed: Path) -> None:
    store = tmp_path / "store"
    candidate = fake_model(tmp_path / "candidate.tar.gz", "cand0001")
    live = switch(candidate, candidate="c1", deployed_by="dlt-editor", data_dir=tmp_path, store=store,
                  seed=seed)
    assert (live.model_id, live.candidate) == ("cand0001", "c1")
    assert live.path.parent == store and live.path.exists()
    # Its own copy: the candidate's folder may go.
    candidate.unlink()
    assert live_model(store, seed).model_id == "cand0001"
    # `make train` after the deployment: the developer's model wins.
    later = time.time() + 5
    os.utime(seed, (later, later))
    assert live_model(store, seed).model_id == "seed0000"


def test_an_unreadable_deployment_falls_back_to_the_seed(tmp_path: Path, seed: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    (store / models.CURRENT).write_text("{not json", encoding="utf-8")
    assert live_model(store, seed).model_id == "seed0000"


# -- the rollout ------------------------------------------------------------------------------------------
def test_a_worker_without_our_model_gets_it_at_once() -> None:
    rollout = Rollout(pull_seconds=1)
    first = rollout.decide("m1", "3f2a9c0e1d4b4c5d9e8f7a6b5c4d3e2f", now=0.0)  # a fresh worker's uuid
    second = rollout.decide("m1", None, now=0.1)
    assert first and second and first != second
    assert model_of_etag(first) == model_of_etag(second) == "m1"


def test_workers_take_a_new_model_one_at_a_time() -> None:
    rollout = Rollout(pull_seconds=1)
    a, b = rollout.decide("m1", None, 0.0), rollout.decide("m1", None, 0.0)
    assert a and b
    # Both serve m1 and poll with their ETags: nothing new.
    assert rollout.decide("m1", f'"{a}"', 1.0) is None
    assert rollout.decide("m1", f'"{b}"', 1.0) is None
    # m2 goes live: worker a gets it; b must wait while a loads it.
    a2 = rollout.decide("m2", f'"{a}"', 2.0)
    assert a2 and model_of_etag(a2) == "m2"
    assert rollout.decide("m2", f'"{b}"', 3.0) is None
    assert rollout.state("m2", 3.0)["loading"] == 1
    # a is back, polling with the new model: now b's turn.
    assert rollout.decide("m2", f'"{a2}"', 4.0) is None
    b2 = rollout.decide("m2", f'"{b}"', 4.5)
    assert b2 and b2 != a2
    state = rollout.state("m2", 5.0)
    assert not state["complete"] and state["loading"] == 1


def test_the_rollout_is_complete_once_every_worker_polls_with_the_new_model() -> None:
    rollout = Rollout(pull_seconds=1)
    a, b = rollout.decide("m1", None, 0.0), rollout.decide("m1", None, 0.0)
    rollout.decide("m1", a, 1.0)
    rollout.decide("m1", b, 1.0)
    a2 = rollout.decide("m2", a, 2.0)
    rollout.decide("m2", a2, 3.0)
    assert not rollout.state("m2", 3.0)["complete"]  # b has not polled since
    b2 = rollout.decide("m2", b, 3.5)
    rollout.decide("m2", b2, 5.0)
    rollout.decide("m2", a2, 5.0)
    # Within a window b's old ETag was still seen; after it, only the new model polls.
    assert not rollout.state("m2", 5.0)["complete"]
    rollout.decide("m2", a2, 8.0)
    rollout.decide("m2", b2, 8.0)
    state = rollout.state("m2", 8.0)
    assert state["complete"] and (state["updated"], state["waiting"], state["loading"]) == (2, 0, 0)


def test_a_worker_that_never_comes_back_frees_its_turn_after_the_lease() -> None:
    rollout = Rollout(pull_seconds=1, lease_seconds=10)
    a, b = rollout.decide("m1", None, 0.0), rollout.decide("m1", None, 0.0)
    assert rollout.decide("m2", a, 1.0)
    assert rollout.decide("m2", b, 2.0) is None
    assert rollout.decide("m2", b, 12.0) is not None


# -- the server ---------------------------------------------------------------------------------------------
@pytest.fixture
def server(tmp_path: Path, seed: Path) -> Iterator[tuple[str, Path]]:
    store = tmp_path / "store"
    server = ModelServer(("127.0.0.1", free_port()), store, seed, Rollout(pull_seconds=1))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", store
    server.shutdown()
    server.server_close()


def get(url: str, etag: str | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"If-None-Match": etag} if etag else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_the_server_serves_the_live_model_as_rasa_pulls_it(server: tuple[str, Path], seed: Path,
                                                          tmp_path: Path) -> None:
    url, store = server
    status, headers, body = get(f"{url}/models/current", "a-fresh-workers-fingerprint")
    assert status == 200 and body == seed.read_bytes()
    etag = headers["ETag"]
    assert model_of_etag(etag.strip('"')) == "seed0000" and headers["filename"] == "seed0000.tar.gz"
    # Rasa sends the ETag back as it got it.
    assert get(f"{url}/models/current", etag)[0] == 304
    assert json.loads(get(f"{url}/health")[2])["model_id"] == "seed0000"

    candidate = fake_model(tmp_path / "candidate.tar.gz", "cand0001")
    switch(candidate, candidate="c1", deployed_by="x", data_dir=tmp_path, store=store, seed=seed)
    status, headers, body = get(f"{url}/models/current", etag)
    assert status == 200 and body == candidate.read_bytes()
    assert model_of_etag(headers["ETag"].strip('"')) == "cand0001"
    rollout = json.loads(get(f"{url}/models/rollout")[2])
    assert rollout["model_id"] == "cand0001" and rollout["candidate"] == "c1" and rollout["loading"] == 1
    assert get(f"{url}/nowhere")[0] == 404
