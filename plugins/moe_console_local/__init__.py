"""Built-in moe-console backend plugin: local."""
