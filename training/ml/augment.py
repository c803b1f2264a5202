"""Training-time augmentation aimed at what people draw on a canvas: small
rotations, shear, scale and shift, and thicker or thinner strokes.

All of it runs on whole batches inside the tf.data pipeline (one projective
warp and one 3x3 max-pool per batch), so it costs a small fraction of a
training step.
"""

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AugmentConfig:
    # Mild on purpose: preprocessing already normalises size and position.
    max_rotation_degrees: float = 10.0
    max_shear: float = 0.15
    scale_range: tuple[float, float] = (0.9, 1.1)
    max_aspect_change: float = 0.1
    max_shift_pixels: float = 2.0
    # Probability of thickening / thinning the strokes, and how strongly.
    thicken_probability: float = 0.2
    thin_probability: float = 0.15


def _transforms(tf: Any, batch: Any, config: AugmentConfig, size: float) -> Any:
    """Per-image projective transforms (output -> input pixel), as the 8
    numbers ImageProjectiveTransformV3 takes."""
    uniform = tf.random.uniform
    angle = uniform([batch], -1.0, 1.0) * math.radians(config.max_rotation_degrees)
    shear = uniform([batch], -config.max_shear, config.max_shear)
    scale = uniform([batch], *config.scale_range)
    aspect = 1.0 + uniform([batch], -config.max_aspect_change, config.max_aspect_change)
    shift_x = uniform([batch], -config.max_shift_pixels, config.max_shift_pixels)
    shift_y = uniform([batch], -config.max_shift_pixels, config.max_shift_pixels)
    sx, sy = scale * aspect, scale / aspect
    cos, sin = tf.cos(angle), tf.sin(angle)
    # Forward map M = rotation @ shear @ scale.
    m00 = cos * sx
    m01 = (cos * shear - sin) * sy
    m10 = sin * sx
    m11 = (sin * shear + cos) * sy
    det = m00 * m11 - m01 * m10
    i00, i01, i10, i11 = m11 / det, -m01 / det, -m10 / det, m00 / det
    centre = (size - 1.0) / 2.0
    # input = M^-1 (output - centre - shift) + centre
    a2 = centre - i00 * (centre + shift_x) - i01 * (centre + shift_y)
    b2 = centre - i10 * (centre + shift_x) - i11 * (centre + shift_y)
    zeros = tf.zeros([batch])
    return tf.stack([i00, i01, a2, i10, i11, b2, zeros, zeros], axis=1)


def augment_batch(images: Any, config: AugmentConfig = AugmentConfig()) -> Any:
    """(B, 28, 28, 1) float images in [0, 1] -> augmented images, same shape."""
    import tensorflow as tf

    batch = tf.shape(images)[0]
    size = tf.cast(tf.shape(images)[1], tf.float32)
    warped = tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=_transforms(tf, batch, config, size),
        output_shape=tf.shape(images)[1:3],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )
    # Stroke width: blend towards a dilated (thicker) or eroded (thinner)
    # version by a random amount, so widths vary continuously.
    dilated = tf.nn.max_pool2d(warped, 3, 1, "SAME")
    eroded = -tf.nn.max_pool2d(-warped, 3, 1, "SAME")
    choice = tf.random.uniform([batch, 1, 1, 1])
    amount = tf.random.uniform([batch, 1, 1, 1], 0.3, 1.0)
    thicken = tf.cast(choice < config.thicken_probability, tf.float32) * amount
    thin = (
        tf.cast(
            (choice >= config.thicken_probability)
            & (choice < config.thicken_probability + config.thin_probability),
            tf.float32,
        )
        * amount
        * 0.5
    )
    out = warped + thicken * (dilated - warped) + thin * (eroded - warped)
    return tf.clip_by_value(out, 0.0, 1.0)
