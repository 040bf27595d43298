"""The DemoVAE studies that used to be test fixtures (they were over half of the test suite's
time): sampling fidelity against a large population of the same world, and what fitting the
cleaner on every participant before cross-validation does.

1. ``group_differences``: the default model fitted on ``N_TRAIN`` participants of
   ``synthetic-fc-demographics`` (world seed 0); samples drawn at the demographics of a
   ``N_POPULATION``-participant population of the same world; for each group (sex, each site)
   the error ratio RMSE(sample map - population map) / RMSE(population map) (the paper reports
   .20-.54), the training data's own ratio, and the ratio when the demographics are shuffled
   (a sampler that ignored them). Was ``test_samples_reproduce_planted_group_differences``
   (asserted: median <= .5, max <= .35, each <= 1.5 x the training data's, shuffled > .8).
2. ``two_sample``: held-out real participants vs samples at their demographics (AUC inside
   the chance band with noise, above it without). Was ``test_two_sample_classifier_near_chance``.
3. ``fit_on_everyone``: the published recipe (decorrelation loss, conditional encoder, no
   residualization) fitted on all 1,000 participants vs on the 600 training ones, judged on
   the 400 others (Snoek et al. 2019: fitting on the evaluation participants looks cleaner
   than it is). Was ``test_fitting_on_all_subjects_before_cv_leaks``.

Run: ``python bench/demovae_replicates.py`` → ``bench/results/demovae_replicates.json``.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

N_TRAIN, N_TEST, N_POPULATION = 1600, 400, 4000
SETTINGS = dict(continuous=["age"], categorical=["sex", "site"], hidden_dim=128, n_epochs=80,
                batch_size=128, random_state=0)
DEMOGRAPHICS = ["age", "sex", "site"]


def main() -> dict:
    import numpy as np
    import torch

    from neurodecode._files import write_json
    from neurodecode.confounds.demovae import DemoVAE
    from neurodecode.confounds.reports import fidelity_report, leakage_report
    from neurodecode.synth import fc_demographics

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    t0 = time.perf_counter()
    data = fc_demographics.make(n_subjects=N_TRAIN + N_TEST, seed=0).subjects["group"]
    train = data.select(np.arange(N_TRAIN))
    test = data.select(np.arange(N_TRAIN, N_TRAIN + N_TEST))
    model = DemoVAE(**SETTINGS).fit(train.X, demographics=train.metadata)
    population = fc_demographics.make(n_subjects=N_POPULATION, seed=0).subjects["group"]
    synthetic, used = model.sample(population.metadata, random_state=1)

    def ratios(X, demographics):
        report = fidelity_report(population.X, population.metadata, X, demographics,
                                 groups=["sex", "site"], n_permutations=10)
        return {k: v["error_ratio"] for k, v in report["group_differences"].items()}

    shuffled = used.assign(site=used.site.sample(frac=1, random_state=0).to_numpy(),
                           sex=used.sex.sample(frac=1, random_state=1).to_numpy())
    group = dict(samples=ratios(synthetic, used), training_data=ratios(train.X, train.metadata),
                 shuffled_demographics=ratios(synthetic, shuffled))

    samples, used_test = model.sample(test.metadata, random_state=1)
    smooth, _ = model.sample(test.metadata, random_state=1, noise=False)
    two = {name: fidelity_report(test.X, test.metadata, x, used_test, groups=["sex"],
                                 n_permutations=200)["two_sample"]
           for name, x in (("with_noise", samples), ("without_noise", smooth))}

    small = fc_demographics.make(n_subjects=1000, seed=0).subjects["group"]
    tr, te = small.select(np.arange(600)), small.select(np.arange(600, 1000))
    paper = dict(SETTINGS, latent_dim=16, lambda_decor=1000.0, conditional_encoder=True,
                 residualize=False)
    everyone = DemoVAE(**paper).fit(small.X, demographics=small.metadata)
    honest = DemoVAE(**paper).fit(tr.X, demographics=tr.metadata)
    fits = {}
    for name, m in (("fitted_on_everyone", everyone), ("fitted_on_training", honest)):
        rep = leakage_report(m.transform(te.X, te.metadata), te.metadata[DEMOGRAPHICS],
                             n_permutations=300)
        fits[name] = rep.set_index("target")[["score", "chance_low", "chance_high",
                                              "status"]].to_dict(orient="index")
    result = dict(benchmark="demovae_replicates", n_train=N_TRAIN, n_test=N_TEST,
                  n_population=N_POPULATION, settings=SETTINGS, group_differences=group,
                  two_sample=two, fit_on_everyone=fits, seconds=time.perf_counter() - t0,
                  machine=dict(cpu=platform.processor() or platform.machine(),
                               cores=os.cpu_count(), load_average=os.getloadavg()))
    write_json(Path(__file__).parent / "results" / "demovae_replicates.json", result)
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=1, default=str))
