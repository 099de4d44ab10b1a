"""ProxyProcess.stop: a mitmdump that dies of a crash signal at shutdown raises ProxyCrashed
(once, with its log); a clean exit returns its status. A stand-in for mitmdump prints the
listening line, then on SIGINT exits cleanly or kills itself with the signal it was given."""

import signal
import sys
import textwrap

import pytest

from faults.tools.launch import ProxyCrashed, ProxyProcess

FAKE = textwrap.dedent("""
    import os, signal, sys, time
    def on_int(*_):
        sig = int(sys.argv[1])
        if sig:
            os.kill(os.getpid(), sig)
        sys.exit(0)
    signal.signal(signal.SIGINT, on_int)
    print("reverse proxy listening at 127.0.0.1:1.", flush=True)
    for _ in range(300):
        time.sleep(0.1)
""")


class FakeMitmdump(ProxyProcess):
    def __init__(self, die_of: int):
        super().__init__(addon=None)
        self.die_of = die_of

    def args(self):
        return [sys.executable, "-c", FAKE, str(self.die_of)]


def test_a_clean_exit_returns_its_status():
    px = FakeMitmdump(0).start()
    assert px.stop() == 0


@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGABRT])
def test_a_crash_at_shutdown_raises_once_with_the_log(sig):
    px = FakeMitmdump(sig).start()
    with pytest.raises(ProxyCrashed, match=f"died of {sig.name} \\(exit -{int(sig)}\\)") as e:
        px.stop()
    assert "listening at 127.0.0.1:1" in str(e.value)
    assert px.stop() == -sig  # told once: a second stop (a context manager's exit) returns the status


def test_a_crash_while_starting_is_not_raised_by_the_cleanup():
    px = FakeMitmdump(signal.SIGSEGV).start()
    px.proc.send_signal(signal.SIGINT)
    px.proc.wait(10)
    assert px.stop(check=False) == -signal.SIGSEGV
