"""The sentinel: the graph node and the detectors it runs on every turn."""
