"""The node's storage-health tracker and the log throttle (sans-I/O: the tests pass the time)."""

from __future__ import annotations

import pytest

from node.logging_setup import LogThrottle
from node.storage.health import StorageHealth


def test_the_first_failure_is_reported_at_once_and_later_ones_are_not() -> None:
    health = StorageHealth(probe_interval_s=0.5)
    assert not health.failed and not health.probe_due(100.0)
    assert health.record_failure("append: ENOSPC", 10.0)
    assert not health.record_failure("flush: ENOSPC", 10.2)
    assert health.failed and health.reason == "flush: ENOSPC" and health.failed_since == 10.0


def test_a_quiet_successful_probe_ends_the_failure() -> None:
    health = StorageHealth(probe_interval_s=0.5)
    health.record_failure("ENOSPC", 10.0)
    assert not health.probe_due(10.4)
    assert health.probe_due(10.5)
    token = health.begin_probe(10.5)
    assert not health.probe_due(10.6)  # one probe per interval
    assert health.probe_finished(token, writable=True, offline_logs=0, now=10.6) == pytest.approx(0.6)
    assert not health.failed and health.reason is None


def test_a_failed_probe_an_offline_log_or_a_failure_meanwhile_keep_the_storage_failed() -> None:
    health = StorageHealth(probe_interval_s=0.5)
    health.record_failure("ENOSPC", 0.0)
    token = health.begin_probe(0.5)
    assert health.probe_finished(token, writable=False, offline_logs=0, now=0.6) is None
    token = health.begin_probe(1.0)
    assert health.probe_finished(token, writable=True, offline_logs=1, now=1.1) is None  # not reopened yet
    token = health.begin_probe(1.5)
    health.record_failure("flush failed during the probe", 1.55)
    assert health.probe_finished(token, writable=True, offline_logs=0, now=1.6) is None
    assert health.failed and health.failed_since == 0.0
    token = health.begin_probe(2.0)
    assert health.probe_finished(token, writable=True, offline_logs=0, now=2.5) == pytest.approx(2.5)


def test_the_log_throttle_lets_one_line_per_interval_and_counts_the_rest() -> None:
    throttle = LogThrottle(interval_s=10.0)
    assert throttle.allow("p-0", 0.0) == 0
    assert throttle.allow("p-0", 0.1) is None
    assert throttle.allow("p-0", 9.9) is None
    assert throttle.allow("p-1", 1.0) == 0  # keys are independent
    assert throttle.allow("p-0", 10.0) == 2
    assert throttle.allow("p-0", 10.1) is None


def test_the_log_throttle_bounds_its_memory() -> None:
    throttle = LogThrottle(interval_s=10.0, max_keys=3)
    for key in range(10):
        assert throttle.allow(key, 0.0) == 0
    assert len(throttle._last) <= 3
