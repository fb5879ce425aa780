"""One router per resource: health, datasets, tasks, models."""
