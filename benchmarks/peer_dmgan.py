#!/usr/bin/env python
"""CPU generation speed of the official DM-GAN PyTorch code (github.com/MinfengZhu/DM-GAN),
for ``side_by_side.py`` (issue 21). Runs in the peer's own virtual environment (torch).

Nothing of DM-GAN's is copied: their ``model.G_NET`` is imported from the checkout named by
$DMGAN_SRC (repo root or its ``code/`` directory), with their ``miscc.config.cfg`` set to
``cfg/bird_DMGAN.yml``'s generator values (3 branches, GF_DIM 64, R_NUM 2, Z_DIM 100,
EMBEDDING_DIM 256, CONDITION_DIM 100) and ``CUDA = False`` (their Conditioning Augmentation
draws its noise with ``torch.cuda.FloatTensor`` otherwise). ``torchvision`` is stubbed (their
``model.py`` imports it for the Inception image encoder, which G_NET does not use), with the
shared harness's stub (``../shared/bench/peer_dfgan.py``), whose matmul probe is printed too.

What it times: ``netG.eval()`` under ``torch.no_grad()``, noise, a sentence vector, 18 word
vectors and the padding mask (the first 12 words real, as a typical CUB caption) → the three
stages' images, as their sampling code calls it. Training is not driven: their iteration
needs the DAMSM image encoder (``CNN_ENCODER``), which builds torchvision's Inception v3 and
downloads its ImageNet weights in ``__init__`` — no torchvision imports beside this machine's
torch wheel, and no download is reachable.

Set-up (the peer venv of ../shared/bench/README.md; the numbers use commit d515995):
    git -C <fetched DM-GAN git dir> archive d515995b6fade48be9762c7f069c9d889d4d5559 \
        | tar -x -C /tmp/peer/DM-GAN
Usage: DMGAN_SRC=/tmp/peer/DM-GAN /tmp/peer/venv/bin/python benchmarks/peer_dmgan.py
           [--infer 256:1,256:16] [--threads 2] [--seconds 5]
Output: one JSON object per line (kind env, params, g_infer), as peer_dfgan.py's.
"""

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "bench" / "peer_dfgan.py"
WORDS, REAL_WORDS = 18, 12


def shared_harness():
    spec = importlib.util.spec_from_file_location("peer_dfgan", SHARED)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def code_dir():
    src = os.environ.get("DMGAN_SRC")
    if not src:
        sys.exit("set DMGAN_SRC to the DM-GAN checkout (repo root or its code/ directory)")
    for candidate in (Path(src) / "code", Path(src)):
        if (candidate / "model.py").is_file():
            return candidate
    sys.exit(f"no model.py under {src} or {src}/code")


def build_generator(torch):
    from miscc.config import cfg  # theirs

    cfg.CUDA = False
    cfg.TREE.BRANCH_NUM = 3
    cfg.GAN.GF_DIM, cfg.GAN.R_NUM, cfg.GAN.Z_DIM = 64, 2, 100
    cfg.TEXT.EMBEDDING_DIM, cfg.GAN.CONDITION_DIM = 256, 100
    cfg.TEXT.WORDS_NUM = WORDS
    import model  # theirs

    torch.manual_seed(100)
    return model.G_NET(), cfg


def bench_infer(torch, net, cfg, batch, seconds):
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(batch, cfg.GAN.Z_DIM, generator=g)
    sentence = torch.randn(batch, cfg.TEXT.EMBEDDING_DIM, generator=g)
    words = torch.randn(batch, cfg.TEXT.EMBEDDING_DIM, WORDS, generator=g)
    mask = torch.zeros(batch, WORDS, dtype=torch.bool)
    mask[:, REAL_WORDS:] = True  # their mask is True on padding (captions == 0)
    lengths = torch.full((batch,), REAL_WORDS, dtype=torch.long)
    times = []
    with torch.no_grad():
        for _ in range(3):
            images = net(noise, sentence, words, mask, lengths)[0]
        start = time.perf_counter()
        while len(times) < 10 or time.perf_counter() - start < seconds:
            t0 = time.perf_counter()
            images = net(noise, sentence, words, mask, lengths)[0]
            times.append(1000.0 * (time.perf_counter() - t0))
    size = images[-1].shape[-1]
    median = statistics.median(times)
    return {"kind": "g_infer", "imsize": size, "batch": batch, "ms_median": median,
            "n": len(times), "img_per_s": batch / (median / 1000.0)}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--infer", default="256:1,256:16",
                        help="comma list of imsize:batch (imsize 256: the three stages)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()

    shared = shared_harness()
    shared.stub_torchvision()
    sys.path.insert(0, str(code_dir()))
    import torch

    torch.set_num_threads(args.threads)
    net, cfg = build_generator(torch)
    net.eval()
    shared.emit({"kind": "env", "dmgan_commit": os.environ.get("DMGAN_COMMIT", "unknown"),
                 "torch": torch.__version__, "num_threads": torch.get_num_threads()})
    shared.emit({"kind": "params", "imsize": 256, "G_NET": shared.nparams(net)})
    for size, batch in shared.parse_pairs(args.infer):
        if size != 64 * 2 ** (cfg.TREE.BRANCH_NUM - 1):
            sys.exit(f"imsize {size}: this harness builds the 3-branch (256×256) generator")
        probe = shared.calib_gflops()
        row = bench_infer(torch, net, cfg, batch, args.seconds)
        row["calib_gflops_before"] = probe
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
