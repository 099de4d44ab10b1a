"""``faults report --html``: one self-contained, offline HTML page from report records
(docs/report-and-metrics.md). ``render.render`` builds it; ``timeline`` buckets the records
by time and outcome, ``lanes`` reads each rule's windows and ramps (a plan file, the
records), ``tables`` makes the tables; the markup is ``templates/report.html.j2``."""
