"""The JSONL report: one record per flow (or failed TLS handshake, DNS query,
WebSocket session, Toxiproxy connection), written once, when its outcome is known.

``records`` builds the records (their format), ``writer`` appends them to the file
(a full disk never stops the proxy), ``reader`` reads them back. What the clients
report is the classifier's: ``faults.classify`` (a record's k6 fields and what a
record counts as: ``faults.classify.fields``).
"""

from faults.classify.fields import NO_ERROR, client_errors, code_text, k6_code_label
from faults.report.reader import parse_line, read, read_from
from faults.report.records import (FORMAT, _base, connection_record, dns_record, flow_record, handshake_record,
                                   websocket_record)
from faults.report.writer import Report, cannot_open
from faults.spec import kind_of

__all__ = ["FORMAT", "NO_ERROR", "Report", "cannot_open", "client_errors", "code_text", "connection_record",
           "dns_record", "flow_record", "handshake_record", "k6_code_label", "kind_of", "parse_line", "read",
           "read_from", "websocket_record"]
