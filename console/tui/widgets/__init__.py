"""Widgets of the console: prompt, messages, metric panels, heat map, conversation list."""
