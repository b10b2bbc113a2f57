"""The networks: the spec (validate, describe), Keras models built from it, the presets, the quiet TensorFlow import."""
