#!/usr/bin/env bash
# cli_country_test.sh - `orgctl country ...`, `orgctl stats` and the units'
# --country end to end: a real orgdird on its own data directory and ipc://
# socket, driven through the CLI; checks outputs and exit codes.
#
#   ORGDIRD=path/to/orgdird ORGCTL=path/to/orgctl bash cli_country_test.sh
#
# The reference list is Debian 12's iso-codes (249 countries of ISO 3166-1,
# French and Spanish names from its catalogues).
set -u

OD_TEST_NAME=cli-country
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# rows: data rows of the last table (stdout without its header).
rows() {
	tail -n +2 "$tmp/out"
}
# name_line: the unlabelled `name:` line of a `country get` record.
name_line() {
	grep '^name:' "$tmp/out"
}
# expect_name NAME TEXT: the record's name in the run's language is TEXT.
expect_name() {
	if [[ "$(name_line)" == "name:"*" $2" ]]; then ok; else bad "$1: name line is '$(name_line)', wanted '$2'"; fi
}
# expect_row NAME CODE / expect_no_row NAME CODE: a table row for CODE.
expect_row() {
	if rows | grep -q "^$2 "; then ok; else bad "$1: no row for $2"; fi
}
expect_no_row() {
	if ! rows | grep -q "^$2 "; then ok; else bad "$1: a row for $2"; fi
}
# expect_nonzero NAME: any failure, reported with its code and message.
expect_nonzero() {
	if [[ $rc -ne 0 ]]; then
		ok
		echo "note: $1: exit $rc: $(head -n 1 "$tmp/err")"
	else
		bad "$1: exit 0, wanted a failure"
	fi
}

# --- without a server: help and usage errors -------------------------------------

ctl --help
expect_rc "orgctl --help" 0
expect_out "orgctl --help lists country get" "country get"
expect_out "orgctl --help lists country ls" "country ls"
expect_out "orgctl --help lists country set" "country set"
expect_out "orgctl --help lists stats" "stats"
ctl country --help
expect_rc "orgctl country --help" 0
expect_out "orgctl country --help" "orgctl country set CC"
ctl help country ls
expect_rc "orgctl help country ls" 0
expect_out "country ls --help: --sort" "--sort KEY"
expect_out "country ls --help: --member" "--member "
expect_out "country ls --help: --page-size" "countries per request"
ctl country set -h
expect_rc "orgctl country set -h" 0
expect_out "country set --help: --presence" "--presence LEVEL"
expect_out "country set --help: --if-match" "country's etag"
expect_out "country set --help: LANG= removes" "LANG= with no text removes"
ctl stats --help
expect_rc "orgctl stats --help" 0
ctl unit add --help
expect_out "unit add --help still says: position among siblings" "position among siblings"

ctl country
expect_rc "country without a verb" 2
ctl country get
expect_rc "country get without a code" 2
ctl country get FR DE
expect_rc "country get with two codes" 2
ctl country set FR
expect_rc "country set without fields" 2
expect_err "country set without fields message" "nothing to change"
ctl country set FR --membership king
expect_rc "bad --membership" 2
expect_err "bad --membership message" "'king'"
ctl country set FR --member-since 19x1
expect_rc "bad --member-since" 2
ctl country set FR --member-since -5
expect_rc "negative --member-since" 2
ctl country set FR --presence everywhere
expect_rc "bad --presence" 2
ctl country set FR --name French
expect_rc "bad --name" 2
ctl country set FR --kind department
expect_rc "unit option on country set" 2
ctl country ls --present --absent
expect_rc "--present and --absent" 2
ctl country ls --sort size
expect_rc "bad --sort" 2
ctl country ls --region ''
expect_rc "empty --region" 2
ctl country ls --page-size 0
expect_rc "country ls --page-size 0" 2
ctl country ls FR
expect_rc "country ls with an argument" 2
ctl stats now
expect_rc "stats with an argument" 2
ctl unit add x --sort name --kind office --name en=X
expect_rc "unit --sort still wants a number" 2

# --- a server ----------------------------------------------------------------------

if ! start_server "$sock" "$tmp/data"; then
	failed=$((failed + 1))
	finish
	exit 1
fi

