"""Published repos: their layout and manifest, the dataset card, repo names, and pulling a variant from one."""
