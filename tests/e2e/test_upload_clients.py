"""Upload faults with curl and httpx (HTTP/1.1, an 8 MiB POST): what each reports
must equal the record's ``clients`` entry."""

import subprocess
import sys

import pytest

from .waiting import any_record, records_by_case

FAULTS = ["reset when=mid_request after_bytes=65536", "close when=mid_request after_bytes=65536",
          "status code=413 when=early", "throttle direction=request bytes_per_s=4000000"]
HTTPX = """
import sys, httpx
try:
    r = httpx.post(sys.argv[1], content=open(sys.argv[3], 'rb').read(), headers={'x-fault': sys.argv[2]}, timeout=10)
    print('None', r.status_code)
except Exception as e:
    print(type(e).__name__, e)
"""


@pytest.fixture(scope="module")
def body(tmp_path_factory):
    path = tmp_path_factory.mktemp("upload") / "body"
    path.write_bytes(b"x" * (8 << 20))
    return path


@pytest.mark.parametrize("index", range(len(FAULTS)), ids=FAULTS)
def test_curl_and_httpx_uploads(proxy, body, index):
    spec = FAULTS[index]
    url = f"{proxy.url}/u?case=upc{index}"
    p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "--data-binary", f"@{body}", "-H", f"x-fault: {spec}", url],
                       capture_output=True, text=True, timeout=30)
    (rec,) = records_by_case(proxy, [f"upc{index}"], any_record)[f"upc{index}"]
    want = rec["clients"]["curl"]
    assert p.returncode == want["error"] and want["message"] in p.stderr, (p.stderr, want)
    url = f"{proxy.url}/u?case=uph{index}"
    p = subprocess.run([sys.executable, "-c", HTTPX, url, spec, str(body)], capture_output=True, text=True, timeout=30)
    exc, _, text = p.stdout.strip().partition(" ")
    (rec,) = records_by_case(proxy, [f"uph{index}"], any_record)[f"uph{index}"]
    want = rec["clients"]["httpx"]
    assert exc == str(want["error"]) and want["message"] in text, (p.stdout, p.stderr, want)
