"""Generator loss terms that any model family can carry: named, weighted, serialisable objects
the base model (``TextToImageGAN``) adds to the generator's loss and tracks.

A model builds its terms from its constructor's keyword arguments (``mode_seeking=λ``,
``damsm_weight=λ``, a family's own such as a KL weight), so they serialise with it. A term
reads a :class:`TermInputs` (the final generated images, the captions' encoded text,
the latents, the batch) and returns the value that is tracked under its ``name``; the base
adds ``contribution(value)`` to ``g_loss``. A term asks for what it needs: ``copies`` latent
draws per caption (mode seeking wants two), ``batch_keys`` from the dataset (the DAMSM term
wants ``class_id`` to mask same-class pairs), a frozen module of the model. A model builds
only the terms whose weight is above zero, so a term at weight 0 costs nothing.

The pure loss functions are in ``keras_t2i.losses``; this module only wires them to a model.
"""

from __future__ import annotations

import dataclasses
import math

import tensorflow as tf

from keras_t2i import (
    _backend,  # noqa: F401
    losses,
)


@dataclasses.dataclass
class TermInputs:
    """What a loss term sees in one generator step.

    Attributes:
        images: float (copies·B, S, S, 3). The final generated images; with ``copies`` > 1,
            copy k of caption i is row ``k·B + i``.
        text: dict. The encoded captions of those rows (``words``, ``sentence``,
            ``word_mask``), repeated the same way.
        latents: dict of (copies·B, dim). The latents the images were drawn from.
        batch: dict. The real batch (B rows), with the keys the model declared.
        batch_size: int tensor. B.
        copies: int. Latent draws per caption.
        generated: dict. The generator's whole output (every stage and its extras).
    """

    images: tf.Tensor
    text: dict
    latents: dict
    batch: dict
    batch_size: tf.Tensor
    copies: int
    generated: dict

    def copy(self, k):
        """Rows of latent copy ``k`` of the images and text."""
        n = self.batch_size
        return (self.images[k * n:(k + 1) * n],
                {key: value[k * n:(k + 1) * n] for key, value in self.text.items()})


class LossTerm:
    """A weighted term of the generator loss.

    Args:
        weight: float. λ; > 0.

    Subclasses set ``name`` (the tracked loss), and may set ``copies``, ``batch_keys`` and
    ``weighted`` (whether the tracked value already includes λ), and implement ``__call__``.
    """

    name = "term"
    copies = 1
    batch_keys: tuple[str, ...] = ()
    weighted = False

    def __init__(self, weight):
        self.weight = float(weight)
        if not self.weight > 0:
            raise ValueError(f"{type(self).__name__} needs a weight above 0, got {weight}; "
                             "leave the term out to turn it off.")

    def check(self, model):
        """Raises a clear error when ``model`` lacks what the term needs."""

    def __call__(self, model, inputs: TermInputs) -> tf.Tensor:
        raise NotImplementedError

    def contribution(self, value, step=None):
        """What the term adds to ``g_loss`` given its tracked value (``step``: the generator
        steps taken so far, for terms whose weight follows a schedule)."""
        return value if self.weighted else self.weight * value

    def __repr__(self):
        return f"{type(self).__name__}(weight={self.weight:g})"


class ModeSeekingTerm(LossTerm):
    """MSGAN's mode-seeking regulariser on the final images: λ / (mean|G(c,z₁) − G(c,z₂)| /
    mean|z₁ − z₂| + ε), each caption drawn with two noise vectors (``copies = 2``). Tracked as
    ``ms``, the weighted value.

    Reference: Mao et al., Mode Seeking GANs for Diverse Image Synthesis, CVPR 2019 (eq. 1);
    the code's L1 ratio (seeds.md §5).
    """

    name = "ms"
    copies = 2
    weighted = True

    def __call__(self, model, inputs):
        images_1, _ = inputs.copy(0)
        images_2, _ = inputs.copy(1)
        noise = model.seeking_noise(inputs.latents)
        n = inputs.batch_size
        return losses.mode_seeking_loss(images_1, images_2, noise[:n], noise[n:2 * n],
                                        weight=self.weight)


class ConditioningKLTerm(LossTerm):
    """The KL term of Conditioning Augmentation (StackGAN, AttnGAN, DM-GAN, MirrorGAN):
    ``losses.conditioning_kl_loss`` of the μ and log σ² that the generator returns beside its
    images (``generated["mu"]``, ``generated["logvar"]``). Tracked as ``kl``, unweighted.

    Args:
        weight: float. λ (1 in the codes).
    """

    name = "kl"

    def __call__(self, model, inputs):
        return losses.conditioning_kl_loss(inputs.generated["mu"], inputs.generated["logvar"])


