"""Pictures of the latent space: plots, the synthesis check and the interactive explorer."""
