#!/usr/bin/env python3
"""Checks an orgdir Directory document (proto3 JSON of orgdir.v1.Directory).

Usage: check.py [FILE]        (default: org.json beside this script)

Checks what orgdird would refuse at --seed time, plus this example's own
rules: ids valid and unique; every parentId names a unit that appears
earlier in the array; names in en, fr and es; kinds are Unit.Kind names
(not KIND_UNSPECIFIED); no string over 512 bytes (less for the short
fields, as the server caps them); countryCode two upper-case letters;
no field the proto does not define. Python 3 standard library only.
Prints one line per problem and exits 1 if there is any, else prints a
summary and exits 0.
"""

import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO = os.path.join(HERE, "..", "..", "proto", "orgdir", "v1", "resources.proto")

ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
LANG_RE = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
REQUIRED_LANGS = ("en", "fr", "es")

KINDS = {
    "ORGANIZATION", "EXECUTIVE_OFFICE", "DEPUTY_OFFICE", "OFFICE",
    "DEPARTMENT", "DIVISION", "UNIT", "REGIONAL_OFFICE", "COUNTRY_OFFICE",
    "SUB_OFFICE", "LIAISON_OFFICE", "OTHER",
}

STRING_MAX = 512  # bytes, any string
SHORT_MAX = 256  # bytes: email, phone, city (OD_SHORT_MAX)
ACRONYM_MAX = 32  # bytes (src/common/unitcheck.c)
LANGS_MAX = 16  # entries per localized text (OD_LANGS_MAX)
DEPTH_MAX = 64  # levels below a root (OD_TREE_DEPTH_MAX)
INT32_MIN, INT32_MAX = -(2 ** 31), 2 ** 31 - 1

# Field names of each message, proto3 JSON (lowerCamelCase). Output-only
# fields (etag, createTime, updateTime) are not accepted in a hand-written
# document.
UNIT_FIELDS = {"id", "parentId", "kind", "name", "description", "acronym",
               "head", "location", "contact", "sortOrder"}
HEAD_FIELDS = {"title", "name", "email", "phone"}
LOCATION_FIELDS = {"countryCode", "city"}
CONTACT_FIELDS = {"email", "phone", "url"}
LOCALIZED_FIELDS = {"lang", "text"}