ctl info --json
expect_json "info lists the country methods" 'all(m in d["methods"] for m in ["GetCountry", "ListCountries", "UpdateCountry", "GetStats"])'

# get: names per language, codes in any case and alpha-3, unknown codes.
ctl country get FR
expect_rc "country get FR" 0
expect_name "country get FR" "France"
expect_out "country get FR: alpha-3" "FRA"
expect_out "country get FR: numeric" "250"
expect_out "country get FR: membership" "membership:       none"
expect_out "country get FR: presence" "presence:         absent"
expect_out "country get FR: Spanish labelled" "name [es]:        Francia"
ctl --lang fr country get FR
expect_name "country get FR --lang fr" "France"
ctl country get FR --lang es
expect_name "country get FR --lang es" "Francia"
ORGDIR_LANG=es "$ORGCTL" --server "$sock" country get fr >"$tmp/out" 2>"$tmp/err"
rc=$?
expect_name "ORGDIR_LANG=es country get fr" "Francia"
ctl country get fra
expect_rc "country get fra (alpha-3, lower case)" 0
expect_out "country get fra is FR" "code:             FR"
ctl country get fr --json
expect_rc "country get --json" 0
expect_json "country get --json" 'd["code"] == "FR" and d["alpha3"] == "FRA" and d["numeric"] == "250" and lt(d["name"], "en") == "France" and lt(d["name"], "es") == "Francia"'
ctl country get XX
expect_rc "country get XX" 13
expect_err "country get XX names XX" "XX"
expect_err "country get XX: status" "orgctl: INVALID_ARGUMENT:"
ctl country get FRAN
expect_rc "country get FRAN" 13
ctl country get ci --lang fr
expect_rc "country get ci" 0
expect_name "country get ci --lang fr" "Côte d'Ivoire"

# ls: all 249, across pages, no duplicates.
ctl country ls
expect_rc "country ls" 0
expect_out "country ls header" "CODE  NAME"
n=$(rows | wc -l)
if [[ $n -eq 249 ]]; then ok; else bad "country ls: $n rows, wanted 249"; fi
if [[ "$(rows | head -n 1 | cut -c1-2)" == AD && "$(rows | tail -n 1 | cut -c1-2)" == ZW ]]; then
	ok
else
	bad "country ls: by code, AD first and ZW last"
fi
ctl country ls --json
expect_json "country ls --json total_size 249" 'd["totalSize"] == 249 and len(d["countries"]) == 249 and "nextPageToken" not in d'
ctl country ls --page-size 50
expect_rc "country ls --page-size 50" 0
n=$(rows | wc -l)
u=$(rows | cut -d' ' -f1 | sort -u | wc -l)
if [[ $n -eq 249 && $u -eq 249 ]]; then ok; else bad "country ls --page-size 50: $n rows, $u distinct, wanted 249"; fi
ctl country ls --page-size 7 --json
expect_json "country ls --page-size 7 --json" 'len({c["code"] for c in d["countries"]}) == 249 and [c["code"] for c in d["countries"]] == sorted(c["code"] for c in d["countries"])'
ctl country ls --limit 10 --page-size 3
n=$(rows | wc -l)
if [[ $n -eq 10 ]]; then ok; else bad "country ls --limit 10: $n rows"; fi
ctl country ls --limit 10 --json
expect_json "country ls --limit 10 --json keeps the token" 'len(d["countries"]) == 10 and d["totalSize"] == 249 and d.get("nextPageToken", "") != ""'

