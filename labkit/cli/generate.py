"""`labkit generate`: documents from an mgeneratejs template, as Extended JSON lines.

Works like `mgeneratejs TEMPLATE -n N`, so `labkit generate T -n 100 | labkit
import ...` replaces `mgeneratejs T -n 100 | mongoimport ...`.
"""
from __future__ import annotations

import os
import sys

import click

# Below this many documents a progress bar would only flicker.
PROGRESS_MIN = 10_000


@click.command("generate")
@click.argument("template")
@click.option("-n", "--number", "number", default="1", show_default=True, metavar="N",
              help="How many documents to generate.")
@click.option("--seed", default=None, metavar="S",
              help="Seed (a whole number): the same template, N and seed give byte-identical output.")
@click.option("--jsonArray", "json_array", is_flag=True, help="Write one JSON array instead of one document per line.")
@click.option("--jsonFormat", "json_format", type=click.Choice(["relaxed", "canonical"]), default="relaxed",
              show_default=True, help="Extended JSON mode, as in mongoexport.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def generate(template: str, number: str, seed: str | None, json_array: bool, json_format: str, quiet: bool) -> None:
    """Generate documents from an mgeneratejs TEMPLATE.

    TEMPLATE is a template file, an inline JSON string ('{name: "$name"}'),
    '-' to read standard input, or the name of a bundled template
    (customer360). Documents go to standard output, one relaxed Extended JSON
    document per line; a progress bar goes to standard error for large N when
    standard output is not a terminal.

    \b
    Examples:
      labkit generate customer360 -n 100 --seed 42 > customers.json
      labkit generate '{name: "$name", age: "$age"}' -n 5
      cat template.json | labkit generate - -n 1000 | labkit import ...
    """
    from labkit.generate import write_documents
    from labkit.generate.engine import check_count, check_seed, compile_template
    from labkit.generate.sources import read_template

    count = check_count(number)
    seed_value = check_seed(seed)
    text, source = read_template(template, stdin=sys.stdin)
    compiled = compile_template(text, source)
    out = sys.stdout
    progress = not quiet and count >= PROGRESS_MIN and not out.isatty()
    try:
        write_documents(compiled, count, out, seed=seed_value, json_array=json_array,
                        json_format=json_format, progress=progress)
    except BrokenPipeError:  # the reader stopped early, e.g. `labkit generate ... | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


COMMANDS = [generate]
