"""What a user runs: the pipeline file, the CLI, the runner, check and status."""
