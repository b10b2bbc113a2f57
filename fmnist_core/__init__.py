"""fmnist_core: the whole Fashion-MNIST CNN domain, importable without Streamlit or plotly.

Importing this package is cheap: TensorFlow is imported only by the modules that need it
(model, the training worker, store loading, inference, activations), so pages that only show data stay fast.
"""

import os

# Keep TensorFlow's C++ start-up noise (CUDA probing on GPU-less machines) out of the UI and the CLI.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"
