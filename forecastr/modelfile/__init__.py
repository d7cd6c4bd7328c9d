"""The model file: the safe container it shares with checkpoints, its schema and
upgrades (artifact), and the checks on everything it holds before anything is built."""
