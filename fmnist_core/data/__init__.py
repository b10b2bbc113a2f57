"""The data: Fashion-MNIST's IDX files and class names, a person's own images as model input, augmentation."""
