"""The training loop: config, SCMTrainer, metrics, checkpoints, AMP, thresholds, capability."""
