"""Virtual cohorts (seeded, Dask = local) and Sobol sensitivity."""

from __future__ import annotations

import numpy as np
import pytest

from resorb.errors import HypothesisModuleWarning, InvalidInputError
from resorb.mechanism import simulate_cohort, sobol_sensitivity


def test_cohort_is_reproducible_with_a_seed_and_differs_with_another():
    a = simulate_cohort("extrusion", 600, seed=11, chunk_size=250)
    b = simulate_cohort("extrusion", 600, seed=11, chunk_size=250)
    c = simulate_cohort("extrusion", 600, seed=12, chunk_size=250)
    assert np.array_equal(a.volume_fraction, b.volume_fraction)
    assert np.array_equal(a.exposure, b.exposure)
    assert not np.array_equal(a.volume_fraction, c.volume_fraction)


def test_cohort_summary_keys_and_ranges():
    calls = []
    res = simulate_cohort(
        "sequestration", 300, seed=1, chunk_size=100, progress=lambda d, n: calls.append((d, n))
    )
    s = res.summary()
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert 0.0 <= s["fraction_regressed_12mo"] <= 1.0
    q = s["volume_fraction_quantiles"]
    assert set(q) == {"q05", "q25", "q50", "q75", "q95"}
    assert len(q["q50"]) == len(s["t_days"])
    for j in range(len(s["t_days"])):
        col = [q[k][j] for k in ("q05", "q25", "q50", "q75", "q95")]
        assert col == sorted(col)
    assert q["q50"][0] == 1.0
    d = s["fraction_by_definition_12mo"]
    assert (
        d["reduction_ge_25_percent"] >= d["reduction_ge_50_percent"] >= d["reduction_ge_95_percent"]
    )


def test_cohort_on_a_dask_local_cluster_equals_the_local_run():
    """Workers in separate processes (as on a real cluster): the chunks, their seeds and
    the model are shipped by pickling and rebuilt in the worker."""
    from distributed import Client, LocalCluster

    local = simulate_cohort("extrusion", 400, seed=5, chunk_size=200)
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        remote = simulate_cohort(
            "extrusion", 400, seed=5, chunk_size=200, scheduler=cluster.scheduler_address
        )
        remote_client = simulate_cohort("extrusion", 400, seed=5, chunk_size=200, scheduler=client)
    assert np.array_equal(local.volume_fraction, remote.volume_fraction)
    assert np.array_equal(local.volume_fraction, remote_client.volume_fraction)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n": 0}, "cohort"),
        ({"n": -5}, "cohort"),
        ({"n": 10, "seed": -1}, "seed"),
        ({"n": 10, "t_days": [0, 30, 20]}, "t_days"),
    ],
)
def test_bad_cohort_input_names_the_field(kwargs, field):
    n = kwargs.pop("n")
    with pytest.raises(InvalidInputError) as info:
        simulate_cohort("extrusion", n, **kwargs)
    assert info.value.field == field


@pytest.fixture(scope="module")
def sobol():
    return sobol_sensitivity("extrusion", n=16, seed=3)


def test_sobol_indices_have_one_row_per_varied_parameter(sobol):
    d = len(sobol.names)
    assert d > 30
    for arr in (sobol.S1, sobol.S1_conf, sobol.ST, sobol.ST_conf):
        assert arr.shape == (d,)
        assert np.all(np.isfinite(arr))
    assert sobol.n_evaluations == 16 * (d + 2)
    assert "exposure" not in sobol.names
    assert not any(n.startswith("module_") for n in sobol.names)
    # hypothesis-module parameters are not varied while their module is off
    assert "gpx4" not in sobol.names


def test_sobol_indices_are_sane(sobol):
    """Total indices are non-negative up to sampling error and some parameter matters."""
    assert np.all(sobol.ST > -0.2)
    assert sobol.ST.max() > 0.05
    top = sobol.summary(top=5)["parameters"]
    assert [r["ST"] for r in top] == sorted((r["ST"] for r in top), reverse=True)


