"""The benchmark: baselines, the label-efficiency probe, the leaderboard, the protocol and the rule baselines."""
