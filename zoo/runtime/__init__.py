"""A compiled model at run time: lowering a graph to a module, the module (an interpreter
over the execution plan), its distributions and the objectives it is trained and scored with.

Nothing is imported here: each module is imported where it is used.
"""
