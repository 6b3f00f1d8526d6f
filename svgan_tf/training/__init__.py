"""The training recipe: config, augmentation, loss, optimiser, draws, loop, run directory."""
