"""Benchmark: what building a prediction's answer costs, in process.

    .venv/bin/python -m bench.answers

The answer to `POST /api/v1/predictions/` is PredictionSerializer's, given
through `mnistsite.api.answers.Answers` (fields built once per thread). This
times that against a serializer built afresh for every answer, as REST
framework does by default, for one stored submission (no database: the
instance is built in memory). Each figure is the best of five repeats.
"""

import argparse
import os
import timeit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--number", type=int, default=20_000, help="answers per repeat")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mnistsite.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    import django

    django.setup()
    from django.utils import timezone

    from mnistsite.api.answers import Answers
    from recognizer.models import Submission
    from recognizer.serializers import PredictionSerializer

    submission = Submission(
        pk=1, digit=7, confidence=0.93, probabilities=[0.007] * 9 + [0.93],
        created_at=timezone.now(), source="api", latency_ms=3.2,
    )  # fmt: skip
    answers = Answers(PredictionSerializer)
    ways = {
        "Answers (fields built once per thread)": lambda: answers.of(
            submission, model_version=1, preprocessed=None
        ),
        "a serializer built for every answer": lambda: (
            PredictionSerializer(submission, context={"model_version": 1}).data
        ),
    }
    first, second = (way() for way in ways.values())
    assert first == second, "the two ways must give the same answer"
    print("| way | µs per answer |\n| --- | ---: |")
    for name, way in ways.items():
        best = min(timeit.repeat(way, number=args.number, repeat=5)) / args.number
        print(f"| {name} | {best * 1e6:.1f} |")


if __name__ == "__main__":
    main()
