"""The ``villageworks`` command line: serve, demo, layers, check, repair, import, export,
compact.

Every command builds the same typed :class:`~webmap.settings.Settings` as the web app, so
``VILLAGEWORKS_AREA_MARGIN_M``, ``VILLAGEWORKS_MAX_UPLOAD_MB`` and the rest mean the same
thing here as in the browser.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from geo.messages import register, render
from webmap.settings import DEMO_DIR, Settings

for _code, _zh, _en in (
    (
        "cli_file_too_large",
        "文件 {value} 有 {size_mb} MB，超过上限 {limit_mb} MB（设置 VILLAGEWORKS_MAX_UPLOAD_MB），"
        "未导入任何内容",
        "The file {value} is {size_mb} MB, over the limit of {limit_mb} MB (setting "
        "VILLAGEWORKS_MAX_UPLOAD_MB); nothing was imported",
    ),
    (
        "cli_area_margin",
        "工作区域为县界及周边 {margin_m} 米（设置 VILLAGEWORKS_AREA_MARGIN_M）",
        "The working area is the county and {margin_m} m around it (setting "
        "VILLAGEWORKS_AREA_MARGIN_M)",
    ),
):
    register(_code, _zh, _en)

OUTSIDE_AREA_CODES = ("outside_working_area", "all_outside_working_area")


def _settings() -> Settings:
    return Settings.from_environment()


def _data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data or _settings().data_dir).resolve()


def _files(args: argparse.Namespace) -> Any:
    """The site's files (:mod:`layers.site_files`): in the database of
    ``$VILLAGEWORKS_DATABASE_URL`` when set, else in the data directory (created)."""
    from layers.site_files import site_files

    data_dir = _data_dir(args)
    data_dir.mkdir(parents=True, exist_ok=True)
    return site_files(data_dir, _settings().database_url)


def _store(args: argparse.Namespace) -> Any:
    from layers.backends import open_store, seed_if_empty

    data_dir = _data_dir(args)
    data_dir.mkdir(parents=True, exist_ok=True)
    url = _settings().database_url
    seed = not getattr(args, "empty", False) and not _settings().read_only
    if (DEMO_DIR / "layers").is_dir() and seed:
        if seed_if_empty(data_dir, DEMO_DIR, url):
            where = "the database" if url else data_dir
            print(f"seeded {where} from the demo county", file=sys.stderr)
    return open_store(data_dir, url)


def _error(text: str) -> None:
    print(f"error: {text}", file=sys.stderr)


def cmd_serve(args: argparse.Namespace) -> int:
    from webmap.app import create_app

    config: dict[str, Any] = {}
    if args.data:
        config["DATA_DIR"] = args.data
    app = create_app(config)
    print(
        f"VillageWorks on http://{args.host}:{args.port}  (data: {app.config['DATA_DIR']})",
        file=sys.stderr,
    )
    app.run(host=args.host, port=args.port, threaded=True, debug=False)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from layers.seed import seed_demo

    data_dir = _data_dir(args)
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        written = seed_demo(data_dir, DEMO_DIR, force=args.force)
    except FileExistsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {len(written)} demo layers to {data_dir}")
    return 0


def cmd_layers_add(args: argparse.Namespace) -> int:
    """``layers add FILE.toml``: declare a county layer (or fields of one) for every
    server of the site, after checking the file whole (nothing is written if wrong)."""
    from layers.errors import VillageWorksError
    from layers.spec_files import add_spec_file
    from layers.specs import SpecError

    if _settings().read_only:
        _error(render("cli_read_only", args.lang, value="layers add"))
        return 1
    path = Path(args.file)
    try:
        spec = add_spec_file(_files(args), path.name, path.read_bytes())
    except OSError as exc:
        _error(f"{path}: {exc.strerror or exc}")
        return 1
    except SpecError as exc:
        _error(render("spec_invalid", args.lang, file=path.name, value=str(exc)))
        return 1
    except VillageWorksError as exc:
        _error(exc.user_message(args.lang))
        return 1
    print(f"{spec.name}\t{spec.kind}\t{spec.label_in(args.lang)}\tspecs/{path.name}")
    return 0


def cmd_layers(args: argparse.Namespace) -> int:
    if getattr(args, "action", None) == "add":
        return cmd_layers_add(args)
    store = _store(args)
    width = max(len(n) for n in store.layer_names())
    for spec in store.specs:
        label = spec.label_in(args.lang)
        print(f"{spec.name:<{width}}  {store.count(spec.name):>8}  {spec.kind:<9}  {label}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from layers.check import check_layer

    store = _store(args)
    bad = damaged = 0
    names = [args.layer] if args.layer else store.layer_names()
    for name in names:
        result = check_layer(store, name)
        status = "ok" if not result.problems else f"{len(result.problems)} problem(s)"
        print(
            f"{name}: {result.features} features, {result.journal_records} journal records, "
            f"{result.pending} not yet compacted: {status}"
        )
        for problem in result.problems[:50]:
            print(f"  - {problem.message(args.lang)}")
        bad += bool(result.problems)
        damaged += result.damaged
    if not args.layer:
        from layers.upload_log import stray_upload_problems

        for problem in stray_upload_problems(store.files):
            print(f"uploads: {problem.message(args.lang)}")
    if damaged:
        print(render("check_run_repair", args.lang))
    return 1 if bad else 0


def cmd_repair(args: argparse.Namespace) -> int:
    from layers.errors import VillageWorksError
    from layers.repair import repair_data_dir

    if _settings().database_url:
        print(render("repair_postgis", args.lang))
        return 0
    data_dir = _data_dir(args)
    if not data_dir.is_dir():
        _error(f"{data_dir}: no such data directory")
        return 2
    layers = [args.layer] if args.layer else None
    try:
        reports = repair_data_dir(data_dir, layers, dry_run=args.dry_run)
    except VillageWorksError as exc:
        _error(exc.user_message(args.lang))
        return 2
    for report in reports:
        for line in report.lines(args.lang):
            print(line)
    return 0 if all(report.complete for report in reports) else 1


def _import_options(args: argparse.Namespace, settings: Settings) -> Any:
    from layers.uploads import UploadOptions

    return UploadOptions(
        layer=args.layer,
        crs=args.crs,
        dry_run=args.dry_run,
        defaults=dict(kv.split("=", 1) for kv in args.set or []),
        column_map=dict(kv.split("=", 1) for kv in args.map or []),
        on_duplicate=args.duplicates,
        margin_m=settings.area_margin_m,
        skip_rejected=args.skip_rejected,
    )


def _read_import_file(path: Path, settings: Settings, lang: str) -> bytes | None:
    """The file's bytes, or None (message printed) when unreadable or over the size cap."""
    try:
        size = path.stat().st_size
        if size > settings.max_upload_bytes:
            _error(
                render(
                    "cli_file_too_large",
                    lang,
                    value=path.name,
                    size_mb=f"{size / 1024 / 1024:.1f}",
                    limit_mb=settings.max_upload_mb,
                )
            )
            return None
        return path.read_bytes()
    except OSError as exc:
        _error(f"cannot read {path}: {exc.strerror}")
        return None


