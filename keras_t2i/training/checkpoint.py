"""What a run's checkpoints hold, and how a resume finds one that restores.

A checkpoint (``tf.train.CheckpointManager`` in ``runs/NAME/checkpoints/``, every
``checkpoint_every`` steps and at the end) holds every network of the model by role (the
generator, each discriminator, the EMA generator), both optimizers with their step counters
and the latents' RNG state.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import tensorflow as tf

_CHECKPOINT_NAME = re.compile(r"ckpt-[0-9]+")


def gan_checkpoint(gan) -> tf.train.Checkpoint:
    """Everything a resumed run needs, from the model's roles: each network under its name
    (``generator``, ``discriminator``, ``generator_ema`` for DF-GAN), both optimizers (with
    their step counters) and the latents' seed generator state.

    Each network's variables are also listed explicitly (in ``weights`` order): a
    ``tf.train.Checkpoint`` does not walk the Python lists of layers inside Keras 3 models, so
    without the lists only what an optimizer references (the trainable weights) would be
    saved, and the EMA generator's blocks would silently come back at their initial values."""
    parts = dict(g_optimizer=gan.g_optimizer, d_optimizer=gan.d_optimizer,
                 noise_seed=gan.seed_generator.state.value)
    for name, network in gan.networks().items():
        parts[name] = network
        parts[f"{name}_variables"] = [w.value for w in network.weights]
    return tf.train.Checkpoint(**parts)


def checkpoint_prefixes(directory) -> list[Path]:
    """The ``ckpt-N`` prefixes of ``directory``, newest first: those its state file lists and
    those whose index file is on disk (a kill can leave either without the other)."""
    directory = Path(directory)
    names = set()
    state = tf.train.get_checkpoint_state(str(directory)) if directory.is_dir() else None
    if state is not None:
        names.update(Path(p).name for p in (*state.all_model_checkpoint_paths,
                                            state.model_checkpoint_path) if p)
    names.update(p.name[: -len(".index")] for p in directory.glob("ckpt-*.index"))
    numbered = [n for n in names if _CHECKPOINT_NAME.fullmatch(n)]
    return [directory / n for n in sorted(numbered, key=lambda n: -int(n.split("-")[1]))]


def checkpoint_problem(prefix) -> str | None:
    """Why the checkpoint at ``prefix`` cannot be restored (missing or truncated files), or
    None when every tensor in it reads back. Nothing is restored."""
    try:
        reader = tf.train.load_checkpoint(str(prefix))
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except Exception as err:  # NotFound, DataLoss, OutOfRange, …: all mean "unreadable"
        message = getattr(err, "message", None) or str(err) or type(err).__name__
        return message.strip().splitlines()[0][:300]
    return None


def restore_newest(checkpoint, directory, *, set_aside=True) -> Path | None:
    """Restores the newest checkpoint of ``directory`` that reads whole and returns its
    prefix (None when there is no checkpoint at all).

    Newer checkpoints that do not read are named with the reason; with ``set_aside`` their
    files are moved to ``directory/unreadable/`` (never deleted, and never overwritten by the
    run's next checkpoints of the same numbers) and the state file is rewritten to list the
    remaining ones.

    Raises:
        ValueError: checkpoints exist but none reads, naming each with its reason.
    """
    directory = Path(directory)
    prefixes = checkpoint_prefixes(directory)
    skipped = []
    for prefix in prefixes:
        problem = checkpoint_problem(prefix)
        if problem is None:
            break
        skipped.append(prefix)
        print(f"Skipping checkpoint {prefix}: it does not read ({problem}).")
    else:
        if skipped:
            raise ValueError(f"No checkpoint in {directory} can be restored (each is named "
                             "above with its reason); move the folder away to start again "
                             "from step 0.")
        return None
    try:
        checkpoint.restore(str(prefix)).assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as err:
        raise ValueError(f"Checkpoint {prefix} does not match this run's networks: {err}") \
            from None
    if skipped and set_aside:
        aside, moved = directory / "unreadable", set()
        for bad in skipped:
            for path in directory.glob(f"{bad.name}.*"):
                aside.mkdir(exist_ok=True)
                target = aside / path.name
                while target.exists():
                    target = target.with_name(target.name + "~")
                path.rename(target)
                moved.add(bad.name)
        kept = [q for q in prefixes if q not in skipped]
        tf.compat.v1.train.update_checkpoint_state(
            str(directory), prefix.name, [q.name for q in reversed(kept)])
        if moved:
            print(f"Moved the files of {', '.join(sorted(moved))} to {aside}: newer than "
                  f"{prefix.name} but unreadable, kept there rather than overwritten.")
    return prefix


def remove_temporary_checkpoints(directory) -> list[Path]:
    """Deletes the ``ckpt-N_temp`` folders a kill during a checkpoint save leaves behind."""
    removed = []
    for path in sorted(Path(directory).glob("ckpt-*_temp")):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
            print(f"Removed {path}: a checkpoint save that was interrupted.")
            removed.append(path)
    return removed
