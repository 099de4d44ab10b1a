"""``faults.addons.option.scalar`` reads mitmproxy's private option record (to skip the deep
copy of every ``ctx.options`` read on the hot path). This fails loudly when mitmproxy changes
that record, instead of ``scalar`` quietly falling back to the slow path."""

from mitmproxy import optmanager
from mitmproxy.test import taddons

from faults.addons import option


def test_scalar_reads_mitmproxys_option_record_as_ctx_options_does():
    with taddons.context() as tctx:
        opts = tctx.options
        assert isinstance(opts._options["listen_port"], optmanager._Option)  # the private record
        assert {"value", "_default"} <= set(optmanager._Option.__slots__)
        assert option.scalar("listen_port") == opts.listen_port  # the default (value unset)
        tctx.configure(opts, listen_port=8123)
        assert option.scalar("listen_port") == 8123 == opts.listen_port
        opts.reset()
        assert option.scalar("listen_port") == opts.listen_port != 8123
