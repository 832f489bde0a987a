"""MirrorGAN's STREAM: the image captioner that re-describes generated images (``model.py``
``CAPTION_CNN`` / ``CAPTION_RNN``, after yunjey's pytorch-tutorial image captioning; seeds.md
§4, §4.1). Pretrained on real images with the text encoder's vocabulary
(``keras-t2i pretrain captioner``), then frozen inside the GAN."""

from __future__ import annotations

import math

import keras
import tensorflow as tf
from keras import ops

from keras_t2i import _backend  # noqa: F401
from keras_t2i.losses import caption_loss, word_accuracy
from keras_t2i.text.damsm import ARCHITECTURE_ONLY, calibrate_batch_norm, cnn_trunk
from keras_t2i.text.tokenizer import PAD_ID, CaptionTokenizer

BACKBONES = ("cnn", "damsm", "resnet152")
RESNET_INPUT = 224


@keras.saving.register_keras_serializable(package="keras_t2i")
class TorchLSTMCell(keras.layers.Layer):
    """One step of PyTorch's ``nn.LSTM``: gates i, f, g, o from x·W_ih + b_ih + h·W_hh + b_hh,
    with its two bias vectors (so the parameter count and a PyTorch checkpoint's layout match
    the official decoder's; one Keras bias would be the same function) and its
    uniform(±1/√units) initialisation.

    Args:
        units: int. Hidden size.
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.state_size = [self.units, self.units]
        self.output_size = self.units

    def build(self, input_shape):
        bound = 1.0 / math.sqrt(self.units)
        init = keras.initializers.RandomUniform(-bound, bound)
        self.kernel = self.add_weight(name="kernel", shape=(input_shape[-1], 4 * self.units),
                                      initializer=init)
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel",
                                                shape=(self.units, 4 * self.units),
                                                initializer=init)
        self.bias = self.add_weight(name="bias", shape=(4 * self.units,), initializer=init)
        self.recurrent_bias = self.add_weight(name="recurrent_bias", shape=(4 * self.units,),
                                              initializer=init)
        self.built = True

    def call(self, inputs, states, training=None):
        h, c = states
        z = (ops.matmul(inputs, self.kernel) + self.bias
             + ops.matmul(h, self.recurrent_kernel) + self.recurrent_bias)
        i, f, g, o = ops.split(z, 4, axis=-1)
        c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
        h = ops.sigmoid(o) * ops.tanh(c)
        return h, [h, c]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="keras_t2i")
class STREAMCaptioner(keras.Model):
    """Image → caption: an image encoder (CNN → Linear → BatchNorm to ``feature_dim``) and an
    LSTM decoder (Embedding → LSTM(``units``) → Linear over the vocabulary) fed the image
    feature at step 0 and the caption's words after it (teacher forcing).

    Two encoders:

    - ``"cnn"`` (default): the DAMSM image encoder's small CNN (``cnn_trunk``), trained from
      scratch, on images resized to ``input_size`` (64): for Shapes and CPUs.
    - ``"damsm"``: the trunk of a pretrained ``"cnn"`` DAMSM image encoder (``image_encoder``,
      the run's), its weights copied and frozen: on Shapes it plays the part of the official
      frozen ImageNet ResNet (an image network pretrained on other objectives; here on the
      same images and captions, which CUB and COCO also have). The package's choice.
    - ``"resnet152"``: Keras' ImageNet ResNet-152 without its top (weights from
      ``backbone_weights``, a ``resnet152_weights_tf_dim_ordering_tf_kernels_notop.h5``), frozen,
      average-pooled, on images resized to 224 with its own preprocessing (``resnet.
      preprocess_input``) in pretraining and inside the GAN alike (the official code
      normalises in one phase only). Only the projection and the decoder train, as the code.

    The vocabulary is the text encoder's (``tokenizer``): the captioner's word ids are the
    GAN's. Its defaults are the official ones (embedding 256, LSTM 512): with a 5,450-word
    vocabulary the decoder has 5,768,010 parameters, as ``CAPTION_RNN``.

    Args:
        tokenizer: CaptionTokenizer, the text encoder's.
        backbone: str. ``"cnn"`` or ``"resnet152"``. Defaults to ``"cnn"``.
        feature_dim: int. The image feature and the word embedding width. Defaults to 256.
        units: int. The LSTM's hidden size. Defaults to 512.
        input_size: int. Defaults to 64 for ``"cnn"``, 224 for ``"resnet152"``.
        width: int. Channels of the CNN's first layer. Defaults to 32.
        backbone_weights: str. Path of the ResNet-152 weights file; required to build a new
            ``"resnet152"`` captioner (a saved one carries its weights).
        image_encoder: DAMSMImageEncoder with the ``"cnn"`` backbone; required to build a new
            ``"damsm"`` captioner, whose ``input_size`` and ``width`` are then the encoder's.

    Call arguments:
        images: float (batch, H, W, 3) in [-1, 1].
        tokens: int (batch, T), the captions (0 for padding).

    Returns:
        float (batch, T, vocabulary): logits of each position's word (position t reads the
        image and words < t).

    Example:
    >>> captioner = kt.models.STREAMCaptioner(text_encoder.tokenizer)
    >>> captioner.describe(images)   # greedy captions, tf.string (batch,)
    """

    def __init__(self, tokenizer, backbone="cnn", feature_dim=256, units=512, input_size=None,
                 width=32, backbone_weights=None, image_encoder=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(tokenizer, dict):
            tokenizer = keras.layers.deserialize(tokenizer)
        if not isinstance(tokenizer, CaptionTokenizer):
            raise TypeError(f"tokenizer must be a CaptionTokenizer, got {type(tokenizer)}")
        if backbone not in BACKBONES:
            raise ValueError(f"Unknown captioner backbone {backbone!r}; valid: {BACKBONES}")
        self.tokenizer = tokenizer
        self.backbone = backbone
        self.feature_dim = int(feature_dim)
        self.units = int(units)
        if image_encoder is not None:
            if backbone != "damsm" or image_encoder.backbone != "cnn":
                raise ValueError("image_encoder is for the \"damsm\" captioner backbone, and must "
                                 f"have the \"cnn\" backbone (got {image_encoder.backbone!r}).")
            input_size, width = image_encoder.input_size, image_encoder.width
        self.input_size = int(input_size or (RESNET_INPUT if backbone == "resnet152" else 64))
        self.width = int(width)
        self.encoder = self._build_encoder(backbone_weights, image_encoder)
        vocabulary = tokenizer.vocabulary_size()
        self.embedding = keras.layers.Embedding(vocabulary, self.feature_dim, name="embedding")
        self.cell = TorchLSTMCell(self.units, name="lstm_cell")
        self.decoder = keras.layers.RNN(self.cell, return_sequences=True, name="lstm")
        self.classifier = keras.layers.Dense(vocabulary, name="classifier")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy_tracker = keras.metrics.Mean(name="word_accuracy")
        self.build()

    def _build_encoder(self, backbone_weights, image_encoder):
        size = self.input_size
        if self.backbone in ("cnn", "damsm"):
            if size % 16:
                raise ValueError(f"input_size must be a multiple of 16, got {size}")
            trunk = cnn_trunk(size, self.width)
            if self.backbone == "damsm":
                if image_encoder is None and backbone_weights != ARCHITECTURE_ONLY:
                    raise ValueError(
                        "The \"damsm\" captioner backbone needs the pretrained DAMSM image "
                        "encoder: pass image_encoder= (`pretrain captioner --backbone damsm "
                        "--text-encoder DIR` reads DIR's).")
                if image_encoder is not None:
                    trunk.set_weights(image_encoder.trunk.get_weights())
                trunk.trainable = False  # its BatchNorm layers then run in inference mode
            images, features = trunk.input, trunk.output[1]
        else:
            if backbone_weights is None:
                raise ValueError(
                    "The resnet152 captioner needs ImageNet weights: pass backbone_weights= "
                    "(--backbone-weights) with the path of Keras' resnet152_weights_tf_dim_"
                    "ordering_tf_kernels_notop.h5; this package never downloads weights.")
            weights = None if backbone_weights == ARCHITECTURE_ONLY else backbone_weights
            base = keras.applications.ResNet152(include_top=False, weights=weights,
                                                input_shape=(size, size, 3), pooling="avg")
            base.trainable = False
            images = keras.Input((size, size, 3))
            # [-1, 1] → [0, 255] → ResNet's own preprocessing (BGR, ImageNet means).
            pixels = keras.layers.Rescaling(127.5, offset=127.5, name="to_pixels")(images)
            x = keras.layers.Lambda(keras.applications.resnet.preprocess_input,
                                    name="resnet_preprocess")(pixels)
            features = base(x, training=False)
        x = keras.layers.Dense(self.feature_dim, name="projection")(features)
        # PyTorch BatchNorm1d(momentum=0.01) keeps 99 % of the running statistics per step.
        x = keras.layers.BatchNormalization(momentum=0.99, epsilon=1e-5, name="projection_bn")(x)
        return keras.Model(images, x, name="encoder")

    def build(self, *shapes):
        length = self.tokenizer.max_words
        self.embedding.build((None, length))
        self.decoder.build((None, length, self.feature_dim))
        self.classifier.build((None, length, self.units))
        self.built = True

    def resize(self, images):
        """Images resized (bilinear) to the encoder's ``input_size``."""
        x = ops.convert_to_tensor(images)
        if x.shape[1] != self.input_size or x.shape[2] != self.input_size:
            x = ops.image.resize(x, (self.input_size, self.input_size), interpolation="bilinear")
        return x

    def encode(self, images, training=None):
        """The image feature (batch, feature_dim), the decoder's step-0 input."""
        return self.encoder(self.resize(images), training=training)

    def call(self, images, tokens, training=None):
        feature = self.encode(images, training=training)
        words = self.embedding(ops.convert_to_tensor(tokens, "int32")[:, :-1])
        inputs = ops.concatenate([ops.cast(feature, words.dtype)[:, None, :], words], axis=1)
        return self.classifier(self.decoder(inputs, training=training))

    def decode(self, images, max_words=None):
        """Greedy captions: at each step the most likely word, fed back; after the first
        padding id every position is padding. int32 (batch, max_words)."""
        max_words = int(max_words or self.tokenizer.max_words)
        x = self.encode(images, training=False)
        batch = ops.shape(x)[0]
        states = [ops.zeros((batch, self.units), x.dtype), ops.zeros((batch, self.units),
                                                                     x.dtype)]
        ended = ops.zeros((batch,), "bool")
        tokens = []
        for _ in range(max_words):
            h, states = self.cell(x, states)
            word = ops.cast(ops.argmax(self.classifier(h), axis=-1), "int32")
            ended = ops.logical_or(ended, ops.equal(word, PAD_ID))
            tokens.append(ops.where(ended, PAD_ID, word))
            x = ops.cast(self.embedding(word), x.dtype)
        return ops.stack(tokens, axis=1)

    def describe(self, images, max_words=None):
        """Greedy captions as text, tf.string (batch,)."""
        return self.tokenizer.detokenize(self.decode(images, max_words))

    def calibrate_batch_norm(self, batches):
        """The encoder's BatchNorm statistics set to their exact values on ``batches`` of real
        images (``keras_t2i.text.damsm.calibrate_batch_norm``; the frozen ResNet keeps its
        ImageNet statistics). Returns the number of images read."""
        return calibrate_batch_norm(self.encoder, [self.resize(b) for b in batches])

    # -- pretraining with fit ------------------------------------------------------------
    def compile(self, optimizer=None, **kwargs):
        super().compile(optimizer=optimizer or keras.optimizers.Adam(1e-3), **kwargs)

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy_tracker]

    def _caption_metrics(self, batch, training):
        tokens = tf.cast(batch["tokens"], tf.int32)
        logits = self(batch["image"], tokens, training=training)
        return caption_loss(tokens, logits), word_accuracy(tokens, logits)

    def train_step(self, data):
        with tf.GradientTape() as tape:
            loss, accuracy = self._caption_metrics(data, training=True)
        variables = self.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return self._track(loss, accuracy)

    def test_step(self, data):
        return self._track(*self._caption_metrics(data, training=False))

    def _track(self, loss, accuracy):
        self.loss_tracker.update_state(loss)
        self.accuracy_tracker.update_state(accuracy)
        return {"loss": self.loss_tracker.result(),
                "word_accuracy": self.accuracy_tracker.result()}

    def get_config(self):
        return {**super().get_config(), "tokenizer": keras.layers.serialize(self.tokenizer),
                "backbone": self.backbone, "feature_dim": self.feature_dim, "units": self.units,
                "input_size": self.input_size, "width": self.width,
                # A saved captioner carries its backbone's weights.
                "backbone_weights": None if self.backbone == "cnn" else ARCHITECTURE_ONLY}
