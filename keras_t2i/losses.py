"""Losses and penalties as pure functions of tensors.

Each function documents its shapes and cites the equation it implements; each is tested on
small fixed inputs against hand-computed values (``tests/test_losses.py``).
"""

from __future__ import annotations

import tensorflow as tf

from keras_t2i import _backend  # noqa: F401  (TensorFlow backend before keras)

# Stands in for -inf in masked logits: far below any DAMSM score (|γ3·R| < 10³), yet finite
# so that no NaN can appear in softmax gradients.
_MASKED = -1e9
_COS_EPS = 1e-8


def _cosine(a, b, axis=-1):
    """cos(a, b) along ``axis`` as PyTorch's ``cosine_similarity``: a·b / max(|a||b|, eps)."""
    dot = tf.reduce_sum(a * b, axis=axis)
    norms = tf.norm(a, axis=axis) * tf.norm(b, axis=axis)
    return dot / tf.maximum(norms, _COS_EPS)


def _same_class_mask(class_ids, batch_size):
    """True where k ≠ l share a class: those pairs are neither positives nor negatives."""
    if class_ids is None:
        return tf.zeros((batch_size, batch_size), tf.bool)
    class_ids = tf.convert_to_tensor(class_ids)
    same = tf.equal(class_ids[:, None], class_ids[None, :])
    return tf.logical_and(same, tf.logical_not(tf.eye(batch_size, dtype=tf.bool)))


def _matching_cross_entropy(scores, class_ids):
    """Cross-entropy of image→caption and caption→image matching, each averaged over the batch.

    Args:
        scores: (B, B) float, scores[k, l] between image k and caption l.
        class_ids: (B,) int or None.

    Returns:
        (loss over rows, loss over columns): the L1 and L2 terms of AttnGAN eq. 10/11.
    """
    batch = tf.shape(scores)[0]
    scores = tf.where(_same_class_mask(class_ids, batch), _MASKED, scores)
    labels = tf.range(batch)
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits
    return (tf.reduce_mean(ce(labels=labels, logits=scores)),
            tf.reduce_mean(ce(labels=labels, logits=tf.transpose(scores))))


def damsm_word_scores(words, regions, word_mask, gamma1=4.0, gamma2=5.0):
    """Image-caption relevance R(Q, D) from word-region attention, for every pair in a batch.

    With e_i the words of caption l and v_j the regions of image k (AttnGAN §3.2, eq. 7-10):
    s_ij = e_iᵀv_j; s̄_ij = softmax over words i; α_ij = softmax over regions j of γ1·s̄_ij;
    c_i = Σ_j α_ij v_j; R = log Σ_i exp(γ2·cos(c_i, e_i)) over the caption's real words.
    As in the official code, R carries no 1/γ2 exponent (seeds.md §1.4).

    Args:
        words: (B, T, D) float word features of the captions.
        regions: (B, R, D) float region features of the images (an (h, w) grid, flattened).
        word_mask: (B, T) bool, True for real words, False for padding.
        gamma1: float. Attention sharpness over regions. Defaults to 4.
        gamma2: float. Word-relevance weight. Defaults to 5.

    Returns:
        (B, B) float32: R[k, l] for image k and caption l.
    """
    words = tf.cast(words, tf.float32)
    regions = tf.cast(regions, tf.float32)
    word_mask = tf.cast(word_mask, tf.bool)
    # s[k, l, i, j]: image k, caption l, word i, region j.
    s = tf.einsum("lid,kjd->klij", words, regions)
    s = tf.where(word_mask[None, :, :, None], s, _MASKED)
    s = tf.nn.softmax(s, axis=2)
    alpha = tf.nn.softmax(gamma1 * s, axis=3)
    context = tf.einsum("klij,kjd->klid", alpha, regions)
    cos = _cosine(context, words[None])  # (k, l, i)
    cos = tf.where(word_mask[None], gamma2 * cos, _MASKED)
    return tf.reduce_logsumexp(cos, axis=2)


