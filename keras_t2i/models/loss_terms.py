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

    def contribution(self, value):
        """What the term adds to ``g_loss`` given its tracked value."""
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
        noise = inputs.latents[model.primary_latent]
        n = inputs.batch_size
        return losses.mode_seeking_loss(images_1, images_2, noise[:n], noise[n:2 * n],
                                        weight=self.weight)


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
