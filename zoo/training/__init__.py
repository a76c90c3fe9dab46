"""Training runs: configuration and recipes, the loop and its schedules, and what a run
keeps on disk (checkpoints, the run log, the run folder).

Nothing is imported here: each module is imported where it is used.
"""
