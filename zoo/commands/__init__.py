"""One module per `zoo` subcommand, each with `add_arguments(parser)` and `run(args) -> int`."""
