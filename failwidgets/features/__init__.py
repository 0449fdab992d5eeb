"""Feature extractors (e.g. CLIP embeddings) shared by the methods; imported lazily."""