class DAMSMTerm(LossTerm):
    """AttnGAN's DAMSM loss on the final images, L1^w + L2^w + L1^s + L2^s (AttnGAN eq. 15), the
    images read by the model's frozen DAMSM ``image_encoder``. Tracked as ``damsm``, unweighted.

    With several latent copies per caption each copy is scored as a batch of its own, so no
    caption is its own negative. With ``mask_same_class`` the pairs of one ``class_id`` are left
    out of each other's softmax, as AttnGAN and DM-GAN do on CUB (COCO and Shapes class ids
    only mark the same image or the same description).

    Args:
        weight: float. λ (AttnGAN/DM-GAN: 5 on CUB, 50 on COCO).
        mask_same_class: bool. Defaults to True.
    """

    name = "damsm"

    def __init__(self, weight, mask_same_class=True):
        super().__init__(weight)
        self.mask_same_class = bool(mask_same_class)
        self.batch_keys = ("class_id",) if self.mask_same_class else ()

    def check(self, model):
        if model.image_encoder is None:
            raise ValueError(f"damsm_weight={self.weight} needs the DAMSM image encoder "
                             "pretrained with the text encoder: pass image_encoder= (the second "
                             "of kt.pretrain.load_encoders(DIR)).")

    def __call__(self, model, inputs):
        class_ids = inputs.batch["class_id"] if self.mask_same_class else None
        values = []
        for k in range(inputs.copies):
            images, text = inputs.copy(k)
            values.append(model.damsm_loss(images, text, class_ids))
        return tf.add_n(values) / inputs.copies


class CaptionTerm(LossTerm):
    """MirrorGAN's re-description (STREAM) loss: the model's frozen ``captioner`` reads the
    final images with teacher forcing on their captions' tokens, and the term is the
    cross-entropy of those tokens (``losses.caption_loss``; the code's L_stream on
    the last stage). Each latent copy is scored and the copies averaged. Tracked as
    ``stream``, unweighted.

    Args:
        weight: float. λ (LAMBDA1 = 10 in the released CUB config).
    """

    name = "stream"

    def check(self, model):
        if getattr(model, "captioner", None) is None:
            raise ValueError(f"stream_weight={self.weight} needs a pretrained STREAM "
                             "captioner with the text encoder's vocabulary: pass captioner= "
                             "(kt.pretrain.load_captioner(DIR), from `keras-t2i pretrain "
                             "captioner`).")

    def __call__(self, model, inputs):
        tokens = inputs.batch["tokens"]
        values = []
        for k in range(inputs.copies):
            images, _ = inputs.copy(k)
            values.append(losses.caption_loss(
                tokens, model.captioner(images, tokens, training=False)))
        return tf.add_n(values) / inputs.copies


class MaskEntropyTerm(LossTerm):
    """The entropy of the part masks a part-composing generator returns beside its images
    (``generated["masks"]``, ``losses.mask_entropy``): pushes each pixel towards one part, so
    parts do not blend into each other. Tracked as ``mask_entropy``, unweighted.

    Args:
        weight: float. λ.
    """

    name = "mask_entropy"

    def __call__(self, model, inputs):
        return losses.mask_entropy(inputs.generated["masks"])


class PartAreaTerm(LossTerm):
    """A coverage prior per part for a part-composing generator (``generated["masks"]``,
    ``losses.part_area_excess``): a part may hold at most ``max_area`` of the image before it
    pays, so the empty canvas goes to the background and a part has to be an object. Tracked
    as ``part_area``, unweighted.

    Args:
        weight: float. λ.
        max_area: float in (0, 1]. The share of the image a part may hold for free.
    """

    name = "part_area"

    def __init__(self, weight, max_area):
        super().__init__(weight)
        self.max_area = float(max_area)

    def __call__(self, model, inputs):
        return losses.part_area_excess(inputs.generated["masks"], self.max_area)


