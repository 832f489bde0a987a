"""``Evaluate``: the evaluation metrics of ``keras-t2i evaluate`` during ``fit``."""

from __future__ import annotations

import keras

from keras_t2i import _backend  # noqa: F401
from keras_t2i.evaluation import datasets, report, shapes, sources
from keras_t2i.metrics.inception import InceptionV3Features
from keras_t2i.metrics.shapes_oracle import load_oracle
from keras_t2i.training.callbacks import gan_step


class Evaluate(keras.callbacks.Callback):
    """Runs ``keras-t2i evaluate``'s metrics on the model every N epochs.

    It evaluates what ``model.generate`` uses (the EMA generator when there is one) and writes
    each metric as the TensorBoard scalar ``eval/<name>`` at the GAN step; ``history`` keeps
    ``(step, metrics)`` of every evaluation.

    Args:
        log_dir: str. TensorBoard directory; scalars go to ``log_dir/eval``.
        every_n_epochs: int. Defaults to 1.
        num_images: int. Test captions per evaluation (at least 200). Defaults to 1000.
        max_objects: int. Objects per Shapes test scene (the training data's). Defaults to
            the Shapes default.
        min_objects: int. The fewest objects per Shapes test scene (the training data's).
            Defaults to 1.
        damsm_dir: str. DAMSM encoders for R-precision; None leaves it out.
        diversity_captions: int. Captions for diversity; 0 skips it. Defaults to 50.
        seed: int. First noise seed. Defaults to 0.
        data: str. ``"shapes"`` (the oracle's metrics, the default), ``"cub"`` or ``"coco"``
            (InceptionV3 metrics; then ``data_dir`` and ``inception_weights`` are required).
        data_dir: str. The CUB/COCO folder.
        inception_weights: str. Path of Keras' InceptionV3 ImageNet weights file.
        truncation: float or None. Truncated latents (DF-GAN evaluates with 0.88); None, the
            default, N(0, I). Recorded in each metric's protocol.

    Example:
    >>> gan.fit(data, epochs=10, callbacks=[kt.callbacks.Evaluate("runs/x/logs", 5,
    ...                                                            max_objects=1)])
    """

    def __init__(self, log_dir, every_n_epochs=1, num_images=1000, max_objects=None,
                 damsm_dir=None, diversity_captions=50, seed=0, data="shapes", data_dir=None,
                 inception_weights=None, truncation=None, min_objects=None):
        super().__init__()
        if int(num_images) < report.MIN_IMAGES:
            raise ValueError(f"Evaluate needs num_images >= {report.MIN_IMAGES}, got "
                             f"{num_images}")
        if data != "shapes" and (data_dir is None or inception_weights is None):
            raise ValueError(f"Evaluate on {data!r} needs data_dir= and inception_weights= "
                             "(the test split and Keras' InceptionV3 ImageNet weights file).")
        self.log_dir = str(log_dir)
        self.every_n_epochs = int(every_n_epochs)
        self.data = data
        self.options = dict(num_images=int(num_images), damsm_dir=damsm_dir,
                            diversity_captions=int(diversity_captions), seed=int(seed))
        if data == "shapes":
            self.options.update(max_objects=max_objects, min_objects=min_objects)
        else:
            self.options.update(data=data, data_dir=data_dir)
        self.inception_weights = inception_weights
        self.truncation = truncation
        self.history = []
        self._extractor = None  # the oracle or InceptionV3, built at the first evaluation

    def evaluate(self):
        step = gan_step(self.model)
        generator = sources.Generator.from_model(self.model, truncation=self.truncation)
        if self.data == "shapes":
            if self._extractor is None:
                self._extractor = load_oracle()
            metrics = shapes.evaluate_shapes(generator, oracle=self._extractor, **self.options)
        else:
            if self._extractor is None:
                self._extractor = InceptionV3Features(self.inception_weights)
            metrics = datasets.evaluate_dataset(generator, inception_weights=self._extractor,
                                                **self.options)
        report.write_scalars(self.log_dir, metrics, step)
        self.history.append((step, metrics))
        return metrics

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs == 0:
            self.evaluate()
