"""Problem messages of geo.crs (zh, en), merged into geo.messages.MESSAGES."""

MESSAGES: dict[str, dict[str, str]] = {
    # Problems (parse_crs, to_wgs84, transform_xy)
    "crs_unknown": {
        "zh": "无法识别的坐标系：{value}。"
        "可填 WGS84、CGCS2000、GCJ02、BD09 或 EPSG 代码（如 EPSG:4526）。",
        "en": "Unknown coordinate reference system: {value}. Use WGS84, CGCS2000, GCJ02, "
        "BD09 or an EPSG code such as EPSG:4526.",
    },
    "crs_unsupported": {
        "zh": "坐标系 {value}（{name}）不是平面或经纬度坐标系，无法用于地图要素。",
        "en": "The coordinate reference system {value} ({name}) is neither a lon/lat nor a "
        "projected (x/y) system and cannot place features on the map.",
    },
    "crs_no_epsg": {
        "zh": "坐标系说明 {value}（{name}）与任何 EPSG 代码都不一致，请直接填写 EPSG 代码。",
        "en": "The coordinate system description {value} ({name}) matches no EPSG code; "
        "please give the EPSG code instead.",
    },
    "crs_auto_unresolved": {
        "zh": "数据没有注明坐标系（{value}）：请选择 WGS84、CGCS2000、GCJ02、BD09 或 EPSG 代码。",
        "en": "The data do not state their coordinate system ({value}): choose WGS84, "
        "CGCS2000, GCJ02, BD09 or an EPSG code.",
    },
    # Reasons of geo.crs.guess_crs candidates (CrsGuess.message)
    "crs_guess_lonlat": {
        "zh": "经纬度（度，先经度后纬度）：{label}；{percent}% 的点落在区域内。",
        "en": "Longitude/latitude in degrees, longitude first: {label}; {percent}% of the "
        "points fall in the area.",
    },
    "crs_guess_latlon_swapped": {
        "zh": "经纬度顺序颠倒（先纬度后经度）：交换两列后按 {label}，{percent}% 的点落在区域内。",
        "en": "Latitude and longitude are swapped (latitude first): after exchanging the "
        "columns, as {label}, {percent}% of the points fall in the area.",
    },
    "crs_guess_app_offset": {
        "zh": "如果数据来自国内地图应用，坐标带有偏移："
        "按 {label} 换算后 {percent}% 的点落在区域内。",
        "en": "If the data come from a Chinese map app, the coordinates carry its offset: "
        "converted as {label}, {percent}% of the points fall in the area.",
    },
    "crs_guess_gk_zone_prefix": {
        "zh": "高斯-克吕格投影坐标（米），横坐标前带带号：{label}；{percent}% 的点落在区域内。",
        "en": "Gauss-Kruger projected metres with the zone number leading the easting: "
        "{label}; {percent}% of the points fall in the area.",
    },
    "crs_guess_gk_cm": {
        "zh": "高斯-克吕格投影坐标（米），横坐标不带带号：{label}；{percent}% 的点落在区域内。",
        "en": "Gauss-Kruger projected metres without zone number (false easting 500 km): "
        "{label}; {percent}% of the points fall in the area.",
    },
    "crs_guess_utm": {
        "zh": "UTM 投影坐标（米）：{label}；{percent}% 的点落在区域内。",
        "en": "UTM projected metres: {label}; {percent}% of the points fall in the area.",
    },
    "crs_guess_northing_first": {
        "zh": "投影坐标（米），按测量习惯 X 为北坐标在前、Y 为东坐标在后：交换两列后按 {label}，"
        "{percent}% 的点落在区域内。",
        "en": "Projected metres in surveyors' order, X = northing first, Y = easting second: "
        "after exchanging the columns, as {label}, {percent}% of the points fall in the area.",
    },
}