def _print_problems(problems: Sequence[Any], lang: str, margin_m: float) -> None:
    for problem in problems[:100]:
        print(f"  - {problem.message(lang)}", file=sys.stderr)
    if any(getattr(p, "code", "") in OUTSIDE_AREA_CODES for p in problems):
        print(render("cli_area_margin", lang, margin_m=f"{margin_m:g}"), file=sys.stderr)


def _import_author(args: argparse.Namespace) -> str:
    """Who an import is by: the account ``--user`` names, with its role and townships
    (a field account's import awaits review, a scoped one stays in its townships), or,
    for a name that is no account, a trusted writer (county-wide, approved)."""
    from layers.users import UserStore

    account = UserStore(_files(args)).get(args.user)
    return account.author() if account is not None else args.user


def cmd_import(args: argparse.Namespace) -> int:
    from layers.errors import VillageWorksError
    from layers.uploads import run_upload

    settings = _settings()
    path = Path(args.file)
    data = _read_import_file(path, settings, args.lang)
    if data is None:
        return 2
    store = _store(args)
    print(f"reading {path.name} ({len(data) / 1024:.0f} KB) ...", file=sys.stderr)
    try:
        report = run_upload(
            store,
            data,
            path.name,
            _import_options(args, settings),
            user=_import_author(args),
            progress=lambda msg: print(msg, file=sys.stderr),
            max_bytes=settings.max_upload_bytes,
        )
    except VillageWorksError as exc:
        _error(exc.user_message(args.lang))
        _print_problems(getattr(exc, "problems", []), args.lang, settings.area_margin_m)
        return 1
    _print_problems(report.problems, args.lang, settings.area_margin_m)
    verb = "would add" if args.dry_run else "added"
    print(
        f"{verb} {report.accepted} feature(s) to {args.layer}; rejected {report.rejected}; "
        f"CRS {report.crs_label}" + ("" if args.dry_run else f"; upload {report.upload_id}")
    )
    return 0 if report.rejected == 0 else 1


