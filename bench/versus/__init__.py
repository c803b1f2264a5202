"""The side-by-side benchmark (`python -m bench.versus`): this site against
a dedicated model server (BentoML) and a bare ASGI floor, all three running
the same compiled model through the same Django-free preprocessing."""
