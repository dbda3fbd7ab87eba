"""The interactive API docs: Swagger UI from this server only, under a strict policy."""

import re


def test_the_docs_page_runs_no_inline_script_and_says_so(client):
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "default-src 'none'" in policy
    html = page.get_data(as_text=True)
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts and all(
        'src="/api/docs/assets/' in attrs and not body.strip() for attrs, body in scripts
    )
    assert 'data-spec-url="/api/openapi.json"' in html
    for attrs, _body in scripts:
        source = re.search(r'src="([^"]+)"', attrs).group(1)
        assert client.get(source).status_code == 200, source


def test_swagger_ui_renders_the_operations_under_that_policy(live_server):
    from playwright.sync_api import sync_playwright

    from tests.test_web import CHROMIUM, CHROMIUM_ARGS

    refused = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else 0)
        page.goto(f"{live_server}/api/docs")
        page.wait_for_selector(".opblock-summary", timeout=20_000)
        operations = page.locator(".opblock-summary").count()
        browser.close()
    assert operations >= 40 and refused == []
