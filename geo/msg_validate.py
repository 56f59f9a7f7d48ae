"""Problem messages of geo.validate (zh, en), merged into geo.messages.MESSAGES."""

MESSAGES: dict[str, dict[str, str]] = {
    "geometry_empty": {
        "zh": "第 {row} 行没有位置（几何缺失或为空：{value}）。",
        "en": "Row {row} has no location (geometry missing or empty: {value}).",
    },
    "coordinates_not_finite": {
        "zh": "第 {row} 行的坐标 {value} 不是有效数字（空值 NaN 或无穷大）。",
        "en": "Row {row}: the coordinates {value} are not numbers (NaN or infinite).",
    },
    "coordinates_out_of_range": {
        "zh": "第 {row} 行的坐标 {value} 超出经纬度范围（经度 ±180°，纬度 ±90°），"
        "可能是以米为单位的投影坐标：请指定文件的坐标系。",
        "en": "Row {row}: the coordinates {value} are beyond longitude ±180° / latitude ±90°, "
        "probably projected metres: please say which coordinate system the file uses.",
    },
    "geometry_type_not_allowed": {
        "zh": "第 {row} 行的几何类型 {value} 在此图层中不允许（允许：{allowed}）。",
        "en": "Row {row}: geometry type {value} is not allowed in this layer (allowed: {allowed}).",
    },
    "null_island": {
        "zh": "第 {row} 行的位置 {value} 在经纬度 (0, 0)，多半是漏填了坐标。",
        "en": "Row {row}: the location {value} is at longitude/latitude (0, 0), almost "
        "certainly a missing coordinate.",
    },
    "outside_area": {
        "zh": "第 {row} 行的位置 {value} 在区域边界外 {distance_km} 公里（{distance_m} 米），"
        "超出允许的 {margin_m} 米。",
        "en": "Row {row}: the location {value} is {distance_km} km ({distance_m} m) outside "
        "the area boundary, beyond the allowed {margin_m} m.",
    },
    "swapped_axes": {
        "zh": "第 {row} 行按（经度, 纬度）读作 {value} 在区域外，交换后 {swapped} 在区域内："
        "经度和纬度可能填反了。",
        "en": "Row {row}: read as (longitude, latitude) {value} lies outside the area, but "
        "swapped, {swapped}, it lies inside: longitude and latitude look swapped.",
    },
    "duplicate_existing": {
        "zh": "第 {row} 行与已有要素 {existing_id} 相距仅 {distance_m} 米，可能是重复录入。",
        "en": "Row {row} is only {distance_m} m from existing feature {existing_id}; it may "
        "be the same one entered twice.",
    },
    "duplicate_in_batch": {
        "zh": "第 {row} 行与本文件第 {other_row} 行相距仅 {distance_m} 米，可能是重复录入。",
        "en": "Row {row} is only {distance_m} m from row {other_row} of this file; it may be "
        "the same one entered twice.",
    },
}
