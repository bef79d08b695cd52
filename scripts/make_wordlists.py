#!/usr/bin/env python3
"""Make labkit/data/wordlists/{chance,faker}.json from local copies of chance.js and faker.js.

    python scripts/make_wordlists.py NODE_MODULES [--check]

NODE_MODULES is a folder holding chance@1.1.13 and faker@3.1.0, the versions
mgeneratejs 0.6.0 installs, e.g. after `npm install --prefix DIR
mgeneratejs@0.6.0`, DIR/node_modules. Node.js reads the lists out of those
packages (chance.get(...), chance.tlds(), faker.definitions); nothing is
downloaded. The lists are written in the shape labkit's chance and faker
operators index: records become arrays in a fixed field order
(["Alabama", "AL"]), so an entry is one index away. With --check the files
are compared with what is committed instead of written (exit 1 if they differ).

Word lists: chance@1.1.13 (MIT License, Copyright (c) Victor Quinn) and
faker@3.1.0, English locale (MIT License, Copyright (c) Marak Squires and
contributors).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "labkit" / "data" / "wordlists"

# Reads the raw lists; prints one JSON object {"chance": {...}, "faker": {...}}.
READER = r"""
const path = require('path');
const root = process.argv[1];
const Chance = require(path.join(root, 'chance'));
const faker = require(path.join(root, 'faker'));
const chance = new Chance();
const names = ['firstNames', 'lastNames', 'countries', 'us_states_and_dc', 'territories', 'armed_forces',
  'country_regions', 'counties', 'street_suffixes', 'cc_types', 'currency_types', 'colorNames', 'profession',
  'company', 'months', 'postcodeAreas'];
