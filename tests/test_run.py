"""`hotline run` starts the action server, Rasa and the gateway, and Ctrl-C stops every one of them."""

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, hotline_command


@pytest.mark.rasa
def test_run_starts_everything_and_ctrl_c_stops_it(model: Path, tmp_path: Path) -> None:
    ports = {"RASA_URL": free_port(), "ACTION_PORT": free_port(), "GATEWAY_PORT": free_port()}
    env = {
        **os.environ,
        "RASA_URL": f"http://127.0.0.1:{ports['RASA_URL']}",
        "ACTION_PORT": str(ports["ACTION_PORT"]),
        "GATEWAY_PORT": str(ports["GATEWAY_PORT"]),
        "HOTLINE_VAR": str(tmp_path),
        "TELEGRAM_BOT_TOKEN": "",
    }
    process = subprocess.Popen([*hotline_command(), "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    gateway = f"http://127.0.0.1:{ports['GATEWAY_PORT']}"
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            try:
                if httpx.get(f"{gateway}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        else:
            pytest.fail("the hotline did not become healthy")
        reply = httpx.post(f"{gateway}/api/chat", json={"session": "run-1", "text": "工伤认定要多久"}, timeout=30)
        assert "工伤" in reply.json()["messages"][0]["text"]
        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    for port in ports.values():  # nothing left listening
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
    output = process.stdout.read().decode() if process.stdout else ""
    assert "Stopped: gateway, Rasa server, action server." in output
