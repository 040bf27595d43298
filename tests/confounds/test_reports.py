import numpy as np
import pandas as pd
from sklearn.metrics import r2_score, roc_auc_score

from neurodecode.confounds.reports import (
    chance_band,
    fidelity_report,
    held_out_predictions,
    leakage_report,
)


def _targets(n=200, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(dict(age=rng.uniform(10, 60, n), sex=rng.choice(["F", "M"], n),
                             site=rng.choice(["a", "b", "c"], n)))


def test_leakage_report_flags_present_absent_and_matches_sklearn():
    t = _targets()
    rng = np.random.default_rng(1)
    noise = rng.standard_normal((200, 5))
    informative = np.column_stack([t.age / 10 + rng.standard_normal(200), (t.sex == "M") * 2.0,
                                   noise])
    rep = leakage_report(informative, t[["age", "sex"]], n_permutations=200).set_index("target")
    assert (rep["status"] == "above chance").all()
    pred = held_out_predictions(informative, t.age, "continuous")
    assert rep.loc["age", "score"] == r2_score(t.age, pred)
    pred = held_out_predictions(informative, t.sex, "binary")
    assert rep.loc["sex", "score"] == roc_auc_score(t.sex == "M", pred)
    null = leakage_report(noise, t, n_permutations=500, alpha=0.01).set_index("target")
    assert (null["status"] == "at chance").all(), null
    assert null.loc["site", "metric"] == "balanced_accuracy"
    assert null.loc["sex", "chance_low"] < 0.5 < null.loc["sex", "chance_high"]


def test_chance_band_is_two_sided():
    y = np.repeat([0, 1], 50)
    low, mid, high = chance_band(y, y.astype(float), "binary", n_permutations=300)
    assert low < mid < high and abs(mid - 0.5) < 0.05
    assert roc_auc_score(y, -y) < low  # anti-predictions fall below the band


def test_fidelity_report_values():
    rng = np.random.default_rng(0)
    demo = pd.DataFrame(dict(sex=rng.choice(["F", "M"], 400)))
    effect = np.linspace(-1, 1, 20)

    def draw(shrink):
        return rng.standard_normal((400, 20)) + np.outer(demo.sex == "M", effect) * shrink

    real = draw(1.0)
    same = fidelity_report(real, demo, draw(1.0), demo, groups=["sex"], n_permutations=200)
    assert same["group_differences"]["sex=M"]["error_ratio"] < 0.3
    assert same["two_sample"]["chance_low"] <= same["two_sample"]["auc"] \
        <= same["two_sample"]["chance_high"]
    synthetic = draw(0.0)
    flat = fidelity_report(real, demo, synthetic, demo, groups=["sex"], n_permutations=50)
    male = (demo.sex == "M").to_numpy()
    d_real = real[male].mean(0) - real[~male].mean(0)
    d_syn = synthetic[male].mean(0) - synthetic[~male].mean(0)
    expected = np.sqrt(np.mean((d_syn - d_real) ** 2)) / np.sqrt(np.mean(d_real ** 2))
    assert np.isclose(flat["group_differences"]["sex=M"]["error_ratio"], expected)
    assert expected > 0.8
    assert np.isclose(flat["moments"]["mean_rmse"],
                      np.sqrt(np.mean((synthetic.mean(0) - real.mean(0)) ** 2)))


def test_plot_leakage_writes_png(tmp_path):
    t = _targets(80)
    noise = np.random.default_rng(2).standard_normal((80, 3))
    reports = {"noise": leakage_report(noise, t, n_permutations=50),
               "age": leakage_report(np.c_[t.age, noise], t, n_permutations=50)}
    from neurodecode.confounds.reports import plot_leakage

    path = plot_leakage(reports, tmp_path / "leak.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["leak.png"]


def test_vectorised_null_scores_equal_sklearn():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 60)
    pred = np.round(rng.standard_normal(60), 1)  # ties on purpose
    low, mid, high = chance_band(y, pred, "binary", n_permutations=1, alpha=0.0)
    order = np.argsort(np.random.default_rng(0).random((1, 60)), axis=1)[0]
    assert np.isclose(mid, roc_auc_score(y[order], pred))
    yc = rng.standard_normal(60)
    _, mid, _ = chance_band(yc, pred, "continuous", n_permutations=1, alpha=0.0)
    assert np.isclose(mid, r2_score(yc[order], pred))
