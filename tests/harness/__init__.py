"""What the tests and the benchmarks (bench/) share: the site's processes as the
Procfile starts them (processes.py) and digits as the drawing page sends them
(canvas.py)."""