def damsm_word_loss(words, regions, word_mask, class_ids=None, gamma1=4.0, gamma2=5.0,
                    gamma3=10.0):
    """DAMSM word-level loss L1^w, L2^w (AttnGAN eq. 11-13).

    Args:
        words: (B, T, D) word features.
        regions: (B, R, D) region features.
        word_mask: (B, T) bool.
        class_ids: (B,) int or None. Pairs k ≠ l of one class are masked out of the softmax.
        gamma1, gamma2, gamma3: floats. Defaults 4, 5, 10 (AttnGAN/DM-GAN configs).

    Returns:
        (L1^w, L2^w): image→caption and caption→image cross-entropies, batch means.
    """
    scores = gamma3 * damsm_word_scores(words, regions, word_mask, gamma1, gamma2)
    return _matching_cross_entropy(scores, class_ids)


def damsm_sentence_loss(sentence, image_global, class_ids=None, gamma3=10.0):
    """DAMSM sentence-level loss L1^s, L2^s: scores γ3·cos(v̄_k, ē_l) (AttnGAN eq. 14).

    Args:
        sentence: (B, D) sentence features ē.
        image_global: (B, D) global image features v̄.
        class_ids: (B,) int or None.
        gamma3: float. Defaults to 10.

    Returns:
        (L1^s, L2^s), batch means.
    """
    sentence = tf.cast(sentence, tf.float32)
    image_global = tf.cast(image_global, tf.float32)
    scores = gamma3 * _cosine(image_global[:, None, :], sentence[None, :, :])
    return _matching_cross_entropy(scores, class_ids)


def hinge_discriminator_loss(real_logits, fake_logits, mismatched_logits):
    """DF-GAN's hinge loss for D with the mismatched-pair term (DF-GAN eq. 3; seeds.md §2.1).

    L_D = E[max(0, 1 − D(x, e))] + ½·E[max(0, 1 + D(G(z, e), e))] + ½·E[max(0, 1 + D(x, ê))].

    Args:
        real_logits: (B,) D on real images with their own sentences.
        fake_logits: (B',) D on generated images with their sentences.
        mismatched_logits: (B,) D on real images with other images' sentences.

    Returns:
        dict of scalars: ``d_real``, ``d_fake``, ``d_mismatch`` (each hinge term, before the ½)
        and ``d_adv`` (their weighted sum).
    """
    real = tf.reduce_mean(tf.nn.relu(1.0 - tf.cast(real_logits, tf.float32)))
    fake = tf.reduce_mean(tf.nn.relu(1.0 + tf.cast(fake_logits, tf.float32)))
    mismatched = tf.reduce_mean(tf.nn.relu(1.0 + tf.cast(mismatched_logits, tf.float32)))
    return {"d_real": real, "d_fake": fake, "d_mismatch": mismatched,
            "d_adv": real + 0.5 * (fake + mismatched)}


def hinge_generator_loss(fake_logits):
    """DF-GAN's generator loss −E[D(G(z, e), e)] (DF-GAN eq. 4)."""
    return -tf.reduce_mean(tf.cast(fake_logits, tf.float32))


def _bce(logits, label):
    """Mean binary cross-entropy of logits against a constant label (nn.BCELoss on sigmoids)."""
    logits = tf.cast(logits, tf.float32)
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.fill(tf.shape(logits), float(label)), logits=logits))


def cascade_discriminator_loss(real_uncond, real_cond, fake_uncond, fake_cond, wrong_cond):
    """One stage's D loss of AttnGAN and DM-GAN (``discriminator_loss``; seeds.md §1.8, §3.5):
    (BCE(real_u, 1) + BCE(real_c, 1)) / 2 + (BCE(fake_u, 0) + BCE(fake_c, 0) + BCE(wrong_c, 0))
    / 3, from logits.

    Args:
        real_uncond, real_cond: (B,) logits of the real images (with their sentences).
        fake_uncond, fake_cond: (B',) logits of the generated images.
        wrong_cond: (B − 1,) logits of real image i with sentence i + 1.

    Returns:
        float32 scalar.
    """
    return ((_bce(real_uncond, 1.0) + _bce(real_cond, 1.0)) / 2.0
            + (_bce(fake_uncond, 0.0) + _bce(fake_cond, 0.0) + _bce(wrong_cond, 0.0)) / 3.0)


