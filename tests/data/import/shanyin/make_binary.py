"""Write the binary fixtures of this folder (run by hand: python make_binary.py).

Coordinates are WGS84 positions inside Shanyin County, converted with pyproj where a file
is in a projected CRS. Zip entries get a fixed date so the files are reproducible.
"""

import io
import zipfile
from pathlib import Path

import geopandas as gpd
import pyproj
from shapely.geometry import Point, box

HERE = Path(__file__).resolve().parent
FIXED = (2024, 5, 6, 10, 0, 0)
OVITAL_KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2" xmlns:gx="http://www.google.com/kml/ext/2.2">
<Document>
<name>奥维互动地图</name>
<Style id="Style_1"><IconStyle><scale>0.8</scale>
<Icon><href>files/icon_1.png</href></Icon></IconStyle></Style>
<Folder>
<name>薛圐圙乡</name>
<Folder>
<name>路灯</name>
<Placemark><name>路灯11</name><description>太阳能路灯</description><styleUrl>#Style_1</styleUrl><Point><coordinates>112.811200,39.510100,1046</coordinates></Point></Placemark>
<Placemark><name>路灯12</name><description></description><styleUrl>#Style_1</styleUrl><Point><coordinates>112.811900,39.510600,1046</coordinates></Point></Placemark>
<Placemark><name>路灯13</name><description>村口</description><styleUrl>#Style_1</styleUrl><Point><coordinates>112.812600,39.511100,1047</coordinates></Point></Placemark>
</Folder>
</Folder>
</Document>
</kml>
"""
BLANK_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def _zip(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(zipfile.ZipInfo(name, FIXED), data, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def ovital_kmz() -> None:
    kmz = _zip({"doc.kml": OVITAL_KML.encode("utf-8"), "files/icon_1.png": BLANK_PNG})
    (HERE / "lights_ovital.kmz").write_bytes(kmz)


def greenhouses_shapefile(tmp: Path) -> None:
    to_4547 = pyproj.Transformer.from_crs(4326, 4547, always_xy=True).transform
    centres = [(112.8500, 39.5500), (112.8510, 39.5500)]
    polygons = []
    for lon, lat in centres:
        x, y = to_4547(lon, lat)
        polygons.append(box(x - 20, y - 10, x + 20, y + 10))
    frame = gpd.GeoDataFrame(
        {
            "crop": ["蔬菜", "草莓"],
            "operator": ["张三", "李四"],
            "built": ["2023-04-01", "2023-04-02"],
        },
        geometry=polygons,
        crs="EPSG:4547",
    )
    path = tmp / "大棚.shp"
    frame.to_file(path, driver="ESRI Shapefile", encoding="gbk", engine="pyogrio")
    entries = {}
    for part in sorted(tmp.glob("大棚.*")):
        entries[f"greenhouses/{part.name}"] = part.read_bytes()
    (HERE / "greenhouses_4547_shp.zip").write_bytes(_zip(entries))


def plantings_gpkg(tmp: Path) -> None:
    to_4526 = pyproj.Transformer.from_crs(4326, 4526, always_xy=True).transform
    points = [Point(to_4526(112.9001, 39.4501)), Point(to_4526(112.9012, 39.4510))]
    frame = gpd.GeoDataFrame(
        {
            "species": ["樟子松", "云杉"],
            "count": [120, 80],
            "planted_date": ["2023-04-12", "2023-04-13"],
        },
        geometry=points,
        crs="EPSG:4526",
    )
    path = tmp / "plantings.gpkg"
    frame.to_file(path, layer="plantings", driver="GPKG", engine="pyogrio")
    (HERE / "plantings_4526.gpkg").write_bytes(path.read_bytes())


if __name__ == "__main__":
    import tempfile

    ovital_kmz()
    with tempfile.TemporaryDirectory() as tmp:
        greenhouses_shapefile(Path(tmp))
    with tempfile.TemporaryDirectory() as tmp:
        plantings_gpkg(Path(tmp))
