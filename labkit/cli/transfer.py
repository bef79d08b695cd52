"""`labkit export` and `labkit import`: mongoexport and mongoimport, same flags and messages.

Connect with --uri (the mongo-tools way) or with --workspace/--target, which
uses the lab's own Main or Temp deployment so nobody types a password. Logs
and the closing line go to stderr, data to stdout or --out; a failure prints
`Failed: <reason>` (then, for import, the closing line) and exits with 1.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys

import click

from labkit.cli.common import open_workspace, say, warn_password_in_argv
from labkit.errors import ConfigError, LabkitError
from labkit import __version__
from labkit.transfer import ImportFailed, export_collection, import_file
from labkit.transfer.common import parse_write_concern

CONTEXT = {"help_option_names": ["-h", "--help"]}


_IN_URI = "give it in the connection string instead ({uri}), ideally through --uri-env NAME so it stays out of the process list"

# Options of the Database Tools (common/options/options.go) that labkit does not take, and why / what instead.
UNSUPPORTED = {
    # name: (takes a value, reason)
    "--ssl": (False, "turn TLS on in the connection string instead: ?tls=true (mongodb+srv:// turns it on by itself)"),
    "--sslCAFile": (True, _IN_URI.format(uri="?tls=true&tlsCAFile=FILE")),
    "--sslPEMKeyFile": (True, _IN_URI.format(uri="?tls=true&tlsCertificateKeyFile=FILE")),
    "--sslPEMKeyPassword": (True, "a password never goes on labkit's command line: "
                                  + _IN_URI.format(uri="tlsCertificateKeyFilePassword=...")),
    "--sslCRLFile": (True, _IN_URI.format(uri="?tls=true&tlsCRLFile=FILE")),
    "--sslAllowInvalidCertificates": (False, _IN_URI.format(uri="?tlsAllowInvalidCertificates=true")),
    "--sslAllowInvalidHostnames": (False, _IN_URI.format(uri="?tlsAllowInvalidHostnames=true")),
    "--tlsInsecure": (False, _IN_URI.format(uri="?tlsInsecure=true")),
    "--sslFIPSMode": (False, "FIPS mode is a property of the Python/OpenSSL build, not something labkit can switch"),
    "--username": (True, "credentials go in the connection string: export NAME='mongodb://USER:PASSWORD@HOST/' "
                         "and use --uri-env NAME (or the lab's --workspace, which needs none)"),
    "--password": (True, "a password never goes on labkit's command line (every user of the machine can read it): "
                         "export NAME='mongodb://USER:PASSWORD@HOST/' and use --uri-env NAME"),
    "--authenticationDatabase": (True, _IN_URI.format(uri="?authSource=DB")),
    "--authenticationMechanism": (True, _IN_URI.format(uri="?authMechanism=SCRAM-SHA-256, MONGODB-X509 or "
                                                            "MONGODB-AWS; GSSAPI/Kerberos and PLAIN/LDAP are not "
                                                            "supported by labkit")),
    "--awsSessionToken": (True, _IN_URI.format(uri="?authMechanism=MONGODB-AWS&authMechanismProperties="
                                                   "AWS_SESSION_TOKEN:...")),
    "--gssapiServiceName": (True, "Kerberos (GSSAPI) authentication is not supported by labkit: use SCRAM or X.509 "
                                  "in the connection string"),
    "--gssapiHostName": (True, "Kerberos (GSSAPI) authentication is not supported by labkit: use SCRAM or X.509 "
                               "in the connection string"),
    "--config": (True, "labkit reads no YAML configuration file: give the connection string with --uri-env NAME "
                       "(an environment variable), or use the lab's --workspace"),
    "--dialTimeout": (True, _IN_URI.format(uri="?connectTimeoutMS=MS")),
    "--socketTimeout": (True, _IN_URI.format(uri="?socketTimeoutMS=MS")),
    "--serverSelectionTimeout": (True, _IN_URI.format(uri="?serverSelectionTimeoutMS=MS")),
    "--compressors": (True, _IN_URI.format(uri="?compressors=zstd,zlib,snappy")),
    "--TCPKeepAliveSeconds": (True, "the Python driver keeps its own TCP keep-alive settings; labkit cannot change them"),
    "--numThreads": (True, "a Go runtime setting of the Database Tools (GOMAXPROCS); labkit has no equivalent"),
    "--failpoints": (True, "a testing hook of the Database Tools; labkit has none"),
    "--trace": (False, "a debugging switch of the Database Tools' wire protocol; labkit has none"),
}


def _note_unsupported(ctx: click.Context, param, value):
    if value:
        ctx.meta.setdefault("unsupported", []).append(param.opts[0])


def _unsupported_options(func):
    for name, (takes_value, reason) in reversed(UNSUPPORTED.items()):
        extra = ["-u"] if name == "--username" else ["-p"] if name == "--password" else []
        func = click.option(name, *extra, f"unsupported_{name.lstrip('-')}", is_flag=not takes_value,
                            metavar="..." if takes_value else None, expose_value=False,
                            callback=_note_unsupported, hidden=True, help=f"Not supported by labkit: {reason}.")(func)
    return func


def _refuse_unsupported() -> None:
    """Options of the Database Tools that labkit does not take: say why and what to use instead (exit 1)."""
    given = click.get_current_context().meta.get("unsupported")
    if given:
        name = given[0]
        _fail(f"{name} is not supported by labkit: {UNSUPPORTED[name][1]}.")
        raise SystemExit(1)


def _connection_options(func):
    func = _unsupported_options(func)
    options = [
        click.option("--uri", metavar="URI", help="Connection string, e.g. mongodb://host:27017/ (as in the mongo tools)."),
        click.option("--uri-env", metavar="NAME", expose_value=False, callback=_remember_uri_env,
                     help="Read the connection string from this environment variable: a password stays out of "
                          "the process list (every user of the machine can read a command line)."),
        click.option("--workspace", "-w", metavar="DIR", envvar="LABKIT_WORKSPACE",
                     help="Use this lab workspace's deployment instead of --uri (env LABKIT_WORKSPACE)."),
        click.option("--target", type=click.Choice(["main", "temp"]), default="main", show_default=True,
                     help="With a workspace (--workspace, LABKIT_WORKSPACE or the default ./.labkit/partial-recovery): Main or Temp."),
        click.option("--host", metavar="HOST", expose_value=False, callback=_remember("host"),
                     help="Server to connect to instead of --uri: host, host:port or setname/host1,host2 (as in the "
                          "mongo tools; -h is labkit's --help)."),
        click.option("--port", metavar="PORT", expose_value=False, callback=_remember("port"),
                     help="Server port, with --host (or --host host:port)."),
        click.option("--db", "-d", default="test", show_default=True, help="Database to use."),
        click.option("--quiet", is_flag=True, help="No progress bar and no log lines."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _remember_uri_env(ctx: click.Context, param, value):
    ctx.meta["uri_env"] = value


def _remember(key: str):
    def callback(ctx: click.Context, param, value):
        ctx.meta[key] = value
    return callback


def _host_uri(host: str | None, port: str | None) -> str | None:
    """--host / --port as a connection string: host, host:port, or setname/host1:port1,host2 (a replica set)."""
    if host is None and port is None:
        return None
    if port is not None and not (port.isdigit() and 0 < int(port) < 65536):
        raise ConfigError(f"invalid --port {port!r}: give a port number such as 27017.")
    replica_set, _, hosts = (host or "localhost").rpartition("/")
    members = []
    for member in hosts.split(","):
        member = member.strip() or "localhost"
        if port is not None and not (member.rsplit(":", 1)[-1].isdigit() and ":" in member):
            member = f"{member}:{port}"
        members.append(member)
    uri = "mongodb://" + ",".join(members) + "/"
    return uri + (f"?replicaSet={replica_set}" if replica_set else "")


def _connection(uri: str | None, workspace: str | None, target: str):
    """--uri or --uri-env wins; else the workspace's Main or Temp (its real URI never reaches the screen).

    With neither, the default workspace (./.labkit/partial-recovery) when it exists, as the
    other lab commands do."""
    meta = click.get_current_context().meta
    env = meta.get("uri_env")
    host_uri = _host_uri(meta.get("host"), meta.get("port"))
    if host_uri:
        if uri or env:
            raise click.UsageError("give the server with --uri, --uri-env or --host/--port, not several of them.")
        return host_uri
    if env:
        if uri:
            raise click.UsageError("give --uri or --uri-env, not both.")
        if not os.environ.get(env):
            raise ConfigError(f"The environment variable {env} (--uri-env) is not set: export it with the "
                              "connection string first.")
        return os.environ[env]
    if uri:
        warn_password_in_argv("--uri", uri)
        return uri
    ws = open_workspace(workspace)
    if workspace or ws.exists():
        return ws.deployment(target)
    raise click.UsageError("give --uri URI (better --uri-env NAME, keeping a password out of ps), or --workspace DIR "
                           "(with --target main|temp) to use the lab's deployments.")


def _lab_workspace(uri: str | None, workspace: str | None):
    """The lab workspace the command works in, or None when --uri or --uri-env names the server."""
    meta = click.get_current_context().meta
    if uri or meta.get("uri_env") or meta.get("host") or meta.get("port"):
        return None
    ws = open_workspace(workspace)
    return ws if ws.exists() else None


def _record(uri: str | None, workspace: str | None, kind: str, **details) -> None:
    """With a workspace (not --uri), note the export or import in its event log: the lab's checks
    re-derive a recovery from these records whether it was typed here or run from a notebook."""
    ws = _lab_workspace(uri, workspace)
    if ws is not None:
        ws.log_event(kind, via="cli", **details)


def _busy(uri: str | None, workspace: str | None):
    """Held while importing into a lab's deployment: the idle stop never stops the lab in the middle."""
    ws = _lab_workspace(uri, workspace)
    return ws.busy() if ws is not None else contextlib.nullcontext()


