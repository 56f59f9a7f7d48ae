"""Problem messages of geo.readers and geo.safety (zh, en), merged into geo.messages.MESSAGES.

Each message says what is wrong and where: row (as the user counts it), field and value.
"""

MESSAGES: dict[str, dict[str, str]] = {
    # --- whole file: size, format -------------------------------------------------------
    # Shared with layers.errors (which registers the same texts): keep both identical.
    "too_large": {
        "zh": "文件太大（上限 {limit_mb} MB）",
        "en": "The file is too large (limit {limit_mb} MB)",
    },
    "empty_file": {
        "zh": "文件“{value}”是空的。",
        "en": "File “{value}” is empty.",
    },
    "unknown_format": {
        "zh": "无法识别文件“{value}”的格式。支持：GeoJSON、CSV、Excel（.xlsx）、GPX、KML、KMZ、"
        "Shapefile（zip 压缩包）、GeoPackage。",
        "en": "Cannot recognise the format of “{value}”. Supported: GeoJSON, CSV, Excel (.xlsx), "
        "GPX, KML, "
        "KMZ, Shapefile (as a zip), GeoPackage.",
    },
    "shapefile_needs_zip": {
        "zh": "“{value}”是 Shapefile 的一部分：请把 .shp、.shx、.dbf、.prj（及 .cpg）"
        "一起压缩成 zip 再上传。",
        "en": "“{value}” is one part of a shapefile: zip the .shp, .shx, .dbf, .prj (and .cpg) "
        "together and upload the zip.",
    },
    # Legacy .xls (an OLE file), a password-protected or a damaged workbook.
    "excel_not_supported": {
        "zh": "“{value}”是无法读取的 Excel 文件：旧版 Excel 97-2003 工作簿（.xls）、加密或已损坏的"
        "工作簿都无法读取。请在 Excel 或 WPS 中打开它，“另存为”Excel 工作簿（.xlsx）或"
        "“CSV UTF-8”（如有密码请先取消），再上传。",
        "en": "“{value}” is an Excel file that cannot be read: a legacy Excel 97-2003 workbook "
        "(.xls), a password-protected or a damaged workbook. Open it in Excel or WPS and "
        "“Save As” an Excel workbook (.xlsx) or “CSV UTF-8” (remove any password first), then "
        "upload that.",
    },
    "xlsb_not_supported": {
        "zh": "“{value}”是 Excel 二进制工作簿（.xlsb），无法读取：请另存为 .xlsx 或"
        "“CSV UTF-8”后上传。",
        "en": "“{value}” is an Excel binary workbook (.xlsb), which cannot be read: save it "
        "as .xlsx or “CSV UTF-8” and upload that.",
    },
    "office_not_supported": {
        "zh": "“{value}”是 Word/PowerPoint 等 Office 文档，不是表格：请上传 .xlsx、CSV "
        "或 GIS 文件。",
        "en": "“{value}” is an Office document (Word, PowerPoint…), not a spreadsheet: "
        "upload an .xlsx, CSV or GIS file.",
    },
    "xlsx_no_sheet": {
        "zh": "工作簿中没有名为“{value}”的工作表（现有：{sheets}）。",
        "en": "The workbook has no sheet named “{value}” (sheets: {sheets}).",
    },
    "xlsx_sheet_no_coordinates": {
        "zh": "工作表“{value}”前 30 行中找不到坐标列表头：需要“经度/纬度”（lon/lat、x/y）两列，"
        "或一个 WKT 列。该表首行为：{headers}。请选择其他工作表（现有：{sheets}）。",
        "en": "Sheet “{value}” has no header row naming coordinate columns in its top 30 rows: "
        "need longitude/latitude (经度/纬度, lon/lat, x/y) or a WKT column. Its first row is: "
        "{headers}. Choose another sheet (sheets: {sheets}).",
    },
    "xlsx_no_coordinates": {
        "zh": "工作簿的所有工作表（{value}）前 30 行中都找不到坐标列表头：需要“经度/纬度”"
        "（lon/lat、x/y）两列，或一个 WKT 列。",
        "en": "No sheet of the workbook ({value}) has a header row naming coordinate columns "
        "in its top 30 rows: need longitude/latitude (经度/纬度, lon/lat, x/y) or a WKT column.",
    },
    "xlsx_sheet_read": {
        "zh": "已读取工作表“{value}”（表头在第 {header_row} 行；工作簿中的工作表：{sheets}）。"
        "行号为 Excel 中的行号。",
        "en": "Read sheet “{value}” (header in row {header_row}; the workbook's sheets: "
        "{sheets}). Row numbers are Excel's.",
    },
    "xlsx_missing_coordinate": {
        "zh": "工作表“{sheet}”第 {row} 行 {column} 列（“{field}”）为空，该行已跳过。",
        "en": "Sheet “{sheet}”, row {row}, column {column} (“{field}”) is empty; row skipped.",
    },
    "xlsx_bad_coordinate": {
        "zh": "工作表“{sheet}”第 {row} 行 {column} 列（“{field}”）的值“{value}”不是有效坐标，"
        "该行已跳过。",
        "en": "Sheet “{sheet}”, row {row}, column {column} (“{field}”): value “{value}” is not "
        "a valid coordinate; row skipped.",
    },
    "xlsx_bad_wkt": {
        "zh": "工作表“{sheet}”第 {row} 行 {column} 列（“{field}”）的值“{value}”不是有效的 WKT "
        "几何，该行已跳过。",
        "en": "Sheet “{sheet}”, row {row}, column {column} (“{field}”): value “{value}” is not "
        "valid WKT; row skipped.",
    },
    "xlsx_extra_cells": {
        "zh": "工作表“{sheet}”第 {row} 行从 {column} 列起的单元格没有表头，其内容“{value}”已忽略。",
        "en": "Sheet “{sheet}”, row {row}: the cells from column {column} on have no header; "
        "their “{value}” was ignored.",
    },
    "archive_not_supported": {
        "zh": "“{value}”是 RAR/7z/gzip 压缩包：请改用 zip 格式。",
        "en": "“{value}” is a RAR/7z/gzip archive: please use zip instead.",
    },
    "read_failed": {
        "zh": "读取“{value}”时出错（{reason}），请检查文件或联系管理员。",
        "en": "Reading “{value}” failed ({reason}); check the file or contact the administrator.",
    },
    "no_features": {
        "zh": "文件中没有任何要素（点、线或面）。",
        "en": "The file contains no features (points, lines or polygons).",
    },
    "too_many_columns": {
        "zh": "文件有 {count} 列，超过上限 {limit} 列：请只保留需要导入的列。",
        "en": "The file has {count} columns, more than the limit of {limit}; keep only the "
        "columns to import.",
    },
    "too_many_vertices": {
        "zh": "第 {row} 行的几何有 {count} 个顶点，超过上限 {limit} 个：请先简化（抽稀）后再上传。",
        "en": "Row {row}: the geometry has {count} vertices, more than the limit of {limit}; "
        "simplify it first.",
    },
    "non_finite_coordinate": {
        "zh": "第 {row} 行：坐标不是有限数值（NaN 或无穷大），已跳过。",
        "en": "Row {row}: a coordinate is not a finite number (NaN or infinity); skipped.",
    },
    # --- XML ------------------------------------------------------------------------------
    "xml_dtd_forbidden": {
        "zh": "XML 文件含有 {value} 声明，出于安全原因拒绝读取（GPX/KML 不需要它）。",
        "en": "The XML file contains a {value} declaration and was refused for safety "
        "(GPX/KML never need one).",
    },
    "xml_invalid": {
        "zh": "XML 格式错误，第 {line} 行第 {column} 列：{detail}",
        "en": "Malformed XML at line {line}, column {column}: {detail}",
    },
    "xml_encoding": {
        "zh": "无法按编码“{value}”读取 XML 文件。",
        "en": "Cannot read the XML file in encoding “{value}”.",
    },
    "xml_encoding_guessed": {
        "zh": "文件声明为 UTF-8，实际是 {value} 编码，已按 {value} 读取，请核对中文是否正确。",
        "en": "The file claims UTF-8 but is {value}; it was read as {value}. Check the text.",
    },
    "xml_expected": {
        "zh": "“{value}”应是 GPX/KML（XML）文件，但内容不是以“<”开头的 XML，也不是 CSV 表格。",
        "en": "“{value}” should be a GPX/KML (XML) file, but its content is neither XML "
        "(starting with “<”) nor a CSV table.",
    },
    "xml_unknown_root": {
        "zh": "XML 根元素 <{value}> 既不是 GPX 也不是 KML。",
        "en": "The XML root element <{value}> is neither GPX nor KML.",
    },
    # --- JSON -----------------------------------------------------------------------------
    "json_invalid": {
        "zh": "JSON 格式错误，第 {line} 行第 {column} 列：{detail}",
        "en": "Malformed JSON at line {line}, column {column}: {detail}",
    },
    "json_nan": {
        "zh": "JSON 第 {line} 行第 {column} 列含有 NaN 或 Infinity（“{value}”），"
        "这不是合法的 JSON 数值。",
        "en": "JSON line {line}, column {column} contains NaN or Infinity (“{value}”), "
        "which is not a JSON number.",
    },
    "json_too_deep": {
        "zh": "JSON 嵌套层数超过 {limit} 层，拒绝读取。",
        "en": "JSON nested deeper than {limit} levels; refused.",
    },
    # --- ZIP ------------------------------------------------------------------------------
    "zip_invalid": {
        "zh": "zip 压缩包已损坏或无法读取：{value}",
        "en": "The zip archive is damaged or unreadable: {value}",
    },
    "zip_too_many_entries": {
        "zh": "压缩包内有 {count} 个文件，上限为 {limit} 个。",
        "en": "The archive holds {count} entries; the limit is {limit}.",
    },
    "zip_unsafe_name": {
        "zh": "压缩包内的文件名“{value}”不安全（含 ..、绝对路径或盘符），拒绝解压。",
        "en": "Archive entry name “{value}” is unsafe (.., absolute path or drive letter); "
        "refused.",
    },
    "zip_symlink": {
        "zh": "压缩包内的“{value}”是符号链接，拒绝解压。",
        "en": "Archive entry “{value}” is a symbolic link; refused.",
    },
    "zip_encrypted": {
        "zh": "压缩包内的“{value}”已加密，请上传未加密的压缩包。",
        "en": "Archive entry “{value}” is encrypted; upload an unencrypted archive.",
    },
    "zip_entry_too_large": {
        "zh": "压缩包内的“{value}”解压后超过 {limit_mb} MB。",
        "en": "Archive entry “{value}” unpacks to more than {limit_mb} MB.",
    },
    "zip_total_too_large": {
        "zh": "压缩包解压后总大小超过 {limit_mb} MB。",
        "en": "The archive unpacks to more than {limit_mb} MB in total.",
    },
    "zip_ratio": {
        "zh": "压缩包内的“{value}”压缩比为 {ratio}:1，超过 {limit}:1，疑似“压缩炸弹”，拒绝解压。",
        "en": "Archive entry “{value}” has a compression ratio of {ratio}:1, above {limit}:1; "
        "it looks like a zip bomb and was refused.",
    },
    "zip_duplicate_name": {
        "zh": "压缩包内有两个同名文件“{value}”。",
        "en": "The archive holds two entries named “{value}”.",
    },
    "zip_no_supported_file": {
        "zh": "压缩包内没有可读取的文件（需要 .shp、.kml，或单个 .gpx/.geojson/.csv/.gpkg）："
        "{value}",
        "en": "The archive holds no readable file (need .shp, .kml, or one "
        ".gpx/.geojson/.csv/.gpkg): {value}",
    },
    # --- CSV ------------------------------------------------------------------------------
    "csv_encoding": {
        "zh": "无法识别文本编码（已尝试 {value}），请另存为 UTF-8 后上传。",
        "en": "Cannot decode the text (tried {value}); save it as UTF-8 and upload again.",
    },
    "csv_invalid": {
        "zh": "CSV 第 {row} 行格式错误：{value}",
        "en": "CSV row {row} is malformed: {value}",
    },
    "csv_no_geometry_columns": {
        "zh": "找不到坐标列：需要“经度/纬度”（lon/lat、lng/lat、x/y）两列，或一个 WKT 列。"
        "文件的表头为：{value}",
        "en": "No coordinate columns found: need longitude/latitude (经度/纬度, lon/lat, x/y) "
        "or a WKT column. The headers are: {value}",
    },
    "csv_missing_coordinate": {
        "zh": "第 {row} 行：“{field}”为空，该行已跳过。",
        "en": "Row {row}: “{field}” is empty; row skipped.",
    },
    "csv_bad_coordinate": {
        "zh": "第 {row} 行：“{field}”的值“{value}”不是有效坐标，该行已跳过。",
        "en": "Row {row}: “{field}” value “{value}” is not a valid coordinate; row skipped.",
    },
    "csv_bad_wkt": {
        "zh": "第 {row} 行：“{field}”的值“{value}”不是有效的 WKT 几何，该行已跳过。",
        "en": "Row {row}: “{field}” value “{value}” is not valid WKT; row skipped.",
    },
    "csv_extra_cells": {
        "zh": "第 {row} 行的单元格比表头多，多出的内容“{value}”已忽略。",
        "en": "Row {row} has more cells than headers; the extra “{value}” was ignored.",
    },
    "csv_srid_unknown": {
        "zh": "WKT 中的 SRID={value} 不是已知的 EPSG 坐标系，坐标系未设置。",
        "en": "SRID={value} in the WKT is not a known EPSG code; no CRS set.",
    },
    # --- GeoJSON --------------------------------------------------------------------------
    "geojson_not_object": {
        "zh": "不是 GeoJSON：文件最外层是 {value}，应为 JSON 对象。",
        "en": "Not GeoJSON: the top level is {value}, not a JSON object.",
    },
    "geojson_bad_type": {
        "zh": "不是 GeoJSON：type 为“{value}”（区分大小写，应为 FeatureCollection、Feature "
        "或几何类型）。",
        "en": "Not GeoJSON: type is “{value}” (case-sensitive; expected FeatureCollection, "
        "Feature or a geometry type).",
    },
    "geojson_no_features": {
        "zh": "FeatureCollection 缺少 features 数组（现为 {value}）。",
        "en": "The FeatureCollection has no features array (found {value}).",
    },
    "geojson_crs_unknown": {
        "zh": "GeoJSON 的 crs 成员“{value}”不是 EPSG 代码，坐标系未设置。",
        "en": "The GeoJSON crs member “{value}” names no EPSG code; no CRS set.",
    },
    "geojson_bad_feature": {
        "zh": "第 {row} 个要素不是对象（{value}），已跳过。",
        "en": "Feature {row} is not an object ({value}); skipped.",
    },
    "geojson_bad_feature_type": {
        "zh": "第 {row} 个要素的 type 为“{value}”，应为“Feature”（区分大小写），已跳过。",
        "en": "Feature {row} has type “{value}”, expected “Feature” (case-sensitive); skipped.",
    },
    "geojson_bad_properties": {
        "zh": "第 {row} 个要素的 properties 应为对象或 null，实为 {value}，已跳过。",
        "en": "Feature {row}: properties must be an object or null, not {value}; skipped.",
    },
    "geojson_bad_id": {
        "zh": "第 {row} 个要素的 id 应为字符串或数字，实为 {value}，已忽略该 id。",
        "en": "Feature {row}: id must be a string or number, not {value}; id ignored.",
    },
    "geojson_bad_geometry": {
        "zh": "第 {row} 个要素的几何（{field}）无效：{value}，已跳过。",
        "en": "Feature {row}: invalid geometry ({field}): {value}; skipped.",
    },
    "geojson_bad_geometry_type": {
        "zh": "第 {row} 个要素的几何类型 {value} 未知（区分大小写），已跳过。",
        "en": "Feature {row}: unknown geometry type {value} (case-sensitive); skipped.",
    },
    "geojson_bad_coordinates": {
        "zh": "第 {row} 个要素：{gtype} 的坐标层级不对（{value}），已跳过。",
        "en": "Feature {row}: {gtype} coordinates are nested wrongly ({value}); skipped.",
    },
    "geojson_bad_position": {
        "zh": "第 {row} 个要素：{gtype} 的坐标 {value} 不是 [经度, 纬度] 数字对，已跳过。",
        "en": "Feature {row}: {gtype} position {value} is not a [lon, lat] pair of numbers; "
        "skipped.",
    },
    "geojson_too_few_points": {
        "zh": "第 {row} 个要素：{gtype} 至少需要 {minimum} 个点（{value}），已跳过。",
        "en": "Feature {row}: {gtype} needs at least {minimum} points ({value}); skipped.",
    },
    "geojson_ring_not_closed": {
        "zh": "第 {row} 个要素：{gtype} 的边界环首尾点不同（未闭合），已跳过。",
        "en": "Feature {row}: a {gtype} ring does not end where it starts (not closed); skipped.",
    },
    # --- GPX and KML ----------------------------------------------------------------------
    "gpx_bad_coordinate": {
        "zh": "第 {row} 项（{element}）：{field} 的值“{value}”不是有效数字。",
        "en": "Item {row} ({element}): {field} value “{value}” is not a valid number.",
    },
    "empty_line": {
        "zh": "第 {row} 项（{value}）没有任何点，已跳过。",
        "en": "Item {row} ({value}) has no points; skipped.",
    },
    "single_point_line": {
        "zh": "第 {row} 项（{value}）只有一个点，已作为点读取。",
        "en": "Item {row} ({value}) has a single point; read as a point.",
    },
    "kml_bad_geometry": {
        "zh": "第 {row} 个地标：{field} 的坐标“{value}”无效，已跳过。",
        "en": "Placemark {row}: {field} coordinates “{value}” are invalid; skipped.",
    },
    "kml_ring_closed": {
        "zh": "第 {row} 个地标：面的边界未闭合，已自动闭合。",
        "en": "Placemark {row}: a polygon ring was not closed; closed automatically.",
    },
    "kml_empty_point_skipped": {
        "zh": "第 {row} 个地标：有一个没有坐标的空点，已忽略，只读取它的其他几何。",
        "en": "Placemark {row}: an empty Point without coordinates was ignored; "
        "its other geometry was read.",
    },
    "kml_unsupported_geometry": {
        "zh": "第 {row} 个地标：不支持的几何类型 {value}，已跳过。",
        "en": "Placemark {row}: unsupported geometry type {value}; skipped.",
    },
    "kml_networklink_ignored": {
        "zh": "KML 中的网络链接“{value}”不会被下载，其内容未导入。",
        "en": "KML network link “{value}” is never fetched; its content was not imported.",
    },
    # --- Shapefile and GeoPackage ---------------------------------------------------------
    "gis_read_failed": {
        "zh": "GIS 文件无法读取：{value}",
        "en": "The GIS file cannot be read: {value}",
    },
    "shapefile_missing_part": {
        "zh": "Shapefile“{name}”缺少配套文件 {value}，请一起压缩上传。",
        "en": "Shapefile “{name}” lacks its {value} file; zip all parts together.",
    },
    "gpkg_no_spatial_layer": {
        "zh": "GeoPackage 中没有含几何的图层（现有：{value}）。",
        "en": "The GeoPackage has no layer with geometry (found: {value}).",
    },
    "layer_not_found": {
        "zh": "文件中没有图层“{value}”，已读取“{chosen}”（可选：{layers}）。",
        "en": "The file has no layer “{value}”; read “{chosen}” instead (available: {layers}).",
    },
    "several_layers": {
        "zh": "文件中有多个图层（{layers}），只读取了“{value}”。",
        "en": "The file has several layers ({layers}); only “{value}” was read.",
    },
}
