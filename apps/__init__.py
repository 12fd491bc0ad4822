"""Applications built on autograd and nn: the demo, the digits example, the live playground."""
