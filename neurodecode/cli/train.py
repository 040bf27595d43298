"""``neurodecode train`` and ``neurodecode adapt``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from neurodecode.cli._checks import writable_dir


@click.command()
@click.option("--config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True, help="Experiment YAML, e.g. pipelines/recon/synthetic-default.yaml.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              required=True, help="Checkpoint folder (model.safetensors, config.json, logs).")
@click.option("--resume", is_flag=True, help="Continue an interrupted run in --out.")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Override train.epochs.")
@click.option("--dataset", default=None, help="Override data.dataset: a dataset name "
              "(`neurodecode data list`) or a folder (`neurodecode data check PATH`).")
@click.option("--subjects", default=None, help="Override data.subjects, comma-separated "
              "(e.g. 1,2).")
@click.option("--decoder", type=click.Choice(["deep", "ridge", "ridge+deep"]), default=None,
              help="Override model.decoder: deep, ridge (per-subject ridge baseline) or "
                   "ridge+deep (deep residual on top of ridge).")
@click.option("--quiet", is_flag=True)
def train(config, out_dir, resume, epochs, dataset, subjects, decoder, quiet):
    """Train a cross-subject decoder (HF accelerate: `accelerate launch` runs it on many
    processes or GPUs)."""
    from neurodecode._cpu import use_free_cores
    from neurodecode.training.experiment import fit, load_config

    cfg = load_config(config)
    use_free_cores()
    if epochs is not None:
        cfg.train.epochs = epochs
    _override_data(cfg, dataset, subjects)
    if decoder is not None:
        cfg.model["decoder"] = decoder
    fit(cfg, out_dir=out_dir, quiet=quiet, resume=resume)
    from accelerate import PartialState

    if not PartialState().is_main_process:  # under `accelerate launch`, one process reports
        return
    report = json.loads((out_dir / "metrics.json").read_text())
    for key, label in (("retrieval", report.get("decoder", "decoder")),
                       ("ridge_baseline", "ridge baseline")):
        for row in report.get(key, []):
            click.echo(f"subject {row['subject']}: top-1 {row['top1_forward']:.3f} forward, "
                       f"{row['top1_backward']:.3f} backward (set of {row['set_size']}, "
                       f"{row['space']}); two-way {row['two_way']:.3f} [{label}]")
    click.echo(f"wrote {out_dir}")


def _override_data(cfg, dataset: str | None, subjects: str | None) -> None:
    """``--dataset`` / ``--subjects`` replace the config's data section entries (a new
    dataset drops the config's world parameters and, unless given, its subject list)."""
    if dataset is not None:
        cfg.data["dataset"] = dataset
        cfg.data.pop("params", None)
        cfg.data.pop("subjects", None)
    if subjects is not None:
        cfg.data["subjects"] = [s.strip() for s in subjects.split(",") if s.strip()]


@click.command()
@click.option("--checkpoint", type=click.Path(exists=True, file_okay=False, path_type=Path),
              required=True, help="Decoder trained on other subjects.")
@click.option("--config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True, help="Experiment YAML whose data section holds the new subject.")
@click.option("--subject", required=True, help="The new subject.")
@click.option("--policy", type=click.Choice(["adapter_only", "reset_tune", "full"]),
              default="adapter_only", show_default=True)
@click.option("--fraction", type=float, default=1.0, show_default=True,
              help="Share of the subject's training stimuli to use.")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Override train.epochs.")
@click.option("--dataset", default=None, help="Override data.dataset (a name or a folder); "
              "it must hold the checkpoint's subjects and the new one.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              required=True, callback=writable_dir)
@click.option("--quiet", is_flag=True)
def adapt(checkpoint, config, subject, policy, fraction, epochs, dataset, out_dir, quiet):
    """Adapt a trained decoder to a new subject with little data."""
    from neurodecode._files import write_json
    from neurodecode.training.adapt import adapt as adapt_model
    from neurodecode.training.checkpoint import load_checkpoint, save_checkpoint
    from neurodecode.training.experiment import (
        evaluate,
        load_config,
        load_dataset,
        prepare_data,
    )

    cfg = load_config(config)
    if epochs is not None:
        cfg.train.epochs = epochs
    _override_data(cfg, dataset, None)
    model, _ = load_checkpoint(checkpoint)
    subjects, stimuli = load_dataset(cfg.data)
    prepared = prepare_data(subjects, stimuli, [t["space"] for t in cfg.targets])
    adapted, report = adapt_model(model, prepared, subject, policy, cfg.train,
                                  fraction=fraction, quiet=quiet)
    save_checkpoint(adapted, out_dir, {"adapted_from": str(checkpoint), "policy": policy})
    metrics = evaluate(adapted, prepared, subject, cfg.targets[0]["space"])
    write_json(out_dir / "adapt_report.json",
               {k: v for k, v in report.items() if k != "logs"} | {"metrics": metrics})
    click.echo(f"re-initialised {len(report['reinitialised'])} tensors of subject {subject}; "
               f"trained {len(report['trainable'])}, froze {len(report['frozen'])}")
    click.echo(f"top-1 {metrics['top1_forward']:.3f} (set of {metrics['set_size']})")