def _fail(reason: str) -> None:
    say(f"Failed: {reason}")


@click.command("export", context_settings=CONTEXT)
@_connection_options
@click.option("--collection", "-c", required=True, help="Collection to export.")
@click.option("--query", "-q", metavar="JSON", help='Filter as Extended JSON, e.g. \'{"firstname": {"$exists": true}}\'.')
@click.option("--queryFile", "query_file", metavar="FILE", help="Read the filter (Extended JSON) from this file.")
@click.option("--assertExists", "assert_exists", is_flag=True, help="Fail if the collection does not exist.")
@click.option("--fields", "-f", metavar="A,B", help="Fields to export (comma-separated; _id is always included in JSON). Required for CSV.")
@click.option("--sort", metavar="JSON", help='Sort order as Extended JSON, e.g. \'{"_id": 1}\'.')
@click.option("--skip", type=click.IntRange(min=0), default=0, help="Documents to skip.")
@click.option("--limit", type=click.IntRange(min=0), default=0, help="At most this many documents (0: all).")
@click.option("--type", "type_", metavar="json|csv", default="json", show_default=True, help="Output format.")
@click.option("--jsonFormat", "json_format", metavar="relaxed|canonical", default="relaxed", show_default=True,
              help="Extended JSON v2 mode: canonical keeps every type exactly.")
