"""Built-in moe-console backend plugin: ascend950."""
