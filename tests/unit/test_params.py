import json
import os

import pytest

from crelu_repro.evidence import params


@pytest.fixture(scope="module")
def rows():
    return {(r["model"], r["dataset"]): r for r in params.param_rows()}


@pytest.mark.parametrize(
    "model, millions",
    [
        ("allcnnb_relu", 9.37),
        ("allcnnb_avr_conv1_4", 9.37),
        ("allcnnb_avr_conv1_7", 9.37),
        ("allcnnb_crelu_conv1_4", 10.14),
        ("allcnnb_crelu_all_half", 4.68),
        ("allcnnb_crelu_conv1_4_7_half", 8.60),
        ("allcnnb_crelu_conv1_7", 11.76),
    ],
)
def test_allcnnb_conv_weights(rows, model, millions):
    row = rows[(model, "imagenet")]
    assert round(row["conv_weights"] / 1e6, 2) == millions
    assert row["conv_weights_m"] == millions


def test_crelu_conv1_7_notes_the_unreproducible_paper_count(rows):
    row = rows[("allcnnb_crelu_conv1_7", "imagenet")]
    assert row["paper_params"] == 11_620_000
    assert "11.62M cannot be reproduced" in row["note"]


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100"])
def test_convpool_ratios(rows, dataset):
    base = rows[("relu", dataset)]["conv_weights"]
    assert rows[("double", dataset)]["conv_weights"] / base == pytest.approx(4, rel=0.02)
    assert rows[("crelu", dataset)]["conv_weights"] / base == pytest.approx(2, rel=0.01)
    assert rows[("avr", dataset)]["conv_weights"] == base
    assert rows[("relu", "cifar10")]["conv_weights"] == 1_285_536  # the slides' layer table, exactly


def test_every_reported_row_has_the_design_fields(rows):
    assert len(rows) == 5 * 2 + 4 * 2 + 7
    for row in rows.values():
        assert {"model", "dataset", "params", "conv_weights", "paper_params"} <= set(row)
        assert row["params"] >= row["conv_weights"] > 0


@pytest.mark.parametrize("name", ["table_params.md", "table_params.json"])
def test_write_never_follows_a_link(tmp_path, capsys, name):
    """`--write DIR` with a link planted in the place of one of its files: refused, naming the link, and the
    link's target is untouched."""
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me\n")
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(outside, out / name)
    assert params.main(["--write", str(out)]) != 0
    assert f"{out / name} is a symbolic link" in capsys.readouterr().err
    assert outside.read_text() == "keep me\n"
    assert os.path.islink(out / name)


def test_write_writes_both_files(tmp_path, capsys):
    assert params.main(["--write", str(tmp_path), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert json.loads((tmp_path / "table_params.json").read_text()) == printed
    assert (tmp_path / "table_params.md").read_text().startswith("# Parameters: paper vs ours")
