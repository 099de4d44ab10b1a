"""A frame fault's code as written stays in its protocol's names: an HTTP/2 name that also has an
HTTP/3 counterpart (INTERNAL_ERROR, H3_INTERNAL_ERROR) is kept as the HTTP/2 name (the merge of
HTTP/3 once turned every such spec into its H3_ name, so HTTP/2 records showed H3_ codes)."""

import pytest

from faults import spec


@pytest.mark.parametrize("text,want", [
    ("rst_stream code=INTERNAL_ERROR", "INTERNAL_ERROR"),
    ("goaway code=internal_error", "INTERNAL_ERROR"),
    ("rst_stream code=7", "REFUSED_STREAM"),
    ("rst_stream code=H3_INTERNAL_ERROR", "H3_INTERNAL_ERROR"),
    ("rst_stream code=REQUEST_CANCELLED", "H3_REQUEST_CANCELLED"),  # HTTP/3 only: its prefix added
])
def test_code_names_keep_their_protocol(text, want):
    fault, _ = spec.parse(text)
    assert fault.params["code"] == want
