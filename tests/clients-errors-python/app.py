"""The official Python SDK (sentry-sdk) sending to a pharos DSN, for the e2e test
tests/e2e/errors_sentry_python.test.mjs: one error captured three times from one place, an
error from another place, a message with a breadcrumb, a transaction with a child span, and
an uncaught exception last. SENTRY_DSN comes from the environment."""

import os
import time

import sentry_sdk

sentry_sdk.init(
    dsn=os.environ["SENTRY_DSN"],
    traces_sample_rate=1.0,
    release="pyapp@1.0.0",
    environment="staging",
)


def divide(a, b):
    return a / b


def parse_port(text):
    return int(text)


for _ in range(3):
    try:
        divide(1, 0)
    except ZeroDivisionError as e:
        sentry_sdk.capture_exception(e)
try:
    parse_port("not-a-port")
except ValueError as e:
    sentry_sdk.capture_exception(e)

sentry_sdk.add_breadcrumb(category="auth", message="user 42 logged in", level="info")
sentry_sdk.capture_message("cache warmed up")

with sentry_sdk.start_transaction(op="task", name="nightly-report") as tx:
    with tx.start_child(op="db.query", name="SELECT 1"):
        time.sleep(0.01)

sentry_sdk.flush(10)
raise RuntimeError("report generator crashed")
