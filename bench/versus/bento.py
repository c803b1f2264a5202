"""A dedicated model server: BentoML 1.4 serving the same compiled model
through the same preprocessing, as its documentation shows a service.

    bentoml serve bench.versus.bento:Digits --port 8200
"""

import bentoml

from bench.versus.core import bundled_runner, recognise

WORKERS = 2  # one per core, as the site's gunicorn has


@bentoml.service(workers=WORKERS, traffic={"timeout": 30})
class Digits:
    def __init__(self) -> None:
        self.runner = bundled_runner()

    @bentoml.api(route="/api/v1/predictions/")
    def predict(self, image: str) -> dict:
        status, answer = recognise(self.runner, image)
        if status != 200:
            raise bentoml.exceptions.InvalidArgument(answer["message"])
        return answer
