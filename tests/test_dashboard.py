"""The run's TensorBoard output: read back from its event files, and served by a real `tensorboard`."""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

EPOCH_TAGS = ["train/loss", "train/error_running", "test/error", "lr", "throughput/images_per_s"]
FINAL_TAGS = ["hparam/test_error", "hparam/train_error"]
HPARAMS_TAGS = {"_hparams_/experiment", "_hparams_/session_start_info", "_hparams_/session_end_info"}
SERVER_START_S = 60
# Talk to the local server directly, whatever http_proxy the environment sets.
LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def load_events(run_dir: Path) -> EventAccumulator:
    acc = EventAccumulator(str(run_dir / "tb"))
    acc.Reload()
    return acc


def test_event_files_hold_per_epoch_scalars_and_hparams(finished_run):
    acc = load_events(finished_run)
    result = json.loads((finished_run / "result.json").read_text())
    tags = set(acc.Tags()["scalars"])
    assert set(EPOCH_TAGS + FINAL_TAGS) <= tags
    assert "val/error" not in tags  # only eval.protocol=kfold holds out a validation split
    for tag in EPOCH_TAGS:
        values = [e.value for e in acc.Scalars(tag)]
        assert [e.step for e in acc.Scalars(tag)] == [1, 2], tag
        assert all(math.isfinite(v) for v in values), (tag, values)
    assert all(0 <= e.value <= 100 for e in acc.Scalars("test/error"))
    train_loss = [e.value for e in acc.Scalars("train/loss")]
    assert train_loss == pytest.approx([h["train_loss"] for h in result["history"]], rel=1e-6)
    for tag in FINAL_TAGS:
        [final] = acc.Scalars(tag)
        assert final.value == pytest.approx(result[tag.removeprefix("hparam/")], rel=1e-6)

    content = acc.PluginTagToContent("hparams")
    assert set(content) == HPARAMS_TAGS
    parse = plugin_data_pb2.HParamsPluginData.FromString
    experiment = parse(content["_hparams_/experiment"]).experiment
    assert {m.name.tag for m in experiment.metric_infos} == set(FINAL_TAGS)
    start = parse(content["_hparams_/session_start_info"]).session_start_info
    assert start.hparams["model"].string_value == result["model"]
    assert start.hparams["epochs"].number_value == result["epochs"] == 2


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


def test_a_sweep_layout_is_written_only_where_runs_are(tmp_path, finished_run):
    """`make tensorboard TABLE=claims` must not plant the runs' charts in a folder that holds none."""
    from crelu_repro import dashboard

    (tmp_path / "claims").mkdir()
    assert dashboard.main([str(tmp_path / "claims")]) == 0 and not (tmp_path / "claims" / "_layout").exists()
    assert dashboard.main([str(tmp_path / "missing")]) == 2
    shutil.copytree(finished_run, tmp_path / "sweep" / "run")
    assert dashboard.main([str(tmp_path / "sweep")]) == 0 and (tmp_path / "sweep" / "_layout").is_dir()
