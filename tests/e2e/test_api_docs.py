"""The interactive API docs work in a real browser under the site's content
security policy, from local files only."""

from playwright.sync_api import Page, expect


def test_swagger_ui_renders_every_operation_without_policy_violations(site, page: Page):
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    outside: list[str] = []
    page.on(
        "request",
        lambda request: None if request.url.startswith(site) else outside.append(request.url),
    )

    page.goto(f"{site}/api/v1/docs/")

    expect(page.locator(".opblock").first).to_be_visible(timeout=15_000)
    assert page.locator(".opblock").count() >= 15
    expect(page.get_by_text("/api/v1/predictions/").first).to_be_visible()
    assert not [text for text in console if "Content Security Policy" in text], console
    assert not outside, outside
