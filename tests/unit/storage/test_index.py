"""The sparse offset and time indexes, in memory and on disk."""

from __future__ import annotations

import os

from node.storage.index import OffsetIndex, TimeIndex


def test_offset_index_lookup_is_floor(tmp_path: object) -> None:
    index = OffsetIndex(os.path.join(str(tmp_path), "0.index"), base_offset=1000)
    for offset, position in [(1010, 4096), (1020, 8200), (1035, 12500)]:
        index.append(offset, position)
    assert index.lookup(999) == (1000, 0)
    assert index.lookup(1005) == (1000, 0)
    assert index.lookup(1010) == (1010, 4096)
    assert index.lookup(1034) == (1020, 8200)
    assert index.lookup(10**9) == (1035, 12500)
    assert index.floor_position(8199) == 4096
    assert index.floor_position(8200) == 8200
    assert index.floor_position(10) == 0


def test_offset_index_persists_lazily_and_loads(tmp_path: object) -> None:
    path = os.path.join(str(tmp_path), "0.index")
    index = OffsetIndex(path, base_offset=50)
    index.clear()
    index.append(60, 100)
    index.append(70, 200)
    assert os.path.getsize(path) == 0  # written on flush/roll/close only
    index.write_pending()
    assert os.path.getsize(path) == 16
    with open(path, "rb") as f:
        assert f.read() == bytes.fromhex("0000000a00000064" "00000014000000c8")
    index.append(80, 300)
    index.write_pending()
    index.file.close()

    loaded = OffsetIndex(path, base_offset=50)
    assert loaded.load(log_size=400)
    assert list(loaded.relative_offsets) == [10, 20, 30]
    assert list(loaded.positions) == [100, 200, 300]
    assert loaded.lookup(75) == (70, 200)


def test_offset_index_load_rejects_inconsistent_files(tmp_path: object) -> None:
    path = os.path.join(str(tmp_path), "0.index")
    index = OffsetIndex(path, 0)
    index.clear()
    index.append(10, 100)
    index.append(20, 200)
    index.write_pending()
    index.file.close()
    assert not OffsetIndex(path, 0).load(log_size=200)  # points at/after the end of the log
    with open(path, "ab") as f:
        f.write(b"\x00\x00\x00")  # not a whole entry
    assert not OffsetIndex(path, 0).load(log_size=10_000)
    with open(path, "wb") as f:
        f.write(bytes.fromhex("00000014000000c8" "0000000a00000064"))  # decreasing
    assert not OffsetIndex(path, 0).load(log_size=10_000)
    os.remove(path)
    assert not OffsetIndex(path, 0).load(log_size=10_000)


def test_offset_index_truncation_rewrites_the_file(tmp_path: object) -> None:
    path = os.path.join(str(tmp_path), "0.index")
    index = OffsetIndex(path, 0)
    index.clear()
    for i in range(1, 6):
        index.append(i * 10, i * 100)
    index.write_pending()
    index.truncate_to_position(300)
    assert list(index.positions) == [100, 200]
    assert os.path.getsize(path) == 16
    index.append(25, 250)
    index.write_pending()
    index.file.close()
    loaded = OffsetIndex(path, 0)
    assert loaded.load(10_000) and list(loaded.positions) == [100, 200, 250]


def test_time_index_only_grows_and_answers_strictly_before(tmp_path: object) -> None:
    path = os.path.join(str(tmp_path), "0.timeindex")
    index = TimeIndex(path, base_offset=100)
    index.clear()
    index.maybe_append(1000, 105)
    index.maybe_append(1000, 110)  # same timestamp: no entry
    index.maybe_append(900, 115)  # smaller: no entry
    index.maybe_append(2000, 120)
    assert list(index.timestamps) == [1000, 2000]
    assert index.last_entry_before(1000) is None
    assert index.last_entry_before(1001) == (1000, 105)
    assert index.last_entry_before(5000) == (2000, 120)
    index.write_pending()
    index.file.close()
    loaded = TimeIndex(path, 100)
    assert loaded.load(next_relative_offset=21)
    assert list(loaded.relative_offsets) == [5, 20]
    assert not TimeIndex(path, 100).load(next_relative_offset=20)  # names an offset past the end
    loaded.truncate_to_offset(120)
    assert list(loaded.timestamps) == [1000]
