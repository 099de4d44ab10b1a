"""A fault-injecting mitmproxy add-on with a k6 error-code classifier."""
