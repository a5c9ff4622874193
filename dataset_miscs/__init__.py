"""Dataset tools: TFRecord builders, toy dataset generator, dataset statistics."""
