"""Baselines for learning rules: one shared harness (the protocol) and one short module per rule.

``harness`` holds the protocol (data, draws, the N-256-256-N tanh network,
budget, tuning, timing); ``backprop``, ``feedback_alignment``,
``direct_feedback_alignment`` and ``predictive_coding`` each hold one rule, to
read and to copy; ``backprop_jax`` and ``predictive_coding_jax`` are their JAX
twins (the loop in ``harness_jax``: whole epochs in ``lax.scan``, optax Adam),
``spiking`` a LIF network in snntorch; ``suite`` runs them as ``ldmnist
benchmark --rules`` (the JAX and spiking ones when named, with their extras).
"""
