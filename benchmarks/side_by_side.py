"""keras_t2i against the official DF-GAN PyTorch code, side by side in one sitting (issue 21).

Rounds of (peer, ours): the peer harness ``../shared/bench/peer_dfgan.py`` (the official
modules imported from a checkout, driven with synthetic inputs; its README gives the set-up)
runs in its own virtual environment, then this package's rows of the same work in this
process, then the next round. Same sizes, batches, nf 32, z 100, sentence 256 and threads
(``--threads`` for both: torch.set_num_threads and TensorFlow's intra-op pool). Each of our
rows carries the numpy matmul probe the peer prints before each of its rows (GFLOP/s), so
machine conditions can be compared row by row.

What each row times:

- ``train S:B``: one compiled ``train_step`` of DF-GAN (D step with MA-GP, then G step) on a
  fixed batch, ours with its DAMSM text encoder inside (the peer feeds random sentence
  embeddings, so ours does more work), against their ``lib.modules.train`` per iteration.
- ``G alone S:B``: the generator from noise and a sentence vector to float images, compiled
  (``tf.function``), against their ``netG`` under ``no_grad`` (what the peer times).
- ``end to end S:B``: tokens and seeds to uint8 images through the exported SavedModel's
  ``serving_default`` (tokenizer, text encoder, latents from the seeds, G, the uint8 tail):
  what users run. The peer has no such path; its ratio is against its G alone.
- ``DM-GAN G alone 256:B`` (with ``--dmgan-infer``, needs $DMGAN_SRC): DM-GAN's generator at
  the CUB config (gf 64, R_NUM 2, three stages to 256×256; 18 word slots, 12 real), compiled,
  against their ``G_NET`` under ``no_grad`` (``benchmarks/peer_dmgan.py``, which says why it
  drives no training).

Usage: python benchmarks/side_by_side.py [--rounds 2] [--train 64:8,64:32,256:8]
           [--infer 64:1,64:16] [--threads 2] [--peer-python /tmp/peer/venv/bin/python]
           [--seconds 10] [--dmgan-infer 256:1,256:16]
Needs $DFGAN_SRC (and $DFGAN_COMMIT) as in ../shared/bench/README.md, and $DMGAN_SRC (the
fetched DM-GAN checkout) for --dmgan-infer. Prints a Markdown section.
"""

import argparse
import functools
import importlib.util
import json
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

import tensorflow as tf
from common import header, rate

import keras_t2i as kt
from keras_t2i.serving.savedmodel import LocalModel
from keras_t2i.text.damsm import DAMSMTextEncoder

ROOT = Path(__file__).resolve().parents[1]
PEER = ROOT.parent / "shared" / "bench" / "peer_dfgan.py"
PEER_DMGAN = ROOT / "benchmarks" / "peer_dmgan.py"
CAPTION = "a big red circle in the center"


