"""The client speaks HTTP through urllib3 alone (client/rpc.py says why): importing the SDK
and its HTTP client loads no httpx, which is a test dependency only (pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys


def test_the_sdk_and_its_http_client_load_no_httpx():
    code = (
        "import sys, cairn, cairn.client.http, cairn.client.rpc, cairn.client.uploader, cairn.client.downloader; "
        "print('httpx' in sys.modules, 'urllib3' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True"]
