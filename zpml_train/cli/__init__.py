"""The training verbs of the ``zpml`` command, registered through ``zpml.commands``."""
