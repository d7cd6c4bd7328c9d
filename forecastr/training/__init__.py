"""Fitting a model: preparing a panel, the training loop, its resumable state and
checkpoints, the batches' windows, several processes (DDP, sharded series), and
signals that ask training to stop."""
