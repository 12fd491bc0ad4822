"""Watch a network learn: a live training page in the browser, driven by this engine."""