const out = {chance: {tlds: chance.tlds()}, faker: {}};
for (const name of names) out.chance[name] = chance.get(name);
const d = faker.definitions;
out.faker = {
  name: {first_name: d.name.first_name, last_name: d.name.last_name, prefix: d.name.prefix, suffix: d.name.suffix,
         title: d.name.title},
  address: {city_prefix: d.address.city_prefix, city_suffix: d.address.city_suffix,
            street_suffix: d.address.street_suffix, county: d.address.county, country: d.address.country,
            country_code: d.address.country_code, state: d.address.state, state_abbr: d.address.state_abbr,
            postcode: d.address.postcode},
  company: {suffix: d.company.suffix, adjective: d.company.adjective, descriptor: d.company.descriptor,
            noun: d.company.noun, bs_adjective: d.company.bs_adjective, bs_verb: d.company.bs_verb,
            bs_noun: d.company.bs_noun},
  internet: {free_email: d.internet.free_email, domain_suffix: d.internet.domain_suffix},
  lorem: {words: d.lorem.words},
  phone_number: {formats: d.phone_number.formats},
  commerce: {color: d.commerce.color, department: d.commerce.department, product_name: d.commerce.product_name},
  finance: {account_type: d.finance.account_type, transaction_type: d.finance.transaction_type,
            currency: d.finance.currency},
  date: {month: d.date.month, weekday: d.date.weekday},
};
process.stdout.write(JSON.stringify(out));
"""


def read_packages(node_modules: Path) -> dict:
    node = shutil.which("node")
    if not node:
        sys.exit("node is not installed: Node.js is needed to read the chance.js and faker.js packages")
    for package in ("chance", "faker"):
        if not (node_modules / package / "package.json").is_file():
            sys.exit(f"{node_modules} has no {package} package; pass the node_modules folder of mgeneratejs@0.6.0")
    result = subprocess.run([node, "-e", READER, str(node_modules.resolve())], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def fields(records: list, *names) -> list:
    """Records (JavaScript objects) as arrays of the named fields."""
    return [[record[name] for name in names] for record in records]


def chance_lists(raw: dict) -> dict:
    return {
        "first_names": raw["firstNames"],  # {gender: {nationality: [...]}}
        "last_names": raw["lastNames"],  # {nationality: [...]}
        "countries": fields(raw["countries"], "name", "abbreviation"),
        "us_states_and_dc": fields(raw["us_states_and_dc"], "name", "abbreviation"),
        "territories": fields(raw["territories"], "name", "abbreviation"),
        "armed_forces": fields(raw["armed_forces"], "name", "abbreviation"),
        "country_regions": {c: fields(r, "name", "abbreviation") for c, r in raw["country_regions"].items()},
        "uk_counties": [county["name"] for county in raw["counties"]["uk"]],
        "street_suffixes": {c: fields(s, "name", "abbreviation") for c, s in raw["street_suffixes"].items()},
        "cc_types": fields(raw["cc_types"], "name", "short_name", "prefix", "length"),
        "currency_types": fields(raw["currency_types"], "code", "name"),
        "color_names": raw["colorNames"],
        "professions": raw["profession"],
        "companies": raw["company"],
        "months": fields(raw["months"], "name", "short_name", "numeric", "days"),
        "tlds": raw["tlds"],
        "postcode_areas": [area["code"] for area in raw["postcodeAreas"]],
    }


def faker_lists(raw: dict) -> dict:
    name, address, company = raw["name"], raw["address"], raw["company"]
    return {
        "first_names": name["first_name"],
        "last_names": name["last_name"],
        "name_prefixes": name["prefix"],
        "name_suffixes": name["suffix"],
        "title_descriptors": name["title"]["descriptor"],
        "title_levels": name["title"]["level"],
        "title_jobs": name["title"]["job"],
        "city_prefixes": address["city_prefix"],
        "city_suffixes": address["city_suffix"],
        "street_suffixes": address["street_suffix"],
        "counties": address["county"],
        "countries": address["country"],
        "country_codes": address["country_code"],
        "states": address["state"],
        "state_abbrs": address["state_abbr"],
        "postcodes": address["postcode"],
        "company_suffixes": company["suffix"],
        "company_adjectives": company["adjective"],
        "company_descriptors": company["descriptor"],
        "company_nouns": company["noun"],
        "bs_adjectives": company["bs_adjective"],
        "bs_verbs": company["bs_verb"],
        "bs_nouns": company["bs_noun"],
        "free_emails": raw["internet"]["free_email"],
        "domain_suffixes": raw["internet"]["domain_suffix"],
        "lorem_words": raw["lorem"]["words"],
        "phone_formats": raw["phone_number"]["formats"],
        "commerce_colors": raw["commerce"]["color"],
        "departments": raw["commerce"]["department"],
        "product_adjectives": raw["commerce"]["product_name"]["adjective"],
        "product_materials": raw["commerce"]["product_name"]["material"],
        "products": raw["commerce"]["product_name"]["product"],
        "account_types": raw["finance"]["account_type"],
        "transaction_types": raw["finance"]["transaction_type"],
        # faker's currency table is {name: {code, symbol}}; kept as [name, code] in its order.
        "currencies": [[label, entry["code"]] for label, entry in raw["finance"]["currency"].items()],
        "months": raw["date"]["month"]["wide"],
        "months_abbr": raw["date"]["month"]["abbr"],
        "weekdays": raw["date"]["weekday"]["wide"],
        "weekdays_abbr": raw["date"]["weekday"]["abbr"],
    }


def render(lists: dict) -> str:
    """One list per line, so a diff shows which list changed.

    Keys inside a list's object (genders, nationalities, countries) are sorted:
    $last with nationality "*" draws from all nationalities' names in this order.
    """
    lines = [f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False, sort_keys=True)}" for key, value in lists.items()]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("node_modules", type=Path, help="folder holding the chance and faker packages")
    parser.add_argument("--check", action="store_true", help="compare with the committed files instead of writing")
    args = parser.parse_args()
    raw = read_packages(args.node_modules)
    files = {"chance.json": render(chance_lists(raw["chance"])), "faker.json": render(faker_lists(raw["faker"]))}
    differ = False
    for name, text in files.items():
        path = OUT / name
        if args.check:
            same = path.is_file() and path.read_text(encoding="utf-8") == text
            print(f"{path}: {'up to date' if same else 'DIFFERS'}")
            differ = differ or not same
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path} ({len(text)} characters)")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