def test_wide_prior_ranges_are_sampled_log_uniformly(sobol, model):
    """Ranges spanning a factor of 10 or more (e.g. k_ext 0.001-0.1 per day) are
    sampled log-uniformly, narrower ones uniformly."""
    kinds = dict(zip(sobol.names, sobol.sampling, strict=True))
    for name, kind in kinds.items():
        lo, hi = model.parameter(name).prior
        assert kind == ("log-uniform" if lo > 0 and hi / lo >= 10 else "uniform"), name
    assert kinds["k_ext"] == "log-uniform" and kinds["k_12"] == "uniform"


def test_default_sobol_sample_converges_and_plots(tmp_path):
    """n = 1024 (the default): every 95 % interval is under a quarter of the largest
    index, no total index moves by more than a fifth of the largest from half to the
    full sample, and no parameter has a first-order index above its total index
    beyond their intervals (at n = 64 the intervals were as large as the indices)."""
    from resorb.mechanism._sensitivity import DEFAULT_N, plot_sobol

    res = sobol_sensitivity("extrusion", seed=2)
    assert res.n_base == DEFAULT_N == 1024
    conv = res.summary()["convergence"]
    assert conv["max_conf_over_max_index"] < 0.25
    assert conv["max_abs_change_ST_half_to_full"] < 0.2 * conv["max_index"]
    assert conv["S1_above_ST_beyond_intervals"] == 0
    plot_sobol(res, tmp_path / "sobol.png", top=10)
    assert (tmp_path / "sobol.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sobol_with_a_module_varies_its_parameters():
    with pytest.warns(HypothesisModuleWarning):
        res = sobol_sensitivity("extrusion", n=8, seed=1, modules=["ferroptosis"])
    assert "gpx4" in res.names


def test_sobol_rejects_a_sample_size_that_is_not_a_power_of_two():
    with pytest.raises(InvalidInputError, match="power of 2"):
        sobol_sensitivity(n=100)


def test_cohort_statistics_do_not_depend_on_the_default_tolerance():
    """Default (rtol 1e-4) vs tight (rtol 1e-9) integration of the same cohort."""
    a = simulate_cohort("extrusion", 400, seed=8)
    b = simulate_cohort("extrusion", 400, seed=8, rtol=1e-9, atol=1e-11)
    assert np.max(np.abs(a.volume_fraction - b.volume_fraction)) < 2e-4
    assert a.fraction_regressed() == b.fraction_regressed()


def test_cohort_parquet_keeps_patients_and_summary(tmp_path):
    import json

    import pyarrow.parquet as pq

    res = simulate_cohort("bulge", 50, seed=2)
    path = tmp_path / "c.parquet"
    res.to_parquet(path)
    table = pq.read_table(path)
    assert table.num_rows == 50
    assert "volume_fraction_day_365" in table.column_names
    meta = json.loads(table.schema.metadata[b"resorb.cohort"])
    assert meta["seed"] == 2 and meta["model"]["digest"]


def test_kernel_with_constants_and_dead_states_compiled_out_matches_the_generic_kernel(
    model, kernel
):
    """Cohorts run a kernel with inactive modules frozen to 0 (their states leave the
    integration and the error norm) and the shared parameters compiled in as
    constants; at tight tolerances it must give the generic kernel's numbers for the
    same patients (at loose ones the step sequences differ, since the error norm
    has fewer terms)."""
    from resorb.mechanism._cohort import _patients, cohort_kernel

    res = simulate_cohort("extrusion", 200, seed=21, chunk_size=200, rtol=1e-9, atol=1e-11)
    base = np.asarray(model.parameter_vector({"exposure": 0.479}))
    assert set(cohort_kernel(model, base).DEAD_STATES) == {"S", "Fe", "Au"}
    pmat = _patients(model, base, "extrusion", 21, 0, 200)  # the cohort's seeded draw
    out = np.empty((200, res.t_days.size, 1))
    steps = np.zeros(200, dtype=np.int64)
    kernel.solve_batch_reduced(
        pmat,
        res.t_days,
        np.zeros(0),
        1e-9,
        1e-11,
        30.0,
        200_000,
        np.array([0], dtype=np.int64),
        out,
        steps,
    )
    assert np.allclose(out[:, :, 0], res.volume_fraction, atol=2e-7)
