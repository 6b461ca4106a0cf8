"""`scripts/figures.py`'s command line in this process: what it refuses and what it says when there is
nothing to draw (the figures themselves are drawn from real runs in tests/process/test_figures.py)."""

from __future__ import annotations

import importlib.util

import pytest

from tests.helpers import REPO

_spec = importlib.util.spec_from_file_location("figures_script", REPO / "scripts" / "figures.py")
figures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(figures)


def test_missing_table_runs_name_the_make_target(tmp_path, capsys):
    assert figures.main(["--sweeps", str(tmp_path / "none"), "--out", str(tmp_path / "out"), "--quick"]) == 1
    out, err = capsys.readouterr()
    assert "`make table-convpool QUICK=1` trains them" in out
    assert "`make table-imagenet QUICK=1` trains them" in out
    assert "nothing drawn" in err and not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--sets", "cifar10,mnist"], "unknown --sets mnist; valid: cifar10, imagenet"),
        (["--figures", "pairing,saliency"], "unknown --figures saliency; valid: pairing"),
    ],
)
def test_an_unknown_figure_set_or_figure_is_refused(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_:
        figures.main([*args, "--out", str(tmp_path)])
    assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
