"""The training code proper: no Django here, so it is tested without a database.
TensorFlow is imported inside the functions that need it."""

import os

# TensorFlow's C++ start-up chatter (oneDNN, CPU features) says nothing useful
# in a worker log; warnings and errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
