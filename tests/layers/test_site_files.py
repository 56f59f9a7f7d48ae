"""The site's durable files (layers.site_files) on both backends: what one store writes,
another store over the same data (another process or host, in effect) reads."""

from __future__ import annotations

import threading
import time

import pytest

from layers.errors import VillageWorksError
from layers.site_files import CHUNK, DirFiles, PgFiles


def test_a_file_written_by_one_store_is_read_by_another(store, reopen):
    other = reopen(store)
    store.files.write("uploads/U-1/original", b"lon,lat\n1,2\n")
    assert other.files.read("uploads/U-1/original") == b"lon,lat\n1,2\n"
    assert other.files.stat("uploads/U-1/original")[0] == 12
    store.files.write("uploads/U-1/original", b"x")
    assert other.files.read("uploads/U-1/original") == b"x"


def test_list_delete_and_tree(store):
    files = store.files
    for path in ("photos/P-2.jpg", "photos/thumbs/P-2.jpg", "photosx/a", "users.json"):
        files.write(path, b"1")
    assert files.list("photos") == ["photos/P-2.jpg", "photos/thumbs/P-2.jpg"]
    assert "users.json" in files.list()
    assert files.delete("photos/P-2.jpg") is True
    assert files.delete("photos/P-2.jpg") is False
    assert files.delete_tree("photos") == 1
    assert files.list("photos") == [] and files.read("photosx/a") == b"1"
    assert files.read("missing/file") is None and files.stat("missing/file") is None


@pytest.mark.parametrize("bad", ["../x", "/etc/passwd", "a//b", "a/./b", "a\\b", ""])
def test_paths_outside_the_site_are_refused(store, bad):
    with pytest.raises(VillageWorksError):
        store.files.write(bad, b"1")


def test_a_big_file_streams_in_chunks(store):
    data = bytes(range(256)) * (CHUNK // 256 * 2 + 3)
    store.files.write("uploads/U-9/original", data)
    parts = list(store.files.chunks("uploads/U-9/original"))
    assert len(parts) == 3 and b"".join(parts) == data


def test_the_lock_serialises_two_stores(store, reopen):
    """Two stores (two processes or hosts) increment one counter under the lock: no lost
    update, and the lock may be re-entered by its holder."""
    stores = [store, reopen(store)]
    store.files.write("counter", b"0")

    def bump(files, times):
        for _ in range(times):
            with files.lock("counter"):
                with files.lock("counter"):
                    value = int(files.read("counter") or b"0")
                    time.sleep(0.001)
                    files.write("counter", str(value + 1).encode())

    threads = [threading.Thread(target=bump, args=(s.files, 15)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.files.read("counter") == b"30"


def test_the_backend_decides_where_files_live(store):
    expected = PgFiles if store.backend == "postgis" else DirFiles
    assert isinstance(store.files, expected)
    store.files.write("specs/x.toml", b"")
    on_disk = (store.data_dir / "specs" / "x.toml").exists()
    assert on_disk is (store.backend != "postgis")
