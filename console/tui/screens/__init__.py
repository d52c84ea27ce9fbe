"""Screens of the console: chat, backend picker, compare, plugins, sampling form."""
