"""The benchmark: the baselines and their run, the label-efficiency probe, the protocol and the rule baselines."""
