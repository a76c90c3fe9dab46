"""The middle of the pipeline: the ModelGraph IR, its checks, plans and diagrams.

Every module here imports networkx but neither torch nor `zoo`; lowering the IR to PyTorch is the
runtime's job (`zoo.runtime.lower`), so `zoo check` and `zoo render` never load torch.
"""