def cmd_export(args: argparse.Namespace) -> int:
    from layers.errors import VillageWorksError
    from layers.exports import FORMATS, export_layer

    store = _store(args)
    if args.format not in FORMATS:
        print(
            f"error: unknown format {args.format}; choose from {', '.join(FORMATS)}",
            file=sys.stderr,
        )
        return 2
    try:
        data = export_layer(store, args.layer, args.format, private=True)  # the operator
    except VillageWorksError as exc:
        print(f"error: {exc.user_message(args.lang)}", file=sys.stderr)
        return 1
    if args.output == "-":
        sys.stdout.buffer.write(data)
    else:
        Path(args.output).write_bytes(data)
        print(f"wrote {args.output} ({len(data) / 1024:.0f} KB)", file=sys.stderr)
    return 0


def cmd_gaps(args: argparse.Namespace) -> int:
    from layers.analyses import format_for, parse_as_of, parse_thresholds, run_gaps
    from layers.errors import VillageWorksError
    from layers.gap_files import write_frame

    store = _store(args)
    given = {
        name: getattr(args, name)
        for name in ("min_gap_m", "lateral_m", "max_days", "max_distance_m", "rest_distance_m")
        if getattr(args, name) is not None
    }
    given.update({"snap_m": args.snap_m} if args.snap_m is not None else {})
    try:
        format_for(args.output)
        as_of = parse_as_of(args.as_of)
        thresholds = parse_thresholds(args.kind, given)
        frame = run_gaps(store, args.kind, as_of=as_of, **thresholds)
        labels = {spec.name: spec.label_in(args.lang) for spec in store.specs}
        write_frame(frame, args.output, lang=args.lang, layer_labels=labels)
    except VillageWorksError as exc:
        print(f"error: {exc.user_message(args.lang)}", file=sys.stderr)
        return 2
    length = float(frame["length_m"].sum()) if "length_m" in frame and len(frame) else 0.0
    extra = f", {length / 1000:.1f} km" if length else ""
    print(f"wrote {args.output}: {len(frame)} gap(s){extra}", file=sys.stderr)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from layers.errors import VillageWorksError
    from layers.progress_report import build_report, parse_report_params
    from layers.report_docx import report_docx
    from layers.report_pdf import report_pdf

    store = _store(args)
    try:
        params = parse_report_params(
            store, year=args.year, month=args.month, township=args.township, lang=args.lang
        )
        report = build_report(store, params)
        pdf = (args.format or Path(args.output).suffix.lower().lstrip(".")) == "pdf"
        data = report_pdf(report) if pdf else report_docx(report)
    except VillageWorksError as exc:
        print(f"error: {exc.user_message(args.lang)}", file=sys.stderr)
        return 2
    Path(args.output).write_bytes(data)
    print(f"wrote {args.output}: {report.title} ({len(data) / 1024:.0f} KB)", file=sys.stderr)
    return 0


