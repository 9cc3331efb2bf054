"""Broken deployment plugins: each module breaks one rule of the plugin loader."""
