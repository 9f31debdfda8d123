"""The app's Response keeps werkzeug's headers, only skipping a no-op URL conversion."""

from __future__ import annotations

from flask import Flask

from webhook.web.responses import AppResponse


def app_with(location: str) -> Flask:
    app = Flask("t")
    app.response_class = AppResponse

    @app.post("/")
    def created() -> AppResponse:
        return AppResponse(b"{}", 202, {"Location": location}, mimetype="application/json")

    return app


def test_a_plain_status_url_is_sent_as_is_with_every_other_header() -> None:
    url = "http://127.0.0.1:8080/v1/triggers/trg_0123abcd"
    response = app_with(url).test_client().post("/")
    assert response.headers["Location"] == url
    assert response.headers["Content-Length"] == "2"
    assert response.headers["Content-Type"] == "application/json"


def test_a_location_that_needs_quoting_still_goes_through_werkzeug() -> None:
    response = app_with("http://example.com/v1/triggers/ä b").test_client().post("/")
    assert response.headers["Location"] == "http://example.com/v1/triggers/%C3%A4%20b"


def test_the_shortcut_gives_the_headers_werkzeug_gives() -> None:
    from werkzeug.wrappers import Response

    url = "http://127.0.0.1:8080/v1/triggers/trg_0123abcd"
    environ = {"SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080", "wsgi.url_scheme": "http", "PATH_INFO": "/",
               "REQUEST_METHOD": "POST"}
    for status in (200, 202):
        ours = AppResponse(b'{"id":"x"}', status, [("Location", url)], content_type="application/json")
        theirs = Response(b'{"id":"x"}', status, [("Location", url)], content_type="application/json")
        assert ours.get_wsgi_headers(environ).to_wsgi_list() == theirs.get_wsgi_headers(environ).to_wsgi_list()


def test_json_response_is_jsonify_s_document() -> None:
    from flask import jsonify

    from webhook.web.responses import json_response

    app = Flask("t")
    app.response_class = AppResponse
    for document in ({"id": "trg_1", "reason": "disk „full“ ✓", "duplicate": False, "backupId": None},
                     {"reason": "half a pair \udc80"}):
        with app.test_request_context():
            ours, theirs = json_response(document, 202), jsonify(document)
        assert ours.status_code == 202 and ours.mimetype == "application/json"
        assert ours.get_json() == theirs.get_json() == document
        assert ours.get_data().endswith(b"\n")