# Sorting by name in a language, accents and case ignored.
ctl --lang fr country ls --sort name --json
expect_rc "country ls --sort name --lang fr" 0
expect_json "sort name fr: all 249" 'len(d["countries"]) == 249'
expect_json "sort name fr: Afrique du Sud before Albanie" '(lambda n: n.index("Afrique du Sud") < n.index("Albanie"))([lt(c["name"], "fr") for c in d["countries"]])'
expect_json "sort name fr: Égypte among the E, before Équateur and Érythrée" '(lambda n: n.index("Danemark") < n.index("Égypte") < n.index("Équateur") < n.index("Érythrée") < n.index("Espagne") < n.index("Zimbabwe"))([lt(c["name"], "fr") for c in d["countries"]])'
ctl --lang fr country ls --sort name --page-size 20
n=$(rows | wc -l)
if [[ $n -eq 249 ]]; then ok; else bad "country ls --sort name --page-size 20: $n rows"; fi
if [[ "$(rows | head -n 1)" == "AF    Afghanistan "* ]]; then ok; else bad "sort name fr: Afghanistan first: $(rows | head -n 1)"; fi
e=$(rows | grep -n '^EG ' | cut -d: -f1)
z=$(rows | grep -n '^ZW ' | cut -d: -f1)
if [[ -n "$e" && -n "$z" && $e -lt 100 && $e -lt $z ]]; then ok; else bad "sort name fr: Égypte at row '$e' (Zimbabwe '$z')"; fi
ctl country ls --sort name --json
expect_json "sort name en" '(lambda n: n[0] == "Afghanistan" and n.index("Egypt") < n.index("El Salvador") < n.index("Equatorial Guinea"))([lt(c["name"], "en") for c in d["countries"]])'

# set: membership, the filters, stats.
ctl country set FR --membership member --member-since 1951
expect_rc "country set FR member 1951" 0
expect_out "set prints the record" "member state since 1951"
ctl country ls --member
expect_rc "country ls --member" 0
expect_row "ls --member has FR" FR
n=$(rows | wc -l)
if [[ $n -eq 1 ]]; then ok; else bad "ls --member: $n rows, wanted 1"; fi
if rows | grep -q '^FR  *France  *member  *1951 '; then ok; else bad "ls --member: FR row"; fi
ctl country ls --observer
expect_rc "country ls --observer" 0
expect_no_row "ls --observer lacks FR" FR
ctl country ls --non-member --json
expect_json "ls --non-member: the 248 others" 'd["totalSize"] == 248 and "FR" not in [c["code"] for c in d["countries"]]'
ctl stats
expect_rc "stats" 0
expect_out "stats: 1 member state (singular)" "1 member state,"
expect_out "stats: 0 observers" "0 observers"
expect_out "stats: present in 0 countries" "present in 0 countries (0 with a country office)"
ctl stats --json
expect_rc "stats --json" 0
expect_json "stats --json memberStates 1" 'd["memberStates"] == 1 and d.get("observers", 0) == 0 and d["countriesKnown"] == 249'
expect_json "stats --json every kind" 'len(d["unitsByKind"]) == 12 and d["unitsByKind"][0]["kind"] == "ORGANIZATION"'

ctl country set be --membership observer --member-since 1960
expect_rc "country set be (lower case) observer" 0
expect_out "country set be is BE" "code:             BE"
ctl country set DE --membership member
expect_rc "country set DE member" 0
ctl country ls --member --observer
n=$(rows | wc -l)
if [[ $n -eq 3 ]]; then ok; else bad "ls --member --observer: $n rows, wanted 3"; fi
ctl stats
expect_out "stats: 2 member states, 1 observer" "2 member states, 1 observer,"
ctl country set DE --membership none
expect_rc "country set DE none" 0
ctl stats --json
expect_json "stats after DE none" 'd["memberStates"] == 1 and d["observers"] == 1'
ctl country set FR --member-since 1952 --json
expect_json "--member-since alone keeps the status" 'd["membership"]["status"] == "MEMBER_STATE" and d["membership"]["sinceYear"] == 1952'
ctl country set FR --member-since 0 --json
expect_json "--member-since 0 clears the year" '"sinceYear" not in d["membership"] and d["membership"]["status"] == "MEMBER_STATE"'
ctl country set FR --member-since 1951 --notes "Founding member."
expect_rc "set year and notes" 0
expect_out "notes shown" "notes:            Founding member."

# Notes are free text over several lines, but hold no other control
# character.
ctl country set PT --notes "$(printf 'Line one.\nLine two.')"
expect_rc "notes of two lines" 0
ctl country set PT --notes "$(printf 'Bad\033[2J')"
expect_rc "notes with an escape sequence" 13
expect_err "notes: the control character named" "notes holds the control character U+001B"
ctl country get PT --json
expect_json "the refused notes changed nothing" 'd["notes"] == "Line one.\nLine two."'

