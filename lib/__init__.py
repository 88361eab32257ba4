"""Shared library of the VGG-11 pruning study. Stages import from here; lib never imports stages."""
