"""Defuse speed: identification throughput and distillation time.

Identification: codes decoded by the demo beta-VAE (64x64) and classified by the demo CNN per
second, end to end through ``identify_failures`` (noise, decode, classify, top-k selection).
Distillation: ``distill_scenarios`` on 50,000 codes of 10 dimensions from a planted mixture
(Dirichlet-process GMM, 100 full-covariance components), wall and CPU time, and the adjusted
Rand index of its assignments against a fully converged plain sklearn fit (same priors,
max_iter 5000, tol 1e-4; that reference takes several minutes: ``--reference-max-iter 0``
skips it). The mixture's linear algebra runs on one BLAS thread whatever ``--threads`` says.

    python benchmarks/bench_defuse.py                  # 2 CPU threads
    python benchmarks/bench_defuse.py --device cuda    # on a GPU
    python benchmarks/bench_defuse.py --threads 2 --skip-identify --baseline  # distillation
    python benchmarks/bench_defuse.py --skip-identify --mixture anisotropic --mixture-seed 1

Prints the figures, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--images", type=int, default=40, help="images to identify around")
    parser.add_argument("--q", type=int, default=100, help="noise draws per image (Q)")
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--codes", type=int, default=50_000, help="codes to distill")
    parser.add_argument(
        "--dims", type=int, default=10, help="latent dimensions of the distilled codes"
    )
    parser.add_argument("--skip-identify", action="store_true")
    parser.add_argument("--skip-distill", action="store_true")
    parser.add_argument("--mixture", choices=["blobs", "anisotropic"], default="blobs")
    parser.add_argument("--mixture-seed", type=int, default=0)
    parser.add_argument(
        "--reference-max-iter",
        type=int,
        default=5000,
        help="EM iterations of the plain sklearn reference fit (0: skip it; it takes minutes)",
    )
    parser.add_argument("--reference-tol", type=float, default=1e-4)
    parser.add_argument(
        "--baseline", action="store_true", help="also time the plain fit of before (max_iter=100)"
    )
    parser.add_argument(
        "--demo-check",
        action="store_true",
        help="also run the whole pipeline on the demo world (shipped classifier and VAE)",
    )
    parser.add_argument("--check-images", type=int, default=600, help="train images identified")
    parser.add_argument("--check-q", type=int, default=20)
    return parser.parse_args()


def classifier_under_test(device):
    """The demo CNN (shipped weights when present; the same architecture at random otherwise)."""
    from failwidgets.demo.classifier import DemoCNN, load_classifier

    try:
        return load_classifier(device=device), "demo classifier (shipped weights)"
    except FileNotFoundError:
        return DemoCNN(8, width=16).to(
            device
        ).eval(), "demo classifier architecture (random weights)"


def vae_under_test(device):
    from failwidgets.demo.vae_model import DEMO_CONFIG, load_demo_vae
    from failwidgets.methods.vae import BetaVAE

    try:
        return load_demo_vae(device=device), "demo VAE (shipped weights)"
    except FileNotFoundError:
        return BetaVAE(DEMO_CONFIG).to(device).eval(), "demo VAE architecture (random weights)"


def bench_identification(args) -> dict:
    import torch

    from failwidgets.methods.defuse import identify_failures

    device = torch.device(args.device)
    vae, vae_name = vae_under_test(device)
    classifier, classifier_name = classifier_under_test(device)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(args.images, 64, 64, 3), dtype=np.uint8)
    labels = rng.integers(0, 8, size=args.images)
    kwargs = dict(n_samples=args.q, batch_size=args.batch_size, progress=False)
    identify_failures(vae, classifier, images[:2], labels[:2], **kwargs)  # warm-up

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    sync()
    start = time.perf_counter()
    result = identify_failures(vae, classifier, images, labels, **kwargs)
    sync()
    seconds = time.perf_counter() - start
    n_codes = args.images * args.q

    # breakdown: decode only, classify only (same batch size)
    z = torch.randn(min(n_codes, args.batch_size), vae.latent_dim, device=device)
    with torch.inference_mode():
        sync()
        t = time.perf_counter()
        x = vae.decode(z)
        sync()
        decode_rate = len(z) / (time.perf_counter() - t)
        t = time.perf_counter()
        classifier(x)
        sync()
        classify_rate = len(z) / (time.perf_counter() - t)
    return {
        "identify_codes_per_s": n_codes / seconds,
        "identify_seconds": seconds,
        "identify_codes": n_codes,
        "decode_codes_per_s": decode_rate,
        "classify_images_per_s": classify_rate,
        "failures_kept": result.n_found,
        "vae": vae_name,
        "classifier": classifier_name,
    }


def planted_codes(args) -> tuple[np.ndarray, np.ndarray]:
    """Codes from a planted Gaussian mixture, and each code's cluster.

    ``blobs``: 8 isotropic clusters (sd 0.5, centres ~ N(0, 3^2)), equal weights in expectation.
    ``anisotropic``: 20 clusters with Dirichlet(2) weights and random full covariances.
    """
    rng = np.random.default_rng(args.mixture_seed)
    if args.mixture == "blobs":
        centres = rng.normal(0, 3, size=(8, args.dims))
        which = rng.integers(0, 8, args.codes)
        codes = centres[which] + rng.normal(0, 0.5, size=(args.codes, args.dims))
    else:
        k = 20
        which = rng.choice(k, size=args.codes, p=rng.dirichlet(np.full(k, 2.0)))
        centres = rng.normal(0, 2.5, size=(k, args.dims))
        spread = rng.normal(size=(k, args.dims, args.dims)) * rng.uniform(
            0.1, 0.5, size=(k, 1, args.dims)
        )
        noise = rng.normal(size=(args.codes, args.dims))
        codes = centres[which] + np.einsum("nij,nj->ni", spread[which], noise)
    return codes.astype(np.float32), which


def timed(function):
    """``function()``, its wall seconds and its CPU seconds (this process, all threads)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def bench_distillation(args) -> dict:
    """Time ``distill_scenarios`` and compare it with a fully converged plain sklearn fit."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import adjusted_rand_score
    from sklearn.mixture import BayesianGaussianMixture
    from threadpoolctl import threadpool_limits

    from failwidgets.methods.defuse import Identification, distill_scenarios

    codes, which = planted_codes(args)
    n = args.codes
    identification = Identification(
        codes=codes,
        image_index=np.arange(n),
        noise_norm=np.ones(n, np.float32),
        labels=which % 8,
        predictions=(which + 1) % 8,
        confidence=np.ones(n, np.float32),
        n_images=n,
        n_samples=1,
        a=50.0,
        b=50.0,
        max_per_image=1,
        n_failing_draws=n,
    )
    scenarios, seconds, cpu_seconds = timed(lambda: distill_scenarios(identification))
    fitted = codes.astype(np.float64)  # all codes are fitted (n <= max_codes)
    assignment = scenarios.mixture.predict(fitted)
    figures = {
        "distill_seconds": seconds,
        "distill_cpu_seconds": cpu_seconds,
        "distill_codes": n,
        "distill_dims": args.dims,
        "distill_mixture": args.mixture,
        "distill_em_iterations": int(scenarios.stages[-1].n_iter),
        "distill_stages": [[s.n_codes, s.n_iter] for s in scenarios.stages],
        "distill_converged": bool(scenarios.converged),
        "distill_scenarios": len(scenarios),
        "distill_ari_vs_planted": float(adjusted_rand_score(which, assignment)),
        "distill_ari_vs_converged": None,  # without the reference fit (--reference-max-iter 0)
    }
    print(
        f"distillation: {seconds:.2f} s wall, {cpu_seconds:.2f} s CPU for {n} codes x "
        f"{args.dims} dims ({args.mixture}); stages (codes, EM iterations) "
        f"{figures['distill_stages']}, converged={figures['distill_converged']}, "
        f"{len(scenarios)} scenarios kept"
    )
    settings = dict(
        n_components=scenarios.mixture.n_components,
        covariance_type="full",
        weight_concentration_prior_type="dirichlet_process",
        random_state=0,
    )
    if args.baseline:
        # the fit before issue 17: plain sklearn, its default 100 iterations
        baseline = BayesianGaussianMixture(max_iter=100, **settings)
        with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            _, wall, cpu = timed(lambda: baseline.fit(fitted))
        figures.update(
            {
                "distill_baseline_seconds": wall,
                "distill_baseline_cpu_seconds": cpu,
                "distill_baseline_converged": bool(baseline.converged_),
            }
        )
        print(
            f"  before (plain sklearn, max_iter=100): {wall:.1f} s wall, {cpu:.1f} s CPU, "
            f"converged={baseline.converged_}"
        )
    if args.reference_max_iter:
        reference = BayesianGaussianMixture(
            max_iter=args.reference_max_iter, tol=args.reference_tol, **settings
        )
        print(
            f"  reference: plain sklearn fit, max_iter={args.reference_max_iter}, "
            f"tol={args.reference_tol:g} (minutes)...",
            flush=True,
        )
        with threadpool_limits(limits=1, user_api="blas"):
            expected, wall, cpu = timed(lambda: reference.fit_predict(fitted))
        figures.update(
            {
                "distill_ari_vs_converged": float(adjusted_rand_score(expected, assignment)),
                "distill_reference_seconds": wall,
                "distill_reference_cpu_seconds": cpu,
                "distill_reference_iterations": int(reference.n_iter_),
                "distill_reference_converged": bool(reference.converged_),
                "distill_reference_scenarios": int(np.sum(reference.weights_ > 0.01)),
            }
        )
        print(
            f"  reference: {reference.n_iter_} EM iterations, converged={reference.converged_}, "
            f"{wall:.0f} s wall, {cpu:.0f} s CPU, "
            f"{figures['distill_reference_scenarios']} scenarios; adjusted Rand index of the "
            f"assignments: {figures['distill_ari_vs_converged']:.4f}"
        )
    return figures


def demo_check(args) -> dict:
    """Identify, distill, review and correct on the demo world.

    The annotator is automated: a scenario is a failure when more than half of 10 samples
    (tau = 0.1) are not predicted as the majority original label of its member codes, which is
    then its correct label.
    """
    import torch

    from failwidgets.datasets import make_world
    from failwidgets.demo.classifier import load_classifier
    from failwidgets.demo.vae_model import DEMO_WORLD, load_demo_vae
    from failwidgets.methods.defuse import (
        correct_classifier,
        distill_scenarios,
        identify_failures,
        sample_scenario,
    )

    device = torch.device(args.device)
    world = make_world(**DEMO_WORLD)
    classifier, vae = load_classifier(device=args.device), load_demo_vae(device=device)
    rng = np.random.default_rng(0)
    train = np.sort(rng.choice(world.indices("train"), size=args.check_images, replace=False))
    start = time.perf_counter()
    identification = identify_failures(
        vae,
        classifier,
        world.images[train],
        world.labels[train],
        n_samples=args.check_q,
        max_per_image=10,
        batch_size=args.batch_size,
        progress=False,
    )
    scenarios = distill_scenarios(identification)
    pipeline_seconds = time.perf_counter() - start
    print(identification.message)
    print(scenarios.message)
    failures, error_rates = {}, {}
    for scenario in scenarios:
        samples = sample_scenario(scenario, vae, classifier, n=10, tau=0.1)
        error_rates[scenario.id] = samples.error_rate(scenario.majority_label)
        if error_rates[scenario.id] > 0.5:
            failures[scenario.id] = scenario.majority_label
    frame = scenarios.to_frame().assign(sample_error_rate=pd_series(error_rates))
    print(frame.to_string())
    figures = {
        "check_failure_codes": identification.n_found,
        "check_scenarios": len(scenarios),
        "check_failure_scenarios": len(failures),
        "check_max_sample_error_rate": max(error_rates.values(), default=float("nan")),
        "check_identify_distill_seconds": pipeline_seconds,
    }
    if not failures:
        print("no scenario is a failure under the automated annotator; correction skipped")
        return figures
    val, test = world.indices("val"), world.indices("test")
    start = time.perf_counter()
    result = correct_classifier(
        classifier,
        vae,
        scenarios,
        failures,
        train_images=world.images[world.indices("train")],
        train_labels=world.labels[world.indices("train")],
        test_images=world.images[test],
        test_labels=world.labels[test],
        val_images=world.images[val],
        val_labels=world.labels[val],
        lambdas=[0.01, 0.1, 1.0],
        n_per_scenario=256,
        tau=0.1,
        epochs=1,
        max_steps_per_epoch=60,
        batch_size=128,
        progress=False,
    )
    print(result.sweep.to_string())
    print(result.table().to_string())
    after = result.sweep.loc[result.sweep["selected"]].iloc[0]
    figures.update(
        {
            "check_correction_seconds": time.perf_counter() - start,
            "check_best_lambda": result.best_lambda,
            "check_test_before": result.before["test_accuracy"],
            "check_test_after": float(after["test_accuracy"]),
            "check_scenario_before": result.before["scenario_accuracy"],
            "check_scenario_after": float(after["scenario_accuracy"]),
        }
    )
    return figures


def pd_series(mapping):
    import pandas as pd

    return pd.Series(mapping, dtype=float)


def main():
    args = parse_args()
    import torch

    torch.set_num_threads(args.threads)
    figures = {
        "device": args.device,
        "threads": args.threads,
        "load_average_1min": os.getloadavg()[0],
    }
    if not args.skip_identify:
        figures.update(bench_identification(args))
        print(
            f"identification: {figures['identify_codes_per_s']:.0f} codes/s end to end "
            f"({figures['identify_codes']} codes in {figures['identify_seconds']:.1f} s; "
            f"decode alone {figures['decode_codes_per_s']:.0f}/s, classify alone "
            f"{figures['classify_images_per_s']:.0f}/s) on {args.device} with {args.threads} threads"
        )
        print(f"  models: {figures['vae']}; {figures['classifier']}")
    if not args.skip_distill:
        figures.update(bench_distillation(args))
    if args.demo_check:
        figures.update(demo_check(args))
    print(f"load average (1 min) at start: {figures['load_average_1min']:.1f}")
    print(json.dumps({"benchmark": "defuse", **figures}))


if __name__ == "__main__":
    main()
