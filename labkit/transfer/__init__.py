"""mongoexport / mongoimport-compatible export and import.

``export_collection`` writes a collection (or what a query selects) as
Extended JSON v2, one document per line, or CSV; ``import_file`` reads such
files (and mongoexport's, and mgeneratejs output) back in insert, upsert,
merge or delete mode. Same flags, file format and messages as the mongo tools,
so what a learner does in the lab is what they do in production:

    mongoexport --uri $TEMP -d shop -c customers -q '{"firstname": {"$exists": true}}' -o lost.json
    mongoimport --uri $MAIN -d shop -c customers --file lost.json

    export_collection(ws.temp, "shop", "customers", query='{"firstname": {"$exists": true}}', out="lost.json")
    import_file(ws.main, "shop", "customers", "lost.json")
"""
from labkit.transfer.export import ExportReport, export_collection
from labkit.transfer.import_ import ImportFailed, ImportReport, import_file

__all__ = ["ExportReport", "ImportFailed", "ImportReport", "export_collection", "import_file"]
