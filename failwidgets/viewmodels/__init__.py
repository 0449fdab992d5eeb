"""View models: the JSON each drawing shows, built from an engine's result by pure functions."""
