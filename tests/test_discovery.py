"""Finding the model servers on this machine: real listeners on loopback ports (a real
llama-cpp-python server, a socket that accepts and says nothing, a closed port), ``doctor``'s
rows, the start screen's suggestion, and the choice remembered in the config file."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from interviewer.config import ConfigError, Settings, load_settings, remember_choice
from interviewer.doctor import run_doctor
from interviewer.llm.openai.discover import (
    TIMEOUT_S,
    discover,
    probe_port,
    server_command,
    suggested_server,
)
from tests.helpers.llama_server import ALIAS, free_port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A socket that accepts connections and never says a word."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(2)
    for conn in accepted:
        conn.close()
    listener.close()


def test_a_closed_port_is_known_at_once_and_costs_nothing():
    port = free_port()  # bound and released: nothing listens there now
    started = time.perf_counter()
    probes = discover([("Ollama", port), ("vLLM", free_port()), ("LM Studio", free_port())])
    spent = time.perf_counter() - started
    assert [p.status for p in probes] == ["closed"] * 3
    assert spent < 0.3, f"discovery took {spent:.3f} s with nothing listening"
    assert "nothing listens" in probes[0].describe()


def test_a_silent_listener_costs_one_timeout_in_parallel(silent_port):
    started = time.perf_counter()
    probes = discover([("llama.cpp", silent_port), ("LM Studio", silent_port)], timeout=0.2)
    spent = time.perf_counter() - started
    assert [p.status for p in probes] == ["silent", "silent"]
    assert spent < 0.2 * 2 + 0.25  # both at once, not one after the other
    assert "did not answer" in probes[0].describe()


def test_only_this_machine_is_looked_at():
    with pytest.raises(ValueError, match="only looks on this machine"):
        discover([("vLLM", 8000)], host="192.168.1.10")
    with pytest.raises(ValueError, match="only looks on this machine"):
        probe_port("vLLM", 8000, host="example.com")


def test_a_real_server_is_found_with_its_models(llama_server, silent_port):
    closed = free_port()
    probes = discover(
        [("Ollama", closed), ("llama.cpp", llama_server.port), ("LM Studio", silent_port)],
        timeout=TIMEOUT_S,
    )
    assert [p.status for p in probes] == ["closed", "found", "silent"]
    server = probes[1]
    assert server.models == (ALIAS,)
    assert server.base_url == llama_server.base_url
    assert suggested_server(probes, cuda=False) == server
    assert suggested_server(probes, cuda=True) is None  # a GPU here: no server is pushed
    assert server_command(server).endswith(f"--base-url {server.base_url} --model {ALIAS}")


@pytest.mark.model  # doctor probes the GPU through torch
def test_doctor_lists_the_servers_and_suggests_one_without_a_gpu(llama_server, silent_port):
    lines: list[str] = []
    run_doctor(None, lines.append, ports=[("llama.cpp", llama_server.port), ("vLLM", silent_port)])
    text = "\n".join(lines)
    assert f"a server at {llama_server.base_url} ({ALIAS})" in text
    assert f"vLLM port {silent_port}: something listens but did not answer" in text
    # This machine has no CUDA GPU: the server is suggested, with the command that uses it.
    assert f"--base-url {llama_server.base_url} --model {ALIAS}" in text


def test_the_choice_is_remembered_in_the_config_file_with_its_comments(tmp_path, monkeypatch):
    path = tmp_path / "config.toml"
    path.write_text('# my settings\nmode = "exam"  # exams only\nmodel = "old"\n')
    monkeypatch.setenv("INTERVIEWER_CONFIG", str(path))
    remember_choice(
        {"backend": "openai", "base_url": "http://127.0.0.1:11434/v1", "model": "qwen2.5"}
    )
    text = path.read_text()
    assert "# my settings" in text and "# exams only" in text
    settings = load_settings()
    assert (settings.backend, settings.base_url, settings.model, settings.mode) == (
        "openai",
        "http://127.0.0.1:11434/v1",
        "qwen2.5",
        "exam",
    )
    remember_choice({"backend": "hf", "base_url": None, "model": None})
    settings = load_settings()
    assert (settings.backend, settings.base_url, settings.model) == ("hf", None, None)


def test_a_broken_config_file_is_not_overwritten(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("mode = [unclosed\n")
    with pytest.raises(ConfigError, match=str(path)):
        remember_choice({"backend": "hf"}, path)
    assert path.read_text() == "mode = [unclosed\n"


async def test_the_start_screen_suggests_the_server_without_a_gpu(
    llama_server, tmp_path, monkeypatch
):
    """No backend chosen, no CUDA GPU (this machine), a server running: the form switches to
    it and says why; starting remembers it in the config file."""
    from textual.widgets import Input, Select, Static

    from interviewer.tui.app import create_app
    from interviewer.tui.start import StartScreen

    config = tmp_path / "config.toml"
    monkeypatch.setenv("INTERVIEWER_CONFIG", str(config))
    monkeypatch.setattr(
        StartScreen, "server_ports", (("Ollama", free_port()), ("llama.cpp", llama_server.port))
    )
    settings = Settings(discover_servers=True, save=False)
    assert "backend" not in settings.model_fields_set
    app = create_app(settings)
    async with app.run_test() as pilot:
        screen = app.screen
        assert isinstance(screen, StartScreen)
        for _ in range(600):  # the GPU probe imports torch: seconds on a busy machine
            await pilot.pause(0.05)
            if screen.suggested is not None:
                break
        assert screen.suggested is not None and screen.cuda is False
        assert screen.query_one("#backend", Select).value == "openai"
        assert screen.query_one("#base-url", Input).value == llama_server.base_url
        assert screen.query_one("#server-model", Input).value == ALIAS
        said = str(screen.query_one("#gpu", Static).render())
        assert "Suggested" in said and "no CUDA GPU" in said
        servers = str(screen.query_one("#servers", Static).render())
        assert llama_server.base_url in servers
        chosen = screen._chosen()
        screen._remember(chosen)
    text = config.read_text()
    assert 'backend = "openai"' in text and llama_server.base_url in text and ALIAS in text
