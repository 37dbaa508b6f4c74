"""The shared HTTP session honours the environment's proxy settings, and reads them once per origin."""

from __future__ import annotations

import requests.sessions

from adapters.http import _Session


def test_proxies_and_no_proxy_come_from_the_environment_once_per_origin(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "direct.example.com")
    reads = []
    real = requests.sessions.get_environ_proxies
    monkeypatch.setattr(
        requests.sessions, "get_environ_proxies", lambda url, no_proxy=None: reads.append(url) or real(url, no_proxy)
    )
    session = _Session()

    def proxies(url):
        merged = session.merge_environment_settings(url, {}, None, None, None)["proxies"]
        return {k: v for k, v in merged.items() if k != "no"}  # requests passes NO_PROXY along as "no"

    assert proxies("https://api.example.com/a") == {"https": "http://proxy.internal:3128"}
    assert proxies("https://api.example.com/b?x=1") == {"https": "http://proxy.internal:3128"}
    assert proxies("https://user:secret@api.example.com/c") == {"https": "http://proxy.internal:3128"}
    assert proxies("https://direct.example.com/a") == {}
    assert reads == ["https://api.example.com/a", "https://direct.example.com/a"]
    # What a caller gets is its own: changing it changes no later request.
    proxies("https://api.example.com/a")["https"] = "http://elsewhere:1"
    assert proxies("https://api.example.com/a") == {"https": "http://proxy.internal:3128"}


def test_a_request_with_proxies_of_its_own_is_merged_as_requests_does(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    own = {"https": "http://mine:8080"}
    merged = _Session().merge_environment_settings("https://api.example.com/", own, None, None, None)
    assert merged["proxies"] == {"https": "http://mine:8080"}


def test_the_ca_bundle_of_the_environment_is_used(monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/custom.pem")
    merged = _Session().merge_environment_settings("https://api.example.com/", {}, None, None, None)
    assert merged["verify"] == "/etc/ssl/custom.pem"


def test_a_netrc_file_never_replaces_the_adapters_credentials(monkeypatch, tmp_path):
    """A ``default`` entry in the worker host's ``~/.netrc`` (or one for a platform's host) would have
    requests replace the adapter's own ``Authorization`` header with Basic credentials of the host."""
    import responses

    from adapters import http

    netrc = tmp_path / ".netrc"
    netrc.write_text("default login host-user password host-secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    with responses.RequestsMock() as mock:
        mock.get("https://api.example.com/listings", json={})
        http.request(
            "GET",
            "https://api.example.com/listings",
            platform="airbnb",
            endpoint="listings",
            headers={"Authorization": "Bearer the-connections-token"},
        )
        sent = mock.calls[0].request.headers
    assert sent["Authorization"] == "Bearer the-connections-token"
    # requests itself would have used the file (so the test sees what the session prevents):
    assert requests.utils.get_netrc_auth("https://api.example.com/listings") == ("host-user", "host-secret")