def cascade_generator_loss(fake_uncond, fake_cond):
    """One stage's adversarial G loss of AttnGAN and DM-GAN: BCE(fake_u, 1) + BCE(fake_c, 1)."""
    return _bce(fake_uncond, 1.0) + _bce(fake_cond, 1.0)


def conditioning_kl_loss(mu, logvar):
    """KL(N(μ, σ²) ‖ N(0, I)) of Conditioning Augmentation as the codes compute it (``KL_loss``):
    −½ · mean over every element of (1 + log σ² − μ² − σ²).

    Args:
        mu, logvar: (B, c).

    Returns:
        float32 scalar.
    """
    mu, logvar = tf.cast(mu, tf.float32), tf.cast(logvar, tf.float32)
    return -0.5 * tf.reduce_mean(1.0 + logvar - tf.square(mu) - tf.exp(logvar))


def matching_aware_gradient_penalty(image_grads, sentence_grads, k=2.0, p=6.0):
    """MA-GP: k · E[‖(∇ₓD(x, e), ∇ₑD(x, e))‖₂^p] on real images with matching sentences.

    As in the CVPR'22 code, each sample's image and sentence gradients are flattened and
    concatenated into one vector whose L2 norm is taken (the paper writes two norms). The
    gradients come from a tape over the inputs nested inside the tape over D's weights, so the
    penalty's own gradient is second order, as the method needs (``DFGAN`` does this).

    Args:
        image_grads: (B, H, W, 3) ∂ΣD/∂x at the real images.
        sentence_grads: (B, D) ∂ΣD/∂e at their sentence embeddings.
        k: float. Weight. Defaults to 2.
        p: float. Power. Defaults to 6.

    Returns:
        The scalar penalty.
    """
    batch = tf.shape(image_grads)[0]
    grad = tf.concat([tf.reshape(tf.cast(image_grads, tf.float32), (batch, -1)),
                      tf.reshape(tf.cast(sentence_grads, tf.float32), (batch, -1))], axis=1)
    norm = tf.sqrt(tf.reduce_sum(tf.square(grad), axis=1))
    return k * tf.reduce_mean(tf.pow(norm, p))


def mode_seeking_loss(images_1, images_2, noise_1, noise_2, weight=1.0, eps=1e-5):
    """MSGAN's mode-seeking term λ / (mean|G(c,z₁) − G(c,z₂)| / mean|z₁ − z₂| + ε).

    Both means run over every element of the batch, as in the official code (an L1 ratio, not
    per sample; seeds.md §5). Minimising it pushes images from different noise apart.

    Args:
        images_1, images_2: (B, H, W, 3) generated from the same captions with noise z₁, z₂.
        noise_1, noise_2: (B, nz).
        weight: float. λ_ms. Defaults to 1.
        eps: float. Defaults to 1e-5.
    """
    images = tf.reduce_mean(tf.abs(tf.cast(images_1, tf.float32) - tf.cast(images_2, tf.float32)))
    noise = tf.reduce_mean(tf.abs(tf.cast(noise_1, tf.float32) - tf.cast(noise_2, tf.float32)))
    return weight / (images / noise + eps)


