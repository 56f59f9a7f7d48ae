"""A writer process for the crash tests: commits features, printing ACK <id> after each
commit returns (i.e. once the store acknowledged it). Run as a script:
``crash_writer.py DATA_DIR LAYER COUNT TAG [DATABASE_URL]`` (with a URL: PostGIS)."""

import sys

from layers.backends import open_store


def main() -> None:
    data_dir, layer, count, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    store = open_store(data_dir, sys.argv[5] if len(sys.argv) > 5 else "")
    for i in range(count):
        lon = 112.5 + (i % 100) * 0.001
        lat = 39.3 + (i // 100) * 0.001
        result = store.create(
            layer,
            {"type": "Point", "coordinates": [lon, lat]},
            {"power_source": "solar", "road": f"{tag}-{i}"},
            user=tag,
        )
        print("ACK", result.ids[0], f"{tag}-{i}", flush=True)


if __name__ == "__main__":
    main()
