"""Scoring: the numpy codecs of a variant and the one evaluator every framework's predictions go through."""
