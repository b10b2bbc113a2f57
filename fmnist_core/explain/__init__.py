"""Why the model decided, and how far to trust it: one module per attribution method (Grad-CAM, saliency,
integrated gradients, occlusion) behind one call shape (attributions), the randomisation test (sanity), the
smallest flipping change (flip), and how one cell of a feature map is computed (cells)."""
