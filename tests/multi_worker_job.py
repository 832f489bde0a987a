"""One worker of the multi-worker test (tests/training/test_train.py); also the one-device run.

With TF_CONFIG set it joins the cluster as MultiWorkerMirroredStrategy, without it it runs on
one device. Either way it runs the first training step of a tiny DF-GAN, DM-GAN or MirrorGAN
(``--model``; MirrorGAN with the captioner in ``--captioner-dir``) on a fixed global batch
through
``keras_t2i.training.distributed.distributed_train_step`` (the custom loop's step), writes the
step's losses and the weights of every network after it (G, the discriminators, the EMA
generator) to ``--result``, then, with ``--train-out``, runs
``keras_t2i.training.train(strategy=...)`` for a few steps.

Usage: python tests/multi_worker_job.py --encoder-dir DIR --result FILE.npz
           [--model dfgan|dmgan|mirrorgan|memorygan] [--captioner-dir DIR] [--train-out DIR]
"""

import argparse
import json
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_t2i as kt  # noqa: E402
from keras_t2i.text.damsm import load_encoders  # noqa: E402
from keras_t2i.training import train  # noqa: E402
from keras_t2i.training.distributed import distributed_train_step, make_strategy  # noqa: E402

GLOBAL_BATCH = 8
# The tiny models and the options of their few train() steps.
MODELS = {
    "dfgan": {"image_size": 16, "nf": 4},
    "dmgan": {"image_size": 64, "stages": 2, "gf_dim": 4, "df_dim": 4, "r_num": 1},
    "mirrorgan": {"image_size": 64, "stages": 2, "gf_dim": 4, "df_dim": 4, "r_num": 1},
    "memorygan": {"image_size": 16, "nf": 4, "num_parts": 2, "part_dim": 4, "query_dim": 8,
                  "feature_channels": 4},
}


def global_batch(tokenizer, image_size, scenes):
    """8 examples: ``scenes`` Shapes scenes repeated, so each half of the batch holds the same
    ones and the mismatched pairs (each image with the next caption) are the same on 1 or 2
    replicas."""
    ds = kt.data.load("shapes", "test", image_size=image_size, batch_size=scenes,
                      num_scenes=scenes, tokenizer=tokenizer, max_objects=1)
    batch = next(iter(ds))
    return {k: tf.tile(batch[k], (GLOBAL_BATCH // scenes,) + (1,) * (batch[k].ndim - 1))
            for k in ("image", "tokens")}


def build(model, text_encoder, captioner_dir=None):
    """The tiny model. The cascades' BatchNorm normalises each replica's share (as
    DataParallel does), so their batch is one scene and their latents four draws repeated:
    every share's statistics then equal the whole batch's, and what is compared is the
    distribution."""
    if model == "dfgan":
        return kt.models.DFGAN(text_encoder, ema_decay=0.5, **MODELS[model])
    if model == "memorygan":  # no BatchNorm either: DF-GAN's batch of four scenes
        return kt.models.MemoryGAN(text_encoder, ema_decay=0.5, **MODELS[model])
    if model == "dmgan":
        gan = kt.models.DMGAN(text_encoder, ema_decay=0.5, **MODELS[model])
    else:
        gan = kt.models.MirrorGAN(text_encoder, kt.pretrain.load_captioner(captioner_dir),
                                  ema_decay=0.5, **MODELS[model])
    draws = {name: tf.random.stateless_normal((4, dim), seed=(1, i))
             for i, (name, dim) in enumerate(sorted(gan.latent_dims().items()))}
    gan.sample_latents = lambda n: {k: tf.tile(v, (n // 4, 1)) for k, v in draws.items()}
    return gan


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--encoder-dir", required=True)
    parser.add_argument("--result", required=True)
    parser.add_argument("--train-out")
    parser.add_argument("--model", choices=list(MODELS), default="dfgan")
    parser.add_argument("--captioner-dir")
    args = parser.parse_args()
    name = "multi-worker" if "TF_CONFIG" in os.environ else "default"
    strategy = make_strategy(name)  # before any other TensorFlow op

    text_encoder = load_encoders(args.encoder_dir)[0]
    size = MODELS[args.model]["image_size"]
    batch = global_batch(text_encoder.tokenizer, size,
                         4 if args.model in ("dfgan", "memorygan") else 1)
    keras.utils.set_random_seed(0)
    with strategy.scope():
        gan = build(args.model, text_encoder, args.captioner_dir)
        # SGD, not Adam: Adam's first step barely depends on the gradient's scale, so it
        # would hide a loss scaled for the replica instead of the global batch.
        gan.compile(g_optimizer=keras.optimizers.SGD(0.05), d_optimizer=keras.optimizers.SGD(0.05))
    replicas = strategy.num_replicas_in_sync
    share = GLOBAL_BATCH // replicas

    def replica_slice(context):
        start = context.replica_id_in_sync_group * share
        return {k: v[start:start + share] for k, v in batch.items()}

    distributed = strategy.experimental_distribute_values_from_function(replica_slice)
    logs = distributed_train_step(gan, strategy)(distributed)
    weights = {f"{network}/{i}": w for network, net in gan.networks().items()
               for i, w in enumerate(net.get_weights())}
    np.savez(args.result, logs=json.dumps(logs), replicas=replicas, **weights)

    if args.train_out:
        extra = {"captioner": args.captioner_dir} if args.model == "mirrorgan" else {}
        train(strategy=name, model=args.model, out=args.train_out, text_encoder=args.encoder_dir,
              batch_size=GLOBAL_BATCH, steps=3, checkpoint_every=2, sample_every=2, **extra,
              data_options={"min_objects": 1, "max_objects": 1},
              export_dir=args.train_out + "/export", **MODELS[args.model])


if __name__ == "__main__":
    main()