@click.option("--jsonArray", "json_array", is_flag=True, help="Write one JSON array instead of one document per line.")
@click.option("--pretty", is_flag=True, help="Indent the JSON (tabs, as mongoexport).")
@click.option("--noHeaderLine", "no_header_line", is_flag=True, help="CSV: no line of field names first.")
@click.option("--out", "-o", metavar="FILE", help="Write here (atomically, owner-only) instead of stdout.")
def export_command(uri, workspace, target, db, quiet, collection, query, query_file, assert_exists, fields, sort, skip,
                   limit, type_, json_format, json_array, pretty, no_header_line, out):
    """Export a collection as Extended JSON (one document per line) or CSV, like mongoexport.

    \b
    labkit export --uri mongodb://127.0.0.1:27017/ -d shop -c customers -o customers.json
    labkit export -w ./lab --target temp -d shop -c customers \\
        -q '{"firstname": {"$exists": true}}' -o lost_records.json
    """
    _refuse_unsupported()
    try:
        report = export_collection(_connection(uri, workspace, target), db, collection, query=query, fields=fields,
                                   sort=sort, skip=skip, limit=limit, type=type_, json_format=json_format,
                                   json_array=json_array, pretty=pretty, header_line=not no_header_line, out=out,
                                   quiet=quiet, query_file=query_file, assert_exists=assert_exists)
        _record(uri, workspace, "export", source=target, db=db, collection=collection, query=query or "{}",
                count=report.count, file=os.path.abspath(out) if out else None)
    except LabkitError as exc:
        _fail(str(exc))
        raise SystemExit(1) from None
    except BrokenPipeError:  # the reader went away (`labkit export ... | head -1`)
        _die_of_sigpipe()


