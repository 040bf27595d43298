"""``neurodecode reconstruct`` (the main job) and ``neurodecode train-generator``."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--subject", default="1", show_default=True, help="Subject whose test images to "
              "reconstruct.")
@click.option("--dataset", default="synthetic-vision", show_default=True,
              help="A dataset name (`neurodecode data list`) or a folder: a world written by "
                   "`neurodecode synth`, NSD as released, or the bring-your-own format "
                   "(`neurodecode data check`).")
@click.option("--modality", type=click.Choice(["fmri", "meg"]), default="fmri",
              show_default=True, help="fmri (synthetic-vision) or meg (synthetic-meg-vision: "
              "evoked MEG to the same images, time-binned sensor vectors).")
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Experiment YAML (default: pipelines/recon/synthetic-default.yaml).")
@click.option("--checkpoint", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="A trained decoder folder (model.safetensors + config.json); default: "
                   "train one or reuse the cached one.")
@click.option("--generator", type=click.Choice(["embedded", "none", "sd-img2img", "unclip",
                                                "versatile"]),
              default="embedded", show_default=True)
@click.option("--generator-model", default=None, help="Hub id or local path of the "
              "pretrained generator (pretrained backends only).")
@click.option("--allow-download", is_flag=True, help="Allow fetching pretrained weights.")
@click.option("--n-images", type=int, default=None, help="Reconstruct only the first K test "
              "images (default: all).")
@click.option("--n-samples", type=int, default=4, show_default=True,
              help="Candidates per image, ranked by the decoded embedding (never the truth).")
@click.option("--strength", type=float, default=0.5, show_default=True)
@click.option("--steps", type=int, default=20, show_default=True)
@click.option("--guidance", type=float, default=5.0, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--no-control", is_flag=True, help="Skip the shuffled-brain-data control.")
@click.option("--decoder", type=click.Choice(["deep", "ridge", "ridge+deep"]), default=None,
              help="Decoder kind (default: the config's model.decoder). The ridge baseline is "
                   "always scored beside it on the same split.")
@click.option("--no-baseline", is_flag=True, help="Skip the ridge baseline.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("neurodecode-out/reconstruct"), show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bars.")
def reconstruct(subject, dataset, modality, config, checkpoint, generator, generator_model,
                allow_download, n_images, n_samples, strength, steps, guidance, seed,
                no_control, decoder, no_baseline, out_dir, quiet):
    """Reconstruct the images a subject saw from their brain activity.

    With no options: builds the synthetic vision dataset, trains (or reuses) a cross-subject
    decoder, reconstructs subject 1's shared test images with the embedded generator, and
    writes reconstructions.png, metrics.json, metrics.csv and config.yaml to --out.
    """
    from neurodecode._cpu import use_free_cores
    from neurodecode.reconstruct.pipeline import run_reconstruction

    use_free_cores()
    result = run_reconstruction(
        subject=subject, dataset=dataset, modality=modality, config=config, checkpoint=checkpoint,
        generator=generator, generator_model=generator_model, allow_download=allow_download,
        n_images=n_images, n_samples=n_samples, strength=strength, steps=steps,
        guidance=guidance, seed=seed, out_dir=out_dir, shuffle_control=not no_control,
        decoder=decoder, ridge_baseline=not no_baseline, quiet=quiet,
    )
    metrics = result["metrics"]
    shown = metrics[metrics["stage"] == "reconstruction"][["decoder", "condition", "metric",
                                                           "value", "ci_low", "ci_high"]]
    click.echo(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    click.echo(f"wrote {', '.join(str(p) for p in result['files'])} "
               f"in {result['seconds']:.0f} s")


@click.command("train-generator")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--n-images", type=click.IntRange(min=1), default=12000, show_default=True)
@click.option("--epochs", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("neurodecode-out/embedded-generator.safetensors"), show_default=True,
              help="Weights file (use it with `reconstruct --generator-model FILE`).")
@click.option("--replace-shipped", is_flag=True,
              help="Write over the package's shipped weights instead of --out (maintainers).")
@click.option("--quiet", is_flag=True)
def train_generator(seed, n_images, epochs, out_path, replace_shipped, quiet):
    """Train the embedded generator of the synthetic world (reproduces the shipped weights).

    The result goes to --out; the package's own weights change only with --replace-shipped.
    """
    from neurodecode._files import check_writable_file
    from neurodecode.reconstruct.embedded import DEFAULT_WEIGHTS, save_codec, train_codec

    target = Path(DEFAULT_WEIGHTS) if replace_shipped else out_path
    if target.suffix != ".safetensors":
        raise click.BadParameter(f"{target}: expected a .safetensors file name", param_hint="--out")
    check_writable_file(target, "--out")  # before the training, not after it
    codec, meta = train_codec(seed=seed, n_images=n_images, epochs=epochs, quiet=quiet)
    path = save_codec(codec, target, meta)
    click.echo(f"wrote {path} ({meta['train_seconds']} s)")
