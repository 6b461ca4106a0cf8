"""The run's TensorBoard output: the part that needs real processes (signals, exit codes, subprocesses);
the in-process tests are tests/unit/test_dashboard.py."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.unit.test_dashboard import EPOCH_TAGS, FINAL_TAGS, load_events

SERVER_START_S = 60


# Talk to the local server directly, whatever http_proxy the environment sets.
LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(base: str, path: str, body: dict | None = None, **query: str):
    url = f"{base}{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with LOCAL.open(request, timeout=10) as response:
        return json.load(response)


def wait_for_runs(server: subprocess.Popen, base: str, log: Path) -> list[str]:
    """Poll until the server lists a run: its first answers can come before its first load of the logdir."""
    deadline = time.monotonic() + SERVER_START_S
    while True:
        assert server.poll() is None, f"tensorboard exited {server.returncode}:\n{log.read_text()}"
        with contextlib.suppress(OSError):  # not listening yet
            if runs := fetch(base, "/data/runs"):
                return runs
        assert time.monotonic() < deadline, f"no run listed after {SERVER_START_S}s:\n{log.read_text()}"
        time.sleep(0.2)


def test_tensorboard_serves_the_run(finished_run, tmp_path):
    run = f"{finished_run.name}/tb"  # run names are relative to --logdir
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "tensorboard.log"
    tensorboard = Path(sys.executable).parent / "tensorboard"
    cmd = [str(tensorboard), "--logdir", str(finished_run.parent), "--host", "127.0.0.1", "--port", str(port)]
    with open(log, "w") as out:
        server = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        assert wait_for_runs(server, base, log) == [run]
        tags = fetch(base, "/data/plugin/scalars/tags")
        assert set(EPOCH_TAGS + FINAL_TAGS) <= set(tags[run])

        series = fetch(base, "/data/plugin/scalars/scalars", run=run, tag="train/loss")
        expected = load_events(finished_run).Scalars("train/loss")
        assert [step for _, step, _ in series] == [e.step for e in expected] == [1, 2]
        assert [value for _, _, value in series] == pytest.approx([e.value for e in expected], rel=1e-6)

        # The HParams tab: one session, which ended (session_end_info) as a success.
        query = {"startIndex": 0, "sliceSize": 10, "colParams": [], "allowedStatuses": ["STATUS_SUCCESS"]}
        [group] = fetch(base, "/data/plugin/hparams/session_groups", body=query)["sessionGroups"]
        assert group["name"] == run and group["hparams"]["model"] == "crelu_half"
        assert {m["name"]["tag"] for m in group["metricValues"]} == set(FINAL_TAGS)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
