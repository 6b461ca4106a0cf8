"""SIGTERM (and SIGINT) are always honoured: a checkpoint, a message, exit 143, whatever the epoch length,
under torchrun whatever `trainer.log_every`, and in a local sweep, which then starts nothing more."""

from __future__ import annotations


def test_a_stop_ends_the_sweep_it_came_in_not_the_next_session():
    """The flag is process-wide (a sweep's later runs must see it); a new outermost session starts clear."""
    from crelu_repro.train.session import STOP

    with STOP.installed():
        STOP.signal = "SIGTERM"
        with STOP.installed():  # a run inside the sweep: still stopping
            assert STOP.requested
    with STOP.installed():  # a later train() in the same process (a notebook, the in-process tests)
        assert not STOP.requested
