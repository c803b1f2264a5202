"""What the drawing page asks the prediction API, seen from the browser."""

from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Request

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
PREDICTIONS_PATH = "/api/v1/predictions/"


@dataclass
class ApiTraffic:
    """What the page asked the prediction API and what it was answered."""

    statuses: list[tuple[str, int]] = field(default_factory=list)  # (kind, status)
    in_flight: set[Request] = field(default_factory=set)

    def stored_created(self) -> int:
        return sum(1 for kind, status in self.statuses if kind == "stored" and status == 201)

    def started(self, request: Request) -> None:
        if _kind(request):
            self.in_flight.add(request)

    def finished(self, request: Request, *, ok: bool) -> None:
        kind = _kind(request)
        if kind is None:
            return
        self.in_flight.discard(request)
        response = request.response() if ok else None
        self.statuses.append((kind, response.status if response else 0))


def _kind(request: Request) -> str | None:
    if request.method != "POST" or PREDICTIONS_PATH not in request.url:
        return None
    if request.url.rstrip("/").endswith("/feedback"):
        return "feedback"
    return "preview" if "preview=true" in request.url else "stored"
