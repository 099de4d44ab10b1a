"""``faults score [options] -- CMD ARGS...`` (wired into ``faults.tools.cli``).

Exit status: 0 when every row passed its policy (or no policy was given), 1 when a row
failed it, 2 on bad input (a one-line error naming the option or file), 3 when CMD fails
without any fault (reported, not scored).
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Sequence

from faults import numbers
from faults.errors import SpecError


def build_parser(prog: str = "faults score") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog, usage=f"{prog} [options] -- CMD ARGS...",
        description="Run CMD once with no fault (the baseline), then once per fault, each time with only "
                    "that fault applied to every request CMD sends through the proxy; tabulate what CMD did "
                    "on the wire and judge it by --policy. CMD reads FAULTS_URL (and SSL_CERT_FILE, "
                    "REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, NODE_EXTRA_CA_CERTS); $FAULTS_URL in its arguments "
                    "is replaced (quote it: '$FAULTS_URL/').")
    p.add_argument("--upstream", metavar="URL", help="the service to put the proxy in front of "
                   "(default: an embedded test upstream; any path answers 200)")
    p.add_argument("--proxy-mode", action="store_true", help="run a regular proxy and set HTTP_PROXY/HTTPS_PROXY "
                   "for CMD; FAULTS_URL is then the upstream's own URL")
    p.add_argument("--tls", action="store_true", help="https FAULTS_URL (HTTP/2 offered); adds HTTP/2 and TLS "
                   "faults to the default suite")
    p.add_argument("--faults", metavar="SPEC", action="append", help="a fault to run (repeatable), in the faults "
                   "option's form: '[/filter/]KIND key=value ...'")
    p.add_argument("--suite", metavar="FILE", help="a YAML list of faults (spec strings or plan rules)")
    # numbers are read by faults.numbers in _usage (ASCII digits, bounded, one line)
    p.add_argument("--first", metavar="N", help="fault only the first N requests of each run")
    p.add_argument("--timeout", metavar="S", default="10",
                   help="per run: then CMD is killed and the row is hung (default 10)")
    p.add_argument("--policy", metavar="FILE", help="YAML expectations: max_attempts, min_backoff_ms, "
                   "honour_retry_after, retry_methods, give_up_within_ms, must_not_hang, overrides")
    p.add_argument("--json", metavar="FILE", help='write {"rows": [...]} here')
    p.add_argument("--junit", metavar="FILE", help="write JUnit XML here (one testcase per fault)")
    p.add_argument("--html", metavar="FILE", help="write one self-contained HTML page here")
    p.add_argument("--baseline", metavar="FILE", help="a saved --json file: rows whose behaviour changed are marked")
    p.add_argument("--seed", default="1", help="seed for probability-gated faults (default 1)")
    p.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD ARGS...")
    return p


def main(argv: Sequence[str]) -> int:
    from faults import score as scoremod
    from faults.score import output, policy as policymod, suite
    from faults.score.runner import Options

    parser = build_parser()
    args = parser.parse_args(list(argv))
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    err = _usage(args, cmd)
    if err:
        print(f"faults score: {err}", file=sys.stderr)
        return 2
    try:
        if args.suite:
            entries = suite.load(args.suite, tls=args.tls, first=args.first)
        else:
            entries = suite.from_specs(args.faults or suite.default_specs(args.tls), tls=args.tls, first=args.first)
        policy = policymod.load(args.policy) if args.policy else None
        saved = output.load_baseline(args.baseline) if args.baseline else None
    except SpecError as e:
        print(f"faults score: {e}", file=sys.stderr)
        return 2
    options = Options(upstream=args.upstream, proxy_mode=args.proxy_mode, tls=args.tls, timeout=args.timeout,
                      seed=args.seed)
    live = output.Live(len(entries) + 1)

    def on_start(n, label):
        live.starting(n + 1, label)

    def on_row(n, row):
        live.row(n + 1, row)

    try:
        result = scoremod.score(cmd, entries=entries, policy=policy, options=options, saved=saved,
                                on_start=on_start, on_row=on_row)
    except scoremod.BaselineFailed as e:
        print(f"\nfaults score: {e}{_hint(cmd)}", file=sys.stderr)
        _write(args, [], e.row, e.url, options, cmd)
        return 3
    except (RuntimeError, OSError) as e:  # the proxy did not start, the upstream is unusable
        print(f"faults score: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # CMD's process group and the proxy are stopped on the way out
        print("\nfaults score: interrupted; nothing written", file=sys.stderr)
        return 130
    live.summary(result.rows)
    _write(args, result.rows, result.baseline, result.url, options, cmd)
    return 1 if result.failed else 0


def _usage(args, cmd: list[str]) -> str | None:
    if not cmd:
        return "no command given: faults score [options] -- CMD ARGS..."
    if args.faults and args.suite:
        return "--faults and --suite are exclusive: give the faults one way"
    try:
        args.timeout = numbers.real(args.timeout, "--timeout", 0, 86400)
        args.first = None if args.first is None else numbers.whole(args.first, "--first")
        args.seed = numbers.whole(args.seed, "--seed")
    except SpecError as e:
        return str(e)
    if args.timeout <= 0:
        return f"--timeout {args.timeout:g}: expected seconds > 0"
    if args.first is not None and args.first < 1:
        return f"--first {args.first}: expected a whole number >= 1"
    if args.upstream and not re.match(r"^https?://[^/]+", args.upstream):
        return f"--upstream {args.upstream!r}: expected http://HOST[:PORT] or https://HOST[:PORT]"
    return None


def _hint(cmd: list[str]) -> str:
    if any(a.startswith("/") for a in cmd[1:]):
        return ("\n(an argument starts with '/': did your shell expand $FAULTS_URL before faults score ran? "
                "Quote it with single quotes: '$FAULTS_URL/')")
    return ""


def _write(args, rows, baseline, url, options, cmd) -> None:
    from faults.score import output

    meta = {"command": " ".join(cmd), "url": url, "timeout": options.timeout,
            "policy": args.policy, "baseline_file": args.baseline, "tls": options.tls,
            "proxy_mode": options.proxy_mode}
    doc = output.document(rows, baseline, meta)
    for path, write in ((args.json, lambda p: output.write_json(p, doc)),
                        (args.junit, lambda p: output.write_junit(p, rows, meta)),
                        (args.html, lambda p: output.write_html(p, doc))):
        if path:
            try:
                write(path)
            except OSError as e:
                print(f"faults score: cannot write {path}: {e.strerror or e}", file=sys.stderr)
