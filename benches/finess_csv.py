"""Baseline for the FINESS import benchmark: read the same etalab CSV with Python's csv module into dicts.

Usage: python3 benches/finess_csv.py FILE  -> prints the seconds spent and the record counts.
Same work as the Rust importer's parsing step (decode, split, one dict per record), without validation.
"""
import csv
import sys
import time

ET = ("nofinesset nofinessej rs rslongue complrs compldistrib numvoie typvoie voie compvoie lieuditbp commune "
      "departement libdepartement ligneacheminement telephone telecopie categetab libcategetab categagretab "
      "libcategagretab siret codeape codemft libmft codesph libsph dateouv dateautor datemaj numuai").split()
EJ = ("nofiness rs rslongue complrs numvoie typvoie voie compvoie compldistrib lieuditbp commune "
      "ligneacheminement departement libdepartement telephone statutjuridique libstatutjuridique categetab "
      "libcategetab siren codeape datecrea").split()
GEO = "nofinesset coordxet coordyet sourcecoordet datemaj".split()


def main(path):
    start = time.perf_counter()
    raw = open(path, "rb").read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")
    rows = {"structureet": [], "structureej": [], "geolocalisation": []}
    fields = {"structureet": ET, "structureej": EJ, "geolocalisation": GEO}
    reader = csv.reader(text.splitlines(), delimiter=";")
    next(reader, None)
    for rec in reader:
        if not rec:
            continue
        kind = rec[0]
        names = fields.get(kind)
        if names is None:
            continue
        rows[kind].append(dict(zip(names, rec[1:])))
    elapsed = time.perf_counter() - start
    print(f"{elapsed:.3f} {len(rows['structureet'])} {len(rows['structureej'])} {len(rows['geolocalisation'])}")


if __name__ == "__main__":
    main(sys.argv[1])