def kinds_from_proto(path):
    """The Unit.Kind names declared in resources.proto, or None if absent."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return None
    m = re.search(r"enum\s+Kind\s*\{(.*?)\}", text, re.S)
    if not m:
        return None
    return set(re.findall(r"^\s*([A-Z][A-Z0-9_]*)\s*=", m.group(1), re.M))


def no_duplicate_keys(pairs):
    seen = {}
    for k, v in pairs:
        if k in seen:
            raise ValueError("duplicate key %r" % k)
        seen[k] = v
    return seen


class Checker:
    def __init__(self):
        self.problems = []

    def fail(self, where, msg):
        self.problems.append("%s: %s" % (where, msg))

    def fields(self, where, obj, allowed):
        if not isinstance(obj, dict):
            self.fail(where, "must be an object")
            return False
        for k in obj:
            if k not in allowed:
                self.fail("%s.%s" % (where, k), "unknown field")
        return True

    def string(self, where, value, cap=STRING_MAX):
        if not isinstance(value, str):
            self.fail(where, "must be a string")
            return False
        n = len(value.encode("utf-8"))
        if cap < n <= STRING_MAX:  # longer ones are reported by strings_in
            self.fail(where, "%d bytes, over the %d-byte cap" % (n, cap))
        if value != value.strip():
            self.fail(where, "leading or trailing white space")
        return True

    def strings_in(self, where, obj):
        """Every string anywhere inside obj is at most STRING_MAX bytes."""
        if isinstance(obj, str):
            n = len(obj.encode("utf-8"))
            if n > STRING_MAX:
                self.fail(where, "%d bytes, over %d" % (n, STRING_MAX))
        elif isinstance(obj, dict):
            for k, v in obj.items():
                self.strings_in("%s.%s" % (where, k), v)
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                self.strings_in("%s[%d]" % (where, i), v)

    def localized(self, where, value, required):
        if not isinstance(value, list):
            self.fail(where, "must be an array of {lang, text}")
            return
        if len(value) > LANGS_MAX:
            self.fail(where, "more than %d languages" % LANGS_MAX)
        langs = set()
        for i, e in enumerate(value):
            w = "%s[%d]" % (where, i)
            if not self.fields(w, e, LOCALIZED_FIELDS):
                continue
            lang, text = e.get("lang"), e.get("text")
            if not isinstance(lang, str) or not LANG_RE.match(lang):
                self.fail(w + ".lang", "not a BCP 47 tag: %r" % (lang,))
            elif lang.lower() in langs:
                self.fail(w + ".lang", "%r given twice" % lang)
            else:
                langs.add(lang.lower())
            if self.string(w + ".text", text) and not text:
                self.fail(w + ".text", "empty")
        for lang in required:
            if lang not in langs:
                self.fail(where, "no %r text" % lang)

    def unit(self, where, u, ids, depth):
        if not isinstance(u, dict):
            self.fail(where, "must be an object")
            return
        uid = u.get("id")
        if not isinstance(uid, str) or not ID_RE.match(uid):
            self.fail(where + ".id", "not a valid id: %r" % (uid,))
            uid = None
        elif uid in ids:
            self.fail(where + ".id", "duplicate id %r" % uid)
            uid = None
        where = "%s(%s)" % (where, uid or "?")
        self.fields(where, u, UNIT_FIELDS)
        self.strings_in(where, u)

        parent = u.get("parentId", "")
        if not isinstance(parent, str):
            self.fail(where + ".parentId", "must be a string")
        elif parent and parent not in ids:
            self.fail(where + ".parentId",
                      "%r is not the id of an earlier unit" % parent)

        kind = u.get("kind")
        if kind not in KINDS:
            self.fail(where + ".kind", "not a Unit.Kind name: %r" % (kind,))

        self.localized(where + ".name", u.get("name"), REQUIRED_LANGS)
        if "description" in u:
            self.localized(where + ".description", u["description"], ())
        if "acronym" in u:
            self.string(where + ".acronym", u["acronym"], ACRONYM_MAX)

        head = u.get("head")
        if head is not None and self.fields(where + ".head", head, HEAD_FIELDS):
            if "title" in head:
                self.localized(where + ".head.title", head["title"], ())
            for k in ("name", "email", "phone"):
                if k in head:
                    self.string(where + ".head." + k, head[k],
                                STRING_MAX if k == "name" else SHORT_MAX)

        loc = u.get("location")
        if loc is not None and self.fields(where + ".location", loc,
                                           LOCATION_FIELDS):
            cc = loc.get("countryCode", "")
            if not isinstance(cc, str) or not COUNTRY_RE.match(cc):
                self.fail(where + ".location.countryCode",
                          "not two upper-case letters: %r" % (cc,))
            if "city" in loc:
                self.string(where + ".location.city", loc["city"], SHORT_MAX)

        contact = u.get("contact")
        if contact is not None and self.fields(where + ".contact", contact,
                                               CONTACT_FIELDS):
            for k, v in contact.items():
                self.string(where + ".contact." + k, v,
                            STRING_MAX if k == "url" else SHORT_MAX)

        so = u.get("sortOrder", 0)
        if (not isinstance(so, int) or isinstance(so, bool)
                or not INT32_MIN <= so <= INT32_MAX):
            self.fail(where + ".sortOrder", "not an int32: %r" % (so,))

        if uid is not None:
            d = 0 if not parent or parent not in depth else depth[parent] + 1
            if d > DEPTH_MAX:
                self.fail(where, "deeper than %d levels" % DEPTH_MAX)
            ids.add(uid)
            depth[uid] = d

    def directory(self, doc):
        if not self.fields("$", doc, {"units", "revision", "countries"}):
            return {}
        units = doc.get("units")
        if not isinstance(units, list) or not units:
            self.fail("units", "must be a non-empty array")
            return {}
        ids, depth = set(), {}
        for i, u in enumerate(units):
            self.unit("units[%d]" % i, u, ids, depth)
        regional = {u.get("id") for u in units if u.get("kind") == "REGIONAL_OFFICE"}
        seen = set()
        for i, c in enumerate(doc.get("countries", [])):
            self.country("countries[%d]" % i, c, regional, seen)
        return depth

    def country(self, where, c, regional, seen):
        if not self.fields(where, c, {"code", "membership", "presence", "regionUnitId",
                                      "notes", "name"}):
            return
        code = c.get("code")
        if not isinstance(code, str) or len(code) != 2 or not code.isascii() \
                or not code.isupper():
            self.fail(where + ".code", "not an ISO 3166-1 alpha-2 code: %r" % (code,))
        elif code in seen:
            self.fail(where + ".code", "%s listed twice" % code)
        seen.add(code)
        m = c.get("membership", {})
        if m.get("status", "NONE") not in ("NONE", "MEMBER_STATE", "OBSERVER"):
            self.fail(where + ".membership.status", "unknown status %r" % (m.get("status"),))
        region = c.get("regionUnitId")
        if region is not None and region not in regional:
            self.fail(where + ".regionUnitId", "%r is not a REGIONAL_OFFICE unit" % (region,))
        if "name" in c:
            self.localized(where + ".name", c["name"], False)


def main(argv):
    path = argv[1] if len(argv) > 1 else os.path.join(HERE, "org.json")
    proto_kinds = kinds_from_proto(PROTO)
    if proto_kinds is not None and proto_kinds - {"KIND_UNSPECIFIED"} != KINDS:
        print("check.py: the Kind list here differs from %s: update KINDS"
              % os.path.normpath(PROTO), file=sys.stderr)
        return 2
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f, object_pairs_hook=no_duplicate_keys)
    except (OSError, ValueError) as e:
        print("%s: %s" % (path, e), file=sys.stderr)
        return 1
    c = Checker()
    depth = c.directory(doc)
    for p in c.problems:
        print("%s: %s" % (path, p))
    if c.problems:
        print("%s: %d problem(s)" % (path, len(c.problems)), file=sys.stderr)
        return 1
    levels = {}
    for d in depth.values():
        levels[d] = levels.get(d, 0) + 1
    print("%s: ok: %d units, %d levels (%s)" % (
        path, len(depth), len(levels),
        ", ".join("%d at depth %d" % (levels[d], d) for d in sorted(levels))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