def cmd_compact(args: argparse.Namespace) -> int:
    store = _store(args)
    for name in store.layer_names():
        if store.compact(name):
            print(f"compacted {name}")
    return 0


def _migrate_sides(args: argparse.Namespace) -> tuple[Any, Path, str, dict[str, Any]] | None:
    """The source store, the target's data directory and URL, and the key files of
    ``migrate --to``; None (after a message) for a bad combination."""
    from layers.backends import open_store
    from webmap.deploy import key_path

    backend, target = args.to
    data_dir = _data_dir(args)
    settings = _settings()
    if backend not in ("postgis", "geojson"):
        _error(f"--to {backend}: choose postgis or geojson")
        return None
    source_url = args.source_url or ("" if backend == "postgis" else settings.database_url)
    if backend == "geojson" and not source_url:
        _error("give --from URL or set VILLAGEWORKS_DATABASE_URL")
        return None
    if not source_url and not data_dir.is_dir():
        _error(f"--data {data_dir}: no such data directory")
        return None
    keys: dict[str, Any] = {"source_key_file": None, "target_key_file": None}
    if not source_url:
        keys["source_key_file"] = key_path(data_dir, settings.secret_key_file)
    if backend == "postgis":
        target_dir, target_url = Path(args.target_data or data_dir), target
    else:
        target_dir, target_url = Path(target).resolve(), ""
        keys["target_key_file"] = key_path(target_dir)
    return open_store(data_dir, source_url), target_dir, target_url, keys


def cmd_migrate(args: argparse.Namespace) -> int:
    from layers.backends import migrate
    from layers.errors import VillageWorksError

    sides = _migrate_sides(args)
    if sides is None:
        return 2
    source, target_dir, target_url, keys = sides
    try:
        summary = migrate(
            source,
            target_dir,
            target_url,
            force=args.force,
            progress=lambda msg: print(msg, file=sys.stderr),
            **keys,
        )
    except VillageWorksError as exc:
        _error(exc.user_message(args.lang))
        return 1
    finally:
        source.close()
    print(f"{summary.text(args.lang)} -> {args.to[0]}")
    return 0


def _user_areas(args: argparse.Namespace) -> tuple[str, ...]:
    """The township ids ``--area`` names (each a township's name or id; none: the whole
    county), looked up in the boundaries layer."""
    if not args.area:
        return ()
    from layers.scopes import resolve_areas

    store = _store(args)
    try:
        return resolve_areas(store, args.area, args.role)
    finally:
        store.close()


def _set_user_areas(users: Any, args: argparse.Namespace) -> None:
    """``users areas NAME [--area TOWNSHIP ...]``: the account's townships (none: the whole
    county)."""
    from layers.errors import NotFound

    user = users.get(args.name)
    if user is None:
        raise NotFound(what="user", value=args.name)
    args.role = user.role
    areas = _user_areas(args)
    users.set_areas(args.name, areas)
    print(f"{args.name}: " + (f"townships {', '.join(areas)}" if areas else "the whole county"))


