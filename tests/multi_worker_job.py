"""One worker of the multi-worker test (tests/training/test_train.py); also the one-device run.

With TF_CONFIG set it joins the cluster as MultiWorkerMirroredStrategy, without it it runs on
one device. Either way it runs the first training step of a tiny DF-GAN on a fixed global
batch through ``keras_t2i.training.distributed.distributed_train_step`` (the custom loop's
step), writes the step's losses and the weights of G, D and the EMA generator after it to
``--result``, then, with ``--train-out``, runs ``keras_t2i.training.train(strategy=...)`` for a
few steps.

Usage: python tests/multi_worker_job.py --encoder-dir DIR --result FILE.npz [--train-out DIR]
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


def global_batch(tokenizer):
    """8 examples: 4 Shapes scenes twice, so each half of the batch holds the same 4 and the
    mismatched pairs (each image with the next caption) are the same on 1 or 2 replicas."""
    ds = kt.data.load("shapes", "test", image_size=16, batch_size=4, num_scenes=4,
                      tokenizer=tokenizer, max_objects=1)
    batch = next(iter(ds))
    return {k: tf.concat([batch[k], batch[k]], axis=0) for k in ("image", "tokens")}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--encoder-dir", required=True)
    parser.add_argument("--result", required=True)
    parser.add_argument("--train-out")
    args = parser.parse_args()
    name = "multi-worker" if "TF_CONFIG" in os.environ else "default"
    strategy = make_strategy(name)  # before any other TensorFlow op

    text_encoder = load_encoders(args.encoder_dir)[0]
    batch = global_batch(text_encoder.tokenizer)
    keras.utils.set_random_seed(0)
    with strategy.scope():
        gan = kt.models.DFGAN(text_encoder, image_size=16, nf=4, ema_decay=0.5)
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
    weights = {f"g{i}": w for i, w in enumerate(gan.generator.get_weights())}
    weights.update({f"d{i}": w for i, w in enumerate(gan.discriminator.get_weights())})
    weights.update({f"e{i}": w for i, w in enumerate(gan.generator_ema.get_weights())})
    np.savez(args.result, logs=json.dumps(logs), replicas=replicas, **weights)

    if args.train_out:
        train(strategy=name, out=args.train_out, text_encoder=args.encoder_dir, image_size=16,
              nf=4, batch_size=GLOBAL_BATCH, steps=3, checkpoint_every=2, sample_every=2,
              data_options={"max_objects": 1}, export_dir=args.train_out + "/export")


if __name__ == "__main__":
    main()
