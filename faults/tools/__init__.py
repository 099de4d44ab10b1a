"""Tools around the product: the CLI, the demo and its upstream, the launcher
of a mitmdump subprocess, the k6 runner and the pytest plugin."""