def cmd_users(args: argparse.Namespace) -> int:
    from layers.errors import VillageWorksError
    from layers.users import UserStore

    users = UserStore(_files(args))
    try:
        if args.action == "add":
            areas = _user_areas(args)
            password = sys.stdin.readline().rstrip("\n")
            user = users.add(args.name, args.role, password, areas=areas)
            scope = f"; townships {', '.join(areas)}" if areas else "; the whole county"
            print(f"added {user.name} ({user.role}{scope})")
        elif args.action == "list":
            for user in users.list():
                state = "active" if user.active else "disabled"
                print(f"{user.name}\t{user.role}\t{state}\t{','.join(user.areas) or '*'}")
        elif args.action == "disable":
            users.set_active(args.name, False)
            revoked = users.revoke_tokens(args.name)
            print(f"disabled {args.name}; revoked {revoked} token(s)")
        elif args.action == "enable":
            users.set_active(args.name, True)
            print(f"enabled {args.name}")
        elif args.action == "token":
            print(users.new_token(args.name, label=args.label or ""))
        elif args.action == "revoke":
            print(f"revoked {users.revoke_tokens(args.name)} token(s) of {args.name}")
        elif args.action == "passwd":
            users.set_password(args.name, sys.stdin.readline().rstrip("\n"))
            print(f"changed the password of {args.name}")
        elif args.action == "role":
            users.set_role(args.name, args.role)
            print(f"{args.name} is now {args.role}")
        elif args.action == "areas":
            _set_user_areas(users, args)
    except VillageWorksError as exc:
        print(f"error: {exc.user_message(args.lang)}", file=sys.stderr)
        return 1
    return 0


def _common_args(p: argparse.ArgumentParser) -> None:
    """``--data`` and ``--lang``, which every command takes."""
    p.add_argument(
        "--data",
        metavar="DIR",
        help="data directory (default: $VILLAGEWORKS_DATA or instance/data)",
    )
    p.add_argument(
        "--lang",
        choices=("zh", "en"),
        default=_settings().lang,
        help="language of messages (default: $VILLAGEWORKS_LANG or zh)",
    )


Sub = Any  # argparse's _SubParsersAction, private in typeshed


def _add(sub: Sub, name: str, func: Callable[[argparse.Namespace], int], **kw: Any) -> Any:
    """A subcommand that runs ``func``."""
    p = sub.add_parser(name, **kw)
    p.set_defaults(func=func)
    return p


def _serve_parser(sub: Sub) -> None:
    p = _add(sub, "serve", cmd_serve, help="run the web app")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument("--port", type=int, default=5000, help="port (5000)")
    _common_args(p)


def _small_parsers(sub: Sub) -> None:
    """demo, layers and check."""
    p = _add(sub, "demo", cmd_demo, help="write the Shanyin demo county into a data directory")
    _common_args(p)
    p.add_argument("--force", action="store_true", help="replace data already there")
    p = _add(sub, "layers", cmd_layers, help="list layers with their feature counts; add FILE.toml")
    _common_args(p)
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    a = actions.add_parser("add", help="declare a county layer from a .toml (checked first)")
    a.add_argument("file", metavar="FILE.toml")
    _common_args(a)
    p = _add(sub, "check", cmd_check, help="validate every layer file and journal")
    _common_args(p)
    p.add_argument("--layer", help="check only this layer")


def _repair_parser(sub: Sub) -> None:
    p = _add(
        sub,
        "repair",
        cmd_repair,
        help="set damaged journals and layer files aside (never deleted), keep every record "
        "that verifies and rebuild the layer; exit 1 if anything could not be recovered",
    )
    _common_args(p)
    p.add_argument("--layer", help="repair only this layer")
    p.add_argument("--dry-run", action="store_true", help="report what it would do; write nothing")


def _compact_parser(sub: Sub) -> None:
    help_text = "write every layer file from its journal now (big layers: and their table snapshot)"
    _common_args(_add(sub, "compact", cmd_compact, help=help_text))


