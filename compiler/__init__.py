"""The middle of the pipeline: the ModelGraph IR, its checks, plans, and lowering to PyTorch.

`compiler.graph`, `compiler.plan`, `compiler.validate`, `compiler.dsep` and `compiler.render`
import networkx but not torch; only `compiler.lower` imports torch.
"""
