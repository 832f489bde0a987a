import keras
import numpy as np
import pytest
import tensorflow as tf
from harness import run_layer_checks

from keras_t2i.layers import Affine
from keras_t2i.models.df_gan import DFBlock, DownBlock, UpBlock

RNG = np.random.default_rng(0)


def tensor(*shape):
    return tf.constant(RNG.normal(size=shape).astype("float32"))


def test_affine_is_the_identity_at_initialisation():
    layer = Affine(8)
    x, cond = tensor(3, 5, 5, 8), tensor(3, 20)
    np.testing.assert_allclose(layer(x, cond), x, atol=1e-6)


def test_affine_learns_a_condition_dependent_transform():
    layer = Affine(4)
    run_layer_checks(layer, (tensor(2, 3, 3, 4), tensor(2, 6)), (2, 3, 3, 4), "float32")
    x, cond = tensor(2, 3, 3, 4), tensor(2, 6)
    out = layer(x, cond).numpy()
    assert not np.allclose(out, x.numpy()), "one fit step moved γ/β away from the identity"
    gamma = layer.gamma_out(layer.gamma_hidden(cond)).numpy()
    beta = layer.beta_out(layer.beta_hidden(cond)).numpy()
    np.testing.assert_allclose(out, gamma[:, None, None] * x.numpy() + beta[:, None, None],
                               rtol=1e-5, atol=1e-6)


def test_affine_rejects_wrong_channels():
    with pytest.raises(ValueError, match="channels"):
        Affine(4)(tensor(1, 2, 2, 3), tensor(1, 5))


def test_dfblock_at_init_is_two_leaky_relus():
    block = DFBlock(6)
    x, cond = tensor(2, 4, 4, 6), tensor(2, 10)
    leaky = np.where(x.numpy() > 0, x.numpy(), 0.2 * x.numpy())
    leaky = np.where(leaky > 0, leaky, 0.2 * leaky)
    np.testing.assert_allclose(block(x, cond), leaky, atol=1e-6)
    run_layer_checks(DFBlock(6), (x, cond), (2, 4, 4, 6), "float32")


@pytest.mark.parametrize("in_ch,out_ch", [(8, 8), (8, 4)])
def test_upblock_doubles_the_size(in_ch, out_ch):
    block = UpBlock(in_ch, out_ch)
    out = run_layer_checks(block, (tensor(2, 4, 4, in_ch), tensor(2, 12)),
                           (2, 8, 8, out_ch), "float32")
    assert out[0].shape == (2, 8, 8, out_ch)
    assert (block.shortcut is None) == (in_ch == out_ch)


@pytest.mark.parametrize("in_ch,out_ch", [(4, 4), (4, 8)])
def test_downblock_halves_the_size_and_starts_as_its_shortcut(in_ch, out_ch):
    block = DownBlock(in_ch, out_ch)
    x = tensor(2, 8, 8, in_ch)
    out = block(x).numpy()
    assert out.shape == (2, 4, 4, out_ch)
    assert float(block.gamma.numpy()) == 0.0
    shortcut = x if block.shortcut is None else block.shortcut(x)
    np.testing.assert_allclose(out, block.pool(shortcut), atol=1e-6)
    run_layer_checks(DownBlock(in_ch, out_ch), x, (2, 4, 4, out_ch), "float32")


def randomise(layer):
    """Random weights everywhere (γ/β MLPs no longer the identity, D_Block gain not 0)."""
    for weight in layer.weights:
        weight.assign(0.3 * RNG.normal(size=weight.shape).astype("float32"))


@pytest.mark.parametrize("in_ch,out_ch,side", [(8, 8, 4), (8, 4, 4), (8, 4, 16), (4, 4, 17)])
def test_upblock_equals_the_reference_order(in_ch, out_ch, side):
    """fuse_0 and the shortcut run before upsampling, and from 16×16 the upsampling and
    conv_0 are one transposed conv; the reference upsamples first and convolves after."""
    block = UpBlock(in_ch, out_ch)
    x, cond = tensor(2, side, side, in_ch), tensor(2, 12)
    block(x, cond)
    randomise(block)
    up = block.upsample(x)
    h = block.conv_1(block.fuse_1(block.conv_0(block.fuse_0(up, cond)), cond))
    reference = (up if block.shortcut is None else block.shortcut(up)) + h
    np.testing.assert_allclose(block(x, cond), reference, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_upsample_conv_is_the_conv_of_the_upsampled_map_with_its_gradients(dtype):
    from keras_t2i.models.df_gan.df_gan_layers import conv, upsample_conv

    layer = conv(5, 3)
    if dtype == "bfloat16":  # as under --precision mixed_bfloat16
        layer.dtype_policy = keras.DTypePolicy("mixed_bfloat16")
    layer.build((None, 14, 14, 3))
    randomise(layer)
    x = tf.cast(tensor(2, 7, 6, 3), dtype)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        mine = upsample_conv(x, layer)
        reference = layer(tf.cast(tf.repeat(tf.repeat(x, 2, 1), 2, 2), dtype))
        losses = [tf.reduce_sum(tf.cast(y, "float32") ** 2) for y in (mine, reference)]
    assert mine.dtype == reference.dtype and mine.shape == (2, 14, 12, 5)
    tol = 1e-4 if dtype == "float32" else 0.1
    np.testing.assert_allclose(tf.cast(mine, "float32"), tf.cast(reference, "float32"),
                               rtol=tol, atol=tol)
    for a, b in zip(tape.gradient(losses[0], [x, layer.kernel, layer.bias]),
                    tape.gradient(losses[1], [x, layer.kernel, layer.bias]), strict=True):
        scale = float(tf.reduce_max(tf.abs(tf.cast(b, "float32"))))
        np.testing.assert_allclose(tf.cast(a, "float32"), tf.cast(b, "float32"),
                                   rtol=tol, atol=tol * scale)


@pytest.mark.parametrize("in_ch,out_ch", [(4, 4), (4, 8)])
def test_downblock_equals_the_reference_order(in_ch, out_ch):
    """The shortcut pools before its 1×1 conv; the reference convolves, then pools."""
    block = DownBlock(in_ch, out_ch)
    x = tensor(2, 8, 8, in_ch)
    block(x)
    randomise(block)
    h = tf.nn.leaky_relu(block.conv_1(tf.nn.leaky_relu(block.conv_0(x), 0.2)), 0.2)
    reference = block.pool(x if block.shortcut is None else block.shortcut(x)) + block.gamma * h
    np.testing.assert_allclose(block(x), reference, rtol=1e-5, atol=1e-5)
