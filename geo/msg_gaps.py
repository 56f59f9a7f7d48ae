"""Problem messages of geo.gaps (zh, en), merged into geo.messages.MESSAGES."""

MESSAGES: dict[str, dict[str, str]] = {
    "gaps_no_crs": {
        "zh": "图层 {field} 没有坐标参考系（CRS），无法计算距离",
        "en": "Layer {field} has no CRS (coordinate reference system): cannot measure distances",
    },
    "gaps_missing_column": {
        "zh": "图层 {layer} 缺少字段 {field}",
        "en": "Layer {layer} lacks the column {field}",
    },
    "gaps_bad_threshold": {
        "zh": "参数 {field} 必须是不小于 0 的有限数，收到的是 {value}",
        "en": "{field} must be a finite number of at least 0, got {value}",
    },
}
