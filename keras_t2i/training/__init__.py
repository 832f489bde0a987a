"""Training runs: configuration (``config``), the run (``run``), checkpoints
(``checkpoint``), strategies and the multi-worker loop (``distributed``), and the training
callbacks (``callbacks``). ``kt.train`` is this package."""

from keras_t2i import _backend  # noqa: F401
from keras_t2i.training.checkpoint import gan_checkpoint, restore_newest
from keras_t2i.training.config import load_run_config, resolve_train_config
from keras_t2i.training.run import build_gan, load_run, train

__all__ = ["build_gan", "gan_checkpoint", "load_run", "load_run_config", "resolve_train_config",
           "restore_newest", "train"]
