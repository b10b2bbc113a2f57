"""Why the model decided, and how far to trust it: attributions (Grad-CAM, saliency, integrated gradients,
occlusion) behind one call shape, their agreement, the randomisation test, the smallest flipping change, and how
one cell of a feature map is computed.

The names that lived in the old single module are re-exported here, so `from fmnist_core.explain import grad_cam`
keeps working.
"""

from fmnist_core.explain._common import NO_CONV, conv_layers
from fmnist_core.explain.attributions import (
    METHODS,
    Attribution,
    Method,
    agreement,
    attribute,
    attribute_all,
    available_methods,
    ranks,
    spearman,
)
from fmnist_core.explain.cells import (
    CONV_TYPES,
    POINTWISE_TYPES,
    POOL_TYPES,
    CellExplanation,
    explain_cell,
    receptive_field,
)
from fmnist_core.explain.flip import LEVEL, MAX_LEVELS, Flip, pgd, smallest_flip
from fmnist_core.explain.gradcam import cell_grid, first_layer_kernels, grad_cam, heat_on_object, last_conv_layer
from fmnist_core.explain.gradients import IG_STEPS, IntegratedGradients, integrated_gradients, saliency
from fmnist_core.explain.occlusion import DEFAULT_PATCH, DEFAULT_STRIDE, PATCH_RANGE, Occlusion, occlusion
from fmnist_core.explain.sanity import SanityResult, SanityStep, cascade, layers_to_randomise, randomisation_test

__all__ = [
    "CONV_TYPES",
    "DEFAULT_PATCH",
    "DEFAULT_STRIDE",
    "IG_STEPS",
    "LEVEL",
    "MAX_LEVELS",
    "METHODS",
    "NO_CONV",
    "PATCH_RANGE",
    "POINTWISE_TYPES",
    "POOL_TYPES",
    "Attribution",
    "CellExplanation",
    "Flip",
    "IntegratedGradients",
    "Method",
    "Occlusion",
    "SanityResult",
    "SanityStep",
    "agreement",
    "attribute",
    "attribute_all",
    "available_methods",
    "cascade",
    "cell_grid",
    "conv_layers",
    "explain_cell",
    "first_layer_kernels",
    "grad_cam",
    "heat_on_object",
    "integrated_gradients",
    "last_conv_layer",
    "layers_to_randomise",
    "occlusion",
    "pgd",
    "randomisation_test",
    "ranks",
    "receptive_field",
    "saliency",
    "smallest_flip",
    "spearman",
]
