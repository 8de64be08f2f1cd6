"""What the browser cannot do: call the API without the token, from another origin, or outside the workspace."""

from __future__ import annotations

from tests.e2e.conftest import copy_model, open_page, wait_checked


def test_refused_without_token_foreign_origin_or_outside_path(start_studio, browser, workspace, tmp_path, shots):
    (tmp_path / "secret.yaml").write_text("name: secret\n")  # beside the workspace, not in it
    source = copy_model("digits_cnn.yaml", workspace)
    server = start_studio(source)
    page = open_page(browser, server.url)
    wait_checked(page)
    assert "token" not in page.url
    token = page.evaluate("() => sessionStorage.getItem('onnxbridge-studio-token')")
    assert token == server.token

    def status(path: str, method: str = "GET", body: dict | None = None, auth: bool = True) -> int:
        return page.evaluate(
            """async ([path, method, body, auth]) => {
                const headers = { "Content-Type": "application/json" };
                if (auth) headers.Authorization = "Bearer " + sessionStorage.getItem("onnxbridge-studio-token");
                const res = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined });
                return res.status;
            }""", [path, method, body, auth])

    # from the page itself: with the token it works, without it the API answers 401
    assert status("/api/files") == 200
    assert status("/api/files", auth=False) == 401
    assert status("/api/session", auth=False) == 401
    assert status("/api/open", "POST", {"path": "digits_cnn.yaml"}, auth=False) == 401
    # paths that leave the workspace: refused even with the token
    assert status("/api/open", "POST", {"path": "../secret.yaml"}) == 403
    assert status("/api/open", "POST", {"path": str(tmp_path / "secret.yaml")}) == 403
    assert status("/api/save", "POST", {"path": "../evil.yaml", "spec": {}, "version": None}) == 403
    assert status("/api/download?path=..%2Fsecret.yaml") == 403
    assert not (tmp_path / "evil.yaml").exists()

    # another site's page (a foreign Origin) cannot use the API, even with the token
    api = browser.request
    headers = {"Authorization": f"Bearer {server.token}"}
    assert api.get(f"{server.base}/api/files", headers=headers).status == 200
    assert api.get(f"{server.base}/api/files", headers={**headers, "Origin": "http://evil.example"}).status == 403
    assert api.post(f"{server.base}/api/open", headers={**headers, "Origin": "http://evil.example"},
                    data={"path": "digits_cnn.yaml"}).status == 403
    # nor one reached through another host name (DNS rebinding)
    assert api.get(f"{server.base}/api/files", headers={**headers, "Host": "evil.example"}).status == 421

    # a page opened with a wrong token says so clearly
    other = browser.new_page()
    other.goto(f"{server.base}/?token=wrong")
    other.wait_for_selector("[data-testid=auth-error]")
    assert "token" in other.get_by_test_id("auth-error").inner_text()
    shots(other, "wrong-token")
