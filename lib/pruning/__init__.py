"""Pruning: the unstructured and structured families (neither imports the other), the allocation engine
and the sensitivity sweep they share, and gradual pruning (unstructured)."""
