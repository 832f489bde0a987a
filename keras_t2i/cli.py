"""The ``keras-t2i`` command line: the only place that parses flags (DESIGN §4.2).

Each subcommand resolves its flags into keyword arguments once and hands them to the package;
flags left out take the package's defaults. TensorFlow is imported only when a command runs,
so ``keras-t2i --help`` is instant.
"""

from __future__ import annotations

import argparse
import sys

from keras_t2i.version import __version__

# Subcommands of DESIGN §4.2 that later issues build; until then they say so and exit 2.
NOT_YET = {
    "train": "DF-GAN training arrives with the DF-GAN/MSGAN issue",
    "generate": "image generation arrives with the DF-GAN/MSGAN issue",
    "export": "SavedModel export arrives with the export and serving issue",
    "serve": "the PredictionService-compatible server arrives with the export and serving issue",
    "evaluate": "evaluation arrives with the evaluation issue",
    "pretrain captioner": "the STREAM captioner arrives with the MirrorGAN issue",
}
EXIT_USAGE = 2


def _not_yet(command):
    def run(args):
        print(f"keras-t2i {command}: not implemented yet ({NOT_YET[command]}). "
              "Available now: keras-t2i pretrain damsm.", file=sys.stderr)
        return EXIT_USAGE

    return run


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _add_data_flags(parser):
    parser.add_argument("--data", choices=("shapes", "cub", "coco"), default="shapes",
                        help="dataset (default: shapes, the built-in procedural scenes)")
    parser.add_argument("--data-dir", help="folder of CUB or COCO on disk (README layouts)")
    parser.add_argument("--image-size", type=_positive_int, help="image side (default 64)")
    parser.add_argument("--batch-size", type=_positive_int, help="batch size (default 32)")
    parser.add_argument("--max-objects", type=_positive_int,
                        help="Shapes: at most this many objects per scene (default 2)")
    parser.add_argument("--max-words", type=_positive_int,
                        help="caption length in words (default: 18 for CUB/COCO; the "
                             "grammar's longest caption for Shapes)")


def _run_pretrain_damsm(args):
    from keras_t2i.pretrain import pretrain_damsm, resolve_damsm_config

    data_options = {}
    if args.max_objects is not None:
        if args.data != "shapes":
            raise ValueError("--max-objects applies to --data shapes only.")
        data_options["max_objects"] = args.max_objects
    config = resolve_damsm_config(
        data=args.data, data_dir=args.data_dir, data_options=data_options,
        image_size=args.image_size, batch_size=args.batch_size, steps=args.steps,
        epochs=args.epochs, max_words=args.max_words, backbone=args.backbone,
        backbone_weights=args.backbone_weights, learning_rate=args.learning_rate,
        seed=args.seed, out=args.out)
    metrics = pretrain_damsm(**config)
    out = config["out"]
    print(f"R-precision (R@1, 1 true + 99 mismatched, {metrics['num_images']} test images): "
          f"{100 * metrics['r_precision']:.2f} ± {100 * metrics['r_precision_std']:.2f} %")
    print(f"Encoders: {out}/text_encoder.keras, {out}/image_encoder.keras")
    print(f"Metrics:  {out}/metrics.json   TensorBoard: tensorboard --logdir {out}/logs")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keras-t2i",
        description="Text-to-image GANs on Keras 3 / TensorFlow: train, generate, export, "
                    "serve, evaluate, pretrain.")
    parser.add_argument("--version", action="version", version=f"keras-t2i {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    for name, text in (("train", "train a text-to-image GAN (quickstart: no flags)"),
                       ("generate", "generate images from captions"),
                       ("export", "export a trained run as a TF Serving SavedModel"),
                       ("serve", "serve SavedModels over TF Serving's gRPC API"),
                       ("evaluate", "FID/KID, R-precision, Shapes semantic accuracy")):
        sub = commands.add_parser(name, help=f"{text} [not implemented yet]",
                                  description=f"{text}. Not implemented yet: {NOT_YET[name]}.")
        sub.set_defaults(func=_not_yet(name), accepts_any_flags=True)

    pretrain = commands.add_parser("pretrain", help="pretrain the DAMSM encoders or a captioner")
    targets = pretrain.add_subparsers(dest="target", metavar="TARGET", required=True)
    damsm = targets.add_parser(
        "damsm", help="DAMSM text and image encoders",
        description="Pretrain the DAMSM text/image encoders with fit(); writes config.json, "
                    "TensorBoard logs, the encoders and metrics.json (R-precision) to --out.")
    _add_data_flags(damsm)
    budget = damsm.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=_positive_int,
                        help="training steps (default: 400 on shapes)")
    budget.add_argument("--epochs", type=_positive_int,
                        help="passes over the data (default: 200 on cub, 100 on coco)")
    damsm.add_argument("--backbone", choices=("cnn", "inception_v3"),
                       help="image encoder: small CNN from scratch (default) or InceptionV3")
    damsm.add_argument("--backbone-weights",
                       help="InceptionV3 weights file (*_notop.h5), needed with inception_v3")
    damsm.add_argument("--learning-rate", type=float, help="Adam learning rate (default 2e-3)")
    damsm.add_argument("--seed", type=int, help="random seed (default 0)")
    damsm.add_argument("--out", help="run directory (default runs/damsm-<data>)")
    damsm.set_defaults(func=_run_pretrain_damsm)
    captioner = targets.add_parser("captioner", help="STREAM captioner [not implemented yet]")
    captioner.set_defaults(func=_not_yet("pretrain captioner"), accepts_any_flags=True)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    # Commands not built yet take any flags, so that their message, not a usage error, shows.
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(args, "accepts_any_flags", False):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("keras-t2i: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError) as err:
        # Bad input (flags, files, data layout): say what is wrong, without a traceback.
        print(f"keras-t2i {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