def _import_parser(sub: Sub) -> None:
    p = _add(
        sub,
        "import",
        cmd_import,
        help="import a file (GeoJSON, CSV, GPX, KML/KMZ, zipped "
        "Shapefile, GeoPackage) into a layer",
        description="Import a file through the same pipeline as the upload page. The "
        "working area margin (VILLAGEWORKS_AREA_MARGIN_M) and the size cap "
        "(VILLAGEWORKS_MAX_UPLOAD_MB) are the web app's settings.",
    )
    p.add_argument("file", help="the file to import")
    p.add_argument("--layer", required=True, help="target layer, e.g. streetlights")
    p.add_argument(
        "--crs",
        default="auto",
        help="coordinate system: auto, wgs84, cgcs2000, gcj02, bd09 or EPSG:NNNN",
    )
    p.add_argument(
        "--set",
        action="append",
        metavar="FIELD=VALUE",
        help="value for a field the file lacks, for every row (repeatable)",
    )
    p.add_argument(
        "--map",
        action="append",
        metavar="COLUMN=FIELD",
        help="file column that fills a field when the header differs (repeatable)",
    )
    p.add_argument(
        "--duplicates",
        choices=("skip", "keep", "merge"),
        default="skip",
        help="what to do with rows that duplicate an existing feature (skip)",
    )
    p.add_argument(
        "--skip-rejected",
        action="store_true",
        help="import the good rows of a file that has bad ones (default: import nothing)",
    )
    p.add_argument("--dry-run", action="store_true", help="check only; write nothing")
    p.add_argument(
        "--user",
        default=os.environ.get("USER", "cli"),
        help="name recorded as the author; an account's name imports with its role and "
        "townships (a field account's rows await review)",
    )
    _common_args(p)


def _export_parser(sub: Sub) -> None:
    p = _add(sub, "export", cmd_export, help="export a layer to a file")
    p.add_argument("--layer", required=True, help="layer to export")
    p.add_argument(
        "--format", default="geojson", help="geojson, gpkg, shp (zipped), kml, csv or xlsx"
    )
    p.add_argument("-o", "--output", required=True, help="output file, or - for stdout")
    _common_args(p)


USER_ACTIONS = (
    ("disable", "disable an account and revoke its tokens"),
    ("enable", "enable a disabled account"),
    ("token", "print a new API token for an account"),
    ("revoke", "revoke every API token of an account"),
    ("passwd", "set a new password (read from stdin)"),
)


def _users_parser(sub: Sub) -> None:
    p = _add(
        sub,
        "users",
        cmd_users,
        help="manage accounts: add, list, role, areas, disable, enable, token, revoke, passwd",
    )
    users = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    u = users.add_parser("add", help="add an account (password read from stdin)")
    u.add_argument("name")
    u.add_argument("--role", required=True, choices=("viewer", "field", "planner", "admin"))
    u.add_argument(
        "--area",
        action="append",
        metavar="TOWNSHIP",
        help="limit a field or planner account to this township (name or id; repeat for "
        "more); without --area the account covers the whole county",
    )
    _common_args(u)
    _common_args(users.add_parser("list", help="list accounts (name, role, state, townships)"))
    u = users.add_parser("role", help="give an account another role (its sessions end)")
    u.add_argument("name")
    u.add_argument("--role", required=True, choices=("viewer", "field", "planner", "admin"))
    _common_args(u)
    u = users.add_parser(
        "areas", help="limit a field or planner account to townships (none: the whole county)"
    )
    u.add_argument("name")
    u.add_argument(
        "--area", action="append", metavar="TOWNSHIP", help="a township's name or id; repeat"
    )
    _common_args(u)
    for action, text in USER_ACTIONS:
        u = users.add_parser(action, help=text)
        u.add_argument("name")
        if action == "token":
            u.add_argument("--label", help="what the token is for, e.g. the phone's name")
        _common_args(u)