# Optimistic concurrency: a stale etag is ABORTED (exit 20).
ctl country get FR --json
stale=$(json_field 'd["etag"]')
ctl country set FR --notes "Founding member (1951)."
expect_rc "set notes" 0
ctl country set FR --notes "Lost." --if-match "$stale"
expect_rc "set with a stale etag" 20
expect_err "stale etag message" "orgctl: ABORTED:"
ctl country get FR --json
expect_json "stale write changed nothing" 'd["notes"] == "Founding member (1951)."'
fresh=$(json_field 'd["etag"]')
ctl country set FR --notes "" --if-match "$fresh" --json
expect_rc "set with the current etag" 0
expect_json "--notes '' clears them" '"notes" not in d and d["membership"]["sinceYear"] == 1951'

# Name overrides: the languages given replace the overrides; LANG= removes.
ctl country set FR --name "fr=République française"
expect_rc "set a French name override" 0
ctl --lang fr country get FR
expect_name "override in French" "République française"
ctl country get FR --json
expect_json "override keeps the ISO names" 'lt(d["name"], "en") == "France" and lt(d["name"], "es") == "Francia" and lt(d["name"], "fr") == "République française"'
ctl country set FR --name fr=
expect_rc "remove the override" 0
ctl --lang fr country get FR --json
expect_json "the ISO name is back" 'lt(d["name"], "fr") == "France"'

# Presence follows the units located in the country.
ctl unit add root --kind organization --name en=Root
expect_rc "add root" 0
ctl unit add co-fr --parent root --kind country_office --name en=Paris --country FR --city Paris
expect_rc "add co-fr in FR" 0
ctl country get FR --json
expect_json "FR present through co-fr" 'd["presence"]["level"] == "COUNTRY_OFFICE" and d["presence"]["officeUnitIds"] == ["co-fr"] and "declared" not in d["presence"]'
ctl country get FR
expect_out "record: presence derived" "country office (derived from the offices)"
expect_out "record: offices" "offices:          co-fr"
ctl country ls --present
expect_row "ls --present has FR" FR
if rows | grep -q '^FR .*country office'; then ok; else bad "ls --present: FR presence column"; fi
ctl country ls --absent --json
expect_json "ls --absent lacks FR" 'd["totalSize"] == 248 and "FR" not in [c["code"] for c in d["countries"]]'
ctl stats
expect_out "stats: present in 1 country" "present in 1 country (1 with a country office)"
expect_out "stats: units by kind" "2 units: 1 organization, 1 country office"
ctl unit add so-lyon --parent co-fr --kind sub_office --name en=Lyon --country fr --city Lyon
expect_rc "add so-lyon with --country fr" 0
ctl unit get so-lyon --json
expect_json "--country fr stored as FR" 'd["location"]["countryCode"] == "FR"'
ctl country get FR --json
expect_json "FR offices: co-fr and so-lyon" 'd["presence"]["officeUnitIds"] == ["co-fr", "so-lyon"] and d["presence"]["level"] == "COUNTRY_OFFICE"'
ctl unit rm so-lyon
expect_rc "rm so-lyon" 0
ctl unit rm co-fr
expect_rc "rm co-fr" 0
ctl country get FR --json
expect_json "FR absent after its offices are deleted" 'd.get("presence", {}).get("level", "ABSENT") == "ABSENT" and not d.get("presence", {}).get("officeUnitIds")'
ctl country ls --present
expect_no_row "ls --present lacks FR" FR
ctl stats
expect_out "stats: present in 0 countries again" "present in 0 countries"
expect_out "stats: one unit left" "1 unit: 1 organization"

# Moving an office to another country moves the presence.
ctl unit add co-x --parent root --kind country_office --name en=Office --country FR
expect_rc "add co-x in FR" 0
ctl unit set co-x --country de
expect_rc "move co-x to DE (lower case)" 0
ctl country get FR --json
expect_json "FR absent after the move" 'd.get("presence", {}).get("level", "ABSENT") == "ABSENT"'
ctl country get DE --json
expect_json "DE present after the move" 'd["presence"]["level"] == "COUNTRY_OFFICE" and d["presence"]["officeUnitIds"] == ["co-x"]'
ctl unit rm co-x
expect_rc "rm co-x" 0

