"""Use cases: one module each; they take ports and domain objects and return domain objects."""
