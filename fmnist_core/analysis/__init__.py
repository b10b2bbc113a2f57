"""What a trained model shows: inference, activations, embedding, suspect labels, synthesised inputs, quiz."""
