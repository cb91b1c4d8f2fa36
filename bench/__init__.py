"""`make bench`: durable submits per second through the real server, against the raw driver.

Run with `python -m bench`; see `python -m bench --help`.
"""