def _migrate_parser(sub: Sub) -> None:
    p = _add(
        sub,
        "migrate",
        cmd_migrate,
        help="copy every layer with its history, every site file (specs, accounts, uploads, "
        "photos, staging, throttles) and the signing key to another backend",
    )
    p.add_argument(
        "--to",
        nargs=2,
        required=True,
        metavar=("BACKEND", "TARGET"),
        help="'postgis URL' (from the GeoJSON data directory, or from --from) or 'geojson DIR' "
        "(from PostGIS); the target must be empty",
    )
    p.add_argument(
        "--from",
        dest="source_url",
        metavar="URL",
        help="the source database (with --to geojson default: $VILLAGEWORKS_DATABASE_URL; "
        "with --to postgis: PostGIS to PostGIS)",
    )
    p.add_argument(
        "--target-data",
        metavar="DIR",
        help="with --to postgis: the PostGIS deployment's data directory, only a cache "
        "(default: the source data directory)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="leave behind (and name) entries of the data directory that are not site files",
    )
    _common_args(p)


GAP_THRESHOLDS = (
    ("--min-gap-m", "lighting: longest dark stretch (100)"),
    ("--lateral-m", "lighting: light within m of road (30)"),
    ("--max-days", "visits: days without a visit (90)"),
    ("--max-distance-m", "irrigation: distance to a working well; services: to the free bus (500)"),
    ("--rest-distance-m", "services: rest station reach (1000)"),
    ("--snap-m", "irrigation: pipe end near a well (10)"),
)


def _gaps_parser(sub: Sub) -> None:
    p = _add(
        sub,
        "gaps",
        cmd_gaps,
        help="run a gap analysis (lighting, irrigation, visits, services, targets) to a file",
        description="Write the gaps of one analysis to FILE; .geojson, .csv, .xlsx or .gpkg "
        "by its extension. Thresholds left out take their defaults.",
    )
    p.add_argument("kind", choices=("lighting", "irrigation", "visits", "services", "targets"))
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="output file")
    p.add_argument("--as-of", metavar="DATE", help="replay to this day, YYYY-MM-DD (today)")
    for flag, text in GAP_THRESHOLDS:
        p.add_argument(flag, type=float, help=text)
    _common_args(p)


def _report_parser(sub: Sub) -> None:
    p = _add(
        sub,
        "report",
        cmd_report,
        help="write the progress report (进展情况报告) of a plan year as .docx or .pdf",
        description="The ledger's progress report of YEAR: summary, a table per category, "
        "the map of the works and the ranked gaps, as /ledger/report.docx|pdf gives it.",
    )
    p.add_argument("--year", required=True, help="plan year, e.g. 2026")
    p.add_argument("--month", help="as of the end of this month, 1-12 (default: today)")
    p.add_argument("--township", help="one township, by name or id (default: the county)")
    p.add_argument(
        "--format",
        choices=("docx", "pdf"),
        help="docx or pdf (default: by FILE's extension, else docx)",
    )
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="output file")
    _common_args(p)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used to document the CLI)."""
    parser = argparse.ArgumentParser(
        prog="villageworks",
        description="VillageWorks: a county's public works on a map, as a ledger people trust.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (
        _serve_parser,
        _small_parsers,
        _repair_parser,
        _import_parser,
        _export_parser,
        _users_parser,
        _migrate_parser,
        _compact_parser,
        _gaps_parser,
        _report_parser,
    ):
        add(sub)
    return parser


#: Commands that write; refused under VILLAGEWORKS_READ_ONLY (``users list`` only reads).
WRITING_COMMANDS = ("demo", "import", "compact", "migrate", "repair", "users")
register(
    "cli_read_only",
    "VILLAGEWORKS_READ_ONLY 已设置（只读模式）：villageworks {value} 会修改数据，未执行",
    "VILLAGEWORKS_READ_ONLY is set (read-only mode): villageworks {value} writes, so it "
    "was not run",
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``villageworks`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    writes = args.command in WRITING_COMMANDS and getattr(args, "action", "") != "list"
    if writes and not getattr(args, "dry_run", False) and _settings().read_only:
        _error(render("cli_read_only", getattr(args, "lang", "zh"), value=args.command))
        return 1
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
