"""Fixtures of the iterate tests: the tiny set-up (helpers.iterate) and one uninterrupted run of it,
built once per session and read-only."""

import pytest


@pytest.fixture(scope="session")
def iterate_dir(tmp_path_factory):
    from helpers.iterate import build_iterate_dir

    return build_iterate_dir(tmp_path_factory.mktemp("iterate"), seed_steps=60)


@pytest.fixture(scope="session")
def reference_run(iterate_dir, tmp_path_factory):
    """(output directory, summary) of two rounds, K=2, M=2, with checkpoints every 2 steps."""
    from helpers.iterate import iterate_values

    from tracesft.iterate.config import config_from_mapping
    from tracesft.iterate.loop import run_iterate

    values = iterate_values(iterate_dir)
    values["checkpoint_every"] = 2
    out = tmp_path_factory.mktemp("reference") / "out"
    return out, run_iterate(config_from_mapping(values), str(out), quiet=True)
