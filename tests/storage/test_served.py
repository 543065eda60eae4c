"""`plp-cds serve` as operators run it, on real PostgreSQL: a worker killed with SIGKILL has
its journal replayed after the restart, and /metrics reports every worker together."""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.servers import Server, plp_cds_server, worker_pids
from bench.tcp_proxy import TcpProxy
from tests.card_records import recorded_uuids, wait_until
from tests.conftest import load_example
from tests.feedback_requests import PATIENT_VIEW

HOOK = f"/cds-services/{PATIENT_VIEW}"


def environment(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "CDS_STATE_DIR": str(tmp_path / "state"),
        "CDS_RECORD_RETRY_MAX_S": "0.2",
        "CDS_LOG_LEVEL": "INFO",
    }


def hook_call(server: Server) -> list[str]:
    # A connection per call, so calls spread over the workers.
    response = httpx.post(
        server.base + HOOK,
        json=load_example("patient-view.json"),
        headers={"Connection": "close"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return [card["uuid"] for card in response.json()["cards"]]


def scrape(server: Server) -> dict[str, float]:
    text = httpx.get(server.base + "/metrics", timeout=30).text
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.labels or sample.name.startswith("cds_hook_duration_seconds_count")
    }


def test_a_worker_killed_with_sigkill_has_its_journal_replayed_after_the_restart(
    postgres_url: str, proxied_url: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    env = environment(proxied_url, tmp_path)
    with plp_cds_server(env=env) as server:
        proxy.stop()  # the database goes down: records wait in the journal
        returned = [uuid for _ in range(10) for uuid in hook_call(server)]
        wait_until(
            lambda: scrape(server).get("cds_card_journal_cards") == len(returned),
            "the cards in the journal",
        )
        os.kill(server.pid, signal.SIGKILL)
    assert recorded_uuids(postgres_url) == []

    proxy.start()
    with plp_cds_server(env=env) as server:
        wait_until(lambda: recorded_uuids(postgres_url) == sorted(returned), "the journal's replay")
        assert server.log_path is not None
        log = server.log_path.read_text()
    assert f"took over {len(returned)} cards from the journal of a process" in log
    assert list((tmp_path / "state" / "journal").glob("*.sqlite")) == []


def test_metrics_report_every_worker_together(postgres_url: str, tmp_path: Path) -> None:
    before = set(Path(tempfile.gettempdir()).glob("plp-cds-metrics-*"))
    with plp_cds_server(workers=2, env=environment(postgres_url, tmp_path)) as server:
        [directory] = set(Path(tempfile.gettempdir()).glob("plp-cds-metrics-*")) - before
        workers = worker_pids(server)
        assert len(workers) == 2

        def files(kind: str) -> set[str]:
            return {p.name for p in directory.glob(f"{kind}_*.db")}

        # Each worker's card writer sets its journal gauge when it starts.
        started = {f"gauge_livesum_{pid}.db" for pid in workers}
        wait_until(lambda: started <= files("gauge_livesum"), "both workers to start")
        # Calls until both workers have answered some (each keeps its own values).
        answered = {f"histogram_{pid}.db" for pid in workers}
        returned: list[str] = []
        calls = 0
        while calls < 20 or not answered <= files("histogram"):
            assert calls < 400, "one worker answered every call"
            returned += hook_call(server)
            calls += 1
        # Whichever worker answers the scrape, it reports every call.
        for _ in range(6):
            assert scrape(server)["cds_hook_duration_seconds_count"] == calls
        wait_until(lambda: recorded_uuids(postgres_url) == sorted(returned), "the records")
        assert scrape(server)["cds_cards_recorded_total"] == len(returned)
    assert not directory.exists()
