"""The registry's listing read ahead of the run: in order, its failure where it happened, stopped
when the run stops, and under way while OpenMetadata still lists the service's entities."""
from __future__ import annotations

import threading
import time

import pytest

from tests.support.hostile_servers import MLFLOW_API, HostileServer, Route, answer, mlflow_routes, waited
from tests.support.om_standin import OpenMetadataStandIn
from tests.support.workflows import seed_config
from workflow.document.workflow_file import Workflow
from workflow.read_ahead import ReadAhead
from workflow.runner import run_workflow


def test_items_arrive_in_order_and_a_failure_after_the_items_before_it():
    def items():
        yield from range(5)
        raise ValueError("page 2 failed")

    read = ReadAhead(items(), depth=2)
    got = []
    with pytest.raises(ValueError, match="page 2 failed"):
        for item in read:
            got.append(item)
    assert got == [0, 1, 2, 3, 4]
    assert list(read) == []  # ended: iterating again gives nothing, not a hang


def test_closing_lets_the_reading_thread_end_though_its_consumer_stopped_early():
    produced = []

    def endless():
        number = 0
        while True:
            produced.append(number)
            yield number
            number += 1

    read = ReadAhead(endless(), depth=3, name="endless")
    assert next(read) == 0
    read.close()
    assert waited(lambda: not any(t.name == "endless" for t in threading.enumerate()), timeout=5)
    assert len(produced) <= 6  # it stopped at the bound, not after reading on


@pytest.mark.timeout(60)
def test_the_listing_is_under_way_while_openmetadata_still_lists_the_service():
    asked_at: list[float] = []

    def listing(handler, query):
        asked_at.append(time.monotonic())
        answer({"registered_models": [{"name": "a", "latest_versions": []}]})(handler, query)

    routes = [Route("GET", MLFLOW_API + "/registered-models/search", listing)] + mlflow_routes(["a"])
    with HostileServer(routes) as mlflow, OpenMetadataStandIn() as om:
        slow = om.inject("GET", "/v1/mlmodels", delay=1.5, times=None)
        summary = run_workflow(Workflow.model_validate(seed_config(mlflow.url, om.url)), check_first=False)
        assert summary.exit_code == 0, summary.failures
        om_listing = [r for r in om.requests if r.method == "GET" and r.path.endswith("/v1/mlmodels")][0]
    assert slow.hits >= 1 and asked_at
    assert asked_at[0] < om_listing.received + 1.0, "MLflow's listing waited for OpenMetadata's to answer"
