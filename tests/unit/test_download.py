"""Downloading CIFAR, for real over HTTP from a local server: processes started together on one empty data
root all succeed (a lock on the root, a part file per process), and nothing is written through a link."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import io
import os
import subprocess
import sys
import tarfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crelu_repro.core.errors import SymlinkError
from crelu_repro.data.cifar import reader as cifar
from tests.helpers import REPO, train_env
from tests.helpers.cifar import write_cifar

pytestmark = pytest.mark.filterwarnings("ignore:.*not the official:UserWarning")
TAR = "cifar-10-python.tar.gz"


@dataclasses.dataclass
class Mirror:
    url: str
    md5: str
    requests: list[str]


def _tarball(tmp_path: Path) -> bytes:
    src = tmp_path / "src"
    write_cifar(src, "cifar10", n_train=60, n_test=20)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(src / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    return buf.getvalue()


@pytest.fixture
def mirror(tmp_path) -> Iterator[Mirror]:
    """A local HTTP server with the tarball, sent slowly (2 s) so that downloads started together overlap."""
    payload, requests = _tarball(tmp_path), []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            chunks = 20
            for i in range(chunks):
                self.wfile.write(payload[i * len(payload) // chunks : (i + 1) * len(payload) // chunks])
                self.wfile.flush()
                time.sleep(0.1)

        def log_message(self, *args):  # quiet
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{TAR}"
        yield Mirror(url, hashlib.md5(payload).hexdigest(), requests)
    finally:
        server.shutdown()
        server.server_close()


LOADER = """
import dataclasses, sys
from crelu_repro.data.cifar import reader as cifar
spec = dataclasses.replace(cifar._SPECS["cifar10"], url=sys.argv[1], tar_md5=sys.argv[2])
cifar._SPECS["cifar10"] = spec
data = cifar.load_cifar("cifar10", sys.argv[3], download=True)
print("loaded", len(data.train.labels), len(data.test.labels))
"""


def test_two_processes_downloading_into_one_empty_root_both_succeed(mirror, tmp_path):
    """Both used to write the same `.tar.gz.part`; the second rename failed: "No such file or directory"."""
    root = tmp_path / "root"
    cmd = [sys.executable, "-c", textwrap.dedent(LOADER), mirror.url, mirror.md5, str(root)]
    procs = [
        subprocess.Popen(
            cmd, cwd=REPO, env=train_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0 and out.strip() == "loaded 60 20", err[-2000:]
    assert len(mirror.requests) == 1  # the second found the files the first extracted
    assert sorted(p.name for p in root.iterdir()) == [".download.lock", "cifar-10-batches-py", TAR]


def test_a_link_at_the_part_file_is_never_followed(mirror, tmp_path, monkeypatch):
    root, victim = tmp_path / "root", tmp_path / "victim"
    root.mkdir()
    victim.write_text("theirs\n")
    for name in (f"{TAR}.part", f"{TAR}.part{os.getpid()}"):
        (root / name).symlink_to(victim)
    monkeypatch.setitem(
        cifar._SPECS,
        "cifar10",
        dataclasses.replace(cifar._SPECS["cifar10"], url=mirror.url, tar_md5=mirror.md5),
    )
    assert len(cifar.load_cifar("cifar10", root, download=True).train.labels) == 60
    assert victim.read_text() == "theirs\n"


def test_a_link_in_place_of_the_tarball_is_refused(mirror, tmp_path, monkeypatch):
    root, victim = tmp_path / "root", tmp_path / "victim"
    root.mkdir()
    victim.write_text("theirs\n")  # not the tarball: its md5 differs, so the download would replace it
    (root / TAR).symlink_to(victim)
    monkeypatch.setitem(
        cifar._SPECS,
        "cifar10",
        dataclasses.replace(cifar._SPECS["cifar10"], url=mirror.url, tar_md5=mirror.md5),
    )
    with pytest.raises(SymlinkError, match=f"{root / TAR} is a symbolic link"):
        cifar.load_cifar("cifar10", root, download=True)
    assert victim.read_text() == "theirs\n"
