"""Reading a trained model: importance-weighted likelihoods, samples, and the diagnostics and
figures of a run (active units, attention maps, per-layer breakdowns, learning curves).

Nothing is imported here: each module is imported where it is used.
"""
