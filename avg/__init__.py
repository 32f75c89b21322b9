"""AVG rights (issue 15.4): retention per source, the right to erasure, and the right of access (inzage).

    settings.py        config/retention.yaml: the periods per source, checked, Dutch errors
    retention.py       what is older than its period leaves the warehouse and the landing zone
    erasure.py         one firm (KvK) or person (BSN) out of the warehouse and the landing zone
    landing_rewrite.py a landing file without one subject's rows, every other row keeping its number
    store.py           the same in the account store: accounts, a firm's records, uploads, outbox; its retention
    inzage.py          a firm's own rows, with the Dutch labels of its sources
    requests.py        the queue between the web app (which asks) and the pipeline (which answers)
    deletions.py       meta.deletion_log: what was deleted, counted, and why; never an identifier
    subjects.py        who a request is about, checked
    runner.py          the first step of the Dagster job `avg`

The web app imports only `requests`, `settings` and `subjects` (they read
no warehouse); the rest runs in the pipeline.
"""
