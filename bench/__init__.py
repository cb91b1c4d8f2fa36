"""`make bench`: durable submits per second through the real server, against the stack floor
(bench.floor, a bare FastAPI app with one INSERT) and the raw driver.

Run with `python -m bench`; see `python -m bench --help`.
"""