@functools.cache
def _peer_module():
    spec = importlib.util.spec_from_file_location("peer_dfgan", PEER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def calib_gflops():
    """The peer harness's own machine probe (imported, so both sides print the same one)."""
    return _peer_module().calib_gflops()


def peer_key(key):
    """The peer row a row of ours is compared with: end to end against the peer's G alone."""
    return ("G alone", key[1], key[2]) if key[0] == "end to end" else key


def pairs(text):
    return [tuple(int(v) for v in p.split(":")) for p in text.split(",") if p]


def harness_rows(command, labels, env=None):
    """{(label, size, batch): (images/s, probe)} of one peer harness process (JSON lines),
    ``labels`` mapping each line kind it reports to its row label."""
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if out.returncode:
        raise RuntimeError(f"{Path(command[1]).name} failed:\n{out.stderr[-3000:]}")
    rows = {}
    for line in out.stdout.splitlines():
        entry = json.loads(line)
        if entry.get("kind") in labels:
            rows[(labels[entry["kind"]], entry["imsize"], entry["batch"])] = (
                entry["img_per_s"], entry["calib_gflops_before"])
    return rows


def run_peer(python, train, infer, threads):
    """The official DF-GAN's rows: ("train"|"G alone", size, batch) → (images/s, probe)."""
    return harness_rows([python, str(PEER), "--train", train, "--infer", infer, "--threads",
                         str(threads)], {"g_infer": "G alone", "train_iter": "train"},
                        env=dict(os.environ, TQDM_DISABLE="1"))


def run_peer_dmgan(python, infer, threads):
    """The official DM-GAN's rows: ("DM-GAN G alone", size, batch) → (images/s, probe)."""
    return harness_rows([python, str(PEER_DMGAN), "--infer", infer, "--threads", str(threads)],
                        {"g_infer": "DM-GAN G alone"})


def our_dmgan_rows(infer, seconds, words=18, real_words=12):
    """Our DM-GAN generator at the CUB config on the peer's inputs, compiled."""
    rows = {}
    generator = kt.models.DMGANGenerator(image_size=256, stages=3, gf_dim=64, r_num=2)
    call = tf.function(lambda *a: generator(*a, training=False)["images"][-1])
    for size, batch in infer:
        inputs = (tf.random.normal((batch, 100)), tf.random.normal((batch, 100)),
                  tf.random.normal((batch, 256)), tf.random.normal((batch, words, 256)),
                  tf.sequence_mask(tf.fill((batch,), real_words), words))
        probe = calib_gflops()
        rows[("DM-GAN G alone", size, batch)] = (
            rate(lambda x=inputs: call(*x).numpy(), batch, warmup=3, min_seconds=seconds), probe)
    return rows


def our_rows(train, infer, seconds, exports):
    """The same rows for keras_t2i, each with the probe taken just before it."""
    tokenizer = kt.data.caption_tokenizer("shapes")
    text_encoder = DAMSMTextEncoder(tokenizer)  # untrained: the cost is the same
    rows = {}
    for size, batch in train:
        gan = kt.models.DFGAN(text_encoder, image_size=size, nf=32, noise_dim=100)
        gan.compile()
        data = kt.data.load("shapes", "train", image_size=size, batch_size=batch,
                            tokenizer=tokenizer)
        example = next(iter(data))
        example = {k: example[k] for k in ("image", "tokens", "class_id")}
        step = tf.function(gan.train_step)
        probe = calib_gflops()
        rows[("train", size, batch)] = (rate(lambda f=step, x=example: f(x), batch, warmup=2,
                                             min_seconds=seconds), probe)
    for size, batch in infer:
        gan = kt.models.DFGAN(text_encoder, image_size=size, nf=32, noise_dim=100)
        noise = tf.random.normal((batch, 100))
        sentence = tf.random.normal((batch, 256))
        generator = tf.function(lambda n, s, g=gan.generator: g(n, s, training=False))
        probe = calib_gflops()
        rows[("G alone", size, batch)] = (
            rate(lambda f=generator, n=noise, c=sentence: f(n, c).numpy(), batch, warmup=3,
                 min_seconds=seconds), probe)
        if size not in exports:
            gan.compile()
            exports[size] = LocalModel(kt.export.export_saved_model(
                gan, Path(tempfile.mkdtemp()) / f"dfgan{size}").parent)
        model = exports[size]
        captions, seeds = [CAPTION] * batch, list(range(batch))
        probe = calib_gflops()
        rows[("end to end", size, batch)] = (
            rate(lambda m=model, c=captions, s=seeds: m.generate(c, s), batch, warmup=3,
                 min_seconds=seconds), probe)
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--train", default="64:8,64:32,256:8")
    parser.add_argument("--infer", default="64:1,64:16")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--peer-python", default="/tmp/peer/venv/bin/python")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--dmgan-infer", default="",
                        help="DM-GAN generator rows, 256:BATCH,... (needs $DMGAN_SRC)")
    args = parser.parse_args()
    if not os.environ.get("DFGAN_SRC"):
        parser.error("set DFGAN_SRC to the official DF-GAN checkout (../shared/bench/README.md)")
    if args.dmgan_infer and not os.environ.get("DMGAN_SRC"):
        parser.error("--dmgan-infer needs DMGAN_SRC, the official DM-GAN checkout")
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    train, infer, dmgan = pairs(args.train), pairs(args.infer), pairs(args.dmgan_infer)
    peers, ours, exports = [], [], {}
    for _ in range(args.rounds):
        peers.append(run_peer(args.peer_python, args.train, args.infer, args.threads))
        ours.append(our_rows(train, infer, args.seconds, exports))
        if dmgan:
            peers[-1].update(run_peer_dmgan(args.peer_python, args.dmgan_infer, args.threads))
            ours[-1].update(our_dmgan_rows(dmgan, args.seconds))

    print(header("keras_t2i against the official DF-GAN (and DM-GAN), side by side"))
    print(f"{args.rounds} interleaved rounds (peer, ours, ...), nf 32, {args.threads} threads "
          "each, float32; numpy matmul probe (GFLOP/s) before each row; a / b are the rounds.\n")
    print("| work | official img/s | keras_t2i img/s | ratio | probe peer | probe ours |")
    print("|---|---|---|---|---|---|")
    keys = ([("train", s, b) for s, b in train] + [("G alone", s, b) for s, b in infer]
            + [("end to end", s, b) for s, b in infer]
            + [("DM-GAN G alone", s, b) for s, b in dmgan])
    for key in keys:
        peer = [p[peer_key(key)] for p in peers]
        mine = [o[key] for o in ours]
        ratios = [m[0] / p[0] for m, p in zip(mine, peer)]
        label = f"{key[0]} {key[1]}×{key[1]} batch {key[2]}"

        def joined(values, fmt):
            return " / ".join(fmt.format(v) for v in values)

        print(f"| {label} | {joined([p[0] for p in peer], '{:.2f}')} | "
              f"{joined([m[0] for m in mine], '{:.2f}')} | {joined(ratios, '{:.2f}×')} | "
              f"{joined([p[1] for p in peer], '{:.0f}')} | "
              f"{joined([m[1] for m in mine], '{:.0f}')} |")
    medians = {key: statistics.median(o[key][0] / p[peer_key(key)][0]
                                      for o, p in zip(ours, peers)) for key in keys}
    print("\nMedian ratios: " + ", ".join(f"{k[0]} {k[1]}:{k[2]} {v:.2f}×"
                                         for k, v in medians.items()))


if __name__ == "__main__":
    main()
