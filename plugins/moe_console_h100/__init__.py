"""Built-in moe-console backend plugin: h100."""