class WeightSchedule:
    """A loss weight's factor over training: 1 for ``hold`` generator steps, then down to 0 over
    ``decay`` steps, linearly or along a half cosine (0 from ``hold + decay`` on).

    Specs: ``"constant"`` (always 1), ``"linear:HOLD:DECAY"``, ``"cosine:HOLD:DECAY"`` (steps;
    ``DECAY`` 0 drops to 0 at ``HOLD``).
    """

    KINDS = ("constant", "linear", "cosine")

    def __init__(self, spec="constant"):
        self.kind, self.hold, self.decay = self.parse(spec)

    @classmethod
    def parse(cls, spec):
        """(kind, hold, decay) of a spec; ValueError naming what is wrong."""
        parts = str(spec).strip().split(":")
        usage = ("'constant', 'linear:HOLD:DECAY' or 'cosine:HOLD:DECAY' (generator steps, "
                 "e.g. 'linear:1500:1000')")
        if parts[0] not in cls.KINDS:
            raise ValueError(f"Unknown schedule {spec!r}; valid: {usage}.")
        if parts[0] == "constant":
            if len(parts) != 1:
                raise ValueError(f"Schedule 'constant' takes no steps, got {spec!r}.")
            return "constant", 0, 0
        try:
            hold, decay = (int(p) for p in parts[1:])
        except ValueError:
            raise ValueError(f"Schedule {spec!r} needs two whole step counts: {usage}.") from None
        if hold < 0 or decay < 0:
            raise ValueError(f"Schedule {spec!r} needs step counts >= 0.")
        return parts[0], hold, decay

    @property
    def spec(self):
        return "constant" if self.kind == "constant" else f"{self.kind}:{self.hold}:{self.decay}"

    def __call__(self, step):
        """The factor in [0, 1] at ``step`` (generator steps taken), float32."""
        if self.kind == "constant":
            return tf.constant(1.0)
        step = tf.cast(step, tf.float32)
        if self.decay:
            progress = tf.clip_by_value((step - self.hold) / self.decay, 0.0, 1.0)
        else:  # a step down to 0 at HOLD
            progress = tf.cast(step >= self.hold, tf.float32)
        if self.kind == "linear":
            return 1.0 - progress
        return 0.5 * (1.0 + tf.cos(math.pi * progress))

    def __repr__(self):
        return f"WeightSchedule({self.spec!r})"


class PairedImageTerm(LossTerm):
    """The paired image term: a distance between each generated image and its caption's real
    image, weighted by λ·schedule(step), so training can start as a regression (which learns
    where and what the captioned objects are in few steps) and end as the pure GAN. Tracked as
    ``paired``, the unweighted distance.

    Distances (``distance``):

    - ``"pixel"``: mean |G(z, c) − x| (``losses.paired_pixel_loss``);
    - ``"pixel_mse"``: mean (G(z, c) − x)², the squared error of a plain regression: where the
      real images of one caption differ (Shapes' jitter of the object), L1 pulls each pixel to
      their median, the background wherever the object is not always, and the squared error
      to their mean, a blurred object that keeps its outline (the regression probe of
      ``benchmarks/RESULTS.md`` learns shape with it);
    - ``"features"``: in the frozen DAMSM image encoder's space, pretrained on the same images
      and captions (``losses.paired_feature_loss`` of the region maps plus that of the global
      features), so the term weighs what the captions describe more than the pixels.

    With several latent copies per caption each copy is compared with the caption's image.

    This is the package's addition for small compute (the regression idea of pix2pix, Isola
    et al. CVPR 2017, and SRGAN's feature-space loss, Ledig et al. CVPR 2017); no paper
    preset uses it.

    Args:
        weight: float. λ, > 0.
        schedule: str. A ``WeightSchedule`` spec. Defaults to ``"constant"``.
        distance: str. ``"pixel"``, ``"pixel_mse"`` or ``"features"``. Defaults to
            ``"pixel"``.
    """

    name = "paired"
    DISTANCES = ("pixel", "pixel_mse", "features")
    batch_keys = ("image",)

    def __init__(self, weight, schedule="constant", distance="pixel"):
        super().__init__(weight)
        self.schedule = WeightSchedule(schedule)
        if distance not in self.DISTANCES:
            raise ValueError(f"Unknown paired distance {distance!r}; valid: {self.DISTANCES}")
        self.distance = distance

    def check(self, model):
        if self.distance == "features" and model.image_encoder is None:
            raise ValueError("paired_distance='features' needs the DAMSM image encoder "
                             "pretrained with the text encoder: pass image_encoder= (the second "
                             "of kt.pretrain.load_encoders(DIR)).")

    def _distance(self, model, fake, real):
        if self.distance in ("pixel", "pixel_mse"):
            return losses.paired_pixel_loss(fake, real, power=1 if self.distance == "pixel" else 2)
        fake_regions, fake_global = model.image_encoder(fake, training=False)
        real_regions, real_global = model.image_encoder(real, training=False)
        return (losses.paired_feature_loss(fake_regions, tf.stop_gradient(real_regions))
                + losses.paired_feature_loss(fake_global, tf.stop_gradient(real_global)))

    def __call__(self, model, inputs):
        real = inputs.batch["image"]
        values = [self._distance(model, inputs.copy(k)[0], real) for k in range(inputs.copies)]
        return tf.add_n(values) / inputs.copies

    def contribution(self, value, step=None):
        if step is None:
            raise ValueError("PairedImageTerm's weight follows a schedule: pass the step.")
        return self.weight * self.schedule(step) * value

    def __repr__(self):
        return (f"PairedImageTerm(weight={self.weight:g}, schedule={self.schedule.spec!r}, "
                f"distance={self.distance!r})")
