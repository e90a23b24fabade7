"""Storage engine micro-benchmarks (not a test: run it and read the numbers).

    python -m tests.unit.storage.bench_storage [--mb 200] [--dir /tmp/...]

Measures, for 100-byte records in ~16 KiB batches: building batches (the SDK
producer's cost), leader appends (validate + stamp + writev + index), follower
appends, a consumer reading the whole log (read + CRC + decode), recovery of
an uncleanly closed log and one compaction pass.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable

from node.storage.batch import Compression, build_batch, decode_records, iter_batches
from node.storage.config import LogConfig
from node.storage.log import PartitionLog

RECORD_BYTES = 100
RECORDS_PER_BATCH = 160  # ~16 KiB batches


def _records(batch_number: int, keys: int) -> list[tuple[bytes, bytes, None, int]]:
    value = b"v" * (RECORD_BYTES - 12)
    return [
        (b"key-%06d" % ((batch_number * RECORDS_PER_BATCH + i) % keys), value, None, 1_000 + i)
        for i in range(RECORDS_PER_BATCH)
    ]


def _timed(action: Callable[[], int]) -> tuple[float, int]:
    start = time.perf_counter()
    count = action()
    return time.perf_counter() - start, count


def _row(name: str, seconds: float, ops: int, records: int, nbytes: int) -> None:
    print(
        f"{name:<34} {ops / seconds:>12,.0f}/s {records / seconds:>14,.0f} rec/s "
        f"{nbytes / seconds / 1e6:>9,.1f} MB/s   ({ops} ops in {seconds:.2f}s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=int, default=200, help="log size to write")
    parser.add_argument("--dir", default=None, help="where to put the logs (default: a temp dir)")
    parser.add_argument("--keys", type=int, default=100_000, help="distinct keys (compaction)")
    args = parser.parse_args()

    root = tempfile.mkdtemp(prefix="ks-bench-", dir=args.dir)
    try:
        run(root, args.mb, args.keys)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run(root: str, megabytes: int, keys: int) -> None:
    sample = build_batch(_records(0, keys))
    batch_count = max(1, megabytes * 1024 * 1024 // len(sample))
    print(
        f"{batch_count} batches of {RECORDS_PER_BATCH} x {RECORD_BYTES}-byte records "
        f"({len(sample)} bytes each, {batch_count * len(sample) / 1e6:.0f} MB); dir {root}\n"
    )

    for codec in (Compression.NONE, Compression.LZ4, Compression.ZSTD):

        def build_500(codec: Compression = codec) -> int:
            _ = [build_batch(_records(i, keys), compression=codec) for i in range(500)]
            return 500

        seconds, _ = _timed(build_500)
        _row(f"build_batch ({codec.name.lower()})", seconds, 500, 500 * RECORDS_PER_BATCH,
             500 * len(sample))

    batches = [build_batch(_records(i, keys)) for i in range(min(batch_count, 2000))]
    config = LogConfig(segment_bytes=64 * 1024 * 1024)

    leader = PartitionLog.open(os.path.join(root, "leader"), config)

    def append_leader() -> int:
        for i in range(batch_count):
            leader.append_as_leader(batches[i % len(batches)], 1, 0)
        return batch_count

    seconds, _ = _timed(append_leader)
    _row("append_as_leader (16 KiB)", seconds, batch_count, batch_count * RECORDS_PER_BATCH,
         batch_count * len(sample))

    def flush_leader() -> int:
        leader.flush()
        return 1

    seconds, _ = _timed(flush_leader)
    print(f"{'flush (fsync) after that':<34} {seconds:.2f}s")

    lz4_batches = [build_batch(_records(i, keys), compression="lz4") for i in range(200)]
    lz4_log = PartitionLog.open(os.path.join(root, "lz4"), config)
    count = min(batch_count, 5000)

    def append_lz4() -> int:
        _ = [lz4_log.append_as_leader(lz4_batches[i % 200], 1, 0) for i in range(count)]
        return count

    seconds, _ = _timed(append_lz4)
    _row("append_as_leader (lz4)", seconds, count, count * RECORDS_PER_BATCH,
         count * len(lz4_batches[0]))
    lz4_log.close()

    small = build_batch([(b"key", b"v" * RECORD_BYTES, None, 1)])
    small_log = PartitionLog.open(os.path.join(root, "small"), config)
    count = 100_000

    def append_small() -> int:
        _ = [small_log.append_as_leader(small, 1, 0) for _ in range(count)]
        return count

    seconds, _ = _timed(append_small)
    _row("append_as_leader (1 record)", seconds, count, count, count * len(small))
    small_log.close()

    follower = PartitionLog.open(os.path.join(root, "follower"), config)

    def replicate() -> int:
        fetches = 0
        offset = 0
        while offset < leader.log_end_offset:
            offset = follower.append_as_follower(leader.read(offset, 1024 * 1024))
            fetches += 1
        return fetches

    seconds, fetches = _timed(replicate)
    _row("leader.read + append_as_follower", seconds, fetches, leader.log_end_offset,
         leader.size_bytes)
    follower.close()

    def consume() -> int:
        records = 0
        offset = 0
        high_watermark = leader.log_end_offset
        while offset < high_watermark:
            data = leader.read(offset, 1024 * 1024, max_offset=high_watermark)
            for header, view in iter_batches(data, verify=False):
                records += len(decode_records(view))  # CRC checked here, like a consumer
                offset = header.next_offset
        return records

    seconds, records = _timed(consume)
    _row("consume: read 1 MiB + decode", seconds, records // RECORDS_PER_BATCH, records,
         leader.size_bytes)

    def read_only() -> int:
        reads = 0
        offset = 0
        while offset < leader.log_end_offset:
            data = leader.read(offset, 1024 * 1024)
            *_, last = iter_batches(data, verify=False)
            offset = last.header.next_offset
            reads += 1
        return reads

    seconds, reads = _timed(read_only)
    _row("read 1 MiB (no decode)", seconds, reads, leader.log_end_offset, leader.size_bytes)

    def point_reads() -> int:
        step = max(1, leader.log_end_offset // 20_000)
        n = 0
        for offset in range(0, leader.log_end_offset, step):
            leader.read(offset, 1)
            n += 1
        return n

    seconds, n = _timed(point_reads)
    _row("random-ish single-batch reads", seconds, n, n, n * len(sample))

    size = leader.size_bytes
    end = leader.log_end_offset
    directory = os.path.join(root, "leader")
    leader._release_files()  # crash: no clean-shutdown marker, recovery point at the flush

    def reopen_after_crash() -> int:
        PartitionLog.open(directory, config)._release_files()  # and crash again
        return 1

    seconds, _ = _timed(reopen_after_crash)
    print(f"{'reopen after crash (flushed log)':<34} {seconds:.2f}s for {size / 1e6:.0f} MB")
    os.remove(os.path.join(directory, "recovery-point-offset-checkpoint"))
    seconds, _ = _timed(reopen_after_crash)
    _row("full recovery scan (CRC, reindex)", seconds, 1, end, size)

    compacted = PartitionLog.open(
        directory, LogConfig(segment_bytes=64 * 1024 * 1024, cleanup_policy="compact")
    )
    start = time.perf_counter()
    stats = compacted.compact(10**13, compacted.log_end_offset)
    seconds = time.perf_counter() - start
    print(
        f"{'compaction pass':<34} {stats.records_before / seconds:>14,.0f} rec/s in "
        f"{seconds:.2f}s: {stats.records_before} -> {stats.records_after} records, "
        f"{stats.bytes_before / 1e6:.0f} -> {stats.bytes_after / 1e6:.0f} MB"
    )
    compacted.close()


if __name__ == "__main__":
    main()
