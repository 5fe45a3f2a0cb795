"""Moment Tensor Potential: model, basis generator, reference evaluator."""
