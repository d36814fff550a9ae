"""Where a session connects and with which headers: OpenAI, env, Azure, custom URLs."""

from __future__ import annotations

import anyio
import pytest

import trio_realtime as rt
from trio_realtime._endpoint import AzureEndpoint, build_connect_request


async def request(**kwargs: object) -> rt.ConnectRequest:
    options: dict[str, object] = {
        "path": "realtime",
        "query": {"model": "gpt-realtime"},
        "api_key": None,
        "url": None,
        "azure": None,
        "headers": None,
        "max_message_size": 1024,
    }
    options.update(kwargs)
    return await build_connect_request(**options)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_WEBSOCKET_BASE_URL",
        "OPENAI_ORG_ID",
        "OPENAI_PROJECT_ID",
        "AZURE_OPENAI_API_KEY",
    ):
        monkeypatch.delenv(name, raising=False)


async def test_default_is_the_openai_service_with_the_key_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-1")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-1")
    made = await request()
    assert made.url == "wss://api.openai.com/v1/realtime?model=gpt-realtime"
    assert dict(made.headers) == {
        "Authorization": "Bearer sk-env",
        "OpenAI-Organization": "org-1",
        "OpenAI-Project": "proj-1",
    }
    assert "sk-env" not in repr(made)


@pytest.mark.parametrize(
    ("env", "value", "expected"),
    [
        ("OPENAI_BASE_URL", "https://proxy.example/v1/", "wss://proxy.example/v1/realtime"),
        ("OPENAI_BASE_URL", "http://localhost:8080/v1", "ws://localhost:8080/v1/realtime"),
        ("OPENAI_WEBSOCKET_BASE_URL", "wss://ws.example/v1", "wss://ws.example/v1/realtime"),
    ],
)
async def test_base_url_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(env, value)
    made = await request(api_key="k")
    assert made.url == expected + "?model=gpt-realtime"


@pytest.mark.parametrize(
    "url",
    ["ws://127.0.0.1:9/v1", "ws://127.0.0.1:9/v1/", "ws://127.0.0.1:9/v1/realtime"],
)
async def test_a_base_or_a_full_url_both_work(url: str) -> None:
    made = await request(api_key="k", url=url)
    assert made.url == "ws://127.0.0.1:9/v1/realtime?model=gpt-realtime"


async def test_ephemeral_secret_and_key_provider_are_bearer_tokens() -> None:
    made = await request(api_key="ek_abc123")
    assert dict(made.headers)["Authorization"] == "Bearer ek_abc123"
    calls = []

    async def provider() -> str:
        calls.append(1)
        return f"token-{len(calls)}"

    first = await request(api_key=provider)
    second = await request(api_key=provider)
    assert dict(first.headers)["Authorization"] == "Bearer token-1"
    assert dict(second.headers)["Authorization"] == "Bearer token-2"


async def test_extra_headers_are_added() -> None:
    made = await request(api_key="k", headers={"X-Trace": "abc"})
    assert ("X-Trace", "abc") in made.headers


async def test_azure_ga_and_legacy_urls_with_api_key_header() -> None:
    ga = AzureEndpoint("https://res.openai.azure.com", "my-deploy", api_key="az-key")
    made = await request(azure=ga, query={"model": None})
    assert made.url == "wss://res.openai.azure.com/openai/v1/realtime?model=my-deploy"
    assert dict(made.headers) == {"api-key": "az-key"}
    assert "az-key" not in repr(ga)
    legacy = AzureEndpoint(
        "res.openai.azure.com", "my-deploy", api_version="2025-04-01-preview", api_key="az"
    )
    made = await request(azure=legacy, query={"model": None})
    assert made.url == (
        "wss://res.openai.azure.com/openai/realtime"
        "?api-version=2025-04-01-preview&deployment=my-deploy"
    )


async def test_azure_token_provider_is_called_on_every_connect() -> None:
    tokens = iter(["t1", "t2"])
    endpoint = AzureEndpoint(
        "https://res.openai.azure.com", "d", token_provider=lambda: next(tokens)
    )
    first = await request(azure=endpoint, query={"model": None})
    second = await request(azure=endpoint, query={"model": None})
    assert dict(first.headers) == {"Authorization": "Bearer t1"}
    assert dict(second.headers) == {"Authorization": "Bearer t2"}


async def test_azure_without_credentials_is_a_clear_error() -> None:
    with pytest.raises(rt.AuthenticationError, match="AZURE_OPENAI_API_KEY"):
        await request(azure=AzureEndpoint("https://res.openai.azure.com", "d"))


def test_trio_websocket_on_asyncio_fails_at_once_with_advice() -> None:
    async def main() -> None:
        async with rt.open_realtime_session(
            api_key="k", url="ws://127.0.0.1:9/v1", transport="trio-websocket"
        ):
            pytest.fail("the block must not run")

    with pytest.raises(rt.ConnectError, match="Trio only"):
        anyio.run(main, backend="asyncio")


def test_runs_under_anyio_on_the_trio_backend() -> None:
    from trio_realtime.testing import open_emulator

    async def main() -> str:
        async with (
            open_emulator() as emulator,
            rt.open_realtime_session(api_key="k", url=emulator.url) as session,
        ):
            return session.session_id or ""

    assert anyio.run(main, backend="trio").startswith("sess_")
