"""The floor: the same model and preprocessing behind bare Starlette, served
by uvicorn; no authentication, no throttles, nothing stored.

    uvicorn bench.versus.floor:app --workers 2 --port 8100
"""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.versus.core import bundled_runner, recognise

runner = bundled_runner()


async def predict(request: Request) -> JSONResponse:
    try:
        body = await request.json()
    except ValueError:
        return JSONResponse({"code": "parse_error", "message": "not JSON"}, status_code=400)
    image = body.get("image") if isinstance(body, dict) else None
    status, answer = recognise(runner, image)  # on the event loop: nothing to wait for
    return JSONResponse(answer, status_code=status)


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/api/v1/predictions/", predict, methods=["POST"]),
        Route("/healthz", healthz),
    ]
)
