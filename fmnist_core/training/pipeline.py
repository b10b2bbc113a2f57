"""Feeding a training: the thread-free tf.data pipelines and the per-batch augmentation.

Used by the worker for every preset fed by a dataset, and by the Train page's "What the network trains on"
(fmnist_core/training/augmentation.py), so what a learner sees is what the network gets. TensorFlow is imported inside
the functions: importing this module stays cheap.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fmnist_core.data import fashion_mnist
from fmnist_core.nets.presets import Preset

VALIDATION_BATCH = 1000


def thread_free_options() -> Any:
    """tf.data options that start no background threads: no autotuning, no injected prefetch, no parallel map.

    On 2 cores the autotune thread made the end of every other epoch wait 15-20 s (UnboundedThreadPool join in
    the iterator's destructor), and a destructor that waits on a pipeline thread can run at any garbage collection.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    options.experimental_optimization.inject_prefetch = False
    options.experimental_optimization.map_parallelization = False
    return options


def training_pipeline(
    preset: Preset, images: np.ndarray, labels: np.ndarray, dtype: type, batch_size: int, seed: int
) -> Any:
    """The tf.data training input: shuffled index batches gathered from tensors, augmented per batch, no threads.

    Shuffling indices (not images) keeps the order a function of the seed alone without a shuffle buffer of
    images; augmentation draws from a seeded stream of per-batch keys, new every epoch.
    """
    import tensorflow as tf

    n = len(images)
    x_train = tf.constant(fashion_mnist.scale(images, dtype))
    y_train = tf.constant(labels.astype(np.int32))
    batches = tf.data.Dataset.range(n).shuffle(n, seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    prepare = _batch_preparer(preset, x_train, y_train)
    if preset.augment:
        keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        ds = tf.data.Dataset.zip(batches, keys).map(prepare)
    else:
        ds = batches.map(prepare)
    return ds.with_options(thread_free_options())


def validation_pipeline(images: np.ndarray, labels: np.ndarray, dtype: type, one_hot: bool = False) -> Any:
    """The test set as fit's validation data through the same thread-free tf.data path as training.

    Numpy validation_data would go through Keras' array adapter, whose map and prefetch are autotuned threads.
    """
    import tensorflow as tf

    x = tf.constant(fashion_mnist.scale(images, dtype))
    y = tf.constant(labels.astype(np.int32))

    def batch(idx: Any) -> Any:
        labels_of = tf.gather(y, idx)
        return tf.gather(x, idx), tf.one_hot(labels_of, 10) if one_hot else labels_of

    return tf.data.Dataset.range(len(images)).batch(VALIDATION_BATCH).map(batch).with_options(thread_free_options())


def _batch_preparer(preset: Preset, x_train: Any, y_train: Any) -> Any:
    """The tf.data map from a batch of indices (and, with augmentation, a seed pair) to (images, labels).

    Augmentation runs on whole batches with stateless random ops, so it costs little on 2 cores and depends
    only on the training seed.
    """
    import tensorflow as tf

    def labels_of(idx: Any) -> Any:
        y = tf.gather(y_train, idx)
        if preset.label_smoothing:
            y = tf.one_hot(y, 10)
        return y

    def augment(x: Any, key: Any) -> Any:
        b = tf.shape(x)[0]
        seeds = tf.random.experimental.stateless_split(tf.cast(key, tf.int64), 3)
        if "flip" in preset.augment:
            flip = tf.random.stateless_uniform([b, 1, 1, 1], seed=seeds[0]) < 0.5
            x = tf.where(flip, tf.reverse(x, axis=[2]), x)
        if "shift" in preset.augment:  # pad 2 px of background, then take a 28x28 window at a random offset
            pad = 2
            padded = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
            dy = tf.random.stateless_uniform([b], seed=seeds[1], maxval=2 * pad + 1, dtype=tf.int32)
            dx = tf.random.stateless_uniform([b], seed=seeds[2], maxval=2 * pad + 1, dtype=tf.int32)
            rows = dy[:, None] + tf.range(28)[None, :]
            cols = dx[:, None] + tf.range(28)[None, :]
            x = tf.gather(tf.gather(padded, rows, axis=1, batch_dims=1), cols, axis=2, batch_dims=1)
        return x

    if preset.augment:
        return lambda idx, key: (augment(tf.gather(x_train, idx), key), labels_of(idx))
    return lambda idx: (tf.gather(x_train, idx), labels_of(idx))
