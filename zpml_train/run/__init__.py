"""One ``zpml train`` run: settings, the run directory, the run itself, its report and summary."""
