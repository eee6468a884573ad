#!/usr/bin/env python3
"""Writes facilities.csv, the demo's facility registry: every facility of the demo feeds with a name, a
state of QIN-QIO region 6 (TX, OK, AR, LA, NM), its type and a county — made up, deterministic (a hash of the
id), so make-demo.py's feeds are left as they are. Run from this directory: python3 make-facilities.py"""
import csv, glob, hashlib

STATES = {"TX": ["Harris", "Dallas", "Travis", "Bexar"], "OK": ["Oklahoma", "Tulsa"], "AR": ["Pulaski", "Benton"],
          "LA": ["Orleans", "Caddo"], "NM": ["Bernalillo", "Dona Ana"]}
WORDS = ["Mercy", "Saint Luke", "Riverside", "Baptist", "Memorial", "Good Samaritan", "Pioneer", "Prairie", "Lakeview", "Trinity"]
KIND = {"ACH": "Medical Center", "CAH": "Community Hospital", "LTACH": "Specialty Hospital", "NH": "Care Center", "NICU": "Children's Hospital"}

types = {}
for path in sorted(glob.glob("*.csv")):
    if path in ("facilities.csv", "truth.csv"):
        continue
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            fid = row["facility_id"]
            kind = row.get("facility_type") or ("NH" if fid.startswith("NH") else "NICU" if fid.startswith("NICU") else "ACH")
            types.setdefault(fid, kind)

with open("facilities.csv", "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["facility_id", "name", "state", "type", "county"])
    for fid in sorted(types):
        h = int(hashlib.sha256(fid.split(":")[0].encode()).hexdigest(), 16)
        state = sorted(STATES)[h % len(STATES)]
        county = STATES[state][(h // 7) % len(STATES[state])]
        name = f"{WORDS[(h // 97) % len(WORDS)]} {KIND[types[fid]]} {fid.split(':')[0][-3:]}"
        w.writerow([fid, name, state, types[fid], county])
