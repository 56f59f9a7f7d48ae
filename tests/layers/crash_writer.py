"""A writer process for the crash tests: commits features, printing ACK <id> after each
commit returns (i.e. once the store acknowledged it). Run as a script."""

import sys

from layers.store import GeoJSONStore


def main() -> None:
    data_dir, layer, count, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    store = GeoJSONStore(data_dir)
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
