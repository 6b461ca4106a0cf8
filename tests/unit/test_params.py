import json
import subprocess
import sys

import pytest


@pytest.fixture(scope="module")
def rows():
    out = subprocess.run(
        [sys.executable, "-m", "crelu_repro.params", "--json"], capture_output=True, text=True, check=True
    ).stdout
    return {(r["model"], r["dataset"]): r for r in json.loads(out)}


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
