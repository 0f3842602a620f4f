"""What every layer stands on and nothing of ours is imported by: the project's one exception
tree (`base.errors`)."""
