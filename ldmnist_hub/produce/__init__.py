"""Producing a variant's bytes: the exact numpy encoder, the shipped reference weights, training or reuse."""
