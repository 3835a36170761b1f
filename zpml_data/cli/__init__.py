"""The ``zpml`` command: :func:`zpml_data.cli.main.main` and one module per verb.

Each verb module registers its sub-parser and imports the library only when
it runs, so ``zpml --help`` imports neither pandas, pandera nor torch.
"""