def paired_pixel_loss(fake, real, power=1):
    """Mean absolute (``power`` 1) or squared (``power`` 2) difference of generated images and
    their captions' real images: the paired image term in pixel space (pix2pix's L1, Isola et
    al. CVPR 2017 eq. 3; the squared error of a plain regression).

    Args:
        fake, real: (B, H, W, 3) in [-1, 1].
        power: int. 1 or 2. Defaults to 1.

    Returns:
        float32 scalar.
    """
    if power not in (1, 2):
        raise ValueError(f"paired_pixel_loss: power must be 1 or 2, got {power!r}")
    difference = tf.abs(tf.cast(fake, tf.float32) - tf.cast(real, tf.float32))
    return tf.reduce_mean(difference if power == 1 else tf.square(difference))


def paired_feature_loss(fake_features, real_features, eps=1e-10):
    """Squared distance of unit-normalised feature vectors, averaged over positions and the
    batch (the paired image term in a frozen network's feature space; the per-layer distance of
    LPIPS, Zhang et al. CVPR 2018 eq. 1, with equal channel weights).

    Args:
        fake_features, real_features: (B, h, w, C) or (B, C).
        eps: float. Added under the norm's square root.

    Returns:
        float32 scalar in [0, 4].
    """
    def unit(x):
        x = tf.cast(x, tf.float32)
        return x * tf.math.rsqrt(tf.reduce_sum(x * x, axis=-1, keepdims=True) + eps)

    return tf.reduce_mean(tf.reduce_sum(tf.square(unit(fake_features) - unit(real_features)),
                                        axis=-1))


def caption_loss(tokens, logits):
    """STREAM's re-description loss: the cross-entropy of the real tokens under the
    captioner's teacher-forced ``logits``, averaged over the caption's words and one
    end-of-caption target (id 0, padding) after the last word (the code packs by length: the
    same words; yunjey's tutorial, which the official README points to, keeps the <end>
    target too, and greedy decoding needs it to stop).

    Args:
        tokens: int (batch, T), 0 for padding.
        logits: float (batch, T, vocabulary).

    Returns:
        float32 scalar.
    """
    tokens = tf.cast(tokens, tf.int32)
    real = tf.cast(tf.not_equal(tokens, 0), tf.float32)  # id 0: padding
    # Position t is a target if it holds a word or is the first padding after the words.
    shifted = tf.concat([tf.ones_like(real[:, :1]), real[:, :-1]], axis=1)
    weights = tf.maximum(real, shifted)
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tokens,
                                                        logits=tf.cast(logits, tf.float32))
    return tf.reduce_sum(ce * weights) / tf.maximum(tf.reduce_sum(weights), 1.0)


def word_accuracy(tokens, logits):
    """The share of the real words (padding left out) whose teacher-forced prediction is the
    word itself."""
    tokens = tf.cast(tokens, tf.int32)
    real = tf.cast(tf.not_equal(tokens, 0), tf.float32)
    hits = tf.cast(tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), tokens),
                   tf.float32)
    return tf.reduce_sum(hits * real) / tf.maximum(tf.reduce_sum(real), 1.0)


def mask_entropy(masks, eps=1e-8):
    """Mean per-pixel entropy of soft part masks, divided by log(number of masks), in [0, 1]:
    0 when every pixel belongs to one part, 1 when it is shared evenly.

    Args:
        masks: float (B, h, w, M), summing to 1 over the last axis.
    """
    masks = tf.cast(masks, tf.float32)
    entropy = -tf.reduce_sum(masks * tf.math.log(masks + eps), axis=-1)
    return tf.reduce_mean(entropy) / tf.math.log(tf.cast(tf.shape(masks)[-1], tf.float32))


def part_area_excess(masks, max_area):
    """How far the parts' areas go beyond ``max_area``: the mean over images and parts of
    max(0, a_k − max_area), a_k the share of the image part k's soft mask holds. 0 while every
    part stays within the bound; the background (channel 0) is free.

    Args:
        masks: float (B, h, w, K + 1), background first, summing to 1 over the last axis.
        max_area: float in (0, 1].
    """
    areas = tf.reduce_mean(tf.cast(masks[..., 1:], tf.float32), axis=(1, 2))   # (B, K)
    return tf.reduce_mean(tf.nn.relu(areas - max_area))