def _die_of_sigpipe() -> None:
    """End as mongoexport does when its reader closes the pipe: killed by SIGPIPE, without a word
    (a shell with pipefail sees 141, as for any Unix tool)."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the flush at exit must not fail again
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGPIPE)
    raise SystemExit(128 + signal.SIGPIPE)  # not reached: the signal ends the process


@click.command("import", context_settings=CONTEXT)
@_connection_options
@click.option("--collection", "-c", help="Collection to import into (default: the file's name without extension).")
@click.option("--file", "file_", metavar="FILE", help="File to read (default: stdin).")
@click.argument("positional", metavar="[CONNECTION-STRING] [FILE]", nargs=-1)
@click.option("--type", "type_", metavar="json|csv|tsv", default="json", show_default=True, help="Input format.")
@click.option("--headerline", "header_line", is_flag=True, help="CSV/TSV: the first line holds the field names.")
@click.option("--fields", "-f", metavar="A,B", help="CSV/TSV: field names of the columns, comma-separated.")
@click.option("--fieldFile", "field_file", metavar="FILE", help="CSV/TSV: a file with the field names, one per line.")
@click.option("--ignoreBlanks", "ignore_blanks", is_flag=True, help="CSV/TSV: leave empty values out of the documents.")
@click.option("--jsonArray", "json_array", is_flag=True, help="The input is one JSON array of documents.")
@click.option("--mode", metavar="MODE", help="insert (default), upsert (replace matches), merge (update matches' fields) or delete matches.")
@click.option("--upsertFields", "upsert_fields", metavar="A,B",
              help="Match on these fields instead of _id (implies --mode upsert when --mode is not given).")
@click.option("--drop", is_flag=True, help="Drop the collection first.")
@click.option("--stopOnError", "stop_on_error", is_flag=True, help="Stop at the first write error.")
@click.option("--maintainInsertionOrder", "maintain_insertion_order", is_flag=True,
              help="Insert in file order, one batch at a time (implies --stopOnError).")
@click.option("--upsert", is_flag=True, help="(deprecated; same as --mode=upsert) insert or update objects that already exist.")
@click.option("--columnsHaveTypes", "columns_have_types", is_flag=True,
              help="CSV/TSV: the field names (--fields, --fieldFile or --headerline) carry types, name.type(arg): auto, "
                   "binary(hex|base32|base64), boolean, date(Go layout), date_go, date_ms, date_oracle, decimal, double, "
                   "int32, int64, string; e.g. zipcode.string(), thumbnail.binary(base64).")
@click.option("--parseGrace", "parse_grace", metavar="GRACE", default="stop", show_default=True,
              help="With --columnsHaveTypes, a value not of its column's type: autoCast (store it as detected), "
                   "skipField, skipRow (written to stdout) or stop.")
@click.option("--legacy", is_flag=True, help="JSON: read legacy Extended JSON and the mongo shell dialect "
                                             "(ObjectId(...), unquoted keys), as mongoimport --legacy.")
@click.option("--useArrayIndexFields", "use_array_index_fields", is_flag=True,
              help="CSV/TSV: numeric parts of field names are array indexes that build arrays (e.g. foo.0,foo.1); "
                   "they must start from 0 and increase one by one.")
@click.option("--bypassDocumentValidation", "bypass_document_validation", is_flag=True,
              help="Bypass the collection's document validation.")
@click.option("--writeConcern", "write_concern", metavar="WC",
              help="Write concern, e.g. majority, 1 or '{w: 1, j: true, wtimeout: 500}' (default: the connection "
                   "string's w, else majority, as mongoimport).")
@click.option("--verbose", "-v", count=True, help="More log lines (-v: the namespace, file size, write concern and upsert fields).")
@click.option("--version", "show_version", is_flag=True, help="Print labkit's version and exit.")
@click.option("--numDecodingWorkers", "num_decoding_workers", type=int, hidden=True,
              help="Accepted for compatibility; labkit parses in one thread while writers send.")
@click.option("--numInsertionWorkers", "-j", "num_insertion_workers", type=click.IntRange(min=0), default=1, show_default=True,
              help="Parallel writers (0 counts as 1, as in mongoimport).")
@click.option("--batchSize", "batch_size", type=click.IntRange(min=1), metavar="N",
              help="Documents per write (as mongoimport's --batchSize). Default: 1000 while nobody else writes to the "
                   "collection, 1 while another client does (read from the server's top command), so an application "
                   "writing to it is not held up; a fixed size turns this off.")
def import_command(uri, workspace, target, db, quiet, collection, file_, positional, type_, header_line, fields, field_file,
                   ignore_blanks, json_array, mode, upsert_fields, drop, stop_on_error, maintain_insertion_order,
                   upsert, columns_have_types, parse_grace, legacy, use_array_index_fields, bypass_document_validation,
                   write_concern, verbose, show_version, num_decoding_workers, num_insertion_workers, batch_size):
    """Import Extended JSON (one document per line, or --jsonArray), CSV or TSV, like mongoimport.

    \b
    labkit import --uri mongodb://127.0.0.1:27017/ -d shop -c customers --file lost_records.json
    labkit generate customer360 -n 100 | labkit import -w ./lab -d shop -c customers

    The Database Tools' TLS, --username/--password, Kerberos, --config and timeout options are not
    taken: each is refused with the connection-string option to use instead (e.g. ?tls=true&tlsCAFile=...).
    """
    if show_version:
        click.echo(f"labkit import version {__version__} (mongoimport 100.x compatible)")
        return
    _refuse_unsupported()
    if upsert:
        if not quiet:
            say("--upsert is deprecated: it is the same as --mode=upsert")
        mode = "upsert"  # as mongoimport: --upsert wins over --mode
    uris = [arg for arg in positional if arg.startswith(("mongodb://", "mongodb+srv://"))]
    files = [arg for arg in positional if arg not in uris]
    if len(uris) > 1 or len(files) > 1:
        raise click.UsageError("error parsing positional arguments: provide only one file name and only one MongoDB "
                               "connection string. Connection strings must begin with mongodb:// or mongodb+srv:// "
                               "schemes")
    if uris:
        if uri:
            raise click.UsageError("give the connection string once: as --uri or as an argument, not both.")
        uri = uris[0]
    file_arg = files[0] if files else None
    if file_ and file_arg and file_ != file_arg:
        raise click.UsageError("give the file either as --file or as an argument, not both.")
    path = file_ or file_arg
    if not collection:
        if not path:
            raise click.UsageError("give --collection (-c): reading stdin, there is no file name to take it from.")
        collection = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        if not quiet:
            say(f"no collection specified; using filename '{collection}' as collection")
    try:
        wc = parse_write_concern(write_concern)
        if verbose and not quiet:
            if path and os.path.isfile(path):
                say(f"filesize: {os.path.getsize(path)} bytes")
            say(f"ns: {db}.{collection}")
            if upsert_fields or (mode and mode != "insert"):
                say(f"using upsert fields: {upsert_fields or '_id'}")
        with _busy(uri, workspace):
            report = import_file(_connection(uri, workspace, target), db, collection, path, type=type_,
                                 header_line=header_line, fields=fields, json_array=json_array, mode=mode,
                                 upsert_fields=upsert_fields, drop=drop, stop_on_error=stop_on_error,
                                 maintain_insertion_order=maintain_insertion_order,
                                 num_insertion_workers=max(1, num_insertion_workers), batch_size=batch_size,
                                 field_file=field_file, ignore_blanks=ignore_blanks, quiet=quiet,
                                 columns_have_types=columns_have_types, parse_grace=parse_grace, legacy=legacy,
                                 use_array_index_fields=use_array_index_fields, verbose=verbose,
                                 bypass_document_validation=bypass_document_validation, write_concern=wc,
                                 rejects=click.get_text_stream("stdout"))
        _record(uri, workspace, "import", target=target, db=db, collection=collection,
                file=os.path.abspath(path) if path else None, mode=report.mode, imported=report.imported,
                failed=report.failed)
    except ImportFailed as exc:
        _record(uri, workspace, "import", target=target, db=db, collection=collection,
                file=os.path.abspath(path) if path else None, mode=exc.report.mode, imported=exc.report.imported,
                failed=exc.report.failed)
        _fail(exc.reason)
        if not quiet:
            say(exc.report.closing_line())
        raise SystemExit(1) from None
    except LabkitError as exc:
        _fail(str(exc))
        raise SystemExit(1) from None


COMMANDS = [export_command, import_command]
