"""Baselines for learning rules: one shared harness (the protocol) and one short module per rule.

``harness`` holds the protocol (data, draws, the N-256-256-N tanh network,
budget, tuning, timing); ``backprop``, ``feedback_alignment``,
``direct_feedback_alignment`` and ``predictive_coding`` each hold one rule, to
read and to copy; ``suite`` runs them all as ``ldmnist benchmark --rules``.
"""