# Presence declared by hand, with no unit.
ctl country set FR --presence country-office
expect_rc "declare FR present" 0
expect_out "record: presence declared" "country office (declared)"
ctl country get FR --json
expect_json "declared presence" 'd["presence"]["level"] == "COUNTRY_OFFICE" and d["presence"]["declared"] == "COUNTRY_OFFICE"'
ctl country ls --present
expect_row "ls --present has the declared FR" FR
ctl stats --json
expect_json "stats counts the declared presence" 'd["countriesWithPresence"] == 1 and d["countriesWithCountryOffice"] == 1'
ctl country set FR --presence sub-offices --json
expect_json "declared sub-offices" 'd["presence"]["level"] == "SUB_OFFICES"'
ctl stats --json
expect_json "stats: sub-offices present, no country office" 'd["countriesWithPresence"] == 1 and d.get("countriesWithCountryOffice", 0) == 0'
ctl country set FR --presence auto
expect_rc "back to derived" 0
ctl country get FR --json
expect_json "auto: absent again" 'd.get("presence", {}).get("level", "ABSENT") == "ABSENT" and "declared" not in d.get("presence", {})'
ctl country get FR
if grep -qx 'presence: *absent' "$tmp/out"; then ok; else bad "record: plain absent after auto"; fi

# Units with bad countries.
ctl unit add co-zz --parent root --kind country_office --name en=Nowhere --country ZZ
expect_rc "unit add --country ZZ" 13
expect_err "unit add --country ZZ names ZZ" "ZZ"
ctl unit add co-none --parent root --kind country_office --name en=Nowhere
expect_nonzero "a country office without a country"
ctl unit get co-none
expect_rc "it was not created" 15
ctl unit add dept --parent root --kind department --name en=Dept
expect_rc "add dept" 0
ctl unit set dept --country qq
expect_rc "unit set --country qq" 13
expect_err "unit set --country qq names it" "QQ"

# Regions.
ctl country set FR --region NOT-A-UNIT
expect_nonzero "--region NOT-A-UNIT"
ctl country set FR --region no-such-unit
expect_nonzero "--region no-such-unit"
ctl country set FR --region dept
expect_nonzero "--region of a unit that is not a regional office"
ctl unit add ro-eu --parent root --kind regional_office --name en="Regional Office for Europe" \
	--name fr="Bureau régional pour l'Europe" --country BE --city Brussels
expect_rc "add ro-eu" 0
ctl country set FR --region ro-eu
expect_rc "set FR's region" 0
expect_out "record: region with its name" "region:           ro-eu (Regional Office for Europe)"
ctl --lang fr country get FR
expect_out "record: region name in French" "ro-eu (Bureau régional pour l'Europe)"
ctl country set DE --region ro-eu
expect_rc "set DE's region" 0
ctl country ls --region ro-eu
n=$(rows | wc -l)
if [[ $n -eq 2 ]]; then ok; else bad "ls --region ro-eu: $n rows, wanted 2"; fi
expect_row "ls --region has FR" FR
expect_row "ls --region has DE" DE
ctl country ls --region ro-eu --member
n=$(rows | wc -l)
if [[ $n -eq 1 ]]; then ok; else bad "ls --region ro-eu --member: $n rows, wanted 1"; fi
ctl country get BE --json
expect_json "BE present through its regional office" 'd["presence"]["level"] == "SUB_OFFICES" and d["presence"]["officeUnitIds"] == ["ro-eu"]'
ctl stats
expect_out "stats: present in 1 country, no country office" "present in 1 country (0 with a country office)"
ctl country set DE --region -
expect_rc "clear DE's region" 0
ctl country get DE --json
expect_json "region cleared" '"regionUnitId" not in d'

# Records survive a restart.
stop_servers
if start_server "$sock" "$tmp/data"; then
	ok
	ctl country get FR --json
	expect_json "FR after restart" 'd["membership"]["status"] == "MEMBER_STATE" and d["membership"]["sinceYear"] == 1951 and d["regionUnitId"] == "ro-eu"'
	ctl stats --json
	expect_json "stats after restart" 'd["memberStates"] == 1 and d["observers"] == 1 and d["countriesWithPresence"] == 1'
else
	failed=$((failed + 1))
fi

finish
