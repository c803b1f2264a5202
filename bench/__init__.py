"""The benchmarks. Each runs from the repository root as a module:

    .venv/bin/python -m bench.<name> --help

predict_load (prediction latency and throughput under gunicorn, against the
`model.predict()` baseline of baseline_wsgi), load_mix (the drawing page's
visitors, mixed), batch_throughput (a batch through the real worker),
train_presets, architecture_speed, pen_mix, usps_gap and canvas_realism
(training and the model), answers (what building an answer costs, in
process); loadgen and mixgen are the load generators that
predict_load and load_mix start. Each module's docstring says what it
measures; the figures, with their conditions, are in docs/benchmarks.md.

The site's processes and the drawn digits are the test suite's own
(tests/harness/).
"""
