"""UI-free implementations of the failure-mode methods; each submodule is imported on demand."""
