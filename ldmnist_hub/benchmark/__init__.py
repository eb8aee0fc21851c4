"""The benchmark: baselines, the label-efficiency probe and the leaderboard."""
