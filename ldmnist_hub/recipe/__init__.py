"""Training (torch): the VAE and middle-layer modules, the training loop, the torch encoding pass."""
